"""A scene's coordinates against its kelurahan: flagged when far from it and nearer another."""

from __future__ import annotations

from dispatch.locality import mismatch
from dispatch.travel import LatLon

CENTRES = [("mayangan", LatLon(-7.7400, 113.2150)), ("jati", LatLon(-7.7550, 113.2200)),
           ("kademangan", LatLon(-7.7900, 113.2000))]


def test_near_its_own_centre_is_fine_even_if_nearer_a_neighbour() -> None:
    assert mismatch(LatLon(-7.7500, 113.2180), "mayangan", CENTRES) is None


def test_far_from_its_own_centre_and_nearer_another_is_flagged() -> None:
    flag = mismatch(LatLon(-7.7880, 113.2010), "mayangan", CENTRES)
    assert flag is not None and flag.nearest == "kademangan"
    assert flag.from_chosen_m > 2000 and flag.from_nearest_m < 500
    text = flag.label("Mayangan", "Kademangan")
    assert text.id.startswith("Koordinat 5,6 km dari pusat Kel. Mayangan, lebih dekat ke Kel. "
                              "Kademangan (0,2 km)")
    assert "check the kelurahan" in text.en


def test_far_from_every_centre_but_nearest_its_own_is_fine() -> None:
    assert mismatch(LatLon(-7.7000, 113.2150), "mayangan", CENTRES) is None


def test_a_kelurahan_without_a_centre_is_not_judged() -> None:
    assert mismatch(LatLon(-7.7880, 113.2010), "unknown", CENTRES) is None
    assert mismatch(LatLon(-7.7880, 113.2010), "mayangan", CENTRES, max_distance_m=9000) is None
