"""OSRM adapter against a local server that answers like OSRM's table service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dispatch.osrm import OSRM_METHOD, OsrmTravelTimes
from dispatch.travel import STRAIGHT_LINE, STRAIGHT_LINE_METHOD, LatLon, haversine_m

SCENE = LatLon(-7.7540, 113.2150)
UNITS = {1: LatLon(-7.7530, 113.2104), 2: LatLon(-7.7770, 113.1869), 3: LatLon(-7.74, 113.23)}
MAX_TABLE = 100


def routed_seconds(a: LatLon, b: LatLon) -> float:
    """What the fake OSRM answers: 36 km/h along the straight line (not the default model)."""
    return round(haversine_m(a, b) / 10.0, 1)


@dataclass
class FakeOsrm:
    mode: str = "ok"
    requests: list[tuple[int, int]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def table(self, request: web.Request) -> web.Response:
        assert request.match_info["profile"] == "driving"
        coords = [LatLon(float(lat), float(lon)) for lon, lat in
                  (pair.split(",") for pair in request.match_info["coords"].split(";"))]
        sources = [int(i) for i in request.query["sources"].split(";")]
        destinations = [int(i) for i in request.query["destinations"].split(";")]
        assert request.query["annotations"] == "duration"
        self.requests.append((len(sources), len(destinations)))
        if len(coords) > MAX_TABLE:
            return web.json_response({"code": "TooBig", "message": "Too many table coordinates"},
                                     status=400)
        if self.mode == "error":
            return web.json_response({"code": "InvalidQuery", "message": "Query string malformed"},
                                     status=400)
        if self.mode == "hang":
            await self.release.wait()
        if self.mode == "html":
            return web.Response(text="<html>502 Bad Gateway</html>", status=502,
                                content_type="text/html")
        durations: list[list[float | None]] = [
            [routed_seconds(coords[s], coords[d]) for d in destinations] for s in sources
        ]
        if self.mode == "unroutable":
            durations[0][0] = None
        if self.mode == "missing_row":
            durations.pop()
        if self.mode == "ragged":
            durations[-1].append(1.0)
        return web.json_response({"code": "Ok", "durations": durations})


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOsrm, str]]:
    osrm = FakeOsrm()
    app = web.Application()
    app.router.add_get("/table/v1/{profile}/{coords}", osrm.table)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield osrm, str(server.make_url(""))
    finally:
        osrm.release.set()
        await server.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


async def test_times_to_the_scene_come_from_the_routed_matrix(fake, client) -> None:
    osrm, url = fake
    times = await OsrmTravelTimes(url, client=client).to_point(UNITS, SCENE)
    assert set(times) == set(UNITS)
    for uid, position in UNITS.items():
        assert times[uid].seconds == pytest.approx(routed_seconds(position, SCENE))
        assert times[uid].method == OSRM_METHOD
    assert osrm.requests == [(3, 1)]


async def test_times_from_the_scene_to_hospitals(fake, client) -> None:
    _, url = fake
    times = await OsrmTravelTimes(url, client=client).from_point(SCENE, UNITS)
    assert times[2].seconds == pytest.approx(routed_seconds(SCENE, UNITS[2]))


async def test_large_requests_are_split_to_fit_the_table_limit(fake, client) -> None:
    osrm, url = fake
    many = {i: LatLon(-7.70 - i * 1e-3, 113.20) for i in range(250)}
    times = await OsrmTravelTimes(url, client=client, max_table_size=MAX_TABLE).to_point(
        many, SCENE)
    assert all(t.method == OSRM_METHOD for t in times.values())
    assert times[249].seconds == pytest.approx(routed_seconds(many[249], SCENE))
    assert sum(s for s, _ in osrm.requests) == 250
    assert all(s + d <= MAX_TABLE for s, d in osrm.requests)


async def test_matrix_with_many_destinations_is_split_both_ways(fake, client) -> None:
    osrm, url = fake
    sources = [LatLon(-7.70 - i * 1e-3, 113.20) for i in range(70)]
    destinations = [LatLon(-7.75, 113.20 + j * 1e-3) for j in range(130)]
    matrix = await OsrmTravelTimes(url, client=client).matrix(sources, destinations)
    assert matrix[69][129].seconds == pytest.approx(routed_seconds(sources[69], destinations[129]))
    assert all(cell.method == OSRM_METHOD for row in matrix for cell in row)
    assert all(s + d <= MAX_TABLE for s, d in osrm.requests)


@pytest.mark.parametrize("mode", ["error", "html", "missing_row", "ragged"])
async def test_error_answer_falls_back_with_a_warning(fake, client, caplog, mode) -> None:
    osrm, url = fake
    osrm.mode = mode
    with caplog.at_level(logging.WARNING, logger="dispatch.osrm"):
        times = await OsrmTravelTimes(url, client=client).to_point(UNITS, SCENE)
    assert times[1] == STRAIGHT_LINE.estimate(UNITS[1], SCENE)
    assert times[1].method == STRAIGHT_LINE_METHOD
    assert "straight-line" in caplog.text


async def test_timeout_falls_back_with_a_warning(fake, client, caplog) -> None:
    osrm, url = fake
    osrm.mode = "hang"
    with caplog.at_level(logging.WARNING, logger="dispatch.osrm"):
        times = await OsrmTravelTimes(url, client=client, timeout_s=0.2).to_point(UNITS, SCENE)
    assert all(t.method == STRAIGHT_LINE_METHOD for t in times.values())
    assert "timed out" in caplog.text


async def test_unreachable_server_falls_back(client, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="dispatch.osrm"):
        times = await OsrmTravelTimes("http://127.0.0.1:9", client=client).to_point(UNITS, SCENE)
    assert all(t.method == STRAIGHT_LINE_METHOD for t in times.values())
    assert "unreachable" in caplog.text


async def test_unroutable_cell_falls_back_alone(fake, client) -> None:
    osrm, url = fake
    osrm.mode = "unroutable"
    times = await OsrmTravelTimes(url, client=client).to_point(UNITS, SCENE)
    assert times[1].method == STRAIGHT_LINE_METHOD
    assert times[2].method == times[3].method == OSRM_METHOD


async def test_owns_and_closes_its_own_client(fake) -> None:
    _, url = fake
    async with OsrmTravelTimes(url) as osrm:
        times = await osrm.to_point(UNITS, SCENE)
    assert times[1].method == OSRM_METHOD


async def test_empty_request_makes_no_call(fake, client) -> None:
    osrm, url = fake
    adapter = OsrmTravelTimes(url, client=client)
    assert await adapter.to_point({}, SCENE) == {}
    assert await adapter.matrix([SCENE], []) == [[]]
    assert osrm.requests == []


async def test_a_shared_client_is_left_open(fake, client) -> None:
    _, url = fake
    await OsrmTravelTimes(url, client=client).aclose()
    assert not client.is_closed


def test_table_size_must_allow_a_pair() -> None:
    with pytest.raises(ValueError):
        OsrmTravelTimes("http://127.0.0.1:5000", max_table_size=1)
