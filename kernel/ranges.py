"""HTTP byte ranges (RFC 9110 §14) for files served whole or in parts.

Recordings are replayed and a city's PMTiles base map is read in ranges by the browser, so
both answer one byte range (``Range: bytes=a-b``, ``a-``, ``-n``) with 206 and
``Content-Range``; a malformed or unsatisfiable range answers 416 with
``Content-Range: bytes */size``; several ranges, or another unit, are ignored (200, the
whole file), as the RFC allows.
"""

from __future__ import annotations

import re

from kernel.errors import ApiError


class RangeNotSatisfiable(ValueError):
    pass


_RANGE = re.compile(r"\s*([0-9]*)-([0-9]*)\s*", re.ASCII)
#: More digits than this name a byte beyond any recording: read as "past the end" without
#: converting (a thousand-digit number is refused by int() and would be a 500).
_MAX_DIGITS = 18


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The one range ``header`` asks for, as (first, last) byte inclusive; None to send the
    whole file (another unit, several ranges); :class:`RangeNotSatisfiable` otherwise.
    Numbers of any length are answered (a huge first byte is unsatisfiable, a huge last
    byte or suffix means "to the end")."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _RANGE.fullmatch(spec)
    if match is None or not any(match.groups()) or size == 0:
        raise RangeNotSatisfiable(header)
    first, last = (size if len(g) > _MAX_DIGITS else int(g) if g else None
                   for g in match.groups())
    if first is None:  # suffix: the last n bytes
        if last == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - (last or 0)), size - 1
    if first >= size or (last is not None and last < first):
        raise RangeNotSatisfiable(header)
    return first, size - 1 if last is None else min(last, size - 1)


def requested_span(header: str | None, size: int) -> tuple[int, int] | None:
    """The span a request's ``Range`` header asks for, None for the whole file; a bad or
    unsatisfiable one is the 416 :class:`ApiError` that names the file's size."""
    try:
        return byte_range(header, size) if header else None
    except RangeNotSatisfiable:
        raise ApiError(416, "range_not_satisfiable",
                       f"bad or unsatisfiable range {header!r} for {size} bytes",
                       headers={"Content-Range": f"bytes */{size}"}) from None
