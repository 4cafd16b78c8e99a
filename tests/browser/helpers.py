"""Helpers for driving the console in Chromium: launch flags, tone files, login, and
measuring what a downlink <audio> element plays with a WebAudio analyser."""

from __future__ import annotations

import statistics
import wave
from pathlib import Path
from typing import Any

import numpy as np
from playwright.async_api import Page, expect

from tests.conftest import (
    LiveServer,
)

RATE = 48000
def chromium_args(fake_audio: Path | None, *, autoplay: bool = True,
                  microphone: bool = True) -> list[str]:
    """The flags shown to work for WebRTC audio in headless Debian Chromium (MEDIA.md).

    ``autoplay=False`` keeps the browser's autoplay policy; ``microphone=False`` leaves the
    permission prompt in place, which headless Chromium answers with a refusal."""
    args = [
        "--headless=new", "--no-sandbox", "--disable-gpu",
        "--use-fake-device-for-media-stream",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
    ]
    if microphone:
        args.append("--use-fake-ui-for-media-stream")
    # Chromium's own default for a user's browser; the last flag given wins.
    policy = "no-user-gesture-required" if autoplay else "document-user-activation-required"
    args.append(f"--autoplay-policy={policy}")
    if fake_audio is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_audio}")
    return args


def write_tone(path: Path, freq: float, seconds: float = 4.0, amplitude: float = 0.5) -> Path:
    """A mono 16-bit 48 kHz WAV of a sine tone (Chromium loops it as the microphone)."""
    t = np.arange(int(RATE * seconds)) / RATE
    # A whole number of periods, so the loop point does not click.
    t = t[: int(len(t) // (RATE / freq) * (RATE / freq))]
    pcm = (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return path


async def open_console(page: Page, server: LiveServer, username: str = "dispatcher1", *,
                       raw_audio: bool = False, lang: str = "id") -> None:
    """Load the console, sign in through the form, and wait until the radio is connected."""
    query = "?audio=raw" if raw_audio else ""
    await page.goto(f"{server.http_url}/{query}")
    await page.evaluate("lang => localStorage.setItem('siaga.lang', lang)", lang)
    await page.reload()
    await page.fill("#login-username", username)
    await page.fill("#login-password", "demo")
    await page.click("#login-submit")
    await expect(page.locator("#console-view")).to_be_visible()
    await expect(page.locator("#conn-radio")).to_have_attribute("data-state", "open")


async def wait_audio_connected(page: Page) -> None:
    await expect(page.locator("#conn-audio")).to_have_attribute("data-state", "connected",
                                                                timeout=10_000)


# Reads the strongest frequency of what the downlink element of a talkgroup plays, several
# times, with an AnalyserNode on the element's MediaStream (the element must exist; it may
# be muted: the analyser still sees samples, see MEDIA.md).
_PEAKS_JS = """
async ([tg, readings, gapMs]) => {
  const el = document.querySelector(`audio[data-talkgroup="${tg}"]`);
  if (!el || !el.srcObject) return {error: "no downlink element"};
  const ctx = new AudioContext();
  await ctx.resume();
  const src = ctx.createMediaStreamSource(el.srcObject);
  const an = ctx.createAnalyser();
  an.fftSize = 16384;
  an.smoothingTimeConstant = 0;
  src.connect(an);
  const bins = new Float32Array(an.frequencyBinCount);
  const peaks = [];
  for (let i = 0; i < readings; i++) {
    await new Promise(r => setTimeout(r, gapMs));
    an.getFloatFrequencyData(bins);
    let k = 1;
    for (let j = 2; j < bins.length - 1; j++) if (bins[j] > bins[k]) k = j;
    const [a, b, c] = [bins[k - 1], bins[k], bins[k + 1]];
    const d = a - 2 * b + c;
    const offset = d ? 0.5 * (a - c) / d : 0;
    peaks.push({freq: (k + offset) * ctx.sampleRate / an.fftSize, level: b});
  }
  await ctx.close();
  return {peaks};
}
"""


async def downlink_peaks(page: Page, talkgroup: str, readings: int = 7,
                         gap_ms: int = 300) -> list[dict[str, float]]:
    result: dict[str, Any] = await page.evaluate(_PEAKS_JS, [talkgroup, readings, gap_ms])
    assert "error" not in result, result
    return list(result["peaks"])


def median_loud_frequency(peaks: list[dict[str, float]], floor_db: float = -70.0) -> float | None:
    """The median frequency of the readings louder than ``floor_db`` (silence excluded)."""
    loud = [p["freq"] for p in peaks if p["level"] > floor_db]
    return statistics.median(loud) if len(loud) >= 3 else None


async def inbound_audio(page: Page) -> dict[str, int]:
    """Packets and bytes received on the console's peer connection (all downlinks)."""
    return dict(await page.evaluate("""async () => {
      const pc = window.siaga.radio.peerConnection;
      let packets = 0, bytes = 0;
      for (const s of (await pc.getStats()).values()) {
        if (s.type === "inbound-rtp" && s.kind === "audio") {
          packets += s.packetsReceived; bytes += s.bytesReceived;
        }
      }
      return {packets, bytes};
    }"""))
