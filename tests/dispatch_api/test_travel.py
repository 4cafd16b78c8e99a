"""Travel times for recommendations: OSRM when configured, straight line otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from dispatch.osrm import OsrmTravelTimes
from tests.conftest import make_settings, running_app
from tests.dispatch_api.console import Console


def osrm_answering(seconds: float) -> tuple[httpx.AsyncClient, list[str]]:
    """An OSRM stand-in (httpx transport) answering every cell with ``seconds``."""
    asked: list[str] = []

    def table(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        query = dict(request.url.params)
        n_src = len(query["sources"].split(";"))
        n_dst = len(query["destinations"].split(";"))
        body: dict[str, Any] = {"code": "Ok", "durations": [[seconds] * n_dst] * n_src}
        return httpx.Response(200, json=body)

    return httpx.AsyncClient(transport=httpx.MockTransport(table)), asked


async def test_routed_times_come_from_osrm_when_configured(console: Console) -> None:
    client, asked = osrm_answering(240.0)
    console.service.osrm = OsrmTravelTimes("http://osrm.test", client=client)
    try:
        incident = await console.create_incident()
        recs = (await console.get(f"/api/incidents/{incident['id']}/recommendations")).json()
    finally:
        await client.aclose()
    assert asked and all(path.startswith("/table/v1/driving/") for path in asked)
    assert {u["travel"]["seconds"] for u in recs["units"]} == {240.0}
    assert recs["units"][0]["travel"]["method"]["en"] == "OSRM road route"
    assert "OSRM" in recs["hospitals"][0]["reason"]["en"]


async def test_an_unreachable_osrm_falls_back_to_the_straight_line(tmp_path: Path,
                                                                  sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, tmp_path, osrm_url="http://127.0.0.1:9")
    async with running_app(settings) as app:
        console = Console(app, await app.login("dispatcher1"))
        assert console.service.osrm is not None  # wired from settings.osrm_url
        incident = await console.create_incident()
        response = await console.get(f"/api/incidents/{incident['id']}/recommendations")
    assert response.status_code == 200
    assert response.json()["units"][0]["travel"]["method"]["en"] == "straight-line estimate"
