"""The officers' app on a phone talks and listens: hold the button, the net hears the tone;
a busy channel answers with the busy tone and says who is talking; the phone plays what
another officer says."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import expect
from siaga_radio import RadioClient, ToneSource, TransmissionRecorder

from tests.browser.helpers import downlink_peaks
from tests.browser_mobile.conftest import Phone
from tests.browser_mobile.helpers import Finger, body_data, heard_frequency, sign_in
from tests.clients.helpers import decode_file, radio, seconds, tone_of
from tests.conftest import LiveServer
from tests.polling import until

pytestmark = [pytest.mark.browser, pytest.mark.media]


async def test_holding_the_button_sends_the_microphone_to_the_talkgroup(
    live_server: LiveServer, phone: Phone, tmp_path: Path,
) -> None:
    page = await (await phone(440.0)).new_page()
    async with radio(live_server, "satpol2", transport="websocket", receive=True,
                     join=["satpolpp"]) as listener:
        recorder = TransmissionRecorder(tmp_path)
        recorder.attach(listener)
        packets: list[int] = []
        listener.on_audio.append(lambda _tg, _packet, sequence, _stream: packets.append(sequence))
        taken = listener.waiter(lambda m: m.get("type") == "floor_taken")
        await sign_in(page, live_server, "satpol1")
        group = page.locator('#talkgroups li[data-talkgroup="satpolpp"]')
        await expect(group).to_have_attribute("data-selected", "true")

        finger = Finger(page)
        await finger.press("#ptt")
        await expect(page.locator("#ptt")).to_have_attribute("data-state", "talking")
        assert await body_data(page, "lastTone") == "permit"
        await expect(page.locator("#now")).to_have_attribute("data-state", "self")
        assert (await asyncio.wait_for(taken, 3))["talker"]["username"] == "satpol1"
        # Two seconds of voice, counted in 20 ms packets at the listener.
        await until(lambda: len(packets) >= 100, "100 packets at the listener", timeout=10)
        await finger.lift()
        await expect(page.locator("#ptt")).to_have_attribute("data-state", "idle")
        [rec] = await recorder.wait_saved(1, timeout=5)

    assert rec.talker == "satpol1" and rec.talkgroup == "satpolpp"
    samples = decode_file(rec.path)
    assert abs(tone_of(samples) - 440) < 5
    assert 1.5 < seconds(samples) < 2.8


async def test_a_busy_channel_queues_with_a_tone_and_shows_the_talker(
    live_server: LiveServer, phone: Phone,
) -> None:
    page = await (await phone(440.0)).new_page()
    await sign_in(page, live_server, "satpol1", media=False)
    async with radio(live_server, "satpol2", transport="websocket",
                     join=["satpolpp"]) as other:
        await other.request_floor("satpolpp")
        now = page.locator("#now")
        await expect(now).to_have_attribute("data-state", "talking")
        await expect(now).to_have_attribute("data-talker", "satpol2")
        await expect(page.locator("#now-talker")).to_contain_text("Satpol PP")
        await expect(page.locator('#talkgroups li[data-talkgroup="satpolpp"]')
                     ).to_have_attribute("data-busy", "true")

        await page.keyboard.down(" ")  # Space: the keyboard / Bluetooth PTT path
        await expect(page.locator("#ptt")).to_have_attribute("data-state", "queued")
        assert await body_data(page, "lastTone") == "queued"
        await expect(page.locator("#ptt-text")).to_have_text("Antre ke-1")
        await page.keyboard.up(" ")
        await expect(page.locator("#ptt")).to_have_attribute("data-state", "idle")
        await other.release_floor()
        await expect(now).to_have_attribute("data-state", "idle")


async def test_the_phone_plays_what_another_officer_says(
    live_server: LiveServer, phone: Phone,
) -> None:
    page = await (await phone(440.0)).new_page()
    await sign_in(page, live_server, "satpol1")
    await expect(page.locator('#audio-sink audio[data-talkgroup="satpolpp"]')).to_have_count(1)
    talker = RadioClient(live_server.http_url, "satpol2", "demo", transport="websocket")
    await talker.connect()
    try:
        await talker.scan(["satpolpp"])
        talk = asyncio.create_task(talker.talk("satpolpp", ToneSource(660), 4.0))
        await expect(page.locator("#now")).to_have_attribute("data-talker", "satpol2")

        async def playing() -> bool:
            [reading] = await downlink_peaks(page, "satpolpp", readings=1, gap_ms=200)
            return reading["level"] > -70.0

        await until(playing, "the phone to play the downlink")
        heard = await heard_frequency(page, "satpolpp")
        await talk
    finally:
        await talker.close()
    assert heard is not None and abs(heard - 660) < 8, heard
