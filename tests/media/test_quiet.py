"""Quiet sockets: datagrams of a quiet transport wait for a sweep, then reach its protocol.

Real asyncio UDP endpoints on 127.0.0.1; the relay's use of them (which peers are quiet) is
in ``test_relay.py``.
"""

from __future__ import annotations

import asyncio
import os
import socket
from asyncio import selector_events
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from ptt.errors import UsageError
from ptt.media.grid import GridSleeps
from ptt.media.quiet import QuietSockets, QuietSocketsError, check_quiet_hooks

from .officers import wait_for

NEVER = 3600.0  # an interval whose timer never fires during a test


class Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: list[bytes] = []
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.datagrams.append(data)




@pytest.fixture
async def endpoints() -> AsyncIterator[Callable[[], Any]]:
    """``await endpoint()``: a (transport, inbox) bound to 127.0.0.1, closed after the test."""
    made: list[Any] = []

    async def endpoint(sock: socket.socket | None = None) -> tuple[Any, Inbox]:
        loop = asyncio.get_running_loop()
        if sock is None:
            transport, inbox = await loop.create_datagram_endpoint(
                Inbox, local_addr=("127.0.0.1", 0))
        else:
            transport, inbox = await loop.create_datagram_endpoint(Inbox, sock=sock)
        made.append(transport)
        await asyncio.sleep(0)  # connection_made and the loop's reader are scheduled
        return transport, inbox

    yield endpoint
    for transport in made:
        transport.close()
    await asyncio.sleep(0)


@pytest.fixture
def quiet_sockets() -> Iterator[Callable[..., QuietSockets]]:
    """``quiet_sockets(**settings)``: a QuietSockets on the running loop, closed after the
    test."""
    made: list[QuietSockets] = []

    def make(**settings: Any) -> QuietSockets:
        made.append(QuietSockets(asyncio.get_running_loop(), **settings))
        return made[-1]

    yield make
    for quiet in made:
        quiet.close()


@pytest.fixture
def sender() -> Any:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        yield s


def send(sender: socket.socket, transport: Any, *payloads: bytes) -> None:
    for payload in payloads:
        sender.sendto(payload, transport.get_extra_info("sockname"))


async def settle() -> None:
    """Long enough for a loud socket's datagrams to be read by the loop."""
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_a_quiet_socket_is_read_in_the_sweep_not_as_datagrams_arrive(
    endpoints: Any, quiet_sockets: Any, sender: socket.socket
) -> None:
    quiet = quiet_sockets(interval=NEVER)
    transport, inbox = await endpoints()
    assert quiet.quiet(transport) and quiet.is_quiet(transport)
    send(sender, transport, b"rr-1", b"rr-2", b"consent")
    await settle()
    assert inbox.datagrams == []

    assert quiet.sweep() == 3
    assert inbox.datagrams == [b"rr-1", b"rr-2", b"consent"]
    assert quiet.sweep() == 0  # read to empty, nothing twice


async def test_a_loud_socket_is_read_as_datagrams_arrive_again(
    endpoints: Any, quiet_sockets: Any, sender: socket.socket
) -> None:
    quiet = quiet_sockets(interval=NEVER)
    transport, inbox = await endpoints()
    quiet.quiet(transport)
    send(sender, transport, b"waiting")
    await settle()
    quiet.loud(transport)
    assert not quiet.is_quiet(transport) and len(quiet) == 0
    send(sender, transport, b"media")
    await settle()
    assert inbox.datagrams == [b"waiting", b"media"]  # what waited, then what came


async def test_without_wakes_the_grids_timer_sweeps(
    endpoints: Any, quiet_sockets: Any, sender: socket.socket
) -> None:
    quiet = quiet_sockets(interval=0.02)
    transport, inbox = await endpoints()
    quiet.quiet(transport)
    send(sender, transport, b"report")
    await wait_for(lambda: inbox.datagrams, "the timer's sweep", timeout=1.0)
    assert inbox.datagrams == [b"report"]
    assert quiet.sweeps >= 1 and quiet.read == 1


async def test_a_wake_sweeps_once_when_due_and_not_before(
    endpoints: Any, quiet_sockets: Any, sender: socket.socket
) -> None:
    """The relay wakes the grid after each forwarded talker packet; the sweeps follow those
    wakes, one interval apart, however many packets there were."""
    sleeps = GridSleeps(asyncio.get_running_loop(), grace=NEVER)  # no timer: wakes only
    quiet = quiet_sockets(interval=0.5, sleeps=sleeps)
    transport, inbox = await endpoints()
    quiet.quiet(transport)
    send(sender, transport, b"report")
    await settle()
    sleeps.wake()  # not due yet
    await settle()
    assert quiet.sweeps == 0 and inbox.datagrams == []

    await asyncio.sleep(0.65)  # due now (0.5 s, lengthened to the 100 ms grid)
    assert quiet.sweeps == 0  # nothing woke it
    sleeps.wake()
    sleeps.wake()  # one sweep, however many packets were forwarded
    await settle()
    assert quiet.sweeps == 1 and inbox.datagrams == [b"report"]
    sleeps.wake()  # just swept: not due
    await settle()
    assert quiet.sweeps == 1
    sleeps.close()


async def test_the_sweeps_stop_when_no_socket_is_quiet(
    endpoints: Any, quiet_sockets: Any, sender: socket.socket
) -> None:
    sleeps = GridSleeps(asyncio.get_running_loop(), grace=NEVER)
    quiet = quiet_sockets(interval=0.01, sleeps=sleeps)
    transport, _ = await endpoints()
    quiet.quiet(transport)
    await settle()
    assert len(sleeps) == 1  # the sweeps' next sleep
    quiet.loud(transport)
    await settle()  # the sleep's time has come
    assert sleeps.wake() == 0  # its sleeper was cancelled
    await settle()
    assert quiet.sweeps == 0
    sleeps.close()


async def test_a_flood_is_read_a_burst_per_sweep_and_starves_nobody(
    endpoints: Any, quiet_sockets: Any, sender: socket.socket
) -> None:
    quiet = quiet_sockets(interval=NEVER, burst=10)
    rogue, rogue_inbox = await endpoints()
    peer, peer_inbox = await endpoints()
    quiet.quiet(rogue)
    quiet.quiet(peer)
    send(sender, rogue, *[b"flood"] * 50)
    send(sender, peer, b"report")

    assert quiet.sweep() == 11
    assert peer_inbox.datagrams == [b"report"]
    assert len(rogue_inbox.datagrams) == 10
    assert quiet.sweep() == 10
    assert len(rogue_inbox.datagrams) == 20


async def test_a_closed_transport_is_forgotten_and_its_number_may_be_reused(
    endpoints: Any, quiet_sockets: Any, sender: socket.socket
) -> None:
    quiet = quiet_sockets(interval=NEVER)
    old, _ = await endpoints()
    fd = old.get_extra_info("socket").fileno()
    quiet.quiet(old)
    old.close()
    await asyncio.sleep(0)  # the socket is closed
    assert not quiet.quiet(old)  # closing: refused, nothing changes

    new, inbox = await endpoints(socket_numbered(fd))
    assert new.get_extra_info("socket").fileno() == fd
    assert quiet.quiet(new)
    assert not quiet.is_quiet(old) and len(quiet) == 1
    send(sender, new, b"hello")
    await settle()
    assert quiet.sweep() == 1 and inbox.datagrams == [b"hello"]


def socket_numbered(fd: int) -> socket.socket:
    """A new UDP socket on 127.0.0.1 with the (free) file descriptor number ``fd``, as the
    kernel hands out a closed socket's number again."""
    with pytest.raises(OSError):
        os.fstat(fd)  # free: nothing else is clobbered below
    fresh = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fresh.bind(("127.0.0.1", 0))
    if fresh.fileno() == fd:
        return fresh
    os.dup2(fresh.fileno(), fd)
    fresh.close()
    return socket.socket(fileno=fd)


async def test_a_transport_closed_under_the_sweeps_is_dropped_by_the_next(
    endpoints: Any, quiet_sockets: Any,
) -> None:
    quiet = quiet_sockets(interval=NEVER)
    transport, _ = await endpoints()
    quiet.quiet(transport)
    transport.close()  # e.g. aioice closing a connection whose consent expired
    await asyncio.sleep(0)
    quiet.sweep()
    assert len(quiet) == 0


async def test_close_makes_every_quiet_socket_loud(
    endpoints: Any, quiet_sockets: Any, sender: socket.socket
) -> None:
    quiet = quiet_sockets(interval=NEVER)
    transport, inbox = await endpoints()
    quiet.quiet(transport)
    quiet.close()
    send(sender, transport, b"after")
    await settle()
    assert inbox.datagrams == [b"after"]


async def test_bad_settings_are_refused() -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(UsageError):
        QuietSockets(loop, interval=0)
    with pytest.raises(UsageError):
        QuietSockets(loop, burst=0)


def test_hooks_hold_for_this_python() -> None:
    check_quiet_hooks()


def test_hooks_fail_loudly_if_asyncio_reads_datagrams_differently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def _read_ready(self: Any) -> None:  # reads nothing, hands nothing up
        pass

    monkeypatch.setattr(selector_events._SelectorDatagramTransport,  # type: ignore[attr-defined]
                        "_read_ready", _read_ready)
    with pytest.raises(QuietSocketsError, match="datagram_received"):
        check_quiet_hooks()
