"""ICE consent checks read and answered as aioice would, held to aioice itself.

``ptt.media.binding`` reads only what it can read exactly as ``aioice.stun.parse_message``
does and answers with the bytes aioice's ``request_received`` sends. The tests build the
requests with aioice, parse them with both, and check that whatever this module accepts,
aioice accepts with the same values, for every single-byte change of a request too.
"""

from __future__ import annotations

import struct

import pytest
from aioice import stun
from hypothesis import given, settings
from hypothesis import strategies as st

from ptt.media.binding import parse_request, success_response

KEY = b"the-local-ice-password"
OTHER_KEY = b"someone-elses-password"

TRANSACTION_ID = bytes.fromhex("5a1a6a0000c0ffee00000119")


def aioice_request(*, use_candidate: bool = False, controlling: bool = True,
                   fingerprint: bool = True, extra: dict[str, object] | None = None,
                   username: str = "abcd:wxyz", key: bytes = KEY) -> bytes:
    """A consent check as aioice's own build_request writes it."""
    message = stun.Message(message_method=stun.Method.BINDING,
                           message_class=stun.Class.REQUEST)
    message.attributes["USERNAME"] = username
    message.attributes["PRIORITY"] = 1853824767
    message.attributes["ICE-CONTROLLING" if controlling else "ICE-CONTROLLED"] = 0x1122334455
    if use_candidate:
        message.attributes["USE-CANDIDATE"] = None
    for name, value in (extra or {}).items():
        message.attributes[name] = value
    message.add_message_integrity(key)
    if not fingerprint:
        message.attributes.pop("FINGERPRINT")
    return bytes(message)


def raw_request(attributes: list[tuple[int, bytes]], key: bytes = KEY) -> bytes:
    """A Binding request of exactly these attributes, then MESSAGE-INTEGRITY under ``key``."""
    body = b"".join(struct.pack("!HH", kind, len(value)) + value + bytes(-len(value) % 4)
                    for kind, value in attributes)
    head = struct.pack("!HHI12s", 0x0001, len(body), 0x2112A442, TRANSACTION_ID)
    integrity = stun.message_integrity(head + body, key)
    body += struct.pack("!HH", 0x0008, 20) + integrity
    return head[:2] + struct.pack("!H", len(body)) + head[4:] + body


def accepted_by_aioice(data: bytes, key: bytes) -> stun.Message | None:
    try:
        message = stun.parse_message(data)
    except (ValueError, struct.error):
        return None
    if (message.message_method != stun.Method.BINDING
            or message.message_class != stun.Class.REQUEST
            or "USERNAME" not in message.attributes
            or not message.check_message_integrity(key)):
        return None
    return message


def same_reading(data: bytes, key: bytes) -> None:
    """If this module accepts ``data`` under ``key``, aioice does, with the same values."""
    request = parse_request(data)
    if request is None or not request.integrity_holds(key):
        return
    message = accepted_by_aioice(data, key)
    assert message is not None, f"accepted what aioice refuses: {data.hex()}"
    attributes = message.attributes
    assert request.transaction_id == message.transaction_id
    assert request.username == attributes["USERNAME"]
    assert request.priority == attributes.get("PRIORITY")
    assert request.use_candidate == ("USE-CANDIDATE" in attributes)
    assert request.ice_controlling == attributes.get("ICE-CONTROLLING")
    assert request.ice_controlled == attributes.get("ICE-CONTROLLED")
    assert request.attributes() == {name: value for name, value in attributes.items()
                                    if name not in ("MESSAGE-INTEGRITY", "FINGERPRINT")}


class TestReadsWhatAioiceReads:
    @pytest.mark.parametrize("use_candidate", [False, True])
    @pytest.mark.parametrize("controlling", [False, True])
    @pytest.mark.parametrize("fingerprint", [False, True])
    def test_consent_checks_as_aioice_writes_them(self, use_candidate: bool,
                                                  controlling: bool, fingerprint: bool) -> None:
        data = aioice_request(use_candidate=use_candidate, controlling=controlling,
                              fingerprint=fingerprint)
        request = parse_request(data)
        assert request is not None
        assert request.integrity_holds(KEY)
        assert not request.integrity_holds(OTHER_KEY)
        same_reading(data, KEY)

    @pytest.mark.parametrize("controlling", [False, True])
    def test_a_role_conflict_is_the_role_the_agent_holds_claimed(self, controlling: bool
                                                                ) -> None:
        request = parse_request(aioice_request(controlling=controlling))
        assert request is not None
        assert request.role_conflict(controlling)  # both sides claim the same role
        assert not request.role_conflict(not controlling)

    def test_an_attribute_aioice_does_not_know_is_skipped_as_aioice_skips_it(self) -> None:
        # A browser's GOOG-NETWORK-INFO (0xC057), before MESSAGE-INTEGRITY.
        data = raw_request([(0x0006, b"abcd:wxyz"), (0x0024, struct.pack("!I", 7)),
                            (0xC057, struct.pack("!I", 0x00010064))])
        assert "USERNAME" in stun.parse_message(data).attributes
        request = parse_request(data)
        assert request is not None and request.integrity_holds(KEY)
        assert (request.username, request.priority) == ("abcd:wxyz", 7)
        same_reading(data, KEY)

    @pytest.mark.parametrize("case", ["software", "after integrity", "no integrity",
                                      "no username", "not a request", "truncated",
                                      "trailing bytes", "bad fingerprint", "duplicate",
                                      "bad username", "short"])
    def test_anything_else_is_left_to_aioice(self, case: str) -> None:
        data = aioice_request()
        if case == "software":  # known to aioice, so aioice would unpack it: not read here
            data = aioice_request(extra={"SOFTWARE": "x"})
        elif case == "after integrity":  # aioice ignores it; left to aioice
            data = aioice_request(fingerprint=False) + struct.pack("!HHI", 0x0024, 4, 1)
            data = data[:2] + struct.pack("!H", len(data) - 20) + data[4:]
        elif case == "no integrity":
            message = stun.parse_message(data)
            message.attributes.pop("MESSAGE-INTEGRITY")
            message.attributes.pop("FINGERPRINT")
            data = bytes(message)
        elif case == "no username":
            message = stun.Message(message_method=stun.Method.BINDING,
                                   message_class=stun.Class.REQUEST)
            message.add_message_integrity(KEY)
            data = bytes(message)
        elif case == "not a request":
            data = b"\x01\x01" + data[2:]
        elif case == "truncated":
            data = data[:-3]
        elif case == "trailing bytes":
            data = data + b"\x00\x00"
        elif case == "bad fingerprint":
            data = data[:-1] + bytes([data[-1] ^ 1])
        elif case == "duplicate":
            username = struct.pack("!HH", 0x0006, 4) + b"ab:c"
            data = data[:20] + username + data[20:]
            data = data[:2] + struct.pack("!H", len(data) - 20) + data[4:]
        elif case == "bad username":  # not UTF-8: aioice's parse fails on it
            data = raw_request([(0x0006, b"ab\xff:cd")])
        elif case == "short":
            data = data[:19]
        assert parse_request(data) is None

    def test_every_single_byte_change_is_read_as_aioice_reads_it_or_left_to_it(self) -> None:
        for fingerprint in (True, False):
            data = aioice_request(fingerprint=fingerprint, use_candidate=True)
            for at in range(len(data)):
                for flip in (0x01, 0x80, 0xFF):
                    changed = bytearray(data)
                    changed[at] ^= flip
                    same_reading(bytes(changed), KEY)
                    request = parse_request(bytes(changed))
                    if at >= 20 and request is not None:
                        # A changed attribute can only get through with a changed length
                        # that aioice reads alike; never with the integrity intact.
                        assert not request.integrity_holds(KEY) or bytes(changed) == data

    @settings(max_examples=2000)
    @given(st.integers(0, 23).flatmap(lambda words: st.binary(min_size=20 + 4 * words,
                                                             max_size=20 + 4 * words)))
    def test_random_bytes_are_never_taken_for_a_request(self, data: bytes) -> None:
        same_reading(data, KEY)


class TestAnswersWhatAioiceAnswers:
    @pytest.mark.parametrize("address", [("192.0.2.1", 5000), ("10.20.30.40", 65535),
                                         ("0.0.0.0", 0)])
    def test_the_success_response_is_aioices_byte_for_byte(self, address: tuple[str, int]
                                                          ) -> None:
        transaction_id = TRANSACTION_ID
        response = stun.Message(message_method=stun.Method.BINDING,
                                message_class=stun.Class.RESPONSE,
                                transaction_id=transaction_id)
        response.attributes["XOR-MAPPED-ADDRESS"] = address
        response.add_message_integrity(KEY)
        assert success_response(transaction_id, address, KEY) == bytes(response)

    def test_aioice_reads_the_response_back(self) -> None:
        transaction_id = TRANSACTION_ID
        message = stun.parse_message(success_response(transaction_id, ("192.0.2.7", 4242), KEY))
        assert message.transaction_id == transaction_id
        assert message.attributes["XOR-MAPPED-ADDRESS"] == ("192.0.2.7", 4242)
        assert message.check_message_integrity(KEY)
