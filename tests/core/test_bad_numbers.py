"""Numbers beyond what the schema holds are the client's error (422), on every backend,
in paths and in bodies; nothing changes and the server goes on serving."""

from __future__ import annotations

import pytest

from tests.conftest import App

HUGE = [2**31, 10**20, -(10**25)]


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize("path", ["/api/units/{}", "/api/incidents/{}", "/api/hospitals/{}",
                                  "/api/transmissions/{}", "/api/incidents/{}/sms",
                                  "/api/transmissions/{}/audio"])
async def test_a_huge_id_in_a_path_is_refused(app: App, path: str, number: int) -> None:
    headers = await app.login("dispatcher1")
    response = await app.client.get(path.format(number), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


async def test_a_huge_id_in_a_body_is_refused(app: App) -> None:
    headers = await app.login("dispatcher1")
    incidents = (await app.client.get("/api/incidents", headers=headers)).json()
    target = incidents[0]["id"] if incidents else 1
    response = await app.client.post(f"/api/incidents/{target}/assignments",
                                     json={"unit_id": 2**40}, headers=headers)
    assert response.status_code == 422, response.text
    assert (await app.client.get("/healthz")).status_code == 200


TIMES = ["/api/incidents", "/api/reports/intervals", "/api/reports/intervals.csv",
         "/api/transmissions"]


@pytest.mark.parametrize("path", TIMES)
@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
async def test_a_date_at_the_end_of_time_is_refused(sqlite_app: App, path: str,
                                                    since: str) -> None:
    headers = await sqlite_app.login("dispatcher1")
    for name in ("since", "until"):
        response = await sqlite_app.client.get(path, params={name: since}, headers=headers)
        assert response.status_code == 422, response.text
        # The dispatch period filters name the parameter out of range; the radio's
        # transmissions answer as any invalid request.
        assert response.json()["error"]["code"] in ("out_of_range", "invalid_request")


@pytest.mark.parametrize("path", TIMES)
@pytest.mark.parametrize("since", ["2026-12-01T08:00:00", "2026-12-01"])
async def test_a_time_without_a_zone_is_read_as_wib_by_dispatch_and_refused_by_the_radio(
        sqlite_app: App, path: str, since: str) -> None:
    """Dispatch's period filters read a date or a zone-less time in WIB (docs/dispatch.md,
    "Reports"); the radio's transmission list wants the zone. Neither is ever a 500."""
    headers = await sqlite_app.login("dispatcher1")
    response = await sqlite_app.client.get(path, params={"since": since}, headers=headers)
    if path == "/api/transmissions":
        assert response.status_code == 422, response.text
        assert "timezone" in response.text
    else:
        assert response.status_code == 200, response.text
    response = await sqlite_app.client.get(path, params={"since": "2026-12-01T08:00:00+07:00",
                                                         "until": "2026-12-02T00:00:00Z"},
                                           headers=headers)
    assert response.status_code == 200, response.text
