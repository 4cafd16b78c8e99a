"""The gazetteer (dispatch/gazetteer.py): entries checked, layers merged, forgiving ranked
search, and the package's own file valid and honest about its positions."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from dispatch.gazetteer import Gazetteer, GazetteerError, Kind, Place, fold, merge, place_from


def entry(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "x", "name": "Pasar Baru", "kind": "market", "lat": -7.75,
                            "lon": 113.21, "approximate": True, "source": "test"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def place(id: str, name: str, kind: Kind = Kind.LANDMARK, kelurahan: str = "",
          aliases: tuple[str, ...] = ()) -> Place:
    return Place(id=id, name=name, kind=kind, lat=-7.75, lon=113.21, approximate=True,
                 source="test", kelurahan=kelurahan, aliases=aliases)


PLACES = [
    place("saleh", "RSUD dr. Mohamad Saleh", Kind.HOSPITAL, "Sukabumi"),
    place("arrozy", "RSUD Ar-Rozy", Kind.HOSPITAL, "Kareng Lor"),
    place("suroyo", "Jl. Suroyo", Kind.ROAD, "Tisnonegaran"),
    place("sudirman", "Jl. Panglima Sudirman", Kind.ROAD, "Kanigaran",
          aliases=("Jalan Sudirman",)),
    place("sdn-jati-1", "SDN Jati 1", Kind.SCHOOL, "Jati"),
    place("sdn-jati-10", "SDN Jati 10", Kind.SCHOOL, "Jati"),
    place("alun", "Alun-alun Kota Probolinggo", Kind.LANDMARK, "Tisnonegaran"),
    place("pkm-jati", "Puskesmas Jati", Kind.PUSKESMAS, "Jati"),
    place("jati", "Jati", Kind.KELURAHAN, "Jati"),
    place("cafe", "Kafé Dépôt", Kind.LANDMARK),
]
G = Gazetteer(PLACES)


def ids(query: str, limit: int = 10) -> list[str]:
    return [m.place.id for m in G.search(query, limit)]


class TestFold:
    def test_case_diacritics_and_punctuation(self) -> None:
        assert fold("  KAFÉ  Dépôt!! ") == ["kafe", "depot"]

    def test_long_forms_are_written_short(self) -> None:
        assert fold("Rumah Sakit Umum Daerah Saleh") == ["rsud", "saleh"]
        assert fold("Jalan Suroyo") == fold("jl. suroyo") == fold("JLN SUROYO") == [
            "jl", "suroyo"]
        assert fold("Sekolah Dasar Negeri Jati 1") == fold("SD Negeri Jati 1") == [
            "sdn", "jati", "1"]
        assert fold("pusat kesehatan masyarakat jati") == fold("PKM Jati") == [
            "puskesmas", "jati"]
        assert fold("Alun-alun") == ["alunalun"]

    def test_nothing_but_punctuation_is_no_word(self) -> None:
        assert fold(" .,- ") == []


class TestSearch:
    def test_abbreviation_finds_the_long_name(self) -> None:
        assert ids("rs saleh") == ["saleh"]
        assert ids("rumah sakit saleh") == ["saleh"]
        assert ids("jalan suroyo") == ["suroyo"]
        assert ids("JL. SUROYO") == ["suroyo"]

    def test_word_prefixes(self) -> None:
        assert ids("pang sud") == ["sudirman"]
        assert ids("alun") == ["alun"]

    def test_an_alias_counts_as_the_name(self) -> None:
        assert ids("jalan sudirman") == ["sudirman"]

    def test_diacritics_free(self) -> None:
        assert ids("kafe depot") == ["cafe"]

    def test_every_word_must_match(self) -> None:
        assert ids("rs nowhere") == []
        assert ids("...") == []

    def test_exact_word_beats_prefix(self) -> None:
        assert ids("sdn jati 1")[:2] == ["sdn-jati-1", "sdn-jati-10"]

    def test_name_first_then_kind_and_kelurahan(self) -> None:
        found = ids("jati")
        # The kelurahan is named so and its name begins with the query: first.
        assert found[0] == "jati"
        assert set(found) == {"jati", "pkm-jati", "sdn-jati-1", "sdn-jati-10"}

    def test_kind_word_finds_places_of_that_kind(self) -> None:
        assert set(ids("rs")) == {"saleh", "arrozy"}
        assert ids("puskesmas") == ["pkm-jati"]

    def test_kelurahan_narrows(self) -> None:
        assert ids("rs kareng") == ["arrozy"]

    def test_scores_and_limit(self) -> None:
        matches = G.search("rsud", 1)
        assert len(matches) == 1
        assert matches[0].score == 3 + 2  # the exact word, and the name begins with it
        assert len(G) == len(PLACES)

    def test_a_few_thousand_places(self) -> None:
        many = Gazetteer(place(f"p{i}", f"Toko Nomor {i} Jl. Suroyo", Kind.LANDMARK, "Jati")
                         for i in range(5000))
        assert [m.place.id for m in many.search("toko 4999 suroyo")] == ["p4999"]
        assert len(many.search("toko suroyo", 50)) == 50


class TestEntries:
    def test_a_good_entry(self) -> None:
        p = place_from(entry(aliases=["Pasar Lama"], kelurahan="Jati"), "f entry 1")
        assert p == Place(id="x", name="Pasar Baru", kind=Kind.MARKET, lat=-7.75, lon=113.21,
                          approximate=True, source="test", kelurahan="Jati",
                          aliases=("Pasar Lama",))

    @pytest.mark.parametrize(("bad", "says"), [
        ([], "an entry must be an object"),
        (entry(id=" "), "'id' must be a non-empty string"),
        (entry(name=3), "'name' must be a non-empty string"),
        (entry(kind="castle"), "'kind' must be one of kelurahan, road"),
        (entry(approximate="yes"), "'approximate' must be true or false"),
        (entry(approximate=None), "'approximate' must be true or false"),
        (entry(aliases="Pasar"), "'aliases' must be a list of strings"),
        (entry(aliases=[1]), "'aliases' must be a list of strings"),
        (entry(lat="-7"), "'lat' must be a number within ±90"),
        (entry(lat=True), "'lat' must be a number within ±90"),
        (entry(lat=91), "'lat' must be a number within ±90"),
        (entry(lon=float("nan")), "'lon' must be a number within ±180"),
        (entry(source=""), "'source' must be a non-empty string"),
        (entry(kelurahan=7), "'kelurahan' must be a non-empty string"),
    ])
    def test_a_bad_entry_is_named(self, bad: object, says: str) -> None:
        with pytest.raises(GazetteerError, match=says) as info:
            place_from(bad, "city.json entry 4")
        assert str(info.value).startswith("city.json entry 4")


class TestMerge:
    BASE = [place("a", "Pasar A"), place("b", "Pasar B")]

    def test_replace_remove_add(self) -> None:
        merged = merge(self.BASE, [entry(id="a", name="Pasar A Baru"), {"id": "b", "remove": True},
                                   entry(id="c", name="Pasar C")], "city.json")
        assert [(p.id, p.name) for p in merged] == [("a", "Pasar A Baru"), ("c", "Pasar C")]

    def test_removing_an_unknown_id_is_harmless(self) -> None:
        assert merge(self.BASE, [{"id": "zz", "remove": True}], "city.json") == self.BASE

    def test_the_file_must_be_a_list(self) -> None:
        with pytest.raises(GazetteerError, match="city.json: the file must hold a list"):
            merge(self.BASE, {"a": 1}, "city.json")

    def test_a_bad_entry_names_its_position(self) -> None:
        with pytest.raises(GazetteerError, match=r"city.json entry 2 \(c\): 'lat'"):
            merge(self.BASE, [entry(id="a"), entry(id="c", lat=None)], "city.json")


class TestPackagedFile:
    """The file shipped in the package: every entry valid, positioned in the city and
    honest about where its position comes from."""

    LAYER = json.loads(resources.files("dispatch").joinpath("gazetteer.json").read_text())

    def test_valid_and_unique(self) -> None:
        places = merge([], self.LAYER, "dispatch/gazetteer.json")
        assert len(places) == len(self.LAYER) >= 50
        kinds = {p.kind for p in places}
        assert {Kind.ROAD, Kind.LANDMARK, Kind.PUSKESMAS, Kind.STATION, Kind.MARKET,
                Kind.SCHOOL, Kind.OFFICE, Kind.HOSPITAL} <= kinds

    def test_in_kota_probolinggo_and_marked_approximate(self) -> None:
        for p in merge([], self.LAYER, "dispatch/gazetteer.json"):
            assert -7.83 < p.lat < -7.72 and 113.16 < p.lon < 113.25, p
            assert p.approximate and "approximate" in p.source, p

    def test_the_alun_alun_is_found(self) -> None:
        g = Gazetteer(merge([], self.LAYER, "dispatch/gazetteer.json"))
        assert g.search("alun-alun")[0].place.id == "alun-alun"
        assert g.search("stasiun")[0].place.id == "stasiun-probolinggo"
