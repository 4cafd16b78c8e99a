"""A city's own street map: a PMTiles archive dropped into the data directory is served in
byte ranges, named by the console's configuration, and drawn by the console in Chromium
(sea east of the line the test archive draws, land west of it), under the console's
Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from siaga.basemap import ARCHIVE, URL
from tests.browser.basemap_archive import build
from tests.browser.helpers import open_console
from tests.browser.test_csp import COLLECT, violations
from tests.conftest import App, LiveServer
from tests.polling import until

# The shore of the test archive: the Alun-alun's longitude.
SHORE = (-7.7489, 113.2157)


def drop_archive(data_dir: Path) -> bytes:
    data_dir.mkdir(parents=True, exist_ok=True)
    build(data_dir / ARCHIVE, *SHORE)
    return (data_dir / ARCHIVE).read_bytes()


async def test_no_archive_no_url(sqlite_app: App) -> None:
    assert (await sqlite_app.client.get("/api/console/config")).json()["pmtiles_url"] is None
    r = await sqlite_app.client.get(URL)
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_basemap"


async def test_the_archive_is_served_in_ranges(sqlite_app: App) -> None:
    data = drop_archive(Path(sqlite_app.runtime.settings.data_dir))
    assert (await sqlite_app.client.get("/api/console/config")).json()["pmtiles_url"] == URL
    whole = await sqlite_app.client.get(URL)  # public, like the console's configuration
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    head = await sqlite_app.client.get(URL, headers={"Range": "bytes=0-126"})
    assert head.status_code == 206
    assert head.content == data[:127] and head.content.startswith(b"PMTiles\x03")
    assert head.headers["content-range"] == f"bytes 0-126/{len(data)}"
    tail = await sqlite_app.client.get(URL, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    bad = await sqlite_app.client.get(URL, headers={"Range": f"bytes={len(data)}-"})
    assert bad.status_code == 416
    assert bad.headers["content-range"] == f"bytes */{len(data)}"


# The colour drawn at a map point: the base layer's canvas tile under it, read back.
_PIXEL_JS = """
([lat, lon]) => {
  const map = window.siaga.map.map;
  const p = map.latLngToContainerPoint([lat, lon]);
  const box = map.getContainer().getBoundingClientRect();
  const x = box.left + p.x, y = box.top + p.y;
  for (const canvas of document.querySelectorAll("#map canvas.leaflet-tile")) {
    const r = canvas.getBoundingClientRect();
    if (x < r.left || x >= r.right || y < r.top || y >= r.bottom) continue;
    const px = Math.floor((x - r.left) * canvas.width / r.width);
    const py = Math.floor((y - r.top) * canvas.height / r.height);
    return Array.from(canvas.getContext("2d").getImageData(px, py, 1, 1).data);
  }
  return null;
}
"""


@pytest.mark.browser
async def test_a_pmtiles_archive_made_in_the_test_is_drawn(live_server: LiveServer,
                                                          page: Page) -> None:
    # Dropped into the running server's data directory, as a city would.
    drop_archive(Path(live_server.runtime.settings.data_dir))
    ranges: list[str] = []
    page.on("request", lambda r: ranges.append(r.headers.get("range", "")) if r.url.endswith(
        URL) else None)
    await page.add_init_script(COLLECT)
    await open_console(page, live_server)
    await expect(page.locator("#map")).to_have_attribute("data-base", "pmtiles")
    await expect(page.locator("#map-note")).to_be_hidden()
    await page.evaluate("() => window.siaga.map.map.setView([-7.7489, 113.2157], 14)")
    lat, lon = SHORE
    offset = 0.004  # about 440 m either side of the shore

    async def colours() -> tuple[Any, Any]:
        return (await page.evaluate(_PIXEL_JS, [lat, lon - offset]),
                await page.evaluate(_PIXEL_JS, [lat, lon + offset]))

    async def drawn() -> bool:
        land, sea = await colours()
        return land is not None and sea is not None and land[3] == 255 and land != sea

    await until(drawn, timeout=15, what="the archive's land and sea drawn on the map")
    land, sea = await colours()
    # Sea is drawn blue (its blue channel above its red one), land is not.
    assert sea[2] > sea[0] + 20, sea
    assert not land[2] > land[0] + 20, land
    # The archive was read in ranges (header first), not downloaded whole.
    assert ranges and all(r.startswith("bytes=") for r in ranges), ranges
    assert await violations(page) == []
