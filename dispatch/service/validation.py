"""Checks on what a call taker types, before anything is written.

- Phone numbers are parsed as Indonesian (region ``ID``: ``0812...`` means ``+62812...``),
  must be valid numbers, and are stored E.164.
- The service area is the bounding box of the kelurahan centres plus a margin (default
  0.02 degrees, about 2.2 km: kelurahan reach beyond their centres, and a crash on the
  ring road is still the city's call). A point outside it is a typo (swapped or unsigned
  coordinates are the usual ones), not a call to serve.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

import phonenumbers

from dispatch.domain import Label
from dispatch.service.errors import InvalidInput
from dispatch.travel import LatLon, haversine_m

DEFAULT_MARGIN_DEG = 0.02
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class ServiceArea:
    south: float
    west: float
    north: float
    east: float

    @classmethod
    def around(
        cls, points: Iterable[LatLon], margin_deg: float = DEFAULT_MARGIN_DEG
    ) -> ServiceArea:
        pts = list(points)
        if not pts:
            raise ValueError("a service area needs at least one point")
        return cls(
            min(p.lat for p in pts) - margin_deg, min(p.lon for p in pts) - margin_deg,
            max(p.lat for p in pts) + margin_deg, max(p.lon for p in pts) + margin_deg,
        )

    def contains(self, point: LatLon) -> bool:
        return self.south <= point.lat <= self.north and self.west <= point.lon <= self.east

    def check(self, point: LatLon) -> None:
        if not self.contains(point):
            box = (f"lat {self.south:.4f}..{self.north:.4f}, "
                   f"lon {self.west:.4f}..{self.east:.4f}")
            raise InvalidInput(
                "outside_service_area",
                Label(f"Koordinat {point.lat:.5f}, {point.lon:.5f} di luar wilayah layanan "
                      f"({box})",
                      f"Coordinates {point.lat:.5f}, {point.lon:.5f} are outside the service "
                      f"area ({box})"),
                {"lat": point.lat, "lon": point.lon, "south": self.south, "west": self.west,
                 "north": self.north, "east": self.east},
            )


def e164(raw: str, region: str = "ID") -> str:
    """``raw`` as an E.164 number, or :class:`InvalidInput` saying why not."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidInput(
            "invalid_phone",
            Label(f"Nomor telepon tidak valid: {raw!r} (contoh: +6281234567890)",
                  f"Not a valid phone number: {raw!r} (e.g. +6281234567890)"),
            {"caller_phone": raw},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def coordinates(lat: float | None, lon: float | None) -> LatLon | None:
    """Both or neither: half a position is a typing slip, not a place."""
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise InvalidInput(
            "coordinates_incomplete",
            Label("Isi lintang dan bujur, atau kosongkan keduanya",
                  "Give both latitude and longitude, or neither"),
        )
    return LatLon(lat, lon)


def nearest(places: Iterable[tuple[K, LatLon]], point: LatLon) -> K | None:
    """The key of the place closest to ``point`` (``None`` when there is none)."""
    best = min(places, key=lambda kp: haversine_m(kp[1], point), default=None)
    return best[0] if best is not None else None
