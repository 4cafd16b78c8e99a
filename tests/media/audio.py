"""Audio helpers for media tests: sine tones, Opus encoding, tone recognition by FFT."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import opuslib_next

RATE = 48000
FRAME = 960  # 20 ms


def sine(freq: float, samples: int, *, start: int = 0, amplitude: float = 0.5) -> np.ndarray:
    """``samples`` of a sine tone as int16 from sample index ``start`` (phase-continuous)."""
    t = (np.arange(samples) + start) / RATE
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


class ToneEncoder:
    """Encodes a continuous sine tone to Opus packets, one call per packet, with libopus."""

    def __init__(self, freq: float, *, channels: int = 1, bitrate: int = 24000) -> None:
        self.freq = freq
        self.channels = channels
        self._encoder = opuslib_next.Encoder(RATE, channels, opuslib_next.APPLICATION_VOIP)
        self._encoder.bitrate = bitrate
        self._position = 0

    def packet(self, frame_size: int = FRAME) -> bytes:
        pcm = sine(self.freq, frame_size, start=self._position)
        self._position += frame_size
        if self.channels == 2:
            pcm = np.repeat(pcm, 2)
        return bytes(self._encoder.encode(pcm.tobytes(), frame_size))

    def packets(self, count: int, frame_size: int = FRAME) -> list[bytes]:
        return [self.packet(frame_size) for _ in range(count)]


def decode_packets(packets: Iterable[bytes], *, channels: int = 1) -> np.ndarray:
    """Decode Opus packets with libopus into one int16 mono array."""
    decoder = opuslib_next.Decoder(RATE, channels)
    chunks = []
    for packet in packets:
        pcm = np.frombuffer(decoder.decode(packet, 5760), dtype=np.int16)
        chunks.append(pcm.reshape(-1, channels).mean(axis=1))
    return np.concatenate(chunks) if chunks else np.zeros(0)


def dominant_frequency(samples: np.ndarray) -> float:
    """Frequency of the strongest spectral peak (Hann window, zero-padded, interpolated)."""
    x = samples.astype(np.float64)
    x = x - x.mean()
    n = 1 << max(14, int(np.ceil(np.log2(len(x)))) + 2)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
    offset = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) else 0.0
    return float((k + offset) * RATE / n)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


def classify(
    samples: np.ndarray, tones: Iterable[float], *, tolerance: float = 25.0
) -> float | None:
    """The tone among ``tones`` that ``samples`` carry, or None (silence or something else)."""
    if rms(samples) < 300:
        return None
    freq = dominant_frequency(samples)
    best = min(tones, key=lambda t: abs(t - freq))
    return best if abs(best - freq) <= tolerance else None


def windows(samples: np.ndarray, size: int = FRAME) -> Iterator[np.ndarray]:
    for i in range(0, len(samples) - size + 1, size):
        yield samples[i : i + size]
