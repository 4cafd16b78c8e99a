"""``/api/reports``: response intervals per incident, p50/p90 per kecamatan and WIB day.

The rows come from the database on the loop; the summaries, the CSV and the JSON are
built on the runtime's blocking pool, since a long period is thousands of incidents of
CPU work that would otherwise hold up the voice (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel

from dispatch import reports
from dispatch.api.deps import DispatcherDep, ServiceDep
from dispatch.api.filters import FiltersDep
from kernel.deps import RuntimeDep
from kernel.errors import responses

router = APIRouter(prefix="/api/reports", tags=["reports"],
                   responses=responses(401, 403, 422))


class IntervalRow(BaseModel):
    incident_id: int
    number: str
    kecamatan: str
    triage: str
    status: str
    created_at: datetime
    day: date
    call_to_dispatch: float | None
    dispatch_to_scene: float | None
    scene_to_hospital: float | None


class StatOut(BaseModel):
    n: int
    p50: float | None
    p90: float | None


class SummaryOut(BaseModel):
    group: str
    incidents: int
    call_to_dispatch: StatOut
    dispatch_to_scene: StatOut
    scene_to_hospital: StatOut


class IntervalReport(BaseModel):
    """Seconds; ``None`` where a stamp was never reported (see docs/dispatch.md)."""

    incidents: list[IntervalRow]
    by_kecamatan: list[SummaryOut]
    by_day: list[SummaryOut]


def _summary(s: reports.Summary) -> SummaryOut:
    stats = {k: StatOut(n=v.n, p50=v.p50, p90=v.p90) for k, v in s.stats.items()}
    return SummaryOut(group=s.group, incidents=s.incidents, **stats)


def _report_json(rows: Sequence[reports.Intervals]) -> bytes:
    return IntervalReport(
        incidents=[IntervalRow(**{f: getattr(r, f) for f in IntervalRow.model_fields})
                   for r in rows],
        by_kecamatan=[_summary(s) for s in reports.by_kecamatan(rows)],
        by_day=[_summary(s) for s in reports.by_day(rows)],
    ).model_dump_json().encode()


@router.get("/intervals", response_model=IntervalReport)
async def intervals(who: DispatcherDep, service: ServiceDep, rt: RuntimeDep,
                    where: FiltersDep) -> Response:
    """Incidents recorded in the period (and kecamatan): see :mod:`dispatch.api.filters`."""
    rows = await service.interval_rows(since=where.since, until=where.until,
                                       kecamatan=where.kecamatan)
    return Response(await rt.offload.blocking(_report_json, rows),
                    media_type="application/json")


@router.get("/intervals.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def intervals_csv(who: DispatcherDep, service: ServiceDep, rt: RuntimeDep,
                        where: FiltersDep) -> Response:
    """The same rows as CSV (one line per incident, UTF-8)."""
    rows = await service.interval_rows(since=where.since, until=where.until,
                                       kecamatan=where.kecamatan)
    return Response(await rt.offload.blocking(reports.to_csv, rows),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="intervals.csv"'})
