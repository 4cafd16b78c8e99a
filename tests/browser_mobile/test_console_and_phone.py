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
