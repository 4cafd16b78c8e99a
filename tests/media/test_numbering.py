"""Renegotiation offers keep the numbering of the first negotiation (pure SDP text)."""

from __future__ import annotations

from ptt.media.numbering import keep_extmap_ids, keep_numbering, keep_payload_types

# What a browser's first offer agreed to (Opus 111, audio level extension 1, mid 4) ...
NEGOTIATED = "\r\n".join([
    "v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8", "a=mid:0",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=rtpmap:111 opus/48000/2", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", ""])
# ... and aiortc's next offer, numbered from its defaults.
RE_OFFER = "\r\n".join([
    "v=0", "a=group:BUNDLE 0 1",
    "m=audio 9 UDP/TLS/RTP/SAVPF 96 0 8", "a=mid:0",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "a=rtcp-fb:96 nack", "a=rtpmap:96 opus/48000/2", "a=fmtp:96 useinbandfec=1",
    "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
    "m=audio 9 UDP/TLS/RTP/SAVPF 96 0 8", "a=mid:1", "a=sendonly",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=extmap:3 urn:example:new-extension",
    "a=rtpmap:96 opus/48000/2", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", ""])


def test_every_section_keeps_the_negotiated_payload_types_and_extension_ids() -> None:
    lines = keep_numbering(RE_OFFER, [NEGOTIATED]).split("\r\n")
    assert lines.count("m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8") == 2
    assert lines.count("a=rtpmap:111 opus/48000/2") == 2
    assert not any(":96 " in line for line in lines)
    assert "a=fmtp:111 useinbandfec=1" in lines and "a=rtcp-fb:111 nack" in lines
    assert lines.count("a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid") == 2
    assert "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level" in lines
    # Everything else is untouched.
    assert lines[:3] == ["v=0", "a=group:BUNDLE 0 1", "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8"]
    assert "a=sendonly" in lines and "a=mid:1" in lines


def test_a_new_extension_gets_an_id_nobody_uses() -> None:
    lines = keep_extmap_ids(RE_OFFER, [NEGOTIATED]).split("\r\n")
    assert "a=extmap:2 urn:example:new-extension" in lines


def test_a_new_extension_in_several_sections_gets_one_id_in_all() -> None:
    offer = RE_OFFER.replace("a=mid:0\r\n", "a=mid:0\r\na=extmap:3 urn:example:new-extension\r\n")
    lines = keep_extmap_ids(offer, [NEGOTIATED]).split("\r\n")
    assert lines.count("a=extmap:2 urn:example:new-extension") == 2


def test_the_clients_numbering_wins_over_a_later_description() -> None:
    ours = NEGOTIATED.replace("111", "96").replace("a=extmap:4 ", "a=extmap:1 ")
    lines = keep_numbering(RE_OFFER, [NEGOTIATED, ours]).split("\r\n")
    assert lines.count("a=rtpmap:111 opus/48000/2") == 2


def test_a_number_held_by_another_codec_in_the_section_is_not_taken() -> None:
    offer = "\r\n".join(["v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 96 111", "a=rtpmap:96 opus/48000/2",
                         "a=rtpmap:111 G722/8000", ""])
    assert keep_payload_types(offer, [NEGOTIATED]) == offer


def test_rtx_apt_follows_its_base_codec() -> None:
    negotiated = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 VP8/90000\r\n"
    offer = "\r\n".join(["v=0", "m=video 9 UDP/TLS/RTP/SAVPF 97 98", "a=rtpmap:97 VP8/90000",
                         "a=rtpmap:98 rtx/90000", "a=fmtp:98 apt=97", ""])
    lines = keep_payload_types(offer, [negotiated]).split("\r\n")
    assert "m=video 9 UDP/TLS/RTP/SAVPF 102 98" in lines
    assert "a=fmtp:98 apt=102" in lines


def test_nothing_negotiated_yet_leaves_the_offer_alone() -> None:
    assert keep_numbering(RE_OFFER, []) == RE_OFFER
    assert keep_numbering(RE_OFFER, ["", "v=0\r\n"]) == RE_OFFER
