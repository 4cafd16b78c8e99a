"""Driving the officers' app like a phone: sign in, hold the PTT button with a finger
(real touch events through the DevTools protocol), read what the screen says."""

from __future__ import annotations

import statistics
import wave
from pathlib import Path
from typing import Any

import numpy as np
from playwright.async_api import Page, expect

from tests.conftest import LiveServer

CHROMIUM = "/usr/bin/chromium"
RATE = 48000
#: A mid-range Android phone in portrait.
PHONE: dict[str, Any] = {
    "viewport": {"width": 393, "height": 851}, "device_scale_factor": 2,
    "is_mobile": True, "has_touch": True,
}
#: Alun-alun Kota Probolinggo.
POSITION: Any = {"latitude": -7.7543, "longitude": 113.2159, "accuracy": 8}


def chromium_args(fake_audio: Path) -> list[str]:
    """The flags shown to work for WebRTC audio in headless Debian Chromium (MEDIA.md)."""
    return [
        "--headless=new", "--no-sandbox", "--disable-gpu",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_audio}",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
    ]


def write_tone(path: Path, freq: float, seconds: float = 4.0, amplitude: float = 0.5) -> Path:
    """A mono 16-bit 48 kHz WAV of a sine tone (Chromium loops it as the microphone)."""
    t = np.arange(int(RATE * seconds)) / RATE
    t = t[: int(len(t) // (RATE / freq) * (RATE / freq))]  # whole periods: no click at the loop
    pcm = (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return path


async def sign_in(page: Page, server: LiveServer, username: str, *, lang: str = "id",
                  service_worker: bool = False, media: bool = True) -> None:
    """Open /app, sign in through the form, wait for the radio (and its audio)."""
    query = "?audio=raw" + ("" if service_worker else "&sw=off")
    await page.goto(f"{server.http_url}/app/{query}")
    await page.evaluate("lang => localStorage.setItem('siaga.lang', lang)", lang)
    await page.reload()
    await page.fill("#login-username", username)
    await page.fill("#login-password", "demo")
    await page.tap("#login-submit")
    await expect(page.locator("#radio-view")).to_be_visible()
    await expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    if media:
        await expect(page.locator("#conn")).to_have_attribute("data-media", "connected",
                                                              timeout=10_000)


class Finger:
    """A real touch (``Input.dispatchTouchEvent``): the page sees touchstart/pointerdown
    with ``pointerType == "touch"``, held until :meth:`lift`."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.cdp: Any = None

    async def press(self, selector: str) -> None:
        box = await self.page.locator(selector).bounding_box()
        assert box is not None, selector
        self.cdp = self.cdp or await self.page.context.new_cdp_session(self.page)
        point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
        await self.cdp.send("Input.dispatchTouchEvent",
                            {"type": "touchStart", "touchPoints": [point]})

    async def lift(self) -> None:
        await self.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


async def body_data(page: Page, key: str) -> str | None:
    value: str | None = await page.evaluate("k => document.body.dataset[k] ?? null", key)
    return value


# The strongest frequency the downlink <audio> of a talkgroup plays, read a few times with
# a WebAudio analyser on the element's stream (MEDIA.md: the element must exist).
_PEAKS_JS = """
async ([tg, readings, gapMs]) => {
  const el = document.querySelector(`#audio-sink audio[data-talkgroup="${tg}"]`);
  if (!el || !el.srcObject) return {error: "no downlink element"};
  const ctx = new AudioContext();
  await ctx.resume();
  const an = ctx.createAnalyser();
  an.fftSize = 16384;
  an.smoothingTimeConstant = 0;
  ctx.createMediaStreamSource(el.srcObject).connect(an);
  const bins = new Float32Array(an.frequencyBinCount);
  const peaks = [];
  for (let i = 0; i < readings; i++) {
    await new Promise(r => setTimeout(r, gapMs));
    an.getFloatFrequencyData(bins);
    let k = 1;
    for (let j = 2; j < bins.length - 1; j++) if (bins[j] > bins[k]) k = j;
    const [a, b, c] = [bins[k - 1], bins[k], bins[k + 1]];
    const d = a - 2 * b + c;
    peaks.push({freq: (k + (d ? 0.5 * (a - c) / d : 0)) * ctx.sampleRate / an.fftSize, level: b});
  }
  await ctx.close();
  return {peaks};
}
"""


async def heard_frequency(page: Page, talkgroup: str, readings: int = 7,
                          gap_ms: int = 250) -> float | None:
    """The median frequency of the loud readings of a downlink (None: silence)."""
    result: dict[str, Any] = await page.evaluate(_PEAKS_JS, [talkgroup, readings, gap_ms])
    assert "error" not in result, result
    loud = [p["freq"] for p in result["peaks"] if p["level"] > -70]
    return statistics.median(loud) if len(loud) >= 3 else None
