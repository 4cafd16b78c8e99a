"""A frame the server cannot read is answered with an error and the connection goes on:
JSON nested beyond the parser's depth on ``/ws`` and on ``/api/dispatch/stream``."""

from __future__ import annotations

import json

from websockets.asyncio.client import connect

from tests.conformance.client import Client, token_for
from tests.conftest import LiveServer

NESTED = "[" * 8000 + "]" * 8000  # under 16 KiB, deeper than any JSON parser recurses


async def test_deeply_nested_json_on_the_radio_socket_is_an_error(
        live_server: LiveServer) -> None:
    officer = await Client.connect(live_server, "satpol1")
    await officer.expect("welcome")
    await officer.ws.send(NESTED)
    error = await officer.expect("error")
    assert error["code"] == "malformed_json"
    joined = await officer.join("satpolpp")
    assert joined["type"] == "joined"
    await officer.close()


async def test_deeply_nested_json_on_the_dispatch_stream_is_ignored(
        live_server: LiveServer) -> None:
    token = await token_for(live_server, "dispatcher1")
    async with connect(f"{live_server.ws_url}/api/dispatch/stream?token={token}") as ws:
        await ws.send(NESTED)
        await ws.send(json.dumps({"type": "ping"}))
        while (message := json.loads(await ws.recv())).get("type") != "pong":
            pass
        assert message == {"type": "pong"}
