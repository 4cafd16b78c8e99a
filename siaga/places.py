"""``GET /api/places/search``: the gazetteer the intake form searches (``dispatch.gazetteer``).

The places come in layers (rule 2 of the core): the kelurahan table and the hospital table
(so that neither is written twice), the package's ``dispatch/gazetteer.json``, then a
city's own ``gazetteer.json`` in the data directory, which corrects, removes or adds
entries without a new release. The folded gazetteer is kept until one of its inputs
changes (the rows, or the city file's size and time), so a city may drop in a new file
while the server runs.

A city file that cannot be read or has a bad entry is the operator's error, not the
caller's: the search answers 503 ``gazetteer_invalid`` naming the entry, and the log says
the same, instead of silently searching without it.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from dispatch.gazetteer import Gazetteer, GazetteerError, Kind, Place, merge
from dispatch.store.models import HospitalRow, KelurahanRow
from kernel.deps import PrincipalDep, RuntimeDep
from kernel.errors import ApiError, responses

router = APIRouter(prefix="/api/places", tags=["console"], responses=responses(401))

CITY_FILE = "gazetteer.json"
KELURAHAN_SOURCE = "kelurahan centre from the kelurahan table"
HOSPITAL_SOURCE = "hospital position from the hospital table"


class PlaceOut(BaseModel):
    id: str
    name: str
    kind: str
    kelurahan: str
    lat: float
    lon: float
    approximate: bool
    source: str
    score: int


def table_places(kelurahan: list[KelurahanRow], hospitals: list[HospitalRow],
                 kelurahan_names: dict[int, str]) -> list[Place]:
    """The places the database already holds. The hospital table has no survey flag, so
    its positions count as approximate."""
    places = [Place(id=f"kelurahan:{k.code}", name=k.name, kind=Kind.KELURAHAN, lat=k.lat,
                    lon=k.lon, approximate=k.approximate, source=KELURAHAN_SOURCE,
                    kelurahan=k.name) for k in kelurahan]
    places += [Place(id=f"hospital:{h.code}", name=h.name, kind=Kind.HOSPITAL, lat=h.lat,
                     lon=h.lon, approximate=True, source=HOSPITAL_SOURCE,
                     kelurahan=kelurahan_names.get(h.kelurahan_id or 0, ""))
               for h in hospitals]
    return places


def _read_layers(city_file: Path) -> list[tuple[str, object]]:
    packaged = resources.files("dispatch").joinpath("gazetteer.json").read_text("utf-8")
    layers: list[tuple[str, object]] = [("dispatch/gazetteer.json", json.loads(packaged))]
    if city_file.is_file():
        try:
            layers.append((str(city_file), json.loads(city_file.read_text("utf-8"))))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GazetteerError(f"{city_file}: cannot be read as JSON: {exc}") from None
    return layers


class _Cache:
    key: object = None
    gazetteer: Gazetteer | None = None


_cache = _Cache()


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


async def gazetteer(rt: RuntimeDep) -> Gazetteer:
    """The current gazetteer, rebuilt when the tables or the city file changed."""
    async with rt.sessions() as s:
        kelurahan = list((await s.execute(select(KelurahanRow))).scalars())
        hospitals = list((await s.execute(select(HospitalRow))).scalars())
    base = table_places(kelurahan, hospitals, {k.id: k.name for k in kelurahan})
    city_file = rt.settings.data_dir / CITY_FILE
    key = (tuple(base), str(city_file), _file_stamp(city_file))
    if _cache.key != key or _cache.gazetteer is None:
        try:
            places = base
            for origin, layer in await asyncio.to_thread(_read_layers, city_file):
                places = merge(places, layer, origin)
        except GazetteerError as exc:
            raise ApiError(503, "gazetteer_invalid", str(exc)) from None
        _cache.key, _cache.gazetteer = key, Gazetteer(places)
    return _cache.gazetteer


@router.get("/search", response_model=list[PlaceOut], responses=responses(422, 503))
async def search_places(
    principal: PrincipalDep, rt: RuntimeDep,
    q: Annotated[str, Query(min_length=1, max_length=100,
                            description="What the caller said: a place, road or kelurahan")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[PlaceOut]:
    """Places matching ``q``, best first; ``approximate`` and ``source`` say how far to
    trust each position."""
    found = (await gazetteer(rt)).search(q, limit)
    return [PlaceOut(id=m.place.id, name=m.place.name, kind=m.place.kind.value,
                     kelurahan=m.place.kelurahan, lat=m.place.lat, lon=m.place.lon,
                     approximate=m.place.approximate, source=m.place.source, score=m.score)
            for m in found]
