"""The start-up check of what the media layer needs from Python and asyncio
(``ptt.media.preflight``): it passes here, and each thing it relies on, taken away, is
refused with an error naming it, and ``siaga serve`` refuses to start."""

from __future__ import annotations

import sys
from asyncio import selector_events
from typing import Any

import pytest

from ptt.media import preflight
from ptt.media.hooks import AiortcHookError
from ptt.media.preflight import MediaSupportError, check_media_support, probe_datagram_transport


def test_this_python_has_what_the_media_layer_needs() -> None:
    check_media_support()  # its own event loop, as siaga serve runs it before uvicorn


async def test_the_probe_passes_on_the_running_loop() -> None:
    await probe_datagram_transport()


def test_a_changed_library_internal_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def changed() -> None:
        raise AiortcHookError("aiortc 9.0: RTCDtlsTransport._send_rtp changed")

    monkeypatch.setattr(preflight, "check_aiortc_hooks", changed)
    with pytest.raises(MediaSupportError, match=r"RTCDtlsTransport\._send_rtp changed"):
        check_media_support()


async def test_an_asyncio_without_selector_transports_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(selector_events, "_SelectorTransport")
    with pytest.raises(MediaSupportError, match="_SelectorTransport is gone"):
        await probe_datagram_transport()


async def test_a_loop_with_other_datagram_transports_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As under uvloop, whose transports have no ``_closing`` for the C sender to read."""
    monkeypatch.setattr(selector_events, "_SelectorTransport", type("Elsewhere", (), {}))
    with pytest.raises(MediaSupportError, match="not asyncio's selector transports"):
        await probe_datagram_transport()


async def test_a_transport_that_does_not_deliver_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(preflight, "PROBE_TIMEOUT", 0.2)
    monkeypatch.setattr(selector_events._SelectorDatagramTransport, "_read_ready",  # type: ignore[attr-defined]
                        lambda self: self._sock.recvfrom(self.max_size))
    with pytest.raises(MediaSupportError, match="did not deliver"):
        await probe_datagram_transport()


async def test_a_close_that_leaves_closing_unset_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The C sender reads ``_closing`` to know that the socket is still the peer's."""
    close = selector_events._SelectorTransport.close  # type: ignore[attr-defined]

    def close_elsewhere(self: Any) -> None:
        close(self)
        self._closing = False  # as if closing were now kept under another name

    monkeypatch.setattr(selector_events._SelectorTransport, "close", close_elsewhere)  # type: ignore[attr-defined]
    with pytest.raises(MediaSupportError, match="does not set _closing"):
        await probe_datagram_transport()


async def test_a_socket_closed_before_connection_lost_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its descriptor could be reused before the C sender's guards hear of the closing."""
    lost = selector_events._SelectorTransport._call_connection_lost  # type: ignore[attr-defined]

    def socket_first(self: Any, exc: BaseException | None) -> None:
        self._sock.close()
        lost(self, exc)

    monkeypatch.setattr(selector_events._SelectorTransport, "_call_connection_lost",  # type: ignore[attr-defined]
                        socket_first)
    with pytest.raises(MediaSupportError, match="reused descriptor"):
        await probe_datagram_transport()


def test_siaga_serve_refuses_first_naming_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """One line, status 2, before the settings, the database or the port are touched."""
    from siaga import cli

    def missing() -> None:
        raise MediaSupportError("asyncio's datagram transports lack something")

    monkeypatch.setattr(preflight, "check_media_support", missing)
    monkeypatch.setattr(cli, "_settings", lambda: pytest.fail("settings read before the check"))
    monkeypatch.setattr(sys, "argv", ["siaga", "serve"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "siaga: cannot serve voice: asyncio's datagram transports lack something\n")
