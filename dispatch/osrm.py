"""Routed travel times from an OSRM server (adapter: async I/O, no ranking rule here).

Ranking is pure (:mod:`dispatch.recommend`), so the service first asks this adapter for the
durations it needs, then passes them in as ``times``::

    osrm = OsrmTravelTimes("http://127.0.0.1:5000", client=http_client)
    candidates = eligible_units(units, triage)
    times = await osrm.to_point({u.id: u.position for u in candidates}, scene)
    ranking = rank_units(candidates, scene, triage, now=now, times=times)

Contract:

- It uses OSRM's table service, ``GET /table/v1/{profile}/{lon,lat;...}?sources=..&
  destinations=..&annotations=duration``, which answers ``{"code": "Ok", "durations": [[s]]}``
  (seconds; ``null`` where no route exists).
- It never fails: on a transport error, a timeout, a non-"Ok" answer or a malformed body it
  logs a warning and fills the cells from ``fallback`` (the straight-line model). A ``null``
  cell falls back alone. Every estimate says which method produced it.
- OSRM refuses tables larger than its ``--max-table-size`` (100 by default), so large requests
  are split into blocks that fit, fetched concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from dispatch.domain import Label
from dispatch.travel import STRAIGHT_LINE, LatLon, TravelEstimate, TravelTimeModel

log = logging.getLogger(__name__)

OSRM_METHOD = Label("rute jalan OSRM", "OSRM road route")

K = TypeVar("K", bound=Hashable)
Cells = list[list[float | None]]


class OsrmTravelTimes:
    """Duration matrices from OSRM with a per-cell fallback to a pure model."""

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 2.0,
        profile: str = "driving",
        max_table_size: int = 100,
        fallback: TravelTimeModel = STRAIGHT_LINE,
    ) -> None:
        if max_table_size < 2:
            raise ValueError("max_table_size must allow one source and one destination")
        self._base = base_url.rstrip("/")
        self._own_client = client is None
        self._client = client or httpx.AsyncClient()
        self._timeout = httpx.Timeout(timeout_s)
        self._profile = profile
        self._max = max_table_size
        self._fallback = fallback

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> OsrmTravelTimes:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def to_point(
        self, origins: Mapping[K, LatLon], destination: LatLon
    ) -> dict[K, TravelEstimate]:
        """Time from each origin (e.g. each unit) to one point (the scene)."""
        keys = list(origins)
        rows = await self.matrix([origins[k] for k in keys], [destination])
        return {k: row[0] for k, row in zip(keys, rows, strict=True)}

    async def from_point(
        self, origin: LatLon, destinations: Mapping[K, LatLon]
    ) -> dict[K, TravelEstimate]:
        """Time from one point (the scene) to each destination (e.g. each hospital)."""
        keys = list(destinations)
        (row,) = await self.matrix([origin], [destinations[k] for k in keys])
        return dict(zip(keys, row, strict=True))

    async def matrix(
        self, sources: Sequence[LatLon], destinations: Sequence[LatLon]
    ) -> list[list[TravelEstimate]]:
        """``result[i][j]``: travel time from ``sources[i]`` to ``destinations[j]``."""
        cells: Cells = [[None] * len(destinations) for _ in sources]
        d_size = min(len(destinations), self._max // 2) or 1
        blocks = []
        for d0 in range(0, len(destinations), d_size):
            dst = destinations[d0 : d0 + d_size]
            s_size = self._max - len(dst)
            for s0 in range(0, len(sources), s_size):
                blocks.append((s0, d0, sources[s0 : s0 + s_size], dst))
        answers = await asyncio.gather(*(self._table(src, dst) for _, _, src, dst in blocks))
        for (s0, d0, _, _), answer in zip(blocks, answers, strict=True):
            if answer is None:
                continue
            for i, row in enumerate(answer):
                cells[s0 + i][d0 : d0 + len(row)] = row
        return [
            [
                TravelEstimate(seconds, OSRM_METHOD)
                if seconds is not None
                else self._fallback.estimate(src, dst)
                for dst, seconds in zip(destinations, row, strict=True)
            ]
            for src, row in zip(sources, cells, strict=True)
        ]

    async def _table(
        self, sources: Sequence[LatLon], destinations: Sequence[LatLon]
    ) -> Cells | None:
        """One OSRM table request; ``None`` (after a warning) when it cannot be used."""
        coords = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in (*sources, *destinations))
        n = len(sources)
        query = "sources={}&destinations={}&annotations=duration".format(
            ";".join(map(str, range(n))), ";".join(map(str, range(n, n + len(destinations))))
        )
        url = f"{self._base}/table/v1/{self._profile}/{coords}?{query}"
        try:
            response = await self._client.get(url, timeout=self._timeout)
            body = response.json()
        except httpx.TimeoutException:
            log.warning("OSRM timed out; using the straight-line estimate", extra={"url": url})
            return None
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("OSRM unreachable or not JSON (%s); using the straight-line estimate",
                        exc, extra={"url": url})
            return None
        cells = _durations(body, len(sources), len(destinations))
        if cells is None:
            code = body.get("code") if isinstance(body, dict) else None
            log.warning("OSRM answered %s (HTTP %d); using the straight-line estimate",
                        code, response.status_code, extra={"url": url})
        return cells


def _durations(body: Any, n_sources: int, n_destinations: int) -> Cells | None:
    """The duration matrix of an OSRM answer, or ``None`` unless it is "Ok" and well formed."""
    if not isinstance(body, dict) or body.get("code") != "Ok":
        return None
    rows = body.get("durations")
    if not isinstance(rows, list) or len(rows) != n_sources:
        return None
    cells: Cells = []
    for row in rows:
        if not isinstance(row, list) or len(row) != n_destinations:
            return None
        cells.append([_seconds(value) for value in row])
    return cells


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None
