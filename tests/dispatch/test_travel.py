"""The straight-line travel model: distance, circuity, speed."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.travel import (
    EARTH_RADIUS_M,
    STRAIGHT_LINE,
    STRAIGHT_LINE_METHOD,
    LatLon,
    StraightLineModel,
    TravelTimeModel,
    haversine_m,
)

RSUD_SALEH = LatLon(-7.7530, 113.2104)
RSUD_ARROZY = LatLon(-7.7770, 113.1869)


def test_one_degree_of_latitude_is_about_111_km() -> None:
    assert haversine_m(LatLon(0, 0), LatLon(1, 0)) == pytest.approx(111_195, rel=1e-4)


def test_antipodes_are_half_the_circumference() -> None:
    assert haversine_m(LatLon(0, 0), LatLon(0, 180)) == pytest.approx(math.pi * EARTH_RADIUS_M)


def test_default_is_1_4_circuity_at_30_kmh() -> None:
    metres = haversine_m(RSUD_SALEH, RSUD_ARROZY)
    estimate = STRAIGHT_LINE.estimate(RSUD_SALEH, RSUD_ARROZY)
    assert estimate.seconds == pytest.approx(metres * 1.4 / (30 / 3.6))
    assert estimate.method == STRAIGHT_LINE_METHOD
    # 2.67 km north-south and 2.59 km east-west apart: 3.72 km, 5.2 km of road, 10.4 minutes.
    assert metres == pytest.approx(3720, rel=0.01)
    assert estimate.seconds == pytest.approx(625, rel=0.01)


def test_configurable_speed_and_circuity() -> None:
    fast = StraightLineModel(circuity=1.0, speed_kmh=60)
    assert fast.estimate(LatLon(0, 0), LatLon(1, 0)).seconds == pytest.approx(111_195 / 60 * 3.6,
                                                                             rel=1e-4)


@pytest.mark.parametrize(("circuity", "speed"), [(0.9, 30), (1.4, 0), (1.4, -5)])
def test_nonsense_parameters_are_refused(circuity: float, speed: float) -> None:
    with pytest.raises(ValueError):
        StraightLineModel(circuity=circuity, speed_kmh=speed)


def test_default_model_satisfies_the_protocol() -> None:
    model: TravelTimeModel = STRAIGHT_LINE
    assert model.estimate(RSUD_SALEH, RSUD_SALEH).seconds == 0


points = st.builds(LatLon, st.floats(-89, 89), st.floats(-179, 179))


@given(points, points)
def test_distance_is_symmetric_and_bounded(a: LatLon, b: LatLon) -> None:
    d = haversine_m(a, b)
    assert d == pytest.approx(haversine_m(b, a), abs=1e-6)
    assert 0 <= d <= math.pi * EARTH_RADIUS_M + 1e-6
