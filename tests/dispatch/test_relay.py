"""The console stream across nodes: envelopes and the verdict on each (dispatch.relay)."""

from __future__ import annotations

import json

import pytest

from dispatch.relay import Envelope, Sequencer, Verdict


def pair() -> tuple[Sequencer, Sequencer]:
    return Sequencer("node-a", "boot1"), Sequencer("node-b", "bootb")


def test_an_envelope_is_json_with_its_origin_and_number() -> None:
    a, _ = pair()
    envelope = a.envelope({"type": "incident.created", "n": "é"})
    raw = envelope.encode()
    assert json.loads(raw) == {"origin": "node-a", "boot": "boot1", "seq": 1,
                               "to": [True, None],
                               "message": {"type": "incident.created", "n": "é"}}
    # The hub's own encoding is embedded as it is, not encoded again.
    assert envelope.encode('{"type":"x"}') == (
        b'{"origin":"node-a","boot":"boot1","seq":1,"to":[true,null],"message":{"type":"x"}}')
    assert Envelope.decode(raw) == envelope


def test_the_audience_crosses_with_the_message() -> None:
    a, b = pair()
    for to in [(False, 7), (True, 7), (True, None)]:
        verdict, envelope = b.receive(a.envelope({"type": "beds"}, to).encode())
        assert verdict is Verdict.DELIVER and envelope is not None and envelope.to == to


def test_another_node_delivers_in_order_and_never_twice() -> None:
    a, b = pair()
    sent = [a.envelope({"i": i}).encode() for i in range(3)]
    assert [b.receive(raw)[0] for raw in sent] == [Verdict.DELIVER] * 3
    assert b.receive(sent[1])[0] is Verdict.REPEAT
    assert b.receive(sent[2])[0] is Verdict.REPEAT


def test_a_node_does_not_deliver_its_own_messages() -> None:
    a, _ = pair()
    verdict, envelope = a.receive(a.envelope({"i": 1}).encode())
    assert verdict is Verdict.OWN and envelope is not None and envelope.message == {"i": 1}


def test_a_missing_message_is_a_gap_but_the_next_one_is_delivered() -> None:
    a, b = pair()
    first, _lost, third, fourth = (a.envelope({"i": i}).encode() for i in range(4))
    assert b.receive(first)[0] is Verdict.DELIVER
    verdict, envelope = b.receive(third)
    assert verdict is Verdict.GAP and envelope is not None and envelope.message == {"i": 2}
    assert b.receive(fourth)[0] is Verdict.DELIVER


def test_a_restarted_origin_counts_again_without_a_gap() -> None:
    a, b = pair()
    for i in range(5):
        b.receive(a.envelope({"i": i}).encode())
    again = Sequencer("node-a", "boot2")
    assert b.receive(again.envelope({"i": 0}).encode())[0] is Verdict.DELIVER
    assert b.receive(again.envelope({"i": 1}).encode())[0] is Verdict.DELIVER


def test_a_first_message_seen_late_is_no_gap() -> None:
    a, b = pair()
    a.envelope({"i": 0})  # published before b listened
    assert b.receive(a.envelope({"i": 1}).encode())[0] is Verdict.DELIVER


@pytest.mark.parametrize("raw", [
    b"not json", b"[1]", b'{"origin":"a","boot":"b","seq":1}',
    b'{"origin":"a","boot":"b","seq":0,"message":{}}',
    b'{"origin":"a","boot":"b","seq":true,"message":{}}',
    b'{"origin":"a","boot":"b","seq":"1","message":{}}',
    b'{"origin":1,"boot":"b","seq":1,"message":{}}',
    b'{"origin":"a","boot":null,"seq":1,"message":{}}',
    b'{"origin":"a","boot":"b","seq":1,"message":{},"to":[true]}',
    b'{"origin":"a","boot":"b","seq":1,"message":{},"to":[1,null]}',
    b'{"origin":"a","boot":"b","seq":1,"message":{},"to":[false,0]}',
    b'{"origin":"a","boot":"b","seq":1,"message":{},"to":"all"}',
    b"[" * 100_000 + b"]" * 100_000,
])
def test_anything_else_is_malformed_never_an_exception(raw: bytes) -> None:
    _, b = pair()
    assert b.receive(raw) == (Verdict.MALFORMED, None)
