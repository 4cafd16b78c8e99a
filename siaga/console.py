"""What the dispatcher console (``webui/``) needs from the server besides the feature APIs.

``GET /api/console/config`` is public: the console reads it before login to know which
base map to draw (the city's own PMTiles archive when it dropped one into the data
directory, else tiles from a configurable server, because this deployment may have no
internet; neither, and the console draws its offline map) and which optional APIs exist, so
that one build of the static files runs against any set of features.

``GET /api/places/kelurahan`` lists the kelurahan with their (approximate) centres: the
offline map and the intake form's autocomplete are built from it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from dispatch.store.models import KecamatanRow, KelurahanRow
from kernel.deps import PrincipalDep, RuntimeDep
from kernel.errors import responses
from siaga import basemap

router = APIRouter(prefix="/api", tags=["console"], responses=responses(401))

# Optional APIs the console adapts to, by a path that each one serves.
_FEATURE_PATHS = {
    "dispatch": "/api/incidents",
    "transmissions": "/api/transmissions",
}


class ConsoleConfig(BaseModel):
    tile_url: str | None
    pmtiles_url: str | None = Field(
        description="The city's own vector base map (a PMTiles archive in the data "
        "directory), drawn instead of tile_url when present")
    tile_attribution: str
    timezone: str
    features: dict[str, bool]


class Kelurahan(BaseModel):
    code: str
    name: str
    kecamatan_code: str
    kecamatan: str
    lat: float
    lon: float
    approximate: bool


@router.get("/console/config", response_model=ConsoleConfig)
async def console_config(request: Request, rt: RuntimeDep) -> ConsoleConfig:
    """Map tiles and optional features; no login needed (nothing secret here)."""
    # The OpenAPI document lists every REST route, however routers were included (and
    # FastAPI caches it after the first call).
    paths = set(request.app.openapi().get("paths", {}))
    return ConsoleConfig(
        tile_url=rt.settings.map_tile_url,
        pmtiles_url=basemap.URL if basemap.archive_path(rt.settings.data_dir) else None,
        tile_attribution=rt.settings.map_tile_attribution,
        timezone="Asia/Jakarta",
        features={name: path in paths for name, path in _FEATURE_PATHS.items()},
    )


@router.get("/places/kelurahan", response_model=list[Kelurahan])
async def list_kelurahan(principal: PrincipalDep, rt: RuntimeDep) -> list[Kelurahan]:
    """Every kelurahan with its centre; ``approximate`` marks estimated centres."""
    async with rt.sessions() as s:
        rows = (await s.execute(
            select(KelurahanRow, KecamatanRow)
            .join(KecamatanRow, KelurahanRow.kecamatan_id == KecamatanRow.id)
            .order_by(KelurahanRow.name))).all()
    return [Kelurahan(code=k.code, name=k.name, kecamatan_code=kec.code, kecamatan=kec.name,
                      lat=k.lat, lon=k.lon, approximate=k.approximate) for k, kec in rows]
