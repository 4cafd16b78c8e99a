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
from collections.abc import AsyncIterator, Awaitable, Callable
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


Counter = Callable[[Page], Awaitable[int]]


async def rtp_packets_sent(page: Page) -> int:
    """Audio packets the app's peer connection has sent."""
    sent: int = await page.evaluate("""async () => {
      let n = 0;
      const pc = window.siagaRadio.peerConnection;
      for (const s of pc ? (await pc.getStats()).values() : []) {
        if (s.type === "outbound-rtp" && s.kind === "audio") n += s.packetsSent;
      }
      return n;
    }""")
    return sent


async def ws_frames_sent(page: Page) -> int:
    """Audio frames the app has sent on the WebSocket."""
    sent: int = await page.evaluate("window.siagaRadio.wsFramesSent")
    return sent


async def app_talks(page: Page, listener: Officer, talkgroup: str, sent: Counter
                    ) -> tuple[float, float]:
    """Hold the app's PTT until 3 s of voice left by ``sent``'s way; the tone ``listener``
    heard, and the seconds from the press to the first packet."""
    loop = asyncio.get_running_loop()
    async with listening_to(listener, talkgroup) as listening:
        before = await sent(page)

        async def sent_since(n: int) -> bool:
            return await sent(page) - before >= n

        finger = Finger(page)
        pressed = loop.time()
        await finger.press("#ptt")
        await until(lambda: sent_since(1), "the app's first voice packet", 10)
        first = loop.time() - pressed
        await until(lambda: sent_since(150), "3 s of the app's voice", 15)
        await finger.lift()
        return await listener.heard(listening), first


@contextlib.asynccontextmanager
async def app_behind_both_nats(internet: Internet, playwright: Playwright, tmp_path: Path
                               ) -> AsyncIterator[tuple[Page, str]]:
    """The server behind its 1:1 NAT, the app signed in behind the carrier NAT with WebRTC
    connected: the page and the talkgroup its PTT talks on."""
    async with siaga_in(internet, tmp_path, ice_public_ips=SERVER_PUBLIC,
                        ice_port_min=PORTS[0], ice_port_max=PORTS[1]):
        page = await phone_in_netns(internet, playwright, tmp_path)
        try:
            tg = await sign_in_app(page, media=True)
            await expect(page.locator("#transport")).to_have_attribute("data-transport", "webrtc")
            yield page, tg
        finally:
            await page.context.browser.close()  # type: ignore[union-attr]


async def test_chromium_behind_the_carrier_nat_talks_and_hears_over_webrtc(
        internet: Internet, tmp_path: Path, playwright: Playwright) -> None:
    async with app_behind_both_nats(internet, playwright, tmp_path) as (page, tg):
        listener = Officer(internet, "satpol1", tmp_path)
        heard, _ = await app_talks(page, listener, tg, rtp_packets_sent)
        assert abs(heard - APP_TONE) < 5
        freq = await app_hears(page, tg, listener)
        assert abs(freq - OFFICER_TONE) < 10, freq
        assert await page.evaluate("window.siagaRadio.transport") == "webrtc"
        assert await ws_frames_sent(page) == 0


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
            # PTT pressed as soon as the radio is connected: the worst case.
            tg = await sign_in_app(page, media=False)
            listener = Officer(internet, "satpol1", tmp_path, transport="websocket")
            heard, first = await app_talks(page, listener, tg, ws_frames_sent)
            assert first < 5, f"the first frame left {first:.1f} s after the press"
            assert abs(heard - APP_TONE) < 5
            badge = page.locator("#transport")
            await expect(badge).to_have_attribute("data-transport", "websocket")
            await expect(badge).to_have_text("WebSocket (cadangan)")
            freq = await app_hears(page, tg, listener)
            assert abs(freq - OFFICER_TONE) < 10, freq
            assert await page.evaluate("window.siagaRadio.peerConnection?.connectionState") != \
                "connected"
            # A new signaling socket (a dead zone): the app opts in again at once.
            session = await page.evaluate("""() => {
              window.welcomes = [];
              window.siagaRadio.addEventListener("welcome", (ev) => welcomes.push(ev.detail));
              window.siagaRadio.dropConnection(0);
              return window.siagaRadio.session;
            }""")
            welcome = await until(lambda: page.evaluate("welcomes[0]"), "the next welcome", 10)
            assert welcome["resumed"] and welcome["session"] == session
            await expect(badge).to_have_attribute("data-transport", "websocket")
            freq = await app_hears(page, tg, listener)
            assert abs(freq - OFFICER_TONE) < 10, freq
        finally:
            await page.context.browser.close()  # type: ignore[union-attr]


async def test_udp_blocked_mid_session_falls_back_then_webrtc_comes_back(
        internet: Internet, tmp_path: Path, playwright: Playwright) -> None:
    async with app_behind_both_nats(internet, playwright, tmp_path) as (page, tg):
        badge = page.locator("#transport")
        internet.block_client_udp()
        # ICE notices (`disconnected`), then 4 s without it coming back.
        await expect(badge).to_have_attribute("data-transport", "websocket", timeout=30_000)
        on_ws = Officer(internet, "satpol1", tmp_path, transport="websocket")
        heard, _ = await app_talks(page, on_ws, tg, ws_frames_sent)
        assert abs(heard - APP_TONE) < 5
        internet.unblock_client_udp()
        # The interrupted peer connection recovers, or a retry connects (5 s, 10 s, ...).
        await expect(badge).to_have_attribute("data-transport", "webrtc", timeout=60_000)
        frames = await ws_frames_sent(page)
        on_rtc = Officer(internet, "satpol1", tmp_path)
        heard, _ = await app_talks(page, on_rtc, tg, rtp_packets_sent)
        assert abs(heard - APP_TONE) < 5
        assert await ws_frames_sent(page) == frames  # nothing more on the WebSocket
