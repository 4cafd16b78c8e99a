"""Ranking of ambulances and hospitals: examples, reasons and invariants."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dispatch.domain import (
    CARE_PROFILES,
    BedCategory,
    Capability,
    Complaint,
    Label,
    Triage,
    UnitStatus,
    UnitType,
    bed_categories_for,
)
from dispatch.recommend import (
    DEFAULT_FIT,
    DEFAULT_POLICY,
    BedBand,
    BedCount,
    Fit,
    HospitalCandidate,
    UnitCandidate,
    eligible_units,
    free_soonest,
    rank_hospitals,
    rank_units,
)
from dispatch.travel import STRAIGHT_LINE_METHOD, LatLon, TravelEstimate

from .helpers import T0, at

SCENE = LatLon(-7.7540, 113.2150)  # Kel. Mayangan, approximate
ROUTED = Label("rute OSRM", "OSRM route")


def minutes(m: float) -> TravelEstimate:
    return TravelEstimate(m * 60, STRAIGHT_LINE_METHOD)


def unit(uid: int, kind: UnitType, status: UnitStatus = UnitStatus.AVAILABLE) -> UnitCandidate:
    return UnitCandidate(uid, kind, status, SCENE, position_at=T0)


def hospital(hid: int, caps: set[Capability], beds: dict[BedCategory, int] | None = None,
             *, age_min: float = 0, accepting: bool = True) -> HospitalCandidate:
    counts = {c: BedCount(c, n, T0 - timedelta(minutes=age_min)) for c, n in (beds or {}).items()}
    return HospitalCandidate(hid, f"RS {hid}", SCENE, frozenset(caps), counts, accepting)


class TestUnitExamples:
    def test_reason_reads_like_a_dispatcher_would_say_it(self) -> None:
        (best,) = rank_units([unit(1, UnitType.ALS)], SCENE, Triage.MERAH, now=T0,
                             times={1: minutes(4)})
        assert best.reason.id == "ALS tersedia, 4 mnt dari lokasi (perkiraan jarak garis lurus)"
        assert best.reason.en == "ALS available, 4 min from scene (straight-line estimate)"

    def test_merah_takes_an_als_within_eight_minutes_over_a_closer_bls(self) -> None:
        units = [unit(1, UnitType.BLS), unit(2, UnitType.ALS)]
        ranked = rank_units(units, SCENE, Triage.MERAH, now=T0, times={1: minutes(2),
                                                                        2: minutes(7)})
        assert [r.unit.id for r in ranked] == [2, 1]
        assert "ALS lebih diutamakan untuk MERAH" in ranked[1].reason.id

    def test_merah_takes_the_quicker_bls_when_no_als_is_within_target(self) -> None:
        units = [unit(1, UnitType.BLS), unit(2, UnitType.ALS)]
        ranked = rank_units(units, SCENE, Triage.MERAH, now=T0, times={1: minutes(3),
                                                                        2: minutes(12)})
        assert [r.unit.id for r in ranked] == [1, 2]
        assert "di atas target 8 mnt" in ranked[1].reason.id

    def test_transport_never_goes_to_merah_and_als_never_to_hitam(self) -> None:
        units = [unit(1, UnitType.TRANSPORT), unit(2, UnitType.ALS), unit(3, UnitType.BLS)]
        assert [r.unit.id for r in rank_units(units, SCENE, Triage.MERAH, now=T0)] == [2, 3]
        assert [r.unit.id for r in rank_units(units, SCENE, Triage.HITAM, now=T0)] == [1, 3]

    def test_missing_precomputed_time_falls_back_to_the_model(self) -> None:
        far = UnitCandidate(2, UnitType.BLS, UnitStatus.AVAILABLE, LatLon(-7.80, 113.25), T0)
        ranked = rank_units([unit(1, UnitType.BLS), far], SCENE, Triage.KUNING, now=T0,
                            times={1: TravelEstimate(900, ROUTED)})
        assert [r.unit.id for r in ranked] == [1, 2]
        assert "(rute OSRM)" in ranked[0].reason.id
        assert ranked[1].travel.method == STRAIGHT_LINE_METHOD

    def test_stale_or_missing_position_is_stated(self) -> None:
        stale = UnitCandidate(1, UnitType.ALS, UnitStatus.AVAILABLE, SCENE, T0)
        home = UnitCandidate(2, UnitType.ALS, UnitStatus.AVAILABLE, SCENE, None)
        ranked = rank_units([stale, home], SCENE, Triage.MERAH, now=at(25 * 60))
        reasons = {r.unit.id: r.reason for r in ranked}
        assert reasons[1].id.endswith("posisi 25 mnt lalu")
        assert reasons[2].en.endswith("position: home base")

    def test_limit(self) -> None:
        units = [unit(i, UnitType.BLS) for i in range(10)]
        ranked = rank_units(units, SCENE, Triage.KUNING, now=T0, limit=3)
        assert [r.rank for r in ranked] == [1, 2, 3]


class TestHospitalExamples:
    def test_capable_hospital_beats_a_closer_incapable_one(self) -> None:
        near = hospital(1, {Capability.IGD}, {BedCategory.ICU: 5})
        able = hospital(2, {Capability.IGD, Capability.SURGERY}, {BedCategory.ICU: 1})
        ranked = rank_hospitals([near, able], SCENE, Complaint.TRAUMA, Triage.MERAH, now=T0,
                                times={1: minutes(3), 2: minutes(20)})
        assert [r.hospital.id for r in ranked] == [2, 1]
        assert ranked[1].missing == (Capability.SURGERY,)
        assert ranked[1].reason.id.startswith("Tidak ada bedah")

    def test_beds_in_bands_then_travel_time(self) -> None:
        caps = {Capability.IGD, Capability.SURGERY, Capability.ICU}
        full = hospital(1, caps, {BedCategory.ICU: 0}, age_min=10)
        far_room = hospital(2, caps, {BedCategory.ICU: 5})
        near_room = hospital(3, caps, {BedCategory.ICU: 4})
        unknown = hospital(4, caps)
        diverting = hospital(5, caps, {BedCategory.ICU: 9}, accepting=False)
        times = {1: minutes(2), 2: minutes(40), 3: minutes(5), 4: minutes(1), 5: minutes(1)}
        ranked = rank_hospitals([full, far_room, near_room, unknown, diverting], SCENE,
                                Complaint.TRAUMA, Triage.MERAH, now=T0, times=times)
        assert [r.hospital.id for r in ranked] == [3, 2, 4, 1, 5]
        assert [r.band for r in ranked] == [BedBand.ROOM, BedBand.ROOM, BedBand.UNCERTAIN,
                                            BedBand.FULL, BedBand.DIVERTING]
        assert "tempat tidur ICU belum dilaporkan" in ranked[2].reason.id
        assert "ICU full (reported 10 min ago)" in ranked[3].reason.en
        assert "tidak menerima pasien (diversi)" in ranked[4].reason.id

    def test_old_counts_count_less_and_show_their_age(self) -> None:
        caps = {Capability.IGD, Capability.SURGERY, Capability.ICU}
        fresh = hospital(1, caps, {BedCategory.ICU: 2}, age_min=5)
        old = hospital(2, caps, {BedCategory.ICU: 2}, age_min=180)
        old_full = hospital(3, caps, {BedCategory.ICU: 0}, age_min=180)
        ranked = rank_hospitals([old, fresh, old_full], SCENE, Complaint.TRAUMA, Triage.MERAH,
                                now=T0, times={1: minutes(9), 2: minutes(9), 3: minutes(1)})
        by_id = {r.hospital.id: r for r in ranked}
        assert by_id[1].band is BedBand.ROOM and by_id[1].believed_free > by_id[2].believed_free
        assert by_id[2].band is by_id[3].band is BedBand.UNCERTAIN  # 3 h old: phone first
        assert "ICU kosong 2 (data 3 jam lalu), perlu konfirmasi" in by_id[2].reason.id
        assert "reported 5 min ago" in by_id[1].reason.en
        assert ranked[0].hospital.id == 1

    def test_very_old_counts_show_days(self) -> None:
        rs = hospital(1, {Capability.IGD}, {BedCategory.IGD: 3}, age_min=3 * 24 * 60)
        (r,) = rank_hospitals([rs], SCENE, Complaint.OTHER, Triage.HIJAU, now=T0)
        assert "IGD kosong 3 (data 3 hari lalu), perlu konfirmasi" in r.reason.id
        assert "reported 3 days ago" in r.reason.en

    def test_bed_category_follows_complaint_and_triage(self) -> None:
        rs = hospital(1, {Capability.IGD, Capability.PAEDIATRIC, Capability.PICU},
                      {BedCategory.NICU: 1, BedCategory.PICU: 1, BedCategory.UMUM: 3,
                       BedCategory.IGD: 2})
        for triage, expected in [(Triage.MERAH, BedCategory.PICU),  # a child, not a neonate
                                 (Triage.KUNING, BedCategory.UMUM),
                                 (Triage.HIJAU, BedCategory.IGD)]:
            (r,) = rank_hospitals([rs], SCENE, Complaint.PAEDIATRIC, triage, now=T0)
            assert r.bed is not None and r.bed.category is expected

    def test_preferred_capabilities_break_ties_and_are_named(self) -> None:
        caps = {Capability.IGD, Capability.CARDIAC}
        plain = hospital(1, caps, {BedCategory.ICU: 2})
        cath = hospital(2, caps | {Capability.CATH_LAB}, {BedCategory.ICU: 2})
        ranked = rank_hospitals([plain, cath], SCENE, Complaint.CARDIAC, Triage.MERAH, now=T0,
                                times={1: minutes(6), 2: minutes(6)})
        assert [r.hospital.id for r in ranked] == [2, 1]
        assert "(+cath lab)" in ranked[0].reason.id


# --- invariants -------------------------------------------------------------------------

positions = st.builds(LatLon, st.floats(-7.85, -7.70), st.floats(113.15, 113.30))
unit_lists = st.lists(
    st.tuples(st.sampled_from(UnitType), st.sampled_from(UnitStatus), positions,
              st.integers(0, 7200)),
    max_size=40,
).map(lambda rows: [UnitCandidate(i, t, s, p, T0 - timedelta(seconds=age))
                    for i, (t, s, p, age) in enumerate(rows)])
bed_maps = st.dictionaries(st.sampled_from(BedCategory),
                           st.tuples(st.integers(0, 6), st.integers(0, 6 * 3600)), max_size=4)
hospital_lists = st.lists(
    st.tuples(positions, st.frozensets(st.sampled_from(Capability)), bed_maps, st.booleans()),
    max_size=15,
).map(lambda rows: [
    HospitalCandidate(i, f"RS {i}", p, caps,
                      {c: BedCount(c, n, T0 - timedelta(seconds=a)) for c, (n, a) in beds.items()},
                      accepting)
    for i, (p, caps, beds, accepting) in enumerate(rows)])


@given(unit_lists, st.sampled_from(Triage))
def test_only_available_suitable_units_and_all_of_them(units, triage) -> None:
    ranked = rank_units(units, SCENE, triage, now=T0)
    assert all(r.unit.status is UnitStatus.AVAILABLE for r in ranked)
    assert all(r.unit.type in DEFAULT_FIT[triage] for r in ranked)
    assert {r.unit.id for r in ranked} == {u.id for u in eligible_units(units, triage)}
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
    assert all(r.reason.id and r.reason.en for r in ranked)


@given(unit_lists, st.sampled_from(Triage))
def test_within_one_type_the_order_follows_travel_time(units, triage) -> None:
    ranked = rank_units(units, SCENE, triage, now=T0)
    for kind in UnitType:
        seconds = [r.travel.seconds for r in ranked if r.unit.type is kind]
        assert seconds == sorted(seconds)


@given(unit_lists, st.sampled_from(Triage))
def test_preferred_units_within_target_come_first(units, triage) -> None:
    ranked = rank_units(units, SCENE, triage, now=T0)
    first = [r.fit is Fit.PREFERRED and r.within_window for r in ranked]
    assert first == sorted(first, reverse=True)
    window = DEFAULT_POLICY.preferred_window_s[triage]
    assert all(r.within_window == (r.travel.seconds <= window) for r in ranked)


def test_a_near_accepted_unit_is_within_the_target_and_its_reason_agrees() -> None:
    """A BLS one minute away on a MERAH call is ranked after a preferred ALS in time, but
    it is not "beyond the target": the badge and the reason must not contradict."""
    als, bls = unit(1, UnitType.ALS), unit(2, UnitType.BLS)
    ranked = rank_units([bls, als], SCENE, Triage.MERAH, now=T0,
                        times={1: minutes(6), 2: minutes(1)})
    assert [r.unit.id for r in ranked] == [1, 2]
    assert [r.within_window for r in ranked] == [True, True]
    assert "target" not in ranked[1].reason.en and "target" not in ranked[1].reason.id
    far = rank_units([bls], SCENE, Triage.MERAH, now=T0, times={2: minutes(12)})[0]
    assert not far.within_window


@given(hospital_lists, st.sampled_from(Complaint), st.sampled_from(Triage))
def test_a_hospital_lacking_a_capability_never_outranks_one_that_has_it(hs, complaint, triage):
    ranked = rank_hospitals(hs, SCENE, complaint, triage, now=T0)
    assert sorted(r.hospital.id for r in ranked) == [h.id for h in hs]
    required = CARE_PROFILES[complaint].required
    capable = [required <= r.hospital.capabilities for r in ranked]
    assert capable == sorted(capable, reverse=True)
    keys = [(len(r.missing), r.band.value, r.travel.seconds) for r in ranked]
    assert keys == sorted(keys)
    for r in ranked:
        assert r.bed is None or r.bed.category in bed_categories_for(complaint, triage)
        assert r.reason.id and r.reason.en


# --- a city's fleet ----------------------------------------------------------------------
# How fast this is (p99 goal 10 ms) is measured by ``make bench`` (bench/bench_dispatch.py),
# not asserted here: a test must not fail because the machine is busy.

def test_500_units_and_50_hospitals_all_rank() -> None:
    rng = random.Random(119)

    def somewhere() -> LatLon:
        return LatLon(-7.75 + rng.uniform(-0.05, 0.05), 113.21 + rng.uniform(-0.05, 0.05))

    units = [UnitCandidate(i, rng.choice([UnitType.ALS, UnitType.BLS]), UnitStatus.AVAILABLE,
                           somewhere(), T0) for i in range(500)]  # worst case: all eligible
    hospitals = [
        HospitalCandidate(i, f"RS {i}", somewhere(), frozenset(rng.sample(list(Capability), 8)),
                          {c: BedCount(c, rng.randint(0, 5), T0) for c in BedCategory})
        for i in range(50)
    ]
    units_ranked = rank_units(units, SCENE, Triage.MERAH, now=T0)
    hospitals_ranked = rank_hospitals(hospitals, SCENE, Complaint.TRAUMA, Triage.MERAH, now=T0)
    assert sorted(r.unit.id for r in units_ranked) == list(range(500))
    assert sorted(r.hospital.id for r in hospitals_ranked) == list(range(50))
    assert all(r.reason.id and r.reason.en for r in units_ranked[:10] + hospitals_ranked[:10])


class TestFreeSoonest:
    """Rule 6: with no suitable unit available, the busy ones that will be free first."""

    @staticmethod
    def busy(unit_id: int, kind: UnitType, status: UnitStatus, since_s: float
             ) -> tuple[UnitCandidate, datetime]:
        return UnitCandidate(unit_id, kind, status, SCENE), at(since_s)

    def test_nearly_done_first_and_out_of_service_never(self) -> None:
        busy = [self.busy(1, UnitType.ALS, UnitStatus.DISPATCHED, 0),       # 60 min left
                self.busy(2, UnitType.BLS, UnitStatus.AT_HOSPITAL, 0),      # 15 min left
                self.busy(3, UnitType.ALS, UnitStatus.ON_SCENE, -600),      # 30 min left
                self.busy(4, UnitType.ALS, UnitStatus.OUT_OF_SERVICE, 0),
                self.busy(5, UnitType.ALS, UnitStatus.AVAILABLE, 0)]
        ranked = free_soonest(busy, Triage.MERAH, now=T0)
        assert [(f.unit.id, f.free_in_s) for f in ranked] == [(2, 900.0), (3, 1800.0),
                                                              (1, 3600.0)]
        assert ranked[0].reason == Label(
            "BLS, sedang di rumah sakit: perkiraan bebas ~15 mnt lagi",
            "BLS, now at hospital: expected free in ~15 min")

    def test_only_types_fit_for_the_triage_and_preferred_first_on_a_tie(self) -> None:
        busy = [self.busy(1, UnitType.BLS, UnitStatus.TRANSPORTING, 0),
                self.busy(2, UnitType.ALS, UnitStatus.TRANSPORTING, 0),
                self.busy(3, UnitType.TRANSPORT, UnitStatus.AT_HOSPITAL, 0)]
        assert [f.unit.id for f in free_soonest(busy, Triage.MERAH, now=T0)] == [2, 1]

    def test_overdue_units_count_as_free_now_and_the_limit_applies(self) -> None:
        busy = [self.busy(1, UnitType.ALS, UnitStatus.AT_HOSPITAL, -3600),
                self.busy(2, UnitType.ALS, UnitStatus.EN_ROUTE, 0)]
        [first] = free_soonest(busy, Triage.MERAH, now=T0, limit=1)
        assert (first.unit.id, first.free_in_s) == (1, 0.0)
