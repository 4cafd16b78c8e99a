"""Response intervals, percentiles, CSV and the EIDO-style export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch import reports
from dispatch.domain import TimeChain
from tests.dispatch_api.console import Console

T0 = datetime(2026, 11, 28, 16, 30, tzinfo=UTC)  # 23:30 WIB


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def times(chains: tuple[TimeChain, ...], *, created: datetime = T0, kecamatan: str = "Mayangan",
          incident_id: int = 1) -> reports.IncidentTimes:
    return reports.IncidentTimes(incident_id, f"PSC-X-{incident_id:04d}", kecamatan, "merah",
                                 "closed", created, chains)


class TestIntervals:
    def test_the_three_intervals_of_a_full_chain(self) -> None:
        chain = TimeChain(at(60), acknowledged_at=at(70), en_route_at=at(90),
                          on_scene_at=at(420), transporting_at=at(900), at_hospital_at=at(1500))
        row = reports.intervals(times((chain,)))
        assert (row.call_to_dispatch, row.dispatch_to_scene, row.scene_to_hospital) == (
            60.0, 360.0, 1080.0)

    def test_the_day_is_the_wib_day(self) -> None:
        assert reports.intervals(times(())).day == date(2026, 11, 28)  # 23:30 WIB
        later = times((), created=T0 + timedelta(minutes=30))  # 00:00 WIB, 17:00 UTC
        assert reports.intervals(later).day == date(2026, 11, 29)

    def test_a_skipped_status_leaves_its_interval_unknown(self) -> None:
        # The crew went straight from "dispatched" to "transporting": no on-scene stamp.
        chain = TimeChain(at(30), acknowledged_at=at(600), transporting_at=at(600),
                          at_hospital_at=at(1200))
        row = reports.intervals(times((chain,)))
        assert (row.call_to_dispatch, row.dispatch_to_scene, row.scene_to_hospital) == (
            30.0, None, None)

    def test_the_first_unit_on_scene_counts_with_its_own_dispatch(self) -> None:
        cancelled = TimeChain(at(20), cancelled_at=at(100))
        late = TimeChain(at(110), on_scene_at=at(700))
        early = TimeChain(at(120), on_scene_at=at(500), at_hospital_at=at(1400))
        row = reports.intervals(times((cancelled, late, early)))
        assert (row.call_to_dispatch, row.dispatch_to_scene, row.scene_to_hospital) == (
            20.0, 380.0, 900.0)

    def test_no_unit_no_intervals(self) -> None:
        row = reports.intervals(times(()))
        assert (row.call_to_dispatch, row.dispatch_to_scene, row.scene_to_hospital) == (
            None, None, None)


class TestPercentiles:
    def test_nearest_rank(self) -> None:
        values = [float(v) for v in range(1, 11)]  # 1..10
        assert reports.percentile(values, 0.5) == 5.0
        assert reports.percentile(values, 0.9) == 9.0
        assert reports.percentile([7.0], 0.9) == 7.0
        assert reports.percentile([], 0.5) is None

    @given(st.lists(st.floats(0, 1e5, allow_nan=False), min_size=1),
           st.floats(0.01, 1.0))
    def test_a_percentile_is_an_observed_value_with_enough_at_or_below(
            self, values: list[float], q: float) -> None:
        p = reports.percentile(values, q)
        assert p in values
        assert sum(v <= p for v in values) >= q * len(values) - 1e-9

    def test_q_out_of_range_is_refused(self) -> None:
        with pytest.raises(ValueError):
            reports.percentile([1.0], 0)


def test_summaries_group_by_kecamatan_and_wib_day() -> None:
    rows = [
        reports.intervals(times((TimeChain(at(d)),), kecamatan=k, incident_id=i,
                                created=T0 + timedelta(hours=h)))
        for i, (k, d, h) in enumerate(
            [("Mayangan", 60, 0), ("Mayangan", 120, 0), ("Kanigaran", 30, 1)], start=1)
    ]
    by_kecamatan = reports.by_kecamatan(rows)
    assert [(s.group, s.incidents) for s in by_kecamatan] == [("Kanigaran", 1), ("Mayangan", 2)]
    mayangan = by_kecamatan[1].stats["call_to_dispatch"]
    assert (mayangan.n, mayangan.p50, mayangan.p90) == (2, 60.0, 120.0)
    assert by_kecamatan[1].stats["dispatch_to_scene"] == reports.Stat(0, None, None)
    # 16:30 UTC is 23:30 WIB on the 28th; an hour later it is the 29th in WIB.
    assert [(s.group, s.incidents) for s in reports.by_day(rows)] == [
        ("2026-11-28", 2), ("2026-11-29", 1)]


def test_csv_has_a_header_and_blank_unknowns() -> None:
    rows = [reports.intervals(times((TimeChain(at(45)),)))]
    parsed = list(csv.reader(io.StringIO(reports.to_csv(rows))))
    assert parsed[0] == list(reports.CSV_COLUMNS)
    assert parsed[1][0] == "PSC-X-0001"
    assert parsed[1][1] == "2026-11-28"
    assert parsed[1][-3:] == ["45.0", "", ""]


async def test_interval_report_and_csv_over_the_api(console: Console) -> None:
    incident = await console.create_incident()
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    for trigger in ("depart", "arrive", "transport", "reach_hospital"):
        await console.report(assignment["id"], trigger)
    await console.create_incident(kelurahan="jati", lat=None, lon=None)

    report = (await console.get("/api/reports/intervals")).json()
    assert [r["number"] for r in report["incidents"]][0] == incident["number"]
    first = report["incidents"][0]
    assert first["call_to_dispatch"] >= 0 and first["dispatch_to_scene"] >= 0
    assert first["scene_to_hospital"] >= 0
    assert {s["group"] for s in report["by_kecamatan"]} == {"Kanigaran", "Mayangan"}
    kanigaran = next(s for s in report["by_kecamatan"] if s["group"] == "Kanigaran")
    assert kanigaran["dispatch_to_scene"]["n"] == 1

    response = await console.get("/api/reports/intervals.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0] == list(reports.CSV_COLUMNS)
    assert len(lines) == 3
    assert lines[2][-3:] == ["", "", ""]  # the Jati call has no unit yet


async def test_eido_export_has_components_with_ids_and_update_stamps(console: Console) -> None:
    incident = await console.create_incident(determinant="10-D-1")
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    await console.report(assignment["id"], "arrive")
    doc = (await console.get(f"/api/incidents/{incident['id']}/eido")).json()

    assert doc["incidentComponent"]["incidentTrackingIdentifier"] == (
        f"urn:siaga:incident:{incident['number']}")
    assert doc["incidentComponent"]["determinantCode"] == "10-D-1"
    components = [doc["incidentComponent"], *doc["callComponent"], *doc["locationComponent"],
                  *doc["personComponent"], *doc["emergencyResourceComponent"],
                  *doc["agencyComponent"], *doc["notesComponent"]]
    ids = [c["componentIdentifier"] for c in components]
    assert len(ids) == len(set(ids)) == 8
    for component in components:
        datetime.fromisoformat(component["lastUpdateTimeStamp"])
    resource = doc["emergencyResourceComponent"][0]
    assert resource["resourceIdentifier"] == "AMB-KANIGARAN"
    assert set(resource["timeStamps"]) == {"dispatched_at", "acknowledged_at", "on_scene_at"}
    assert resource["lastUpdateTimeStamp"] == resource["timeStamps"]["on_scene_at"]
    assert doc["lastUpdateTimeStamp"] == max(c["lastUpdateTimeStamp"] for c in components)
    assert doc["locationComponent"][0]["point"]["latitude"] == incident["lat"]
