"""Keep a renegotiation offer numbered as what was already negotiated (pure SDP text).

The relay adds a talkgroup's downlink by sending the client a new offer. aiortc builds every
offer from its own defaults (Opus as payload type 96, the mid header extension as id 1),
whatever the first negotiation agreed: a browser offers Opus as 111 and numbers its header
extensions its own way (audio level 1, mid 4). Sent as is, such a re-offer breaks the call:

* Chromium refuses an offer that gives an already negotiated extension id to another
  extension ("RTP extension ID reassignment not supported");
* it accepts a new payload type for Opus, but then sends its voice under that number, and
  the relay's receive tap, which filters on the payload type of the first negotiation, would
  drop every packet.

:func:`keep_numbering` renumbers the offer before the relay applies it: codecs (by
"name/clock rate/channels") keep the payload type they were negotiated with, header
extensions (by URI) keep their id, a new extension gets an id nobody uses. This is safe for
aiortc: its local offer is only the text it sends, and on the answer it adopts the answer's
numbers (which mirror this offer's) for its senders and receivers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["keep_numbering", "keep_extmap_ids", "keep_payload_types"]

_RTPMAP = re.compile(r"^a=rtpmap:(\d+) (\S+)$")
_EXTMAP = re.compile(r"^a=extmap:(\d+)(/\w+)? (\S+)(.*)$")
_PT_ATTRIBUTE = re.compile(r"^a=(rtpmap|fmtp|rtcp-fb):(\d+)")
_APT = re.compile(r"\bapt=(\d+)")
#: One-byte header extension ids (RFC 8285): 1..14.
_MAX_ONE_BYTE_ID = 14


def keep_numbering(offer: str, negotiated: Iterable[str]) -> str:
    """``offer`` with the payload types and extension ids of the ``negotiated`` SDPs.

    ``negotiated`` are the descriptions of the current session (the client's last one
    first: its numbering wins where two disagree). An offer with nothing to renumber comes
    back unchanged.
    """
    texts = [text for text in negotiated if text]
    return keep_payload_types(keep_extmap_ids(offer, texts), texts)


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").split("\n")


def keep_extmap_ids(offer: str, negotiated: Iterable[str]) -> str:
    """Header extensions keep their negotiated id (by URI); new URIs get a free id."""
    known: dict[str, int] = {}
    for text in negotiated:
        for line in _lines(text):
            match = _EXTMAP.match(line)
            if match and match[3] not in known:
                known[match[3]] = int(match[1])
    if not known:
        return offer
    used = set(known.values())
    fresh: dict[str, int] = {}

    def id_for(uri: str, offered: int) -> int:
        if uri in known:
            return known[uri]
        if uri not in fresh:
            free = next((i for i in range(1, _MAX_ONE_BYTE_ID + 1) if i not in used), None)
            # No one-byte id left: keep the offered one (two-byte ids are the peer's call).
            fresh[uri] = offered if free is None else free
            used.add(fresh[uri])
        return fresh[uri]

    out = []
    for line in offer.split("\r\n"):
        match = _EXTMAP.match(line)
        if match:
            direction = match[2] or ""
            line = f"a=extmap:{id_for(match[3], int(match[1]))}{direction} {match[3]}{match[4]}"
        out.append(line)
    return "\r\n".join(out)


def keep_payload_types(offer: str, negotiated: Iterable[str]) -> str:
    """Codecs keep the payload type they were negotiated with, section by section.

    A codec is renumbered only if the wanted number is free in its section (or already that
    codec's); references to payload types (``m=`` format list, ``rtpmap``, ``fmtp``,
    ``rtcp-fb``, ``apt=``) follow.
    """
    known: dict[str, str] = {}
    for text in negotiated:
        for line in _lines(text):
            match = _RTPMAP.match(line)
            if match and match[2].lower() not in known:
                known[match[2].lower()] = match[1]
    if not known:
        return offer
    head, *sections = re.split(r"\r\n(?=m=)", offer)
    return "\r\n".join([head, *(_renumber_section(section, known) for section in sections)])


def _renumber_section(section: str, known: dict[str, str]) -> str:
    lines = section.split("\r\n")
    codecs: dict[str, str] = {}  # payload type -> codec
    for line in lines:
        match = _RTPMAP.match(line)
        if match:
            codecs[match[1]] = match[2].lower()
    remap: dict[str, str] = {}
    taken = set(codecs)
    for number, codec in codecs.items():
        want = known.get(codec)
        if want and want != number and (want not in taken or codecs.get(want) == codec):
            remap[number] = want
            taken.add(want)
    if not remap:
        return section

    def pt(number: str) -> str:
        return remap.get(number, number)

    out = []
    for line in lines:
        if line.startswith("m="):
            parts = line.split(" ")
            line = " ".join([*parts[:3], *(pt(x) for x in parts[3:])])
        else:
            line = _PT_ATTRIBUTE.sub(lambda m: f"a={m[1]}:{pt(m[2])}", line)
            if line.startswith("a=fmtp:"):
                line = _APT.sub(lambda m: f"apt={pt(m[1])}", line)
        out.append(line)
    return "\r\n".join(out)
