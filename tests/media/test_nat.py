"""Behind 1:1 NAT the server's SDPs also carry its public addresses (pure SDP text)."""

from __future__ import annotations

from ptt.media.nat import announce_public

ANSWER = "\r\n".join([
    "v=0", "o=- 1 1 IN IP4 0.0.0.0", "m=audio 41000 UDP/TLS/RTP/SAVPF 111",
    "c=IN IP4 10.0.0.11",
    "a=candidate:a1 1 udp 2130706431 10.0.0.11 41000 typ host",
    "a=candidate:a2 1 udp 2130706431 fd00::11 41001 typ host",
    "a=candidate:a3 1 udp 1694498815 198.51.100.7 5000 typ srflx raddr 10.0.0.11 rport 41000",
    "a=candidate:a4 1 tcp 1015021823 10.0.0.11 9 typ host tcptype active",
    "a=candidate:a5 1 udp 2130706431 0c9e.local 41002 typ host",
    "a=candidate:a6 x udp 2130706431 10.0.0.11 41003 typ host",
    "a=candidate:short", "a=end-of-candidates", ""])


def public_lines(sdp: str) -> list[str]:
    return [line for line in sdp.split("\r\n") if line not in ANSWER.split("\r\n")]


def test_each_udp_host_candidate_gets_the_public_address_of_its_family() -> None:
    sdp = announce_public(ANSWER, ["203.0.113.10", "2001:db8::10"])
    added = public_lines(sdp)
    assert [line.split()[4:] for line in added] == [
        ["203.0.113.10", "41000", "typ", "srflx", "raddr", "10.0.0.11", "rport", "41000"],
        ["2001:db8::10", "41001", "typ", "srflx", "raddr", "fd00::11", "rport", "41001"],
    ]
    # A server-reflexive priority (type preference 100), below the host candidates.
    assert {int(line.split()[3]) for line in added} == {(100 << 24) + (65535 << 8) + 255}
    assert len({line.split()[0] for line in added}) == 2  # one foundation per address
    lines = sdp.split("\r\n")
    assert lines.index(added[0]) == lines.index(
        "a=candidate:a1 1 udp 2130706431 10.0.0.11 41000 typ host") + 1
    assert sdp.endswith("a=end-of-candidates\r\n")


def test_without_public_addresses_nothing_changes() -> None:
    assert announce_public(ANSWER, []) == ANSWER


def test_an_address_already_announced_is_not_repeated_and_newlines_are_kept() -> None:
    sdp = ANSWER.replace("\r\n", "\n")
    assert announce_public(sdp, ["10.0.0.11"]) == sdp
    assert "\r\n" not in announce_public(sdp, ["203.0.113.10"])
