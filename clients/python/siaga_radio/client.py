"""The radio client: log in over HTTP, keep one signaling WebSocket open (resuming the
session after a drop), and talk or listen over WebRTC or WebSocket audio.

Rules:

1. The server decides; the client asks. State here (``joined``, ``selected``, ``floors``)
   changes only when a server message says so.
2. One reader task owns the socket's receiving side. Every text message goes through
   :meth:`RadioClient._dispatch` (state, waiters, ``on_message`` callbacks); binary frames
   go to the voice transport. Nothing else reads the socket.
3. A dropped socket (anything but our own close, 4001, 4002 or 4004) is reopened with the session
   id (``resume``) after a short back-off, forever, until :meth:`close`. After every
   ``welcome`` the voice transport starts again (the server closes the peer connection and
   forgets the audio opt-in with the socket). A session the server has forgotten (over 30 s
   away) is rebuilt from ``wanted`` (the talkgroups last asked for).
4. A node that drains says ``move`` (with other nodes' addresses, maybe none) and closes
   with 4010: the client reconnects at once, with its session id, to the first address
   given, or to the same one (a load balancer) when none is.
5. A floor ends with the socket: a talk in progress when it drops ends with
   :class:`FloorDenied` (``disconnected``), never resumes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from siaga_radio.audio import FRAME, RATE, OpusEncoder, PcmSource
from siaga_radio.errors import (
    ConnectionLost,
    FloorDenied,
    LoginFailed,
    RadioError,
    ServerRefused,
)

log = logging.getLogger("siaga_radio")

Transport = Literal["webrtc", "websocket"]
Message = dict[str, Any]
#: ``on_audio(talkgroup, opus_packet, sequence, stream)``: one received packet. ``stream`` is
#: the burst id of WebSocket frames (None over WebRTC, whose stream is continuous).
AudioCallback = Callable[[str, bytes, int, int | None], None]

RECONNECT_DELAYS = (0.25, 1.0, 2.0, 4.0, 8.0)
#: The server's close code for "this node drains; reconnect elsewhere" (docs/protocol.md).
CLOSE_MOVED = 4010
#: Audio keeps flowing a little after the last packet leaves us (WebRTC travels apart from
#: the signaling socket): the release waits this long so the server hears the whole talk.
RELEASE_TAIL = 0.2


@dataclass
class TalkResult:
    talkgroup: str
    packets: int
    seconds: float
    ended: str  # "done" (the source or the time ran out), or the floor_revoked reason


@dataclass
class _Waiter:
    match: Callable[[Message], bool]
    future: asyncio.Future[Message]
    ref: str | None = None


@dataclass
class Floor:
    talker: dict[str, Any]
    call_type: str
    talkgroups: list[str] = field(default_factory=list)


def _ws_url(server: str) -> str:
    base = server.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://"):] + "/ws"
    if base.startswith("http://"):
        return "ws://" + base[len("http://"):] + "/ws"
    raise ValueError(f"server must be an http:// or https:// URL, not {server!r}")


def ssl_context(verify: bool | str) -> ssl.SSLContext | None:
    """``True``: the system's CAs; a path: that CA bundle or self-signed certificate;
    ``False``: no verification (a lab only)."""
    if verify is True:
        return None
    ctx = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if verify is False:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class RadioClient:
    """One signed-in radio user.

    ``transport`` chooses how voice travels; ``receive`` whether this client wants to hear
    audio (``on_audio`` is then called for every packet heard).
    """

    def __init__(
        self,
        server: str,
        username: str,
        password: str | None = None,
        *,
        token: str | None = None,
        transport: Transport = "webrtc",
        receive: bool = False,
        verify: bool | str = True,
        reconnect: bool = True,
    ) -> None:
        if transport not in ("webrtc", "websocket"):
            raise ValueError(f"unknown transport {transport!r}")
        self.server = server.rstrip("/")
        self.ws_url = _ws_url(self.server)
        self.username = username
        self.password = password
        self.token = token
        self.transport: Transport = transport
        self.receive = receive
        self.verify = verify
        self.reconnect = reconnect
        self._ssl = ssl_context(verify)

        self.session: str | None = None
        self.welcome: Message = {}
        self.user: dict[str, Any] = {}
        self.talkgroups: dict[str, dict[str, Any]] = {}
        self.joined: list[str] = []
        self.selected: str | None = None
        self.floors: dict[str, Floor] = {}
        #: Talkgroups to hear (and the one to talk on) as last asked; rebuilt after a
        #: session the server has forgotten (rule 3).
        self.wanted: list[str] | None = None
        self.wanted_selected: str | None = None
        self.connections = 0
        self.resumed = False

        self.on_message: list[Callable[[Message], None]] = []
        self.on_audio: list[AudioCallback] = []
        self.on_state: list[Callable[[str], None]] = []
        self.state = "idle"  # idle | connecting | open | reconnecting | closed | lost

        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None
        self._waiters: list[_Waiter] = []
        self._refs = itertools.count(1)
        self._open = asyncio.Event()
        self._lost: RadioError | None = None
        self._closing = False
        self._talk_end: asyncio.Future[str] | None = None
        self._talking_on: str | None = None
        self.voice = self._make_voice()

    def _make_voice(self) -> Any:
        if self.transport == "webrtc":
            from siaga_radio.webrtc import WebRtcVoice

            return WebRtcVoice(self)
        from siaga_radio.wsvoice import WebSocketVoice

        return WebSocketVoice(self)

    # -- connection -------------------------------------------------------------------------

    async def __aenter__(self) -> RadioClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def login(self) -> str:
        """Exchange the password for a bearer token (``POST /api/auth/login``)."""
        if self.password is None:
            raise LoginFailed("no password given")
        try:
            async with httpx.AsyncClient(base_url=self.server, verify=self._httpx_verify(),
                                         timeout=10) as http:
                response = await http.post("/api/auth/login", json={
                    "username": self.username, "password": self.password})
        except httpx.HTTPError as exc:
            raise LoginFailed(f"cannot reach {self.server}: {exc}") from None
        if response.status_code != 200:
            try:
                error = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                error = response.text[:200]
            raise LoginFailed(f"login refused ({response.status_code}): {error}")
        self.token = str(response.json()["access_token"])
        return self.token

    def _httpx_verify(self) -> bool | ssl.SSLContext:
        return self._ssl if self._ssl is not None else True

    async def connect(self, timeout: float = 10.0) -> Message:
        """Log in if needed, open the socket, and return once voice is ready."""
        if self.token is None:
            await self.login()
        self._closing = False
        await self._open_socket(resume=None)
        assert self._starting is not None
        await asyncio.wait_for(asyncio.shield(self._starting), timeout)
        return self.welcome

    async def _open_socket(self, resume: str | None) -> None:
        self._set_state("connecting" if resume is None else "reconnecting")
        try:
            ws = await websockets.connect(self.ws_url, ssl=self._ssl, compression=None,
                                          max_size=1 << 20, open_timeout=10)
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise ConnectionLost(f"cannot open {self.ws_url}: {exc}") from None
        hello: Message = {"v": 1, "type": "hello", "token": self.token}
        if resume:
            hello["resume"] = resume
        await ws.send(json.dumps(hello))
        try:
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except (ConnectionClosed, TimeoutError) as exc:
            await ws.close()
            code = getattr(getattr(exc, "rcvd", None), "code", None)
            raise ConnectionLost(f"no welcome from the server ({exc})", code) from None
        if welcome.get("type") == "move":  # this node drains: go elsewhere (rule 4)
            self._move(welcome)
            await ws.close()
            raise ConnectionLost("the node is draining; moving on", CLOSE_MOVED)
        if welcome.get("type") == "error":
            await ws.close()
            raise ConnectionLost(f"{welcome.get('code')}: {welcome.get('message')}", 4001)
        self._ws = ws
        self.connections += 1
        self._on_welcome(welcome)
        self._reader = asyncio.create_task(self._read(ws), name="siaga-radio reader")
        self._starting = asyncio.create_task(self._after_welcome(welcome))
        self._starting.add_done_callback(_log_start_failure)

    def _on_welcome(self, msg: Message) -> None:
        self.welcome = msg
        self.session = msg["session"]
        self.resumed = bool(msg.get("resumed"))
        self.user = msg["user"]
        self.talkgroups = {tg["id"]: tg for tg in msg["talkgroups"]}
        self.joined = list(msg["joined"])
        self.selected = msg["selected"]
        if not self.resumed:
            self.floors.clear()

    async def _after_welcome(self, welcome: Message) -> None:
        if not self.resumed and self.wanted:
            await self.scan(self.wanted, self.wanted_selected)
        await self.voice.start()
        self._lost = None
        self._set_state("open")
        self._open.set()
        for callback in self.on_message:
            callback(welcome)

    async def close(self) -> None:
        """Leave: stop reconnecting, close voice and socket."""
        self._closing = True
        self._set_state("closed")
        await self.voice.close()
        if self._ws is not None:
            await self._ws.close()
        for task in (self._reader, self._starting):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._fail_waiters(ConnectionLost("client closed"))

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            for callback in self.on_state:
                callback(state)

    async def drop(self) -> None:
        """Drop the socket as a dead zone would (tests; the client resumes)."""
        if self._ws is not None:
            await self._ws.close(code=4000, reason="client drop")

    async def _read(self, ws: ClientConnection) -> None:
        code: int | None = None
        try:
            async for data in ws:
                if isinstance(data, bytes):
                    self.voice.on_binary(data)
                else:
                    try:
                        msg = json.loads(data)
                    except ValueError:
                        continue
                    self._dispatch(msg)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
        code = code if code is not None else (ws.close_code or 1006)
        if self._ws is ws:
            self._ws = None
        await self._connection_lost(code)

    async def _connection_lost(self, code: int) -> None:
        self._open.clear()
        self.floors.clear()
        self._end_talk("disconnected")
        await self.voice.stop()
        if self._closing:
            return
        if code in (4001, 4002, 4004) or not self.reconnect:
            reason = {4001: "authentication failed", 4002: "replaced by a newer connection",
                      4004: "credentials revoked (account disabled or password changed)"}
            self._lost = ConnectionLost(reason.get(code, f"connection closed ({code})"), code)
            self._set_state("lost")
            self._fail_waiters(self._lost)
            return
        self._fail_waiters(ConnectionLost(f"connection dropped ({code}); resuming", code))
        self._set_state("reconnecting")
        for attempt in itertools.count():
            if attempt or code != CLOSE_MOVED:
                await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            if self._closing:
                return
            try:
                await self._open_socket(resume=self.session)
                return
            except ConnectionLost as exc:
                if exc.code == 4001 and self.password is not None:
                    with contextlib.suppress(RadioError):
                        await self.login()  # the token expired: a new one, same session
                log.info("reconnect failed: %s", exc)

    def _move(self, msg: Message) -> None:
        nodes = [str(n) for n in msg.get("nodes") or [] if str(n).startswith("http")]
        if nodes:
            self.server = nodes[0].rstrip("/")
            self.ws_url = _ws_url(self.server)

    async def wait_open(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._open.wait(), timeout)

    # -- messages ---------------------------------------------------------------------------

    def _dispatch(self, msg: Message) -> None:
        kind = msg.get("type")
        match kind:
            case "joined":
                if msg["talkgroup"] not in self.joined:
                    self.joined.append(msg["talkgroup"])
                if msg.get("talker"):
                    self.floors[msg["talkgroup"]] = Floor(msg["talker"], "normal",
                                                          [msg["talkgroup"]])
            case "scan":
                self.joined = list(msg["talkgroups"])
                self.selected = msg["selected"]
            case "floor_taken" | "floor_granted":
                for tg in msg["talkgroups"]:
                    self.floors[tg] = Floor(msg["talker"], msg["call_type"], msg["talkgroups"])
            case "floor_idle":
                for tg in msg["talkgroups"]:
                    self.floors.pop(tg, None)
            case "floor_revoked":
                self._end_talk(msg["reason"])
            case "talkgroup_added":
                self.talkgroups[msg["talkgroup"]["id"]] = msg["talkgroup"]
            case "talkgroup_removed":
                self.talkgroups.pop(msg["talkgroup"], None)
                if msg["talkgroup"] in self.joined:
                    self.joined.remove(msg["talkgroup"])
            case "rtc_offer" | "audio":
                self.voice.on_message(msg)
            case "move":
                self._move(msg)
        for waiter in list(self._waiters):
            if waiter.future.done():
                self._waiters.remove(waiter)
            elif waiter.match(msg) or (kind == "error" and waiter.ref is not None
                                       and msg.get("ref") == waiter.ref):
                self._waiters.remove(waiter)
                waiter.future.set_result(msg)
        for callback in self.on_message:
            try:
                callback(msg)
            except Exception:
                log.exception("on_message callback failed")

    def _fail_waiters(self, exc: RadioError) -> None:
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(exc)
        self._waiters.clear()

    def _audio(self, talkgroup: str, packet: bytes, sequence: int, stream: int | None) -> None:
        for callback in self.on_audio:
            try:
                callback(talkgroup, packet, sequence, stream)
            except Exception:
                log.exception("on_audio callback failed")

    def waiter(self, match: Callable[[Message], bool], ref: str | None = None
               ) -> asyncio.Future[Message]:
        """A future for the next message that ``match`` accepts (registered now, so a
        message that answers something sent after this call is never missed)."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(match, future, ref))
        return future

    async def wait_for(self, type_: str, timeout: float = 5.0, **fields: Any) -> Message:
        """The next message of ``type_`` whose fields equal ``fields``."""
        future = self.waiter(lambda m: m.get("type") == type_ and all(
            m.get(k) == v for k, v in fields.items()))
        return await asyncio.wait_for(future, timeout)

    async def send(self, type_: str, **fields: Any) -> None:
        ws = self._ws
        if ws is None:
            raise self._lost or ConnectionLost("not connected")
        await ws.send(json.dumps({"v": 1, "type": type_, **fields}))

    async def send_bytes(self, data: bytes) -> None:
        ws = self._ws
        if ws is None:
            raise self._lost or ConnectionLost("not connected")
        await ws.send(data)

    async def request(self, type_: str, answer: Callable[[Message], bool],
                      timeout: float = 5.0, **fields: Any) -> Message:
        """Send a command and wait for the message ``answer`` accepts; an ``error`` naming
        our ``ref`` raises :class:`ServerRefused`."""
        ref = f"r{next(self._refs)}"
        future = self.waiter(answer, ref)
        await self.send(type_, ref=ref, **fields)
        msg = await asyncio.wait_for(future, timeout)
        if msg.get("type") == "error" and not answer(msg):
            raise ServerRefused(msg["code"], msg.get("message", ""), msg)
        return msg

    # -- commands ---------------------------------------------------------------------------

    async def join(self, talkgroup: str) -> Message:
        if self.wanted is not None and talkgroup not in self.wanted:
            self.wanted.append(talkgroup)
        return await self.request("join", lambda m: m.get("type") == "joined"
                                  and m.get("talkgroup") == talkgroup, talkgroup=talkgroup)

    async def leave(self, talkgroup: str) -> None:
        if self.wanted is not None and talkgroup in self.wanted:
            self.wanted.remove(talkgroup)
        await self.send("leave", talkgroup=talkgroup)

    async def scan(self, talkgroups: list[str], selected: str | None = None) -> Message:
        """Hear exactly ``talkgroups``; talk on ``selected`` (default: the first)."""
        self.wanted = list(talkgroups)
        self.wanted_selected = selected
        if selected not in talkgroups:
            selected = talkgroups[0] if talkgroups else None
        fields: dict[str, Any] = {"talkgroups": list(talkgroups)}
        if selected is not None:
            fields["selected"] = selected
        return await self.request("scan", lambda m: m.get("type") == "scan", **fields)

    async def select(self, talkgroup: str) -> Message:
        groups = list(self.joined) if talkgroup in self.joined else [*self.joined, talkgroup]
        return await self.scan(groups, talkgroup)

    async def request_floor(self, talkgroup: str | None = None, *, call_type: str | None = None,
                            priority: int | None = None, override: bool | None = None,
                            timeout: float = 10.0) -> Message:
        """Ask for the floor and wait for the grant (through the queue if need be)."""
        fields: dict[str, Any] = {}
        for key, value in (("talkgroup", talkgroup), ("call_type", call_type),
                           ("priority", priority), ("override", override)):
            if value is not None:
                fields[key] = value

        def answer(m: Message) -> bool:
            kind = m.get("type")
            if kind == "floor_granted":
                return bool(m["talker"].get("user_id") == self.user.get("user_id"))
            return kind in ("floor_denied", "floor_queue_cancelled")

        msg = await self.request("floor_request", answer, timeout=timeout, **fields)
        if msg["type"] != "floor_granted":
            raise FloorDenied(str(msg.get("reason", msg["type"])),
                              f"floor of {msg.get('talkgroup')} not granted", msg)
        return msg

    async def release_floor(self) -> None:
        await self.send("floor_release")

    async def talk(self, talkgroup: str | None, source: PcmSource, seconds: float | None = None,
                   *, call_type: str | None = None, bitrate: int = 24000,
                   tail: float = RELEASE_TAIL) -> TalkResult:
        """Take the floor, send ``source`` (for ``seconds`` at most), release.

        Officers talk on their selected talkgroup, so ``talkgroup`` is selected first.
        """
        tg = talkgroup or self.selected
        if tg is None:
            raise ServerRefused("no_selected_talkgroup", "join a talkgroup first")
        if self.selected != tg:
            await self.select(tg)
        await self.voice.ready()
        grant = await self.request_floor(tg, call_type=call_type)
        return await self.send_audio(grant["talkgroup"], source, seconds, bitrate=bitrate,
                                     tail=tail)

    async def send_audio(self, talkgroup: str, source: PcmSource, seconds: float | None,
                         *, bitrate: int = 24000, tail: float = RELEASE_TAIL,
                         release: bool = True) -> TalkResult:
        """Send ``source`` while holding the floor of ``talkgroup``; then release it."""
        loop = asyncio.get_running_loop()
        self._talk_end = loop.create_future()
        self._talking_on = talkgroup
        encoder = OpusEncoder(bitrate)
        limit = None if seconds is None else int(round(seconds * RATE / FRAME))
        self.voice.begin_burst(talkgroup)
        sent, ended = 0, "done"
        start = loop.time()
        try:
            while limit is None or sent < limit:
                if self._talk_end.done():
                    ended = self._talk_end.result()
                    break
                pcm = await source.read()
                if pcm is None:
                    break
                await self.voice.send(talkgroup, encoder.encode(pcm))
                sent += 1
                if not source.live:
                    delay = start + sent * FRAME / RATE - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
            if ended == "done" and release:
                await asyncio.sleep(tail)
                if not self._talk_end.done():
                    await self.release_floor()
        finally:
            self._talk_end = None
            self._talking_on = None
        if ended != "done":
            raise FloorDenied(ended, f"talk on {talkgroup} ended: {ended}")
        return TalkResult(talkgroup, sent, sent * FRAME / RATE, ended)

    def _end_talk(self, reason: str) -> None:
        if self._talk_end is not None and not self._talk_end.done():
            self._talk_end.set_result(reason)

    async def raise_emergency(self, talkgroup: str | None = None, lat: float | None = None,
                              lon: float | None = None,
                              raised_at: datetime | None = None) -> Message:
        """Press the emergency button; returns ``emergency_raised`` as the server said it.

        ``raised_at`` (aware) is when the button was pressed, for an emergency kept while
        the radio had no connection and sent now: dispatchers see both times."""
        if raised_at is not None and raised_at.utcoffset() is None:
            raise ValueError("raised_at must name its zone (an aware datetime)")
        fields: dict[str, Any] = {}
        for key, value in (("talkgroup", talkgroup), ("lat", lat), ("lon", lon),
                           ("raised_at", raised_at.isoformat() if raised_at else None)):
            if value is not None:
                fields[key] = value
        me = self.user.get("user_id")
        return await self.request("emergency_raise", lambda m: m.get("type") == "emergency_raised"
                                  and (m.get("raised_by") or {}).get("user_id") == me, **fields)

    async def send_location(self, lat: float, lon: float, accuracy: float | None = None) -> None:
        fields: dict[str, Any] = {"lat": lat, "lon": lon}
        if accuracy is not None:
            fields["accuracy"] = accuracy
        await self.send("location", **fields)

    async def send_text(self, talkgroup: str, body: str) -> Message:
        return await self.request("text", lambda m: m.get("type") == "text"
                                  and m.get("talkgroup") == talkgroup
                                  and m.get("body") == body, talkgroup=talkgroup, body=body)


def _log_start_failure(task: asyncio.Task[None]) -> None:
    """A set-up after a reconnect that failed (nobody awaits it): say so, once."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("voice set-up after welcome failed: %s", task.exception())


async def run_until(stop: Awaitable[Any], seconds: float | None) -> None:
    """Wait for ``stop`` (e.g. an Event), or ``seconds``, whichever comes first."""
    if seconds is None:
        await stop
    else:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop, seconds)
