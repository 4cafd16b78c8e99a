"""``/ws`` and ``/api/dispatch/stream`` refuse pages of other sites (HTTP 403 before the
handshake completes) and serve native clients (no ``Origin``) and the server's own pages."""

from __future__ import annotations

import json

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.conftest import LiveServer

PATHS = ["/ws", "/api/dispatch/stream"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("origin", ["https://evil.example", "null",
                                    "http://127.0.0.1:1", "http://localhost.evil.example"])
async def test_a_page_of_another_site_is_refused(live_server: LiveServer, path: str,
                                                 origin: str) -> None:
    token = await live_server.login("dispatcher1")
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(f"{live_server.ws_url}{path}?token={token}", origin=origin)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("path", PATHS)
async def test_native_clients_the_public_url_and_the_own_origin_are_served(
        live_server: LiveServer, path: str) -> None:
    token = await live_server.login("dispatcher1")
    port = live_server.port
    for origin, name in [(None, "127.0.0.1"),
                         (live_server.runtime.settings.public_url, "127.0.0.1"),
                         (f"http://localhost:{port}", "localhost")]:
        # Reached by the name a page would use (the Host header), over the loopback socket.
        url = f"ws://{name}:{port}{path}?token={token}"
        async with websockets.connect(url, origin=origin,  # type: ignore[arg-type]
                                      host="127.0.0.1", port=port) as ws:
            assert json.loads(await ws.recv())["type"] == "welcome"
