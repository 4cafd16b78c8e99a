"""A dispatcher's console over the HTTP API, for the dispatch API tests.

It speaks only the public API (plus direct row counts for "nothing was written" checks),
so the tests read like what a console does: record a call, send a unit, report statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from dispatch.service import DispatchService
from dispatch.store.models import (
    AssignmentRow,
    AuditEventRow,
    IncidentCounterRow,
    IncidentRow,
    RadioAlertRow,
    UnitRow,
)
from tests.conftest import App

# A street in Kel. Kanigaran (inside the demo service area).
KANIGARAN = {"lat": -7.7581, "lon": 113.2236}

CALL: dict[str, Any] = {
    "source": "119",
    "caller_name": "Ibu Sari",
    "caller_phone": "0812-3456-7890",
    "address": "Jl. Suroyo No. 12",
    "kelurahan": "kanigaran",
    **KANIGARAN,
    "complaint": "cardiac",
    "triage": "merah",
    "patients": 1,
    "notes": "Nyeri dada, sadar",
}


@dataclass
class Console:
    app: App
    headers: dict[str, str]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.app.client

    @property
    def service(self) -> DispatchService:
        service: DispatchService = self.app.runtime.services["dispatch"]
        return service

    async def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers, **kw)

    async def put(self, path: str, body: Any) -> httpx.Response:
        return await self.client.put(path, json=body, headers=self.headers)

    async def patch(self, path: str, body: Any) -> httpx.Response:
        return await self.client.patch(path, json=body, headers=self.headers)

    async def create_incident(self, **overrides: Any) -> dict[str, Any]:
        response = await self.post("/api/incidents", {**CALL, **overrides})
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def unit_id(self, callsign: str) -> int:
        response = await self.get("/api/units")
        assert response.status_code == 200, response.text
        return next(int(u["id"]) for u in response.json() if u["callsign"] == callsign)

    async def unit(self, unit_id: int) -> dict[str, Any]:
        response = await self.get(f"/api/units/{unit_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def assign(self, incident_id: int, unit_id: int, **extra: Any) -> dict[str, Any]:
        response = await self.post(f"/api/incidents/{incident_id}/assignments",
                                   {"unit_id": unit_id, **extra})
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def report(self, assignment_id: int, trigger: str) -> httpx.Response:
        return await self.post(f"/api/assignments/{assignment_id}/status", {"trigger": trigger})

    async def detail(self, incident_id: int) -> dict[str, Any]:
        response = await self.get(f"/api/incidents/{incident_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def counts(self) -> dict[str, Any]:
        """Rows per dispatch table and every unit's status: equal before/after = nothing
        written."""
        async with self.app.runtime.sessions() as s:
            counts: dict[str, Any] = {}
            for model in (IncidentRow, AssignmentRow, AuditEventRow, RadioAlertRow,
                          IncidentCounterRow):
                counts[model.__tablename__] = (
                    await s.execute(select(func.count()).select_from(model))).scalar_one()
            counts["counter_total"] = (await s.execute(
                select(func.coalesce(func.sum(IncidentCounterRow.last), 0)))).scalar_one()
            units = await s.execute(select(UnitRow.callsign, UnitRow.status, UnitRow.version))
            counts["units"] = {c: (status, v) for c, status, v in units}
        return counts


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


async def incident_with_unit(http: httpx.AsyncClient, callsign: str = "AMB-KANIGARAN"
                             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Over HTTP as a dispatcher: :data:`CALL` taken, ``callsign`` assigned to it
    (incident, assignment)."""
    incident = (await http.post("/api/incidents", json=CALL)).json()
    units = (await http.get("/api/units")).json()
    unit = next(u for u in units if u["callsign"] == callsign)
    assigned = await http.post(f"/api/incidents/{incident['id']}/assignments",
                               json={"unit_id": unit["id"]})
    assert assigned.status_code == 201, assigned.text
    return incident, assigned.json()
