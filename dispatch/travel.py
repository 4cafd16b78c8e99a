"""Travel time between two points: the interface and the default, road-free model.

Rules:

1. A :class:`TravelTimeModel` is synchronous and pure: two points in, a
   :class:`TravelEstimate` out (seconds and a short bilingual description of how it was
   obtained, which the console and the ranking reasons show, so nobody mistakes an estimate
   for a routed time).
2. The default :class:`StraightLineModel` needs no server: great-circle distance times a
   circuity factor (roads are longer than the crow flies; 1.4 is typical of Indonesian city
   grids) at an urban ambulance speed (30 km/h). It is what ranking falls back to whenever a
   routed time is missing, so it must never fail.
3. Routed times from a road engine are I/O: :mod:`dispatch.osrm` fetches them before ranking
   and passes them in as a mapping (see :mod:`dispatch.recommend`).

Coordinates are WGS84 degrees; range checks belong to the API layer that accepts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from dispatch.domain import Label

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)

STRAIGHT_LINE_METHOD = Label("perkiraan jarak garis lurus", "straight-line estimate")


class LatLon(NamedTuple):
    lat: float
    lon: float


class TravelEstimate(NamedTuple):
    seconds: float
    method: Label


class TravelTimeModel(Protocol):
    """Anything that estimates driving time between two points, without I/O."""

    def estimate(self, origin: LatLon, destination: LatLon) -> TravelEstimate: ...


def haversine_m(a: LatLon, b: LatLon) -> float:
    """Great-circle distance in metres (haversine; ample for distances inside a city)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class StraightLineModel:
    """Haversine distance × ``circuity`` at ``speed_kmh`` (rule 2)."""

    circuity: float = 1.4
    speed_kmh: float = 30.0

    def __post_init__(self) -> None:
        if self.circuity < 1.0:
            raise ValueError("circuity must be at least 1: no road beats a straight line")
        if self.speed_kmh <= 0:
            raise ValueError("speed_kmh must be positive")

    def estimate(self, origin: LatLon, destination: LatLon) -> TravelEstimate:
        metres = haversine_m(origin, destination) * self.circuity
        return TravelEstimate(metres / (self.speed_kmh / 3.6), STRAIGHT_LINE_METHOD)


STRAIGHT_LINE = StraightLineModel()
