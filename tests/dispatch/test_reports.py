"""Response-time reports and the EIDO export (dispatch.reports): pure functions over chains.

Rule 1: three intervals per incident, ``None`` where a stamp is missing, never guessed.
Rule 2: nearest-rank percentiles: every figure reported really happened.
Rule 3: days are WIB calendar days.
Rule 4: the EIDO-style export: components, each with an identifier and a last-update stamp.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch import reports
from dispatch.domain import TimeChain
from dispatch.reports import WIB, period_bound

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


def test_a_row_reads_its_intervals_by_name() -> None:
    row = reports.intervals(times((TimeChain(at(45), on_scene_at=at(345)),)))
    assert [row.get(name) for name in reports.INTERVALS] == [45.0, 300.0, None]


def test_groups_follow_any_key_and_each_interval_counts_its_known_values() -> None:
    full = TimeChain(at(10), on_scene_at=at(310), at_hospital_at=at(1210))
    rows = [reports.intervals(times(chains, incident_id=i)) for i, chains in
            enumerate([(full,), (TimeChain(at(30)),), ()], start=1)]
    [summary] = reports.summarize(rows, lambda r: r.triage)
    assert (summary.group, summary.incidents) == ("merah", 3)
    assert summary.stats == {
        "call_to_dispatch": reports.Stat(2, 10.0, 30.0),
        "dispatch_to_scene": reports.Stat(1, 300.0, 300.0),
        "scene_to_hospital": reports.Stat(1, 900.0, 900.0),
    }
    assert reports.summarize([], lambda r: r.triage) == []


def test_csv_rounds_to_a_tenth_of_a_second_and_keeps_the_order_of_rows() -> None:
    chain = TimeChain(at(12.34), on_scene_at=at(100.06), at_hospital_at=at(700))
    rows = [reports.intervals(times((chain,), incident_id=2)),
            reports.intervals(times((), incident_id=1))]
    lines = reports.to_csv(rows).split("\r\n")
    assert lines[-1] == "" and len(lines) == 4  # header, two rows, the final line end
    parsed = list(csv.reader(io.StringIO(reports.to_csv(rows))))
    assert [p[0] for p in parsed[1:]] == ["PSC-X-0002", "PSC-X-0001"]
    assert parsed[1][2:6] == ["Mayangan", "merah", "closed", "2026-11-28T16:30:00+00:00"]
    assert parsed[1][-3:] == ["12.3", "87.7", "599.9"]
    assert reports.to_csv([]) == ",".join(reports.CSV_COLUMNS) + "\r\n"


# --- rule 4: EIDO ---------------------------------------------------------------------------

INCIDENT = reports.EidoIncident(
    id=7, number="PSC-2026-0007", status="closed", source="phone", complaint="trauma",
    complaint_text="Kecelakaan lalu lintas", triage="merah", patients=2, caller_name="Budi",
    caller_phone="+6281234567890", address="Jl. Suroyo 1", kelurahan="Kanigaran",
    kecamatan="Kanigaran", lat=-7.758, lon=113.2235, approximate=False,
    notes="Dua motor", determinant="17-D-3", created_at=T0, created_by="dispatcher1",
    updated_at=at(60))


def unit(assignment_id: int, chain: TimeChain, updated: datetime) -> reports.EidoUnit:
    return reports.EidoUnit(assignment_id, f"AMB-{assignment_id}", "als", "on_scene", chain,
                            "RSUD dr. Moh. Saleh", updated)


def components(doc: dict[str, object]) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = [doc["incidentComponent"]]  # type: ignore[list-item]
    for name in ("callComponent", "locationComponent", "personComponent",
                 "emergencyResourceComponent", "agencyComponent", "notesComponent"):
        listed += doc[name]  # type: ignore[arg-type]
    return listed


class TestEido:
    def test_an_incident_without_units_has_every_other_component(self) -> None:
        doc = reports.eido(INCIDENT, [], "PSC 119 Kota Probolinggo")
        assert doc["emergencyResourceComponent"] == []
        ids = [c["componentIdentifier"] for c in components(doc)]
        assert ids == ["inc-7", "call-7", "loc-7", "person-caller-7", "person-patients-7",
                       "agency-psc119", "note-7"]
        assert doc["lastUpdateTimeStamp"] == "2026-11-28T23:31:00+07:00"  # the incident's
        assert doc["eidoMessageIdentifier"] == (
            f"urn:siaga:incident:PSC-2026-0007:{int(at(60).timestamp())}")

    def test_the_incident_component_tracks_the_number_and_the_determinant(self) -> None:
        incident = reports.eido(INCIDENT, [], "PSC 119")["incidentComponent"]
        assert incident["incidentTrackingIdentifier"] == "urn:siaga:incident:PSC-2026-0007"
        assert (incident["determinantCode"], incident["incidentTypeInternalCode"]) == (
            "17-D-3", "trauma")
        assert incident["createdTimeStamp"] == "2026-11-28T23:30:00+07:00"  # WIB

    def test_place_people_and_call_come_from_the_record(self) -> None:
        doc = reports.eido(INCIDENT, [], "PSC 119")
        [location] = doc["locationComponent"]
        assert location["civicAddress"]["A4"] == "Kanigaran"
        assert location["point"] == {"latitude": -7.758, "longitude": 113.2235,
                                     "approximate": False}
        caller, patients = doc["personComponent"]
        assert (caller["personName"], caller["callbackNumber"]) == ("Budi", "+6281234567890")
        assert (patients["personCount"], patients["triageCategoryText"]) == (2, "merah")
        [call] = doc["callComponent"]
        assert (call["callTypeInternalText"], call["calltakerAgentIdentifier"]) == (
            "phone", "dispatcher1")
        assert doc["agencyComponent"][0]["agencyName"] == "PSC 119"

    def test_an_anonymous_caller_and_no_notes_leave_those_fields_empty(self) -> None:
        quiet = dataclasses.replace(INCIDENT, caller_name="", caller_phone=None, notes="",
                                    determinant=None)
        doc = reports.eido(quiet, [], "PSC 119")
        assert doc["notesComponent"] == []
        caller = doc["personComponent"][0]
        assert caller["personName"] is None and caller["callbackNumber"] is None
        assert doc["incidentComponent"]["determinantCode"] is None

    def test_a_unit_lists_only_the_stamps_it_has_and_updates_at_its_latest(self) -> None:
        chain = TimeChain(at(30), acknowledged_at=at(40), on_scene_at=at(400))
        doc = reports.eido(INCIDENT, [unit(3, chain, updated=at(35))], "PSC 119")
        [resource] = doc["emergencyResourceComponent"]
        assert resource["componentIdentifier"] == "res-3"
        assert resource["resourceIdentifier"] == "AMB-3"
        assert resource["timeStamps"] == {
            "dispatched_at": "2026-11-28T23:30:30+07:00",
            "acknowledged_at": "2026-11-28T23:30:40+07:00",
            "on_scene_at": "2026-11-28T23:36:40+07:00"}
        assert resource["lastUpdateTimeStamp"] == resource["timeStamps"]["on_scene_at"]
        assert doc["lastUpdateTimeStamp"] == resource["lastUpdateTimeStamp"]  # the latest

    def test_a_unit_edited_after_its_last_stamp_updates_then(self) -> None:
        doc = reports.eido(INCIDENT, [unit(3, TimeChain(at(30)), updated=at(900))], "PSC 119")
        [resource] = doc["emergencyResourceComponent"]
        assert resource["lastUpdateTimeStamp"] == "2026-11-28T23:45:00+07:00"
        assert doc["lastUpdateTimeStamp"] == "2026-11-28T23:45:00+07:00"

    def test_every_component_has_a_unique_id_and_a_wib_update_stamp(self) -> None:
        units = [unit(1, TimeChain(at(30), cancelled_at=at(50)), at(50)),
                 unit(2, TimeChain(at(55), on_scene_at=at(500)), at(55))]
        doc = reports.eido(INCIDENT, units, "PSC 119")
        listed = components(doc)
        ids = [c["componentIdentifier"] for c in listed]
        assert len(ids) == len(set(ids)) == 9
        for component in listed:
            stamp = datetime.fromisoformat(str(component["lastUpdateTimeStamp"]))
            assert stamp.utcoffset() == timedelta(hours=7)
        assert doc["lastUpdateTimeStamp"] == max(
            str(c["lastUpdateTimeStamp"]) for c in listed)


# --- period bounds (rule 3) ------------------------------------------------------------------


def test_a_date_is_a_whole_wib_day() -> None:
    assert period_bound("2026-12-01", end=False) == datetime(2026, 12, 1, tzinfo=WIB)
    assert period_bound(" 2026-12-01 ", end=True) == datetime(2026, 12, 2, tzinfo=WIB)
    assert period_bound("2026-12-01", end=False) == datetime(2026, 11, 30, 17, tzinfo=UTC)


def test_a_time_without_a_zone_is_wib_and_a_zone_is_kept() -> None:
    for end in (False, True):  # a moment is the same bound either way
        assert period_bound("2026-12-01T08:30", end=end) == datetime(2026, 12, 1, 8, 30,
                                                                     tzinfo=WIB)
    assert period_bound("2026-12-01 08:30:15", end=False).utcoffset() == timedelta(hours=7)
    assert period_bound("2026-12-01T01:30Z", end=False) == datetime(2026, 12, 1, 1, 30,
                                                                    tzinfo=UTC)
    assert period_bound("2026-12-01T08:30+08:00", end=False).utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("text", ["", "yesterday", "2026-02-30", "2026-13-01", "20261201",
                                  "2026-12-01T10", "2026-12-01T25:00", "9999-12-31x",
                                  "1e10", "2026-12-01T08:00+25:00"])
def test_nonsense_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        period_bound(text, end=False)


def test_the_last_day_cannot_end_beyond_the_calendar() -> None:
    assert period_bound("9999-12-31", end=False).year == 9999
    with pytest.raises(ValueError, match="out of range"):
        period_bound("9999-12-31", end=True)
