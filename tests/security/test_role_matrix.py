"""Who may call what: one written table, role by operation, checked against the real server.

The operations are taken from the server's own OpenAPI document, so an endpoint added
without a row here fails the test (and a row left for an endpoint that is gone fails too).
A cell says whether the role passes the role gate: "allowed" is any answer but 401 and 403
(the test sends empty bodies and ids that do not exist, so nothing is changed: an allowed
caller gets 2xx, 404, 409 or 422); a role not listed gets 403; anonymous callers get 401
unless the row lists them.
"""

from __future__ import annotations

import httpx
import pytest

from kernel.identity import Role, add_user
from tests.conftest import LiveServer

ANON = "anonymous"
#: The demo account each role is tried with (a supervisor is added by the test).
ACCOUNTS = {"admin": "admin", "dispatcher": "dispatcher1", "supervisor": "supervisor1",
            "officer": "satpol1", "hospital": "rsud-saleh"}
ROLES = (*ACCOUNTS, ANON)

DESK = frozenset({"admin", "dispatcher", "supervisor"})
HOSPITAL_DESK = DESK | {"hospital"}
SIGNED_IN = frozenset(ACCOUNTS)
EVERYONE = SIGNED_IN | {ANON}

#: (method, path) -> the roles that pass the gate.
MATRIX: dict[tuple[str, str], frozenset[str]] = {
    # The composition root.
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/readyz"): EVERYONE,
    ("GET", "/metrics"): EVERYONE,  # from this machine (loopback) without a metrics token
    ("POST", "/api/auth/login"): EVERYONE,
    ("GET", "/api/me"): SIGNED_IN,
    ("GET", "/api/console/config"): EVERYONE,
    ("GET", "/api/places/kelurahan"): SIGNED_IN,
    ("GET", "/api/places/search"): SIGNED_IN,
    ("GET", "/api/map/basemap.pmtiles"): EVERYONE,  # a street map is no secret (404 without one)
    ("GET", "/api/cluster/nodes"): SIGNED_IN,
    # The radio.
    ("GET", "/api/talkgroups"): SIGNED_IN,
    ("POST", "/api/talkgroups"): DESK,
    ("DELETE", "/api/talkgroups/{code}"): DESK,
    ("GET", "/api/radio/presence"): SIGNED_IN,
    ("GET", "/api/radio/positions"): DESK,
    ("GET", "/api/transmissions"): SIGNED_IN,
    ("GET", "/api/transmissions/status"): DESK,
    ("GET", "/api/transmissions/{transmission_id}"): SIGNED_IN,
    ("GET", "/api/transmissions/{transmission_id}/audio"): SIGNED_IN,
    # Dispatch.
    ("GET", "/api/incidents"): DESK,
    ("POST", "/api/incidents"): DESK,
    ("GET", "/api/incidents/{incident_id}"): DESK,
    ("PATCH", "/api/incidents/{incident_id}"): DESK,
    ("GET", "/api/incidents/{incident_id}/audit"): DESK,
    ("GET", "/api/incidents/{incident_id}/eido"): DESK,
    ("GET", "/api/incidents/{incident_id}/recommendations"): DESK,
    ("POST", "/api/incidents/{incident_id}/cancel"): DESK,
    ("POST", "/api/incidents/{incident_id}/close"): DESK,
    ("POST", "/api/incidents/{incident_id}/reopen"): DESK,
    ("POST", "/api/incidents/{incident_id}/assignments"): DESK,
    ("POST", "/api/assignments/{assignment_id}/cancel"): DESK,
    ("POST", "/api/assignments/{assignment_id}/status"): DESK,
    ("PUT", "/api/assignments/{assignment_id}/destination"): DESK,
    ("POST", "/api/assignments/{assignment_id}/reassign"): DESK,
    ("GET", "/api/units"): DESK,
    ("GET", "/api/units/{unit_id}"): DESK,
    ("POST", "/api/units/{unit_id}/service"): DESK,
    ("GET", "/api/hospitals"): HOSPITAL_DESK,
    ("GET", "/api/hospitals/{hospital_id}"): HOSPITAL_DESK,
    ("PUT", "/api/hospitals/{hospital_id}/beds"): HOSPITAL_DESK,
    ("PUT", "/api/hospitals/{hospital_id}/accepting"): HOSPITAL_DESK,
    ("GET", "/api/hospitals/{hospital_id}/incoming"): HOSPITAL_DESK,
    ("PUT", "/api/hospitals/{hospital_id}/capabilities"): HOSPITAL_DESK,
    ("PUT", "/api/hospitals/{hospital_id}/phone"): HOSPITAL_DESK,
    ("GET", "/api/hospitals/{hospital_id}/cap"): HOSPITAL_DESK,
    ("GET", "/api/incidents/{incident_id}/cap"): DESK,
    ("GET", "/api/alerts"): DESK,
    ("POST", "/api/alerts/{alert_id}/incident"): DESK,
    ("POST", "/api/alerts/{alert_id}/dismiss"): DESK,
    ("GET", "/api/reports/intervals"): DESK,
    ("GET", "/api/reports/intervals.csv"): DESK,
    ("GET", "/api/incidents/{incident_id}/sms"): DESK,
    ("GET", "/api/sms"): DESK,
    ("POST", "/api/sms/simulate"): DESK,
}

#: Path parameters: rows that do not exist, so an allowed call changes nothing.
ABSENT = {"code": "no-such-talkgroup"}
ABSENT_ID = "999999"


def concrete(path: str) -> str:
    out = path
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        out = out[:start] + ABSENT.get(out[start + 1:end], ABSENT_ID) + out[end + 1:]
    return out


def expected(role: str, allowed: frozenset[str]) -> str:
    if role in allowed:
        return "allowed"
    return "401" if role == ANON else "403"


def outcome(status: int) -> str:
    return str(status) if status in (401, 403) else "allowed"


@pytest.fixture
async def tokens(live_server: LiveServer) -> dict[str, str | None]:
    async with live_server.runtime.sessions() as s, s.begin():
        await add_user(s, username="supervisor1", password="demo", role=Role.SUPERVISOR,
                       agency_code="psc119")
    out: dict[str, str | None] = {ANON: None}
    for role, username in ACCOUNTS.items():
        out[role] = await live_server.login(username)
    return out


async def test_every_role_gets_the_written_answer_on_every_operation(
        live_server: LiveServer, tokens: dict[str, str | None]) -> None:
    async with httpx.AsyncClient(base_url=live_server.http_url) as http:
        document = (await http.get("/api/openapi.json")).json()
        operations = {(method.upper(), path): op for path, item in document["paths"].items()
                      for method, op in item.items()}
        assert sorted(set(operations) - set(MATRIX)) == [], "operations without a row"
        assert sorted(set(MATRIX) - set(operations)) == [], "rows without an operation"
        wrong = {}
        for (method, path), operation in sorted(operations.items()):
            body = {} if "requestBody" in operation else None
            for role in ROLES:
                token = tokens[role]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                response = await http.request(method, concrete(path), json=body,
                                              headers=headers)
                assert response.status_code < 500, (method, path, role, response.text)
                got, want = outcome(response.status_code), expected(role, MATRIX[method, path])
                if got != want:
                    wrong[f"{method} {path} as {role}"] = f"{got} (written: {want})"
        assert wrong == {}
