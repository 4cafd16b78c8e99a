"""The officers' app in Chromium behind the carrier's NAT, the server behind its cloud's 1:1
NAT: voice both ways over WebRTC; and with the officers' UDP blocked and the TURN server
unreachable, over the WebSocket fallback, talking within 5 s of the press.

Chromium runs inside the officers' namespace: Playwright starts it through a small script
(``ip netns exec … /usr/bin/chromium "$@"``), so its sockets, WebRTC's included, live there
and its traffic can only take the namespaces' links. The page is served from the server's
public address over plain HTTP; Chromium is told to treat that one origin as secure, as it
treats https (the microphone and WebCodecs need a secure context).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from playwright.async_api import Page, Playwright, expect

from tests.browser.helpers import chromium_args, write_tone
from tests.browser_mobile.helpers import PHONE, Finger, heard_frequency, sign_in
from tests.conftest import CHROMIUM
from tests.netns.conftest import SERVER_URL, TURN_SECRET, Officer, read_rest, siaga_in
from tests.netns.network import SERVER_PUBLIC, TURN, Internet
from tests.polling import until

APP_TONE, OFFICER_TONE = 440.0, 660.0
PORTS = ("40000", "40099")


async def phone_in_netns(net: Internet, playwright: Playwright, tmp_path: Path) -> Page:
    """The officers' app page in a Chromium started inside the client namespace."""
    wrapper = tmp_path / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {net.ns("cli")} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    args = [*chromium_args(write_tone(tmp_path / "app-tone.wav", APP_TONE)),
            f"--unsafely-treat-insecure-origin-as-secure={SERVER_URL}"]
    browser = await playwright.chromium.launch(executable_path=str(wrapper), args=args)
    context = await browser.new_context(**PHONE, permissions=["microphone"], locale="id-ID")
    return await context.new_page()


async def sign_in_app(page: Page, *, media: bool) -> str:
    """Sign satpol2 in; the talkgroup its PTT talks on."""
    server: Any = SimpleNamespace(http_url=SERVER_URL)
    await sign_in(page, server, "satpol2", media=media)
    selected: str = await page.evaluate("window.siagaRadio.selected")
    return selected


@contextlib.asynccontextmanager
async def listening_to(officer: Officer, talkgroup: str
                       ) -> AsyncIterator[asyncio.subprocess.Process]:
    """``officer`` listening for one transmission (see :meth:`Officer.listen`)."""
    listening = await officer.listen(talkgroup)
    try:
        yield listening
    finally:
        if listening.returncode is None:
            await read_rest(listening)


async def app_hears(page: Page, talkgroup: str, officer: Officer) -> float:
    """The tone the app plays on ``talkgroup`` while ``officer`` talks there."""
    talking = asyncio.create_task(officer.talk(talkgroup, OFFICER_TONE, seconds=6.0))
    try:
        freq = await until(lambda: heard_frequency(page, talkgroup),
                           "the officer's tone in the app", 20)
    finally:
        await talking
    return freq


async def test_chromium_behind_the_carrier_nat_talks_and_hears_over_webrtc(
        internet: Internet, tmp_path: Path, playwright: Playwright) -> None:
    async with siaga_in(internet, tmp_path, ice_public_ips=SERVER_PUBLIC,
                        ice_port_min=PORTS[0], ice_port_max=PORTS[1]):
        page = await phone_in_netns(internet, playwright, tmp_path)
        try:
            tg = await sign_in_app(page, media=True)
            await expect(page.locator("#transport")).to_have_attribute("data-transport", "webrtc")
            listener = Officer(internet, "satpol1", tmp_path)
            async with listening_to(listener, tg) as listening:
                finger = Finger(page)
                await finger.press("#ptt")
                await expect(page.locator("#ptt")).to_have_attribute("data-state", "talking")
                await until(lambda: rtp_packets_sent(page, 150), "3 s of the app's voice", 15)
                await finger.lift()
                assert abs(await listener.heard(listening) - APP_TONE) < 5
            freq = await app_hears(page, tg, listener)
            assert abs(freq - OFFICER_TONE) < 10, freq
            assert await page.evaluate("window.siagaRadio.transport") == "webrtc"
        finally:
            await page.context.browser.close()  # type: ignore[union-attr]


async def rtp_packets_sent(page: Page, at_least: int) -> bool:
    sent: int = await page.evaluate("""async () => {
      let n = 0;
      for (const s of (await window.siagaRadio.peerConnection.getStats()).values()) {
        if (s.type === "outbound-rtp" && s.kind === "audio") n += s.packetsSent;
      }
      return n;
    }""")
    return sent >= at_least


async def ws_frames_sent(page: Page) -> int:
    sent: int = await page.evaluate("window.siagaRadio.wsFramesSent")
    return sent


async def test_udp_blocked_and_turn_unreachable_voice_goes_over_the_websocket(
        internet: Internet, tmp_path: Path, playwright: Playwright) -> None:
    internet.block_client_udp()
    # The welcome names a TURN server on every transport, but none runs there.
    turn_urls = (f"turn:{TURN}:3478?transport=udp,turn:{TURN}:3478?transport=tcp,"
                 f"turns:{TURN}:443?transport=tcp")
    async with siaga_in(internet, tmp_path, ice_public_ips=SERVER_PUBLIC,
                        turn_secret=TURN_SECRET, turn_urls=turn_urls):
        page = await phone_in_netns(internet, playwright, tmp_path)
        try:
            tg = await sign_in_app(page, media=False)
            listener = Officer(internet, "satpol1", tmp_path, transport="websocket")
            async with listening_to(listener, tg) as listening:
                finger = Finger(page)
                loop = asyncio.get_running_loop()
                pressed = loop.time()
                await finger.press("#ptt")
                await until(lambda: ws_frames_sent(page), "the app's voice on the WebSocket", 5)
                assert loop.time() - pressed < 5
                await expect(page.locator("#transport")).to_have_attribute(
                    "data-transport", "websocket")
                await expect(page.locator("#transport")).to_have_text("WebSocket (cadangan)")
                await until(lambda: frames_at_least(page, 150),
                            "3 s of the app's voice", 15)
                await finger.lift()
                assert abs(await listener.heard(listening) - APP_TONE) < 5
            freq = await app_hears(page, tg, listener)
            assert abs(freq - OFFICER_TONE) < 10, freq
            assert await page.evaluate("window.siagaRadio.peerConnection?.connectionState") != \
                "connected"
        finally:
            await page.context.browser.close()  # type: ignore[union-attr]


async def frames_at_least(page: Page, n: int) -> bool:
    return await ws_frames_sent(page) >= n
