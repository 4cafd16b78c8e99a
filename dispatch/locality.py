"""Does a scene's position agree with the kelurahan the call taker chose?

Rules:

1. Only the kelurahan centres are known (no boundaries), so the check is by distance to
   centres. A position contradicts its kelurahan when it is farther than ``max_distance_m``
   from that kelurahan's centre **and** another kelurahan's centre is nearer to it. Either
   alone is normal: Kota Probolinggo's kelurahan are about 2 km² (a point 1 km from its own
   centre can sit nearer a neighbour's), and an edge of the city is far from every centre.
   The default of 2 km is about the farthest a point of a kelurahan of that size lies
   from its centre, plus the error of the demo's approximate centres.
2. A contradiction is a flag, never a refusal: the caller may be right and the kelurahan
   wrong, or the coordinates may be a slip. The call taker sees it at intake, it is stored
   with the incident and the API returns it, with the kelurahan whose centre is nearest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from dispatch.domain import Label
from dispatch.travel import LatLon, haversine_m

DEFAULT_MAX_DISTANCE_M = 2000.0


class Mismatch(NamedTuple):
    """The kelurahan the position lies nearest to, and the distances behind the flag."""

    nearest: str
    from_chosen_m: float
    from_nearest_m: float

    def label(self, chosen_name: str, nearest_name: str) -> Label:
        km, near = self.from_chosen_m / 1000, self.from_nearest_m / 1000
        km_id, near_id = f"{km:.1f}".replace(".", ","), f"{near:.1f}".replace(".", ",")
        return Label(
            f"Koordinat {km_id} km dari pusat Kel. {chosen_name}, lebih dekat ke Kel. "
            f"{nearest_name} ({near_id} km): periksa kelurahan atau koordinat",
            f"Coordinates are {km:.1f} km from the centre of Kel. {chosen_name}, nearer to "
            f"Kel. {nearest_name} ({near:.1f} km): check the kelurahan or the coordinates")


def mismatch(
    point: LatLon, chosen: str, centres: Iterable[tuple[str, LatLon]],
    max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
) -> Mismatch | None:
    """Rule 1: ``None`` when ``point`` agrees with kelurahan ``chosen`` (a code)."""
    distances = {code: haversine_m(point, centre) for code, centre in centres}
    own = distances.get(chosen)
    if own is None or own <= max_distance_m:
        return None
    nearest = min(distances, key=lambda code: (distances[code], code))
    if nearest == chosen:
        return None
    return Mismatch(nearest, own, distances[nearest])
