"""Helpers for the radio client's tests: connected clients, and what a recording holds
(decoded by FFmpeg through PyAV, independently of the writer that made it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import av
import numpy as np
from siaga_radio import RadioClient
from siaga_radio.client import Transport

from tests.conftest import LiveServer
from tests.media.audio import RATE, dominant_frequency, rms
from tests.polling import until

#: How far a recording's length may be from what was sent (pre-skip, one lost frame).
DURATION_TOLERANCE = 0.04


@asynccontextmanager
async def radio(server: LiveServer, username: str, *, transport: Transport = "webrtc",
                receive: bool = False, join: list[str] | None = None
                ) -> AsyncIterator[RadioClient]:
    client = RadioClient(server.http_url, username, "demo", transport=transport,
                         receive=receive)
    await client.connect()
    try:
        if join:
            await client.scan(join)
            if transport == "webrtc" and receive:
                await until(lambda: sorted(client.voice.downlinks.values()) == sorted(join),
                            "downlinks for " + ",".join(join))
        yield client
    finally:
        await client.close()


def decode_file(path: Path) -> np.ndarray:
    """Decode an Ogg Opus file with FFmpeg (PyAV): mono samples as float in int16 scale.
    FFmpeg honours the pre-skip, so the length is the playable length."""
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            pcm = frame.to_ndarray().astype(np.float64)
            channels = len(frame.layout.channels)
            if frame.format.is_planar:
                pcm = pcm.mean(axis=0)
            else:
                pcm = pcm.reshape(-1, channels).mean(axis=1)
            if frame.format.name.startswith(("flt", "dbl")):
                pcm = pcm * 32767
            chunks.append(pcm)
    return np.concatenate(chunks) if chunks else np.zeros(0)


def tone_of(samples: np.ndarray) -> float:
    """The tone the middle of a recording carries (edges hold the codec's ramp-up)."""
    assert rms(samples) > 1000, f"recording is silent (rms {rms(samples):.0f})"
    quarter = len(samples) // 4
    return dominant_frequency(samples[quarter:-quarter or None])


def seconds(samples: np.ndarray) -> float:
    return len(samples) / RATE
