"""The console's radio panel in Chromium against the real server, with real voice.

The officer on the other end is a Python aiortc client (``tests/radio/voice.py``) sending
and recognising sine tones; the console's fake microphone plays a tone WAV. Each side
checks the other's tone by frequency.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import LaunchBrowser
from tests.browser.helpers import (
    downlink_peaks,
    inbound_audio,
    median_loud_frequency,
    open_console,
    wait_audio_connected,
)
from tests.conftest import LiveServer
from tests.polling import until
from tests.radio.client import RadioClient
from tests.radio.voice import VoiceClient

pytestmark = pytest.mark.browser

CONSOLE_TONE, OFFICER_TONE = 440.0, 660.0


async def test_dispatcher_holds_the_button_and_the_officer_hears_it(
    live_server: LiveServer, launch: LaunchBrowser,
) -> None:
    browser = await launch(tone_hz=CONSOLE_TONE)
    page = await browser.new_page()
    await open_console(page, live_server, raw_audio=True)
    groups = page.locator("#talkgroups li.tg")
    await expect(groups).to_have_count(4)  # the dispatcher monitors every group
    for tg in ("satpolpp", "dishub", "gabungan", "psc119"):
        await expect(page.locator(f"li.tg[data-tg={tg}]")).to_have_attribute(
            "data-monitored", "true")
    await wait_audio_connected(page)

    officer = await VoiceClient.connect(live_server, "satpol1", OFFICER_TONE, ["satpolpp"])
    try:
        await page.click("li.tg[data-tg=satpolpp] .tg-name")
        await expect(page.locator("li.tg[data-tg=satpolpp]")).to_have_attribute(
            "data-selected", "true")
        ptt = page.locator("#ptt")
        await ptt.hover()
        await page.mouse.down()
        await expect(ptt).to_have_attribute("data-state", "talking")
        taken = await officer.radio.expect("floor_taken")
        assert taken["talker"]["username"] == "dispatcher1"
        heard = officer.heard_on("satpolpp")
        await until(lambda: heard.count(CONSOLE_TONE) >= 25, "the console's tone", 10)
        assert heard.count(OFFICER_TONE) == 0
        await page.mouse.up()
        await officer.radio.expect("floor_idle", talkgroups=["satpolpp"])
        await expect(ptt).to_have_attribute("data-state", "idle")
        # The transmission shows in the list, recorded, with a replay button.
        replay = page.locator("#recent li[data-transmission] button.replay")
        await expect(replay).to_have_count(1, timeout=8000)
        await replay.click()
        await page.wait_for_function("() => { const p = window.siaga.panel.player;"
                                     " return p && !p.paused && p.currentTime > 0.2; }")
    finally:
        await officer.close()


async def test_dispatcher_patches_two_groups_and_unpatches_them(
    live_server: LiveServer, page: Page,
) -> None:
    await open_console(page, live_server)
    officer = await RadioClient.connect(live_server, "dishub1")
    try:
        await officer.send("join", talkgroup="dishub")
        await officer.expect("joined")
        await expect(page.locator("#patch-button")).to_be_disabled()
        await page.check("li.tg[data-tg=satpolpp] .tg-patch")
        await page.check("li.tg[data-tg=dishub] .tg-patch")
        await page.click("#patch-button")
        patched = await officer.expect("patched")
        assert sorted(patched["talkgroups"]) == ["dishub", "satpolpp"]
        assert patched["by"]["username"] == "dispatcher1"
        row = page.locator("li.tg[data-tg=dishub]")
        await expect(row.locator(".tg-patched")).to_contain_text("Satpol PP")
        await row.locator(".tg-unpatch").click()
        await officer.expect("unpatched")
        await expect(row.locator(".tg-patched")).to_be_hidden()
    finally:
        await officer.close()


async def test_space_bar_talks_and_a_busy_group_is_refused(
    live_server: LiveServer, page: Page,
) -> None:
    await open_console(page, live_server)
    officer = await RadioClient.connect(live_server, "satpol1")
    try:
        await officer.send("join", talkgroup="satpolpp")
        await officer.expect("joined")
        await page.click("li.tg[data-tg=satpolpp] .tg-name")
        await page.keyboard.down("Space")
        await expect(page.locator("#ptt")).to_have_attribute("data-state", "talking")
        assert (await officer.expect("floor_taken"))["talker"]["username"] == "dispatcher1"
        await page.keyboard.up("Space")
        await officer.expect("floor_idle")

        # The officer takes the floor; the console shows who talks and refuses to talk over.
        await officer.send("floor_request")
        await officer.expect("floor_granted")
        row = page.locator("li.tg[data-tg=satpolpp]")
        await expect(row).to_have_attribute("data-active", "true")
        await expect(row.locator(".tg-talker")).to_contain_text("Satpol PP Regu 1")
        await expect(row.locator(".tg-talker")).to_contain_text("SATPOL-01")
        await page.keyboard.down("Space")
        await expect(page.locator("#ptt")).to_have_attribute("data-state", "queued")
        await page.keyboard.up("Space")
        await officer.send("floor_release")
        await expect(row).to_have_attribute("data-active", "false")
    finally:
        await officer.close()


async def test_the_officer_talks_and_the_console_plays_it_on_the_groups_element(
    live_server: LiveServer, launch: LaunchBrowser,
) -> None:
    browser = await launch(tone_hz=CONSOLE_TONE)
    page = await browser.new_page()
    await open_console(page, live_server)
    await wait_audio_connected(page)
    officer = await VoiceClient.connect(live_server, "satpol1", OFFICER_TONE, ["satpolpp"])
    try:
        row = page.locator("li.tg[data-tg=satpolpp]")
        # Volume and mute act on this group's own <audio> element only.
        await row.locator(".tg-volume").fill("40")
        assert await page.eval_on_selector(
            "audio[data-talkgroup=satpolpp]", "el => el.volume") == pytest.approx(0.4)
        assert await page.eval_on_selector(
            "audio[data-talkgroup=dishub]", "el => el.volume") == pytest.approx(1.0)
        await row.locator(".tg-mute").click()
        assert await page.eval_on_selector("audio[data-talkgroup=satpolpp]", "el => el.muted")

        await officer.radio.send("floor_request")
        await officer.radio.expect("floor_granted")
        officer.talk()
        await expect(row).to_have_attribute("data-active", "true")
        await expect(row.locator(".tg-talker")).to_contain_text("SATPOL-01")
        before = await inbound_audio(page)
        peaks = await downlink_peaks(page, "satpolpp")
        freq = median_loud_frequency(peaks)
        assert freq is not None, f"the console heard nothing: {peaks}"
        assert abs(freq - OFFICER_TONE) < 10, f"heard {freq:.1f} Hz, not {OFFICER_TONE}: {peaks}"
        after = await inbound_audio(page)
        assert after["packets"] > before["packets"]
        # Another group's element stays silent.
        assert median_loud_frequency(await downlink_peaks(page, "dishub", readings=4)) is None
    finally:
        await officer.close()


async def test_without_a_microphone_the_console_still_listens(
    live_server: LiveServer, launch: LaunchBrowser,
) -> None:
    # Headless Chromium refuses the microphone when nothing grants the permission.
    browser = await launch(microphone=False)
    page = await browser.new_page()
    await open_console(page, live_server)
    await expect(page.locator("#mic-state")).to_contain_text("NotAllowedError")
    await expect(page.locator("#ptt")).to_be_disabled()
    await page.keyboard.down("Space")
    await expect(page.locator("#ptt-status")).to_contain_text("mikrofon tidak tersedia")
    await page.keyboard.up("Space")
    await wait_audio_connected(page)  # a send-only m-line without a track, and downlinks
    officer = await VoiceClient.connect(live_server, "satpol1", OFFICER_TONE, ["satpolpp"])
    try:
        await officer.radio.send("floor_request")
        await officer.radio.expect("floor_granted")
        officer.talk()
        freq = median_loud_frequency(await downlink_peaks(page, "satpolpp", readings=5))
        assert freq is not None and abs(freq - OFFICER_TONE) < 10, freq
    finally:
        await officer.close()


async def test_emergency_sounds_until_acknowledged_then_is_cleared(
    live_server: LiveServer, page: Page,
) -> None:
    await open_console(page, live_server)
    officer = await RadioClient.connect(live_server, "satpol1")
    try:
        await officer.send("join", talkgroup="satpolpp")
        await officer.expect("joined")
        await officer.send("emergency_raise", lat=-7.7577, lon=113.2231)
        alert = page.locator(".alert.emergency[data-talkgroup=satpolpp]")
        await expect(alert).to_be_visible()
        await expect(alert).to_have_attribute("data-acknowledged", "false")
        await expect(alert).to_contain_text("Satpol PP Regu 1")
        await expect(page.locator("body")).to_have_attribute("data-alarm", "on")
        assert await page.evaluate("window.siaga.tones.alarm.on")
        assert await page.evaluate("window.siaga.tones.contextState()") == "running"
        # Its position reached the console too.
        await page.click("[role=tab][data-tab=units]")
        await expect(page.locator("#units-pane .officers li")).to_contain_text("SATPOL-01")

        await alert.locator("button.emergency-ack").click()
        acked = await officer.expect("emergency_acknowledged")
        assert acked["by"]["username"] == "dispatcher1"
        await expect(alert).to_have_attribute("data-acknowledged", "true")
        await expect(page.locator("body")).to_have_attribute("data-alarm", "off")

        await alert.locator("button.emergency-clear").click()
        await officer.expect("emergency_cleared")
        await expect(alert).to_have_count(0)
    finally:
        await officer.close()


async def test_reconnect_resumes_the_session_and_restores_the_view(
    live_server: LiveServer, page: Page,
) -> None:
    await open_console(page, live_server)
    await wait_audio_connected(page)
    # Stop monitoring Dishub: the choice must survive the reconnect.
    await page.uncheck("li.tg[data-tg=dishub] .tg-monitor")
    await expect(page.locator("li.tg[data-tg=dishub]")).to_have_attribute(
        "data-monitored", "false")
    session = await page.evaluate("window.siaga.radio.session")

    officer = await RadioClient.connect(live_server, "satpol1")
    try:
        await officer.send("join", talkgroup="satpolpp")
        await officer.expect("joined")
        await page.evaluate("window.siaga.radio.dropConnection(1500)")
        await expect(page.locator("#conn-radio")).to_have_attribute("data-state", "reconnecting")
        # Meanwhile the officer starts talking: the console learns it on resume.
        await officer.send("floor_request")
        await officer.expect("floor_granted")
        assert await page.get_attribute("li.tg[data-tg=satpolpp]", "data-active") == "false"
        await expect(page.locator("#conn-radio")).to_have_attribute("data-state", "open")
        assert await page.evaluate("window.siaga.radio.resumed")
        assert await page.evaluate("window.siaga.radio.session") == session
        row = page.locator("li.tg[data-tg=satpolpp]")
        await expect(row).to_have_attribute("data-active", "true")
        await expect(row.locator(".tg-talker")).to_contain_text("Satpol PP Regu 1")
        await expect(page.locator("li.tg[data-tg=dishub]")).to_have_attribute(
            "data-monitored", "false")
        await wait_audio_connected(page)  # a new peer connection, downlinks renegotiated
        await expect(page.locator("audio[data-talkgroup=satpolpp]")).to_have_count(1)
        await expect(page.locator("audio[data-talkgroup=dishub]")).to_have_count(0)
    finally:
        await officer.close()


async def test_a_talks_clock_goes_on_after_the_console_reloads(
    live_server: LiveServer, page: Page,
) -> None:
    await open_console(page, live_server)
    officer = await VoiceClient.connect(live_server, "satpol1", OFFICER_TONE, ["satpolpp"])
    try:
        await officer.take_floor_and_talk()
        clock = page.locator("li.tg[data-tg=satpolpp] .talk-clock")

        async def clock_seconds() -> int:
            text = await clock.text_content(timeout=5000) or "0:00"
            minutes, seconds = text.split(":")
            return int(minutes) * 60 + int(seconds)

        await until(lambda: clock_seconds_at_least(clock_seconds, 4), "4 s of talk on screen")
        since = await clock.get_attribute("data-since")
        await page.reload()
        await expect(page.locator("#conn-radio")).to_have_attribute("data-state", "open")
        assert since is not None
        began = datetime.fromisoformat(since)

        async def same_start() -> bool:
            after = await clock.get_attribute("data-since", timeout=5000)
            return after is not None and abs(datetime.fromisoformat(after) - began
                                             ) < timedelta(seconds=1)

        # The clock runs from when the talk began, not from the reload.
        await until(same_start, "the talk's own start time after the reload")
        assert await clock_seconds() >= 4, await clock.text_content()
    finally:
        await officer.close()


async def clock_seconds_at_least(read: Callable[[], Awaitable[int]], seconds: int) -> bool:
    return await read() >= seconds
