"""The console falls back to voice over the WebSocket when WebRTC does not connect, says so,
and goes back to WebRTC once a peer connection connects (webui/shared/transport.js).

The first peer connection the page makes is relay-only with no relay server: Chromium then
has no candidate at all, exactly as behind a network that blocks UDP with no TURN server,
and ICE cannot connect. The peer connections after it are the page's own, unchanged. The
officer on the other end is an aiortc client; both sides check each other's tone by
frequency, over the WebSocket and then over WebRTC.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import LaunchBrowser
from tests.browser.helpers import downlink_peaks, inbound_audio, median_loud_frequency, open_console
from tests.conftest import LiveServer
from tests.polling import until
from tests.radio.voice import VoiceClient

pytestmark = pytest.mark.browser

CONSOLE_TONE, OFFICER_TONE = 440.0, 660.0

# Runs before the page's own scripts: the first RTCPeerConnection cannot connect.
FIRST_ICE_FAILS = """
(() => {
  const Native = window.RTCPeerConnection;
  let made = 0;
  window.RTCPeerConnection = function (config) {
    made += 1;
    window.__peerConnections = made;
    if (made === 1) config = { ...config, iceServers: [], iceTransportPolicy: "relay" };
    return new Native(config);
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();
"""


async def heard_tone(page: Page, talkgroup: str) -> float | None:
    return median_loud_frequency(await downlink_peaks(page, talkgroup))


async def test_the_console_falls_back_to_the_websocket_and_returns_to_webrtc(
    live_server: LiveServer, launch: LaunchBrowser,
) -> None:
    browser = await launch(tone_hz=CONSOLE_TONE)
    page = await browser.new_page()
    await page.add_init_script(FIRST_ICE_FAILS)
    await open_console(page, live_server, raw_audio=True)
    badge = page.locator("#transport")
    await expect(badge).to_have_attribute("data-transport", "webrtc")
    # Not connected within the 4 s of transport.js: voice moves to the WebSocket.
    await expect(badge).to_have_attribute("data-transport", "websocket", timeout=8_000)
    await expect(badge).to_have_text("Suara: WebSocket (cadangan)")

    officer = await VoiceClient.connect(live_server, "satpol1", OFFICER_TONE, ["satpolpp"])
    try:
        # The officer talks (WebRTC); the console hears it from the WebSocket.
        await officer.take_floor_and_talk()
        await expect(page.locator("li.tg[data-tg=satpolpp]")).to_have_attribute(
            "data-active", "true")
        freq = await until(lambda: heard_tone(page, "satpolpp"),
                           "the officer's tone on the console's satpolpp element", 15)
        assert abs(freq - OFFICER_TONE) < 10, freq
        assert await page.evaluate("window.siaga.radio.transport") == "websocket"
        officer.talk(False)
        await officer.radio.send("floor_release")
        await expect(page.locator("li.tg[data-tg=satpolpp]")).not_to_have_attribute(
            "data-active", "true")

        # The console talks over the WebSocket; the officer hears it.
        await talk_and_check_heard(page, officer)

        # The retry's peer connection connects: voice is back on WebRTC.
        # Abandoned after 15 s, a new one 5 s later (transport.js).
        await expect(badge).to_have_attribute("data-transport", "webrtc", timeout=30_000)
        await expect(badge).to_have_text("Suara: WebRTC")
        assert await page.evaluate("window.__peerConnections") >= 2
        await expect(page.locator("#conn-audio")).to_have_attribute("data-state", "connected")
        before = await inbound_audio(page)
        await officer.take_floor_and_talk()
        freq = await until(lambda: heard_tone(page, "satpolpp"),
                           "the officer's tone over WebRTC", 15)
        assert abs(freq - OFFICER_TONE) < 10, freq
        assert (await inbound_audio(page))["packets"] > before["packets"]
        officer.talk(False)
        await officer.radio.send("floor_release")
        await expect(page.locator("li.tg[data-tg=satpolpp]")).not_to_have_attribute(
            "data-active", "true")
        await talk_and_check_heard(page, officer)
    finally:
        await officer.close()


async def talk_and_check_heard(page: Page, officer: VoiceClient) -> None:
    """Hold the console's PTT on satpolpp until the officer has heard the console's tone."""
    await page.click("li.tg[data-tg=satpolpp] .tg-name")
    heard = officer.heard_on("satpolpp")
    start = heard.count(CONSOLE_TONE)
    ptt = page.locator("#ptt")
    await ptt.hover()
    await page.mouse.down()
    try:
        await expect(ptt).to_have_attribute("data-state", "talking")
        await until(lambda: heard.count(CONSOLE_TONE) >= start + 25, "the console's tone", 10)
    finally:
        await page.mouse.up()


# The pure core itself, stepped by hand (time is an argument): each scenario's trace of
# (what happened, actions, transport, next timer).
_RULES_JS = """
async () => {
  const { TransportChoice, CONNECT_TIMEOUT, GIVE_UP, RETRY_DELAYS } =
    await import("/shared/transport.js");
  const trace = (c, what, actions) => [what, actions, c.transport, c.timer()];
  const out = { constants: [CONNECT_TIMEOUT, GIVE_UP, [...RETRY_DELAYS]] };

  let c = new TransportChoice();          // connects in time: never leaves WebRTC
  out.inTime = [trace(c, "start", c.attemptStarted(0) ?? []),
                trace(c, "early", c.handleTimer(3999)),
                trace(c, "connected", c.connected())];

  c = new TransportChoice();              // slow, then connects late (rules 1, 2)
  c.attemptStarted(0);
  out.late = [trace(c, "timeout", c.handleTimer(4000)),
              trace(c, "connected", c.connected())];

  c = new TransportChoice();              // fails, retries with growing delays (rule 3)
  c.attemptStarted(0);
  out.failing = [trace(c, "failed", c.failed(1000)),
                 trace(c, "retry", c.handleTimer(6000))];
  c.attemptStarted(6000);
  out.failing.push(trace(c, "failed again", c.failed(7000)),
                   trace(c, "too early", c.handleTimer(16999)),
                   trace(c, "retry", c.handleTimer(17000)));
  for (let i = 0; i < 6; i++) c.failed(0);
  out.failing.push(trace(c, "longest delay", []));

  c = new TransportChoice();              // never connects, never fails: given up (rule 3)
  c.attemptStarted(0);
  c.handleTimer(4000);
  out.stuck = [trace(c, "give up", c.handleTimer(15000)),
               trace(c, "retry", c.handleTimer(20000))];

  c = new TransportChoice();              // a working connection interrupted (rules 1-3)
  c.attemptStarted(0);
  c.connected();
  c.interrupted(50000);
  out.interrupted = [trace(c, "interrupted", []),
                     trace(c, "still out", c.handleTimer(54000)),
                     trace(c, "back", c.connected())];
  c.interrupted(60000);
  c.handleTimer(64000);
  c.interrupted(70000);                   // again, while already on the WebSocket
  out.interrupted.push(trace(c, "again", []),
                       trace(c, "given up", c.handleTimer(85000)));

  c = new TransportChoice();              // the choice outlives the socket (rule 4)
  c.attemptStarted(0);
  c.handleTimer(4000);
  c.socketClosed();
  out.socket = [trace(c, "closed", [])];
  c.attemptStarted(100000);
  out.socket.push(trace(c, "new socket", []),
                  trace(c, "connected", c.connected()));
  return out;
}
"""


async def test_the_transport_choice_follows_its_rules(
    live_server: LiveServer, launch: LaunchBrowser,
) -> None:
    browser = await launch()
    page = await browser.new_page()
    await page.goto(f"{live_server.http_url}/")
    out = await page.evaluate(_RULES_JS)
    assert out["constants"] == [4000, 15000, [5000, 10000, 20000, 40000, 60000]]
    assert out["inTime"] == [["start", [], "webrtc", 4000],
                             ["early", [], "webrtc", 4000],
                             ["connected", False, "webrtc", None]]
    assert out["late"] == [["timeout", ["fallback"], "websocket", 15000],
                           ["connected", True, "webrtc", None]]
    assert out["failing"] == [["failed", ["fallback"], "websocket", 6000],
                              ["retry", ["retry"], "websocket", None],
                              # Already on the WebSocket: no new fallback, no timeout.
                              ["failed again", [], "websocket", 17000],
                              ["too early", [], "websocket", 17000],
                              ["retry", ["retry"], "websocket", None],
                              ["longest delay", [], "websocket", 60000]]
    assert out["stuck"] == [["give up", ["abandon"], "websocket", 20000],
                            ["retry", ["retry"], "websocket", None]]
    assert out["interrupted"] == [["interrupted", [], "webrtc", 54000],
                                  ["still out", ["fallback"], "websocket", 65000],
                                  ["back", True, "webrtc", None],
                                  ["again", [], "websocket", 85000],
                                  ["given up", ["abandon"], "websocket", 90000]]
    assert out["socket"] == [["closed", [], "websocket", None],
                             ["new socket", [], "websocket", 115000],
                             ["connected", True, "webrtc", None]]
