"""``GET /api/map/basemap.pmtiles``: a street map for a city that cannot reach a tile server.

A PMTiles archive is one file holding every vector tile of an area; the browser reads it in
byte ranges (its header, directories, then the tiles in view), so serving it is serving a
file with ``Range`` (``kernel.ranges``). The city drops ``basemap.pmtiles`` into the data
directory (docs/console.md says how to cut one from a planet extract); the console draws it
with protomaps-leaflet when ``/api/console/config`` names it, and its offline map otherwise.

The route is public like the console's configuration: a street map is no secret, and the
archive reader fetches without the console's bearer token. Only ranges are read, never
the whole file into memory: an archive of a city is tens of megabytes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Request, Response

from kernel.deps import RuntimeDep
from kernel.errors import ApiError, responses
from kernel.ranges import requested_span

router = APIRouter(prefix="/api/map", tags=["console"])

ARCHIVE = "basemap.pmtiles"
URL = "/api/map/" + ARCHIVE
_MEDIA_TYPE = "application/vnd.pmtiles"


def archive_path(data_dir: Path) -> Path | None:
    """The city's archive, if it dropped one into the data directory."""
    path = data_dir / ARCHIVE
    return path if path.is_file() else None


def _read(path: Path, span: tuple[int, int] | None) -> bytes:
    with path.open("rb") as file:
        if span is None:
            return file.read()
        file.seek(span[0])
        return file.read(span[1] - span[0] + 1)


@router.get("/" + ARCHIVE, response_class=Response,
            responses={200: {"content": {_MEDIA_TYPE: {}}}, 206: {"content": {_MEDIA_TYPE: {}}},
                       **responses(404, 416)})
async def basemap(request: Request, rt: RuntimeDep) -> Response:
    """The archive, whole or one byte range of it."""
    path = archive_path(rt.settings.data_dir)
    try:
        if path is None:
            raise FileNotFoundError(ARCHIVE)
        size = path.stat().st_size
        span = requested_span(request.headers.get("range"), size)
        data = await asyncio.to_thread(_read, path, span)
    except OSError:
        raise ApiError(404, "no_basemap", f"no {ARCHIVE} in the data directory") from None
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-cache"}
    if span is None:
        return Response(data, 200, headers=headers, media_type=_MEDIA_TYPE)
    headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
    return Response(data, 206, headers=headers, media_type=_MEDIA_TYPE)
