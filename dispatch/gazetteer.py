"""The gazetteer: where a caller's words ("dekat RS Saleh", "Jl. Suroyo") put the scene.

A call taker hears a landmark, a road or a kelurahan, rarely coordinates. This core turns
what they type into ranked places with a position, so that one click on the map's pin
sets the incident's location. It does no I/O: the adapter reads the data files and the
database and hands the entries in.

Rules:

1. A place has a stable ``id``, a ``name``, a ``kind``, a position, ``approximate`` (true
   unless the position was surveyed) and a ``source`` saying honestly where the position
   comes from. Entries are checked when read; a bad one is a :class:`GazetteerError`
   naming the entry and the field, never a half-read list.
2. Layers are merged by ``id``, later over earlier (the kelurahan table, the package's
   file, a city's own file): a later entry replaces an earlier one of the same id, an entry
   ``{"id": ..., "remove": true}`` drops it, any other is added.
3. Text is compared folded: lower case, diacritics removed, punctuation as spaces, and
   common long forms written short ("rumah sakit" → "rs", "jalan"/"jln" → "jl",
   "sekolah dasar negeri" → "sdn", "pusat kesehatan masyarakat" → "puskesmas"), the same
   way on both sides, so "Jalan Suroyo", "jl suroyo" and "JL. SUROYO" are one query.
4. Every word of the query must begin a word of the place (its name, aliases, kind or
   kelurahan). A word equal to a name word scores 3, a prefix of one 2, a word of the
   kind or kelurahan 1. A name that begins with the whole query adds 2. Best score
   first, then the shorter name, then the name alphabetically; at most ``limit``.
5. Searching is a scan of pre-folded words: a few thousand entries answer in
   milliseconds, without an index to keep in step.
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final


class GazetteerError(ValueError):
    """An entry of a gazetteer file is invalid (rule 1); the message names it."""


class Kind(enum.Enum):
    """What a place is; the console names each in the user's language."""

    KELURAHAN = "kelurahan"
    ROAD = "road"
    HOSPITAL = "hospital"
    PUSKESMAS = "puskesmas"
    STATION = "station"
    MARKET = "market"
    SCHOOL = "school"
    OFFICE = "office"
    WORSHIP = "worship"
    LANDMARK = "landmark"


# The word each kind adds to its places (rule 4), so that "pasar" finds every market.
_KIND_WORDS: Final[dict[Kind, str]] = {
    Kind.KELURAHAN: "kelurahan",
    Kind.ROAD: "jl",
    Kind.HOSPITAL: "rs",
    Kind.PUSKESMAS: "puskesmas",
    Kind.STATION: "stasiun terminal",
    Kind.MARKET: "pasar",
    Kind.SCHOOL: "sekolah",
    Kind.OFFICE: "kantor",
    Kind.WORSHIP: "masjid gereja klenteng",
    Kind.LANDMARK: "",
}

# Long forms written short (rule 3); longer phrases first so that they win.
_PHRASES: Final[tuple[tuple[str, str], ...]] = (
    ("rumah sakit umum daerah", "rsud"),
    ("rumah sakit ibu dan anak", "rsia"),
    ("rumah sakit", "rs"),
    ("pusat kesehatan masyarakat", "puskesmas"),
    ("sekolah dasar negeri", "sdn"),
    ("sekolah menengah pertama negeri", "smpn"),
    ("sekolah menengah atas negeri", "sman"),
    ("sekolah menengah kejuruan negeri", "smkn"),
    ("sekolah dasar", "sd"),
    ("sekolah menengah pertama", "smp"),
    ("sekolah menengah atas", "sma"),
    ("sekolah menengah kejuruan", "smk"),
    ("sd negeri", "sdn"),
    ("smp negeri", "smpn"),
    ("sma negeri", "sman"),
    ("smk negeri", "smkn"),
    ("alun alun", "alunalun"),
)
_WORDS: Final[dict[str, str]] = {
    "jalan": "jl", "jln": "jl", "pkm": "puskesmas", "psr": "pasar", "st": "stasiun",
    "sta": "stasiun", "stasion": "stasiun", "mesjid": "masjid", "kel": "kelurahan",
    "kec": "kecamatan", "ktr": "kantor",
}
_PUNCTUATION = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> list[str]:
    """The words of ``text`` as rule 3 compares them."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    spaced = " " + _PUNCTUATION.sub(" ", plain).strip() + " "
    for long, short in _PHRASES:
        spaced = spaced.replace(f" {long} ", f" {short} ")
    return [_WORDS.get(word, word) for word in spaced.split()]


@dataclass(frozen=True, slots=True)
class Place:
    id: str
    name: str
    kind: Kind
    lat: float
    lon: float
    approximate: bool
    source: str
    kelurahan: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    place: Place
    score: int


def _text(entry: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = entry.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise GazetteerError(f"{where}: {key!r} must be a non-empty string")
    return value.strip()


def _number(entry: Mapping[str, Any], key: str, where: str, bound: float) -> float:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or abs(value) > bound:
        raise GazetteerError(f"{where}: {key!r} must be a number within ±{bound:g}")
    return float(value)


def place_from(entry: object, where: str) -> Place:
    """One checked entry of a gazetteer file (rule 1); ``where`` names it in errors."""
    if not isinstance(entry, Mapping):
        raise GazetteerError(f"{where}: an entry must be an object")
    place_id = _text(entry, "id", where)
    where = f"{where} ({place_id})"
    try:
        kind = Kind(entry.get("kind"))
    except ValueError:
        raise GazetteerError(
            f"{where}: 'kind' must be one of {', '.join(k.value for k in Kind)}") from None
    approximate = entry.get("approximate")
    if not isinstance(approximate, bool):
        raise GazetteerError(f"{where}: 'approximate' must be true or false")
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise GazetteerError(f"{where}: 'aliases' must be a list of strings")
    return Place(id=place_id, name=_text(entry, "name", where), kind=kind,
                 lat=_number(entry, "lat", where, 90), lon=_number(entry, "lon", where, 180),
                 approximate=approximate, source=_text(entry, "source", where),
                 kelurahan=_text(entry, "kelurahan", where, required=False),
                 aliases=tuple(aliases))


def merge(base: Iterable[Place], layer: object, origin: str) -> list[Place]:
    """``base`` with the entries of one file's ``layer`` applied over it (rule 2)."""
    if not isinstance(layer, list):
        raise GazetteerError(f"{origin}: the file must hold a list of entries")
    places = {place.id: place for place in base}
    for index, entry in enumerate(layer):
        where = f"{origin} entry {index + 1}"
        if isinstance(entry, Mapping) and entry.get("remove") is True:
            places.pop(_text(entry, "id", where), None)
        else:
            place = place_from(entry, where)
            places[place.id] = place
    return list(places.values())


@dataclass(frozen=True, slots=True)
class _Folded:
    place: Place
    name: str
    name_words: tuple[str, ...]
    other_words: tuple[str, ...]


class Gazetteer:
    """The places, folded once, searched many times (rules 4 and 5)."""

    def __init__(self, places: Iterable[Place]) -> None:
        self._entries = []
        for place in places:
            name_words = fold(place.name)
            for alias in place.aliases:
                name_words += fold(alias)
            other = fold(_KIND_WORDS[place.kind]) + fold(place.kelurahan)
            self._entries.append(_Folded(place, " ".join(fold(place.name)),
                                         tuple(name_words), tuple(other)))

    def __len__(self) -> int:
        return len(self._entries)

    def search(self, query: str, limit: int = 10) -> list[Match]:
        words = fold(query)
        if not words:
            return []
        phrase = " ".join(words)
        found = []
        for entry in self._entries:
            score = _score(words, entry)
            if score:
                if entry.name.startswith(phrase):
                    score += 2
                found.append(Match(entry.place, score))
        found.sort(key=lambda m: (-m.score, len(m.place.name), m.place.name))
        return found[:limit]


def _score(words: Sequence[str], entry: _Folded) -> int:
    """Rule 4: the sum of each word's best score, or 0 if any word matches nothing."""
    total = 0
    for word in words:
        best = 0
        for candidate in entry.name_words:
            if candidate == word:
                best = 3
                break
            if candidate.startswith(word):
                best = 2
        if not best and any(c.startswith(word) for c in entry.other_words):
            best = 1
        if not best:
            return 0
        total += best
    return total
