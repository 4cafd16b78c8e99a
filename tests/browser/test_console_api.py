"""What the server gives the console: its configuration (base map, optional features) and
the kelurahan for the offline map; and the map drawing tiles when a tile server is set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, Route, expect

from kernel.config import ConfigError, load_settings
from tests.browser.helpers import open_console
from tests.conftest import (
    App,
    LiveServer,
    live_server_for,
    loopback_socket,
    make_settings,
    port_of,
)

TILES = "http://tiles.siaga.test/{z}/{x}/{y}.png"
# The smallest valid PNG: one transparent pixel.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")


async def test_config_is_public_and_says_no_tiles_by_default(sqlite_app: App) -> None:
    r = await sqlite_app.client.get("/api/console/config")
    assert r.status_code == 200
    body = r.json()
    assert body["tile_url"] is None
    assert body["timezone"] == "Asia/Jakarta"
    assert body["features"]["dispatch"] is True


def test_tile_url_must_be_a_template() -> None:
    assert load_settings(map_tile_url=TILES).map_tile_url == TILES
    assert load_settings(map_tile_url="").map_tile_url is None
    with pytest.raises(ConfigError, match="map_tile_url"):
        load_settings(map_tile_url="http://tiles.example/map.png")
    with pytest.raises(ConfigError, match="map_tile_url"):
        load_settings(map_tile_url="ftp://tiles.example/{z}/{x}/{y}.png")


async def test_kelurahan_need_a_login_and_list_every_one(sqlite_app: App) -> None:
    assert (await sqlite_app.client.get("/api/places/kelurahan")).status_code == 401
    r = await sqlite_app.client.get("/api/places/kelurahan",
                                    headers=await sqlite_app.login("dispatcher1"))
    places = r.json()
    assert len(places) == 29
    kanigaran = next(p for p in places if p["code"] == "kanigaran")
    assert kanigaran["kecamatan"] == "Kanigaran" and kanigaran["approximate"] is True
    assert -8 < kanigaran["lat"] < -7 and 113 < kanigaran["lon"] < 114


@pytest.fixture
async def tiled_server(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    sock = loopback_socket()
    port = port_of(sock)
    settings = make_settings(sqlite_url, tmp_path, port=port, map_tile_url=TILES,
                             map_tile_attribution="Peta uji",
                             public_url=f"http://127.0.0.1:{port}")
    async with live_server_for(settings, sock) as server:
        yield server


@pytest.mark.browser
async def test_the_map_draws_the_configured_tiles(tiled_server: LiveServer, page: Page) -> None:
    asked: list[str] = []

    async def tile(route: Route) -> None:
        asked.append(route.request.url)
        await route.fulfill(status=200, content_type="image/png", body=PIXEL)

    await page.route("http://tiles.siaga.test/**", tile)
    await open_console(page, tiled_server)
    await expect(page.locator("#map .leaflet-tile-loaded").first).to_be_attached()
    assert asked and all(u.endswith(".png") for u in asked)
    await expect(page.locator("#map-note")).to_be_hidden()
    await expect(page.locator("#map .leaflet-control-attribution")).to_contain_text("Peta uji")
