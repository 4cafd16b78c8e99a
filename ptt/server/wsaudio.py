"""Voice over WebSocket: binary audio frames (:mod:`ptt.audioframe`) on the signaling socket.

A :class:`ptt.server.service.MediaPlane` beside WebRTC. Rules:

1. Receiving is opt-in per connection: ``{"type":"audio","transport":"websocket"}`` makes this
   socket a listener (answered with the talkgroup numbers used on the wire); ``"webrtc"``
   stops it. A client that never opts in never gets a binary frame. Sending needs no opt-in.
2. Uplink: one binary message = one frame. It is dropped, counted and answered with an
   ``error`` when it does not parse (``bad_audio_frame``), names a talkgroup the client has
   not joined (``not_joined``), comes from someone who does not hold that talkgroup's floor
   (``not_holder``), or exceeds ``uplink_rate`` frames/s (``audio_rate_limited``). Errors
   to one client are themselves rate-limited (5 at once, then 1/s); the counters see all.
   The connection always survives; only a message over the server's WebSocket size limit
   (64 KiB) is closed, by the WebSocket layer itself (1009).
3. A routed packet, from a WebSocket talker or a WebRTC talker (the relay's ``on_packet``),
   is sent once per listener: to WebSocket listeners as a frame, to WebRTC listeners through
   ``VoiceRelay.forward``, and to the recorder. Nothing is decoded or re-encoded.
4. Downlink streams: every burst gets a random stream id; its sequence counts +1 per frame
   from 0 and its timestamps follow the talker's clock (``ptt.rtp.Retimer``: duplicates and
   late packets dropped). The frame bytes are built once per talkgroup number and written to
   every listener of that number.
5. Back-pressure: on uvicorn's ``websockets-sansio`` server the pre-framed bytes are written
   straight to the connection's transport (no ASGI ``send``, no task, no await per listener);
   a listener whose transport buffer already holds ``buffer_limit`` bytes loses the new frame
   (drop newest: what is queued is already late). Elsewhere a bounded queue per listener
   feeds ASGI ``send_bytes`` and drops its oldest frame. Both count ``dropped_backpressure``;
   neither lets memory grow.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from starlette.websockets import WebSocket

from ptt import protocol as p
from ptt.audioframe import HEADER_SIZE, VERSION, FrameType, MalformedFrame, decode
from ptt.media.relay import UplinkPacket, VoiceRelay
from ptt.oggopus import InvalidOpusPacket, packet_samples
from ptt.rtp import Retimer
from ptt.server.recorder import Recorder
from ptt.server.service import Client, RadioService
from ptt.server.signaling import Signaling
from ptt.talkgroup import Right

log = logging.getLogger("ptt.wsaudio")

_SOCKET: contextvars.ContextVar[WebSocket | None] = contextvars.ContextVar(
    "ptt_ws_socket", default=None)
_PREFIX = struct.Struct("!BII")  # version/type, talkgroup, stream id
_TAIL = struct.Struct("!II")  # sequence, timestamp
_FIRST = (VERSION << 4) | FrameType.OPUS
_U32 = 0xFFFFFFFF


@dataclass(slots=True)
class WsAudioMetrics:
    frames_in: int = 0
    #: Frame deliveries to WebSocket listeners (written or queued).
    forwarded: int = 0
    forwarded_webrtc: int = 0
    dropped_backpressure: int = 0
    dropped_malformed: int = 0
    dropped_invalid_opus: int = 0
    dropped_not_joined: int = 0
    dropped_not_holder: int = 0
    dropped_rate: int = 0
    dropped_late: int = 0
    errors_sent: int = 0
    errors_suppressed: int = 0
    listeners: int = 0


class _Bucket:
    """A token bucket (``burst`` at once, ``rate`` per second): the uplink and error limits."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.last = rate, burst, burst, now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class _Sink:
    """One listening socket; ``write`` never blocks and never grows memory (rule 5)."""

    __slots__ = ("known", "metrics", "websocket")

    def __init__(self, websocket: WebSocket, metrics: WsAudioMetrics) -> None:
        self.websocket = websocket
        self.metrics = metrics
        self.known: set[str] = set()  # talkgroup codes whose number the client was told

    def write(self, raw: bytes, framed: bytes) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass


class _TransportSink(_Sink):
    __slots__ = ("limit", "protocol", "transport")

    def __init__(self, websocket: WebSocket, metrics: WsAudioMetrics, protocol: Any,
                 limit: int) -> None:
        super().__init__(websocket, metrics)
        self.protocol = protocol
        self.transport: asyncio.Transport = protocol.transport
        self.limit = limit

    def write(self, raw: bytes, framed: bytes) -> bool:
        transport = self.transport
        if self.protocol.close_sent or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > self.limit:
            self.metrics.dropped_backpressure += 1
            return False
        transport.write(framed)
        return True


class _AsgiSink(_Sink):
    __slots__ = ("closed", "queue", "task", "wakeup")

    def __init__(self, websocket: WebSocket, metrics: WsAudioMetrics, frames: int) -> None:
        super().__init__(websocket, metrics)
        self.queue: deque[bytes] = deque(maxlen=frames)
        self.wakeup = asyncio.Event()
        self.closed = False
        self.task = asyncio.create_task(self._drain(), name="ws-audio-writer")

    def write(self, raw: bytes, framed: bytes) -> bool:
        if self.closed:
            return False
        if len(self.queue) == self.queue.maxlen:
            self.metrics.dropped_backpressure += 1  # the oldest frame falls out
        self.queue.append(raw)
        self.wakeup.set()
        return True

    async def _drain(self) -> None:
        while True:
            while not self.queue:
                self.wakeup.clear()
                await self.wakeup.wait()
            try:
                await self.websocket.send_bytes(self.queue.popleft())
            except Exception:  # the socket is gone; signaling notices and detaches
                self.closed = True
                return

    def close(self) -> None:
        self.closed = True
        self.task.cancel()


def _sansio_protocol(websocket: WebSocket) -> Any | None:
    """The uvicorn ``websockets-sansio`` protocol serving this socket, or None.

    The ASGI app runs in the task uvicorn created for the connection (``run_asgi``), whose
    ``self`` is that protocol; the scope's client address cross-checks it. Anything else
    (another server, another uvicorn implementation) gets the ASGI path.
    """
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )
    except ImportError:  # pragma: no cover - uvicorn is a dependency
        return None
    task = asyncio.current_task()
    frame = getattr(task.get_coro(), "cr_frame", None) if task is not None else None
    proto = frame.f_locals.get("self") if frame is not None else None
    if not isinstance(proto, WebSocketsSansIOProtocol):
        return None
    if proto.scope.get("client") != websocket.scope.get("client") or proto.transport is None:
        return None
    return proto


def _ws_header(size: int) -> bytes:
    """A server-to-client WebSocket binary frame header (FIN, unmasked) for ``size`` bytes."""
    return bytes((0x82, size)) if size < 126 else b"\x82\x7e" + size.to_bytes(2, "big")


@dataclass(eq=False, slots=True)
class _Stream:
    """One burst as sent to WebSocket listeners (rule 4)."""

    stream_id: int
    retimer: Retimer
    sequence: int = 0
    #: (frame prefix for one talkgroup number, listeners hearing the burst on it)
    targets: tuple[tuple[bytes, tuple[_Sink, ...]], ...] = ()


class WebSocketVoice:
    """See the module docstring."""

    def __init__(self, service: RadioService, signaling: Signaling, *,
                 relay: VoiceRelay | None = None, recorder: Recorder | None = None,
                 buffer_limit: int = 8192, queue_frames: int = 16,
                 uplink_rate: float = 100.0, uplink_burst: float = 100.0) -> None:
        self.service = service
        self.relay = relay
        self.recorder = recorder
        self.buffer_limit = buffer_limit
        self.queue_frames = queue_frames
        self.uplink_rate = uplink_rate
        self.uplink_burst = uplink_burst
        #: Write frames straight to uvicorn's transport when possible (rule 5).
        self.fast_path = True
        self.metrics = WsAudioMetrics()
        self._sinks: dict[int, _Sink] = {}
        self._streams: dict[int, _Stream] = {}
        self._uplink_guards: dict[int, _Bucket] = {}
        self._error_guards: dict[int, _Bucket] = {}
        self._codes: dict[int, str] = {}  # talkgroup number -> code
        service.media.append(self)
        signaling.on_binary = self._on_binary
        signaling.on_command["audio"] = self._audio
        if relay is not None:
            relay.on_packet = self._on_relay_packet

    async def serve(self, websocket: WebSocket,
                    endpoint: Callable[[WebSocket], Awaitable[None]]) -> None:
        """Run the signaling ``endpoint`` for ``websocket``, letting ``audio`` find it."""
        token = _SOCKET.set(websocket)
        try:
            await endpoint(websocket)
        finally:
            _SOCKET.reset(token)

    async def close(self) -> None:
        for sink in self._sinks.values():
            sink.close()
        self._sinks.clear()
        self._streams.clear()

    def counters(self) -> dict[str, int]:
        self.metrics.listeners = len(self._sinks)
        return asdict(self.metrics)

    # -- opting in (rule 1) --------------------------------------------------------------

    async def _audio(self, client: Client, cmd: p.Audio) -> None:
        user = client.identity.user_id
        old = self._sinks.pop(user, None)
        if old is not None:
            old.close()
        websocket = _SOCKET.get()
        if cmd.transport == "websocket":
            if websocket is None:
                self.service.send(client, p.error_message(
                    "audio_unavailable", "WebSocket audio is not served here", cmd.ref))
                return
            proto = _sansio_protocol(websocket) if self.fast_path else None
            sink: _Sink = (_TransportSink(websocket, self.metrics, proto, self.buffer_limit)
                           if proto is not None
                           else _AsgiSink(websocket, self.metrics, self.queue_frames))
            self._sinks[user] = sink
            self.service.send(client, self._numbers_message(client, sink, cmd.ref))
        else:
            self.service.send(client, self._numbers_message(client, None, cmd.ref))
        self.service.reroute()  # a burst under way is heard at once (late entry)

    def _numbers_message(self, client: Client, sink: _Sink | None,
                         ref: Any = None) -> dict[str, Any]:
        """The ``audio`` answer: the transport and the number of every talkgroup the client
        may hear (the ``talkgroup id`` of frames, both ways)."""
        numbers = self.service.numbers
        talkgroups = {tg.id: numbers[tg.id]
                      for tg in self.service.radio.roster.talkgroups.values()
                      if Right.LISTEN in tg.rights_of(client.identity) and tg.id in numbers}
        if sink is not None:
            sink.known = set(talkgroups)
        return p.message("audio", ref, transport="websocket" if sink else "webrtc",
                         talkgroups=talkgroups)

    # -- MediaPlane ----------------------------------------------------------------------

    def route(self, talker: int, deliveries: dict[int, str]) -> None:
        stream = self._streams.get(talker)
        if stream is None:
            stream = _Stream(random.randrange(1 << 32), Retimer(
                initial_sequence=random.randrange(1 << 16),
                initial_timestamp=random.randrange(1 << 32)))
            self._streams[talker] = stream
        numbers = self.service.numbers
        groups: dict[int, list[_Sink]] = {}
        for listener, tg in deliveries.items():
            sink = self._sinks.get(listener)
            if sink is not None and tg in numbers:
                groups.setdefault(numbers[tg], []).append(sink)
        stream.targets = tuple((_PREFIX.pack(_FIRST, number, stream.stream_id), tuple(sinks))
                               for number, sinks in groups.items())

    def unroute(self, talker: int) -> None:
        self._streams.pop(talker, None)

    def client_gone(self, user: int) -> None:
        sink = self._sinks.pop(user, None)
        if sink is not None:
            sink.close()
            self.service.reroute()
        self._uplink_guards.pop(user, None)
        self._error_guards.pop(user, None)

    def membership_changed(self, user: int) -> None:
        sink, client = self._sinks.get(user), self.service.clients.get(user)
        roster = self.service.radio.roster
        if sink is None or client is None or not roster.is_connected(user):
            return
        if not set(roster.groups(user)) <= sink.known:  # a talkgroup opened since opting in
            self.service.send(client, self._numbers_message(client, sink))

    # -- uplink (rule 2) -----------------------------------------------------------------

    def _on_binary(self, client: Client, data: bytes) -> None:
        metrics, user = self.metrics, client.identity.user_id
        metrics.frames_in += 1
        now = self.service.now()
        guard = self._uplink_guards.get(user)
        if guard is None:
            guard = self._uplink_guards[user] = _Bucket(self.uplink_rate, self.uplink_burst, now)
        if not guard.take(now):
            metrics.dropped_rate += 1
            return self._refuse(client, "audio_rate_limited", "too many audio frames", now)
        try:
            frame = decode(data)
            samples = packet_samples(frame.payload)
        except MalformedFrame as exc:
            metrics.dropped_malformed += 1
            return self._refuse(client, "bad_audio_frame", str(exc), now)
        except InvalidOpusPacket as exc:
            metrics.dropped_invalid_opus += 1
            return self._refuse(client, "bad_audio_frame", f"not an Opus packet: {exc}", now)
        roster = self.service.radio.roster
        code = self._code(frame.talkgroup_id)
        if code is None or code not in roster.groups(user):
            metrics.dropped_not_joined += 1
            return self._refuse(client, "not_joined",
                                f"talkgroup number {frame.talkgroup_id} is not joined", now)
        scope = self.service.media_received(user)
        if scope is None or code not in scope:
            metrics.dropped_not_holder += 1
            return self._refuse(client, "not_holder",
                                f"audio dropped: no floor held on {code}", now)
        payload = frame.payload
        if not self._send(user, payload, frame.sequence, frame.timestamp, samples, now):
            return
        if self.relay is not None:
            metrics.forwarded_webrtc += self.relay.forward(
                str(user), payload, frame.sequence, frame.timestamp, samples)
        if self.recorder is not None:
            self.recorder.packet(user, payload, frame.timestamp, samples)

    def _code(self, number: int) -> str | None:
        code = self._codes.get(number)
        if code is None or self.service.numbers.get(code) != number:
            self._codes = {n: c for c, n in self.service.numbers.items()}
            code = self._codes.get(number)
        return code

    def _refuse(self, client: Client, code: str, message: str, now: float) -> None:
        user = client.identity.user_id
        guard = self._error_guards.get(user)
        if guard is None:
            guard = self._error_guards[user] = _Bucket(1.0, 5.0, now)
        if guard.take(now):
            self.metrics.errors_sent += 1
            self.service.send(client, p.error_message(code, message))
        else:
            self.metrics.errors_suppressed += 1

    # -- WebRTC talkers (rule 3) ---------------------------------------------------------

    def _on_relay_packet(self, packet: UplinkPacket) -> None:
        user = int(packet.client_id)
        if self._send(user, packet.payload, packet.sequence, packet.timestamp, packet.samples,
                      packet.arrival) and self.recorder is not None:
            self.recorder.packet(user, packet.payload, packet.timestamp, packet.samples)

    # -- downlink (rules 4, 5) -----------------------------------------------------------

    def _send(self, talker: int, payload: bytes, sequence: int, timestamp: int, samples: int,
              now: float) -> bool:
        """Fan one routed packet out to the WebSocket listeners; False if it is dropped."""
        stream = self._streams.get(talker)
        if stream is None:
            return False
        out = stream.retimer.rewrite(talker, sequence & 0xFFFF, timestamp, now,
                                     samples=samples)
        if out is None:
            self.metrics.dropped_late += 1
            return False
        tail = _TAIL.pack(stream.sequence, out.timestamp) + payload
        stream.sequence = (stream.sequence + 1) & _U32
        delivered = 0
        for prefix, sinks in stream.targets:
            raw = prefix + tail
            framed = _ws_header(HEADER_SIZE + len(payload)) + raw
            for sink in sinks:
                if sink.write(raw, framed):
                    delivered += 1
        self.metrics.forwarded += delivered
        return True

    def sinks(self) -> dict[int, str]:
        """Listening users and how their frames are written (``transport`` or ``asgi``)."""
        return {user: "transport" if isinstance(s, _TransportSink) else "asgi"
                for user, s in self._sinks.items()}

    def buffered(self, user: int) -> int:
        """Bytes waiting to be written to ``user``'s socket (tests, metrics)."""
        sink = self._sinks.get(user)
        if isinstance(sink, _TransportSink):
            return sink.transport.get_write_buffer_size()
        if isinstance(sink, _AsgiSink):
            return sum(len(f) for f in sink.queue)
        return 0

