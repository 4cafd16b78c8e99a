"""Credentials never reach the logs: the radio's ``?token=`` and ``?resume=`` are replaced in
every line the server writes, including uvicorn's own WebSocket lines."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import websockets

from kernel.logs import RedactSecrets, configure_logging, redact
from tests.polling import until


def test_credential_parameters_are_replaced() -> None:
    assert redact("/ws?token=eyJ.abc.def&resume=s3cr3t&x=1") == (
        "/ws?token=[redacted]&resume=[redacted]&x=1")
    assert redact("no secrets here") == "no secrets here"


def test_the_filter_cleans_the_message_and_its_extras() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1,
                               '%s - "WebSocket %s" [accepted]',
                               ("127.0.0.1:5000", "/ws?token=abc"), None)
    record.path = "/ws?access_token=xyz"
    assert RedactSecrets().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "WebSocket /ws?token=[redacted]" [accepted]'
    assert record.path == "/ws?access_token=[redacted]"


@pytest.fixture
def server_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """The server's own logging set-up, writing to the captured stderr."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("uvicorn.access").disabled
    configure_logging("INFO", "text")
    try:
        yield
    finally:
        root.handlers[:], level, logging.getLogger("uvicorn.access").disabled = saved
        root.setLevel(level)


async def test_a_radio_token_in_the_url_is_not_logged(
        server_logging: None, live_server, capsys: pytest.CaptureFixture[str]) -> None:
    token = await live_server.login("satpol1")
    async with websockets.connect(f"{live_server.ws_url}/ws?token={token}") as ws:
        await ws.recv()  # welcome: the connection was accepted and logged
    seen = ""

    def logged_accept() -> bool:
        nonlocal seen
        seen += capsys.readouterr().err
        return "WebSocket /ws?token=[redacted]" in seen

    await until(logged_accept, "uvicorn's line for the accepted WebSocket")
    assert token not in seen
