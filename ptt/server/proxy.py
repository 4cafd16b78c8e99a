"""A radio client's ``/ws`` on a node that is not the radio leader: passed on to the leader.

The node opens a WebSocket to the leader's ``node_url`` ``/ws`` with the client's query
string (token, resume) and copies frames both ways, text as text and binary as binary,
until either side closes; the close code of one side is passed on to the other. The
leader sees an ordinary client: it authenticates it, welcomes it, and its WebSocket audio
passes through this node; WebRTC media flows between the client and the leader directly
(the leader's ICE candidates are in its SDP answer).

Close codes the client gets from here rather than from the leader:
:data:`ptt.server.service.CLOSE_MOVED` (4010) when the leader's socket ended without a
close frame (it died), when the node sees another leader take over, or when no leader is
reachable; the client reconnects (to any node) and resumes its session.

When this node drains (:meth:`Relays.drain`, docs/protocol.md "When a node drains") it
treats the clients it passes on as the leader treats its own: new ones get ``move`` and
4010, those not talking are moved at once, a talker once its transmission ends (the
leader's ``floor_idle`` or ``floor_revoked``, seen on the way down) or the drain's time is
up. Moving one closes its socket to the leader, which keeps its session to resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import websockets
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ptt import protocol as p
from ptt.server.leadership import Leader, Leadership
from ptt.server.service import CLOSE_MOVED

log = logging.getLogger("ptt.proxy")

#: How long the connection to the leader may take to open.
OPEN_TIMEOUT = 5.0
#: How long a client's connection waits for a reachable leader, and how often it tries.
LEADER_WAIT = 5.0
RETRY_EVERY = 0.1
#: Codes that may not be sent in a close frame (RFC 6455 7.4.1): passed on as 1000.
_RESERVED = {1005, 1006, 1015}


@dataclass(eq=False)
class _Relay:
    """One client passed on: whether it holds a floor, as the leader's messages say."""

    talking: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def seen(self, text: str) -> None:
        if '"floor_' not in text:  # cheap: most messages are not about a floor
            return
        with contextlib.suppress(ValueError, AttributeError):
            kind = json.loads(text).get("type")
            if kind == "floor_granted":
                self.talking = True
            elif kind in ("floor_idle", "floor_revoked") and self.talking:
                self.talking = False
                self.changed.set()


class Relays:
    """The clients this node passes on to the leader, and whether it drains."""

    def __init__(self) -> None:
        self.draining = False
        self.move = ""
        self._deadline = 0.0
        self._open: set[_Relay] = set()
        self._drained = asyncio.Event()
        self._gone = asyncio.Event()

    async def drain(self, deadline: float, nodes: list[str]) -> None:
        """Move every client passed on by ``deadline`` (loop time), talkers last; return
        once they are all gone or the time is up."""
        self.draining, self._deadline = True, deadline
        self.move = p.dumps(p.message("move", nodes=nodes))
        self._drained.set()
        loop = asyncio.get_running_loop()
        while self._open and (remaining := deadline - loop.time()) > 0:
            self._gone.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gone.wait(), remaining)

    async def move_due(self, relay: _Relay) -> None:
        """Return once ``relay``'s client is to be moved: a drain, and it is not talking or
        the drain's time is up."""
        await self._drained.wait()
        loop = asyncio.get_running_loop()
        while relay.talking and loop.time() < self._deadline:
            relay.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(relay.changed.wait(), self._deadline - loop.time())

    @contextlib.contextmanager
    def track(self, relay: _Relay) -> Iterator[None]:
        self._open.add(relay)
        try:
            yield
        finally:
            self._open.discard(relay)
            self._gone.set()


def ws_url(node_url: str) -> str:
    """``http(s)://host:port`` -> ``ws(s)://host:port/ws``."""
    base = node_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/ws"
    return "ws://" + base.removeprefix("http://") + "/ws"


async def serve(websocket: WebSocket, leadership: Leadership,
                here: Callable[[WebSocket], Awaitable[None]],
                ready: Callable[[], bool] = lambda: True,
                relays: Relays | None = None) -> None:
    """Serve a client's ``/ws``: ``here`` while this node leads the radio (once ``ready``:
    its take-over done), else passed on to the leader. A leader that cannot be reached (it
    has just died and the others have not seen its lease expire yet) is tried again as the
    lease changes hands, for up to :data:`LEADER_WAIT` seconds; then the client is told to
    reconnect (4010)."""
    relays = relays if relays is not None else Relays()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LEADER_WAIT
    query = websocket.url.query
    while (remaining := deadline - loop.time()) > 0:
        if relays.draining and not leadership.holds():
            await websocket.accept()
            await websocket.send_text(relays.move)
            await _close(websocket, CLOSE_MOVED, "node draining; reconnect elsewhere")
            return
        if leadership.holds() and ready():
            await here(websocket)
            return
        leader = await leadership.leader_within(remaining)
        if leader is None:
            break
        if leader.node_id == leadership.cluster.node_id:
            await asyncio.sleep(RETRY_EVERY)  # the radio is changing hands here
            continue
        upstream = await _open(ws_url(leader.url) + (f"?{query}" if query else ""),
                               leader, leadership)
        if upstream is None:
            await asyncio.sleep(RETRY_EVERY)
            continue
        await relay(websocket, upstream, leader, leadership, relays)
        return
    await websocket.accept()
    await _close(websocket, CLOSE_MOVED, "no radio leader reachable; reconnect")


async def _open(url: str, leader: Leader, leadership: Leadership) -> ClientConnection | None:
    """Connect to ``leader``; None if it fails, takes :data:`OPEN_TIMEOUT`, or another
    leader is seen meanwhile (a dead machine does not refuse, it just never answers)."""
    async def opened() -> ClientConnection:
        return await websockets.connect(url, open_timeout=OPEN_TIMEOUT, max_size=None,
                                        compression=None, ping_interval=None)

    connect = asyncio.create_task(opened())
    with _moved(leadership, leader) as moved:
        watch = asyncio.create_task(moved.wait())
        await asyncio.wait((connect, watch), return_when=asyncio.FIRST_COMPLETED)
        watch.cancel()
    if not connect.done():
        connect.cancel()
        await asyncio.gather(connect, return_exceptions=True)
        return None
    try:
        return connect.result()
    except Exception as exc:
        log.info("radio leader unreachable: %r", exc, extra={"node": leader.node_id})
        return None


async def relay(websocket: WebSocket, upstream: ClientConnection, leader: Leader,
                leadership: Leadership, relays: Relays) -> None:
    """Copy frames between the client and the leader until either side closes."""
    await websocket.accept()
    one = _Relay()
    with _moved(leadership, leader) as moved, relays.track(one):
        await _copy(websocket, upstream, moved, one, relays)


@contextlib.contextmanager
def _moved(leadership: Leadership, leader: Leader) -> Iterator[asyncio.Event]:
    """An event set when the cluster's radio leader is no longer ``leader``."""
    moved = asyncio.Event()

    def leader_changed(new: Leader | None) -> None:
        if new != leader:
            moved.set()

    leadership.listeners.append(leader_changed)
    try:
        yield moved
    finally:
        leadership.listeners.remove(leader_changed)


async def _copy(websocket: WebSocket, upstream: ClientConnection,
                moved: asyncio.Event, one: _Relay, relays: Relays) -> None:
    down = asyncio.create_task(_downstream(upstream, websocket, one))
    up = asyncio.create_task(_upstream(websocket, upstream))
    watch = asyncio.create_task(moved.wait())
    draining = asyncio.create_task(relays.move_due(one))
    tasks: list[asyncio.Task[object]] = [down, up, watch, draining]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if up in done and not up.result():
            await down  # the leader closed: its code goes to the client
        elif watch in done or draining in done:
            # The copying stops first, so that the leader's answer to this close does
            # not reach the client before the reason it is moved.
            down.cancel()
            up.cancel()
            await asyncio.gather(down, up, return_exceptions=True)
            if watch in done:
                await _close(websocket, CLOSE_MOVED, "radio moved to another node; reconnect")
                await upstream.close(1001, "radio leader moved")
            else:
                with contextlib.suppress(Exception):
                    await websocket.send_text(relays.move)
                await _close(websocket, CLOSE_MOVED, "node draining; reconnect elsewhere")
                await upstream.close(1001, "node draining")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await upstream.close()


async def _downstream(upstream: ClientConnection, websocket: WebSocket, one: _Relay) -> None:
    """Leader -> client; the leader's close code (4010 if it gave none) to the client."""
    try:
        async for message in upstream:
            if isinstance(message, bytes):
                await websocket.send_bytes(message)
            else:
                one.seen(message)
                await websocket.send_text(message)
    except ConnectionClosed:
        pass
    except Exception:  # the client is gone; the other direction notices
        return
    rcvd = upstream.protocol.close_rcvd
    if rcvd is None or rcvd.code in _RESERVED:
        await _close(websocket, CLOSE_MOVED, "radio leader gone; reconnect")
    else:
        await _close(websocket, rcvd.code, rcvd.reason)


async def _upstream(websocket: WebSocket, upstream: ClientConnection) -> bool:
    """Client -> leader; the client's close code to the leader. False if the leader closed
    first."""
    code = 1000
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                code = int(frame.get("code") or 1000)
                break
            data = frame.get("bytes")
            await upstream.send(data if data is not None else frame.get("text") or "")
    except WebSocketDisconnect as exc:
        code = exc.code
    except ConnectionClosed:
        return False
    with contextlib.suppress(Exception):
        await upstream.close(1000 if code in _RESERVED else code)
    return True


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code, reason)
