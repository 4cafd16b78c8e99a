"""What the radio says: 48 kHz mono PCM sources (a tone, a WAV file, a microphone), 20 ms
at a time, and their Opus encoding (libopus through ``opuslib_next``).

A source yields frames of :data:`FRAME` samples (int16). File and tone sources are paced by
the talker at real time (the server drops a flood: 100 frames/s at most); a microphone paces
itself. Sources end by returning ``None`` (end of file); a talk also ends after its seconds.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from siaga_radio.errors import NoAudioDevice

RATE = 48000
FRAME = 960  # 20 ms
BITRATE = 24000


class PcmSource(Protocol):
    #: True when ``read`` returns at real time by itself (a device); False when the caller
    #: must pace it (a file, a tone).
    live: bool

    async def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


class ToneSource:
    """A continuous sine tone (phase-continuous across frames): tests and load tests."""

    live = False

    def __init__(self, freq: float, amplitude: float = 0.5) -> None:
        self.freq = freq
        self.amplitude = amplitude
        self._position = 0

    async def read(self) -> np.ndarray:
        t = (np.arange(FRAME) + self._position) / RATE
        self._position += FRAME
        return (self.amplitude * 32767 * np.sin(2 * np.pi * self.freq * t)).astype(np.int16)

    def close(self) -> None:
        pass


class WavSource:
    """A WAV file (8/16/32-bit PCM, any rate, any channels), mixed to mono and resampled to
    48 kHz; the last frame is padded with silence."""

    live = False

    def __init__(self, path: str | Path) -> None:
        try:
            with wave.open(str(path), "rb") as w:
                width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
                raw = w.readframes(w.getnframes())
        except (OSError, wave.Error, EOFError) as exc:
            raise ValueError(f"cannot read WAV {path}: {exc}") from None
        if width == 1:
            pcm = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128) * 256
        elif width == 2:
            pcm = np.frombuffer(raw, "<i2").astype(np.float64)
        elif width == 4:
            pcm = np.frombuffer(raw, "<i4").astype(np.float64) / 65536
        else:
            raise ValueError(f"{path}: {8 * width}-bit WAV is not supported")
        pcm = pcm.reshape(-1, channels).mean(axis=1)
        if rate != RATE and len(pcm):
            n = int(round(len(pcm) * RATE / rate))
            pcm = np.interp(np.arange(n) * rate / RATE, np.arange(len(pcm)), pcm)
        self.samples = np.clip(pcm, -32768, 32767).astype(np.int16)
        self._position = 0

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE

    async def read(self) -> np.ndarray | None:
        chunk = self.samples[self._position:self._position + FRAME]
        if not len(chunk):
            return None
        self._position += FRAME
        if len(chunk) < FRAME:
            chunk = np.concatenate([chunk, np.zeros(FRAME - len(chunk), np.int16)])
        return np.asarray(chunk, np.int16)

    def close(self) -> None:
        pass


class MicSource:
    """The default input device through ``sounddevice`` (PortAudio), if both exist.

    Raises :class:`NoAudioDevice` when the library or a capture device is missing, so a
    command can say so in one line instead of a traceback.
    """

    live = True

    def __init__(self, device: str | int | None = None) -> None:
        try:
            import sounddevice
        except (ImportError, OSError) as exc:
            raise NoAudioDevice(
                f"no microphone support ({exc}); pip install sounddevice, "
                "or talk with --tone/--wav") from None
        self._queue: asyncio.Queue[np.ndarray] = asyncio.Queue(maxsize=50)
        loop = asyncio.get_running_loop()

        def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
            block = np.asarray(indata[:, 0] * 32767, dtype=np.int16).copy()
            loop.call_soon_threadsafe(self._put, block)

        try:
            self._stream = sounddevice.InputStream(
                samplerate=RATE, channels=1, blocksize=FRAME, dtype="float32",
                device=device, callback=callback)
            self._stream.start()
        except Exception as exc:  # PortAudioError, ValueError: no such device
            raise NoAudioDevice(f"cannot open a microphone: {exc}") from None

    def _put(self, block: np.ndarray) -> None:
        if self._queue.full():  # the encoder fell behind: drop the oldest 20 ms
            self._queue.get_nowait()
        self._queue.put_nowait(block)

    async def read(self) -> np.ndarray:
        return await self._queue.get()

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()


class OpusEncoder:
    """20 ms mono frames in, Opus packets out (VoIP mode, 24 kbit/s by default)."""

    def __init__(self, bitrate: int = BITRATE) -> None:
        import opuslib_next

        self._encoder = opuslib_next.Encoder(RATE, 1, opuslib_next.APPLICATION_VOIP)
        self._encoder.bitrate = bitrate

    def encode(self, pcm: np.ndarray) -> bytes:
        return bytes(self._encoder.encode(np.ascontiguousarray(pcm, np.int16).tobytes(), FRAME))


def decode_opus(packets: list[bytes]) -> np.ndarray:
    """Decode Opus packets (mono or stereo) to one int16 mono array."""
    import opuslib_next

    decoder = opuslib_next.Decoder(RATE, 1)
    chunks = [np.frombuffer(decoder.decode(p, 5760), np.int16) for p in packets]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
