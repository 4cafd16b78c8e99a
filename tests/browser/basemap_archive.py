"""A small PMTiles archive made in the test: one vector tile in which the sea lies east of a
chosen longitude, so that a test can tell the drawn map from an empty one pixel by pixel.

The tile is Mapbox Vector Tile 2.1 protobuf written by hand (two layers of the Protomaps
basemap schema that protomaps-leaflet paints: ``earth`` over the whole tile, ``water`` east
of the line); the archive is written with the ``pmtiles`` package, as a city's would be.
"""

from __future__ import annotations

import math
from pathlib import Path

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

ZOOM = 12
EXTENT = 4096


def tile_of(lat: float, lon: float, zoom: int = ZOOM) -> tuple[float, float]:
    """Web Mercator tile coordinates (fractional) of a point."""
    n = 1 << zoom
    x = (lon + 180) / 360 * n
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return x, y


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:  # length-delimited (wire type 2)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _uint(number: int, value: int) -> bytes:  # varint (wire type 0)
    return _varint(number << 3) + _varint(value)


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 31)


def _polygon(x0: int, y0: int, x1: int, y1: int) -> bytes:
    """One clockwise ring (exterior in MVT's y-down space), as packed commands."""
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    commands = [1 | 1 << 3]  # MoveTo, 1 point
    cx = cy = 0
    for index, (x, y) in enumerate(corners):
        if index == 1:
            commands.append(2 | 3 << 3)  # LineTo, 3 points
        commands += [_zigzag(x - cx), _zigzag(y - cy)]
        cx, cy = x, y
    commands.append(7 | 1 << 3)  # ClosePath
    return b"".join(_varint(c) for c in commands)


def _layer(name: str, ring: bytes) -> bytes:
    feature = _uint(1, 1) + _uint(3, 3) + _field(4, ring)  # id, type POLYGON, geometry
    return (_uint(15, 2) + _field(1, name.encode()) + _field(2, feature)
            + _uint(5, EXTENT))


def build(path: Path, lat: float, lon: float) -> tuple[int, int]:
    """Write the archive: the tile holding (``lat``, ``lon``) at :data:`ZOOM`, land west of
    ``lon`` and water east of it. Returns the tile's (x, y)."""
    fx, fy = tile_of(lat, lon)
    x, y = int(fx), int(fy)
    shore = round((fx - x) * EXTENT)
    tile = (_field(3, _layer("earth", _polygon(-64, -64, EXTENT + 64, EXTENT + 64)))
            + _field(3, _layer("water", _polygon(shore, -64, EXTENT + 64, EXTENT + 64))))
    n = 1 << ZOOM
    west, east = x / n * 360 - 180, (x + 1) / n * 360 - 180

    def lat_of(ty: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * ty / n))))

    with path.open("wb") as file:
        writer = Writer(file)
        writer.write_tile(zxy_to_tileid(ZOOM, x, y), tile)
        writer.finalize({
            "tile_type": TileType.MVT, "tile_compression": Compression.NONE,
            "min_lon_e7": int(west * 1e7), "max_lon_e7": int(east * 1e7),
            "min_lat_e7": int(lat_of(y + 1) * 1e7), "max_lat_e7": int(lat_of(y) * 1e7),
            "center_zoom": ZOOM, "center_lon_e7": int(lon * 1e7),
            "center_lat_e7": int(lat * 1e7),
        }, {"name": "Siaga test basemap", "vector_layers": [
            {"id": "earth", "fields": {}}, {"id": "water", "fields": {}}]})
    return x, y
