"""Siaga radio client: an asyncio library and the ``siaga-radio`` command.

    async with RadioClient("http://127.0.0.1:8080", "satpol1", "demo") as radio:
        await radio.scan(["satpolpp"])
        await radio.talk("satpolpp", ToneSource(440), seconds=3)

See ``clients/python/README.md`` and ``docs/protocol.md``.
"""

from siaga_radio.audio import MicSource, OpusEncoder, ToneSource, WavSource
from siaga_radio.client import RadioClient, TalkResult
from siaga_radio.errors import (
    ConnectionLost,
    FloorDenied,
    LoginFailed,
    NoAudioDevice,
    RadioError,
    ServerRefused,
    TransportUnavailable,
)
from siaga_radio.recorder import Recording, TransmissionRecorder

__version__ = "0.1.0"

__all__ = [
    "ConnectionLost",
    "FloorDenied",
    "LoginFailed",
    "MicSource",
    "NoAudioDevice",
    "OpusEncoder",
    "RadioClient",
    "RadioError",
    "Recording",
    "ServerRefused",
    "TalkResult",
    "ToneSource",
    "TransmissionRecorder",
    "TransportUnavailable",
    "WavSource",
    "__version__",
]
