"""The filters of incident lists and reports: a period and a kecamatan, read as people type
them.

``since`` and ``until`` take a date (a whole WIB day) or a date and time (WIB unless it
names its zone): :func:`dispatch.reports.period_bound`. ``kecamatan`` takes its code or its
name, in any case. Anything else is a 422 with the reason in both languages, never a 500
and never a silently empty list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from dispatch import reports
from dispatch.api.deps import ServiceDep
from dispatch.domain import Label
from dispatch.service import InvalidInput

_PERIOD_HELP = ("A date (YYYY-MM-DD, a whole WIB day) or a date and time (WIB unless a zone "
                "is given, e.g. 2026-12-01T08:00 or 2026-12-01T01:00Z)")


@dataclass(frozen=True, slots=True)
class Filters:
    since: datetime | None
    until: datetime | None
    kecamatan: str | None  # the code


def _bound(name: str, text: str | None, *, end: bool) -> datetime | None:
    if text is None:
        return None
    try:
        return reports.period_bound(text, end=end)
    except ValueError as exc:
        raise InvalidInput("invalid_date", Label(
            f"{name}: bukan tanggal (TTTT-BB-HH) atau tanggal dan jam: {text!r}",
            f"{name}: not a date (YYYY-MM-DD) or a date and time: {text!r}"),
            {"parameter": name, "value": text, "error": str(exc)}) from None


async def filters(
    service: ServiceDep,
    since: Annotated[str | None, Query(max_length=40, description=_PERIOD_HELP)] = None,
    until: Annotated[str | None, Query(max_length=40, description=_PERIOD_HELP + "; a date "
                                       "includes that whole day")] = None,
    kecamatan: Annotated[str | None, Query(max_length=80,
                                           description="Kecamatan code or name")] = None,
) -> Filters:
    start, end = _bound("since", since, end=False), _bound("until", until, end=True)
    if start is not None and end is not None and start >= end:
        raise InvalidInput("invalid_period", Label(
            f"Periode kosong: since ({since}) tidak sebelum until ({until})",
            f"Empty period: since ({since}) is not before until ({until})"),
            {"since": since, "until": until})
    code = service.kecamatan_code(kecamatan) if kecamatan is not None else None
    return Filters(start, end, code)


FiltersDep = Annotated[Filters, Depends(filters)]
