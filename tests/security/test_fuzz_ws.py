"""A protocol fuzzer on ``/ws``: random and mutated messages from hypothesis, sent by one
officer to the real server. Every message gets an answer or a documented close, nothing
is left unhandled on the server, and another client goes on being served throughout."""

from __future__ import annotations

import asyncio
import json
import logging
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from ptt import protocol as p
from tests.conftest import LiveServer
from tests.radio.client import RadioClient

#: Every command and the fields any command has: the fuzzer mixes them freely.
COMMANDS = typing.get_args(typing.get_args(p.Command)[0])
TYPES = sorted(p.COMMAND_TYPES)
FIELDS = sorted({name for model in COMMANDS for name in model.model_fields} | {"v", "ref"})
#: Frame and ping pairs per second: under the flood guard's 20 messages a second
#: (ptt.flood), so that the fuzzer exercises the parser and the handlers, not the guard.
PAIRS_PER_SECOND = 8
#: The close codes a fuzzed socket may meet (docs/protocol.md): flood, too slow, too large.
DOCUMENTED_CLOSES = {4008, 4009, 1009}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63)
    | st.floats(allow_nan=False) | st.text(max_size=20) | st.sampled_from(TYPES),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)

commands = st.builds(
    lambda kind, fields, version: {"v": version, "type": kind, **fields},
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5),
    st.sampled_from([p.VERSION, p.VERSION, 0, "1", None]))

frames: st.SearchStrategy[str | bytes] = st.one_of(
    commands.map(json.dumps),
    json_values.map(json.dumps),
    st.integers(min_value=200, max_value=200_000).map(lambda d: "[" * d + "]" * d),
    st.integers(min_value=200, max_value=20_000).map(lambda d: '{"a":' * d + "1" + "}" * d),
    st.text(max_size=200),
    st.binary(max_size=200),
)


def drawn(count: int) -> list[str | bytes]:
    """``count`` frames drawn by hypothesis (the same ones on every run)."""
    out: list[str | bytes] = []

    @settings(max_examples=count, database=None, derandomize=True)
    @given(frames)
    def collect(frame: str | bytes) -> None:
        out.append(frame)

    collect()
    return out


async def answered(client: RadioClient, frame: str | bytes) -> int | None:
    """Send ``frame``, then a ping: None once the pong comes back (everything before it
    was handled), else the code the socket was closed with."""
    # Pacing to the documented rate, not waiting for something: the answer is awaited below.
    await asyncio.sleep(1 / PAIRS_PER_SECOND)
    try:
        await client.send_raw(frame)
        await client.send("ping", ref="alive")
        await client.expect("pong", ref="alive", timeout=10)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "closed without a close frame"
        return exc.rcvd.code
    return None


async def test_fuzzed_messages_are_answered_and_others_are_served(
        live_server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    bystander = await RadioClient.connect(live_server, "satpol2")
    fuzzer = await RadioClient.connect(live_server, "satpol1")
    frames_sent, closes = 0, []
    for frame in drawn(150):
        code = await answered(fuzzer, frame)
        frames_sent += 1
        if code is not None:
            assert code in DOCUMENTED_CLOSES, (code, frame[:200])
            closes.append(code)
            fuzzer = await RadioClient.connect(live_server, "satpol1")
        if frames_sent % 10 == 0:
            await bystander.send("ping", ref=frames_sent)
            await bystander.expect("pong", ref=frames_sent)
    await bystander.send("presence", ref="end")
    online = {who["username"] for who in (await bystander.expect("presence", ref="end"))["online"]}
    assert "satpol2" in online
    unhandled = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert unhandled == [], [r.getMessage() for r in unhandled]
    assert frames_sent == 150 and len(closes) < 10, closes


