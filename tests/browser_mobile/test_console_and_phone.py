"""Two browsers, each with its own fake microphone: the dispatcher's console and an
officer's phone talk to each other over WebRTC through the server, and each recognises the
other's tone by frequency with a WebAudio analyser on its downlink."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import LaunchBrowser, launch  # noqa: F401 - fixture
from tests.browser.helpers import (
    downlink_peaks,
    median_loud_frequency,
    open_console,
    wait_audio_connected,
)
from tests.browser_mobile.conftest import Phone
from tests.browser_mobile.helpers import Finger, heard_frequency, sign_in
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.media]

CONSOLE_TONE, PHONE_TONE = 440.0, 660.0


async def test_console_and_phone_hear_each_other(
    live_server: LiveServer, launch: LaunchBrowser, phone: Phone,  # noqa: F811
) -> None:
    console = await (await launch(tone_hz=CONSOLE_TONE)).new_page()
    await open_console(console, live_server, raw_audio=True)
    await wait_audio_connected(console)
    handset = await (await phone(PHONE_TONE)).new_page()
    await sign_in(handset, live_server, "satpol1")

    # The dispatcher holds the console's button on Satpol PP: the phone plays 440 Hz.
    await console.click("li.tg[data-tg=satpolpp] .tg-name")
    await console.locator("#ptt").hover()
    await console.mouse.down()
    await expect(console.locator("#ptt")).to_have_attribute("data-state", "talking")
    await expect(handset.locator("#now")).to_have_attribute("data-talker", "dispatcher1")
    heard: list[float | None] = []

    async def phone_hears_console() -> bool:
        heard.append(await heard_frequency(handset, "satpolpp", readings=5))
        return heard[-1] is not None and abs(heard[-1] - CONSOLE_TONE) < 10

    for _ in range(4):
        if await phone_hears_console():
            break
    assert heard[-1] is not None and abs(heard[-1] - CONSOLE_TONE) < 10, heard
    await console.mouse.up()
    await expect(console.locator("#ptt")).to_have_attribute("data-state", "idle")

    # The officer holds the phone's button: the console plays 660 Hz on Satpol PP's track.
    finger = Finger(handset)
    await finger.press("#ptt")
    await expect(handset.locator("#ptt")).to_have_attribute("data-state", "talking")
    row = console.locator("li.tg[data-tg=satpolpp]")
    await expect(row).to_have_attribute("data-active", "true")
    freqs = []
    for _ in range(4):
        freqs.append(median_loud_frequency(await downlink_peaks(console, "satpolpp",
                                                                readings=5)))
        if freqs[-1] is not None and abs(freqs[-1] - PHONE_TONE) < 10:
            break
    assert freqs[-1] is not None and abs(freqs[-1] - PHONE_TONE) < 10, freqs
    await finger.lift()


async def test_texts_reach_the_console_and_the_phone_with_an_unread_count(
    live_server: LiveServer, launch: LaunchBrowser, phone: Phone,  # noqa: F811
) -> None:
    console = await (await launch()).new_page(viewport={"width": 1366, "height": 768})
    await open_console(console, live_server)
    handset = await (await phone()).new_page()
    await sign_in(handset, live_server, "satpol1", media=False)
    await handset.locator('#talkgroups li[data-talkgroup="satpolpp"] .tg-name').tap()
    await expect(handset.locator('#talkgroups li[data-talkgroup="satpolpp"]')
                 ).to_have_attribute("data-selected", "true")

    # The console does not even monitor Satpol PP: the officer's text reaches it anyway.
    row = console.locator("li.tg[data-tg=satpolpp]")
    await row.locator(".tg-monitor").uncheck()
    await expect(row).to_have_attribute("data-monitored", "false")
    unread = console.locator("#unread-count")
    await expect(unread).to_be_hidden()
    for text in ("Pasar Baru ramai, butuh bantuan", "Dua orang terluka ringan"):
        await handset.fill("#text-input", text)
        await handset.locator("#text-send").tap()
        await expect(handset.locator("#text-input")).to_have_value("")
    await expect(unread).to_have_text("2")
    await expect(unread).to_have_attribute("aria-label", "2 pesan belum dibaca")
    await console.click('[role=tab][data-tab="messages"]')
    await expect(unread).to_be_hidden()
    first = console.locator("#console-messages li").nth(1)
    await expect(first).to_have_attribute("data-sender", "satpol1")
    await expect(first.locator(".body")).to_have_text("Pasar Baru ramai, butuh bantuan")
    await expect(first.locator(".meta")).to_contain_text("Satpol PP · Satpol PP Regu 1")
    await expect(first.locator(".meta")).to_contain_text("WIB")

    # The dispatcher answers on Satpol PP (monitored again): the phone shows it.
    await row.locator(".tg-monitor").check()
    await expect(row).to_have_attribute("data-monitored", "true")
    await console.select_option("#console-text-group", "satpolpp")
    await console.fill("#console-text-input", "Regu 2 menuju lokasi")
    await console.press("#console-text-input", "Enter")
    await expect(console.locator("#console-text-input")).to_have_value("")
    answer = handset.locator('#message-list li[data-sender="dispatcher1"]')
    await expect(answer.locator(".body")).to_have_text("Regu 2 menuju lokasi")
    await expect(answer.locator(".meta")).to_contain_text("Satpol PP")
    await expect(unread).to_be_hidden()  # one's own text is not unread
    await expect(console.locator("#console-messages li").first).to_have_attribute(
        "data-sender", "dispatcher1")
