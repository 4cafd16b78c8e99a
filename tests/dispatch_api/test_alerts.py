"""Radio alerts: an officer's emergency becomes an incident, or is dismissed."""

from __future__ import annotations

from datetime import UTC, datetime

from kernel.identity import get_user
from tests.dispatch_api.console import Console, error


async def raise_alert(console: Console, *, lat: float | None = -7.7485,
                      lon: float | None = 113.2049) -> int:
    """satpol1 presses the emergency button near Sukabumi (as the lead's wiring will call)."""
    async with console.app.runtime.sessions() as s:
        user = await get_user(s, "satpol1")
        assert user is not None
    view = await console.service.record_radio_alert(
        "satpolpp", user.id, "satpol1", "Satpol PP Regu 1", "SATPOL-01", lat, lon,
        datetime.now(UTC))
    return view.id


async def test_an_alert_becomes_a_prefilled_incident(console: Console) -> None:
    alert = await raise_alert(console)
    listed = (await console.get("/api/alerts", params={"status": "open"})).json()
    assert [a["id"] for a in listed] == [alert]
    response = await console.post(f"/api/alerts/{alert}/incident",
                                  {"complaint": "trauma", "triage": "kuning"})
    assert response.status_code == 201, response.text
    incident = response.json()
    assert incident["source"] == "radio"
    assert incident["place"]["kelurahan_code"] == "sukabumi"  # nearest to the officer
    assert (incident["lat"], incident["lon"]) == (-7.7485, 113.2049)
    assert incident["caller_name"] == "Satpol PP Regu 1 (SATPOL-01)"
    assert incident["caller_phone"] == "+6281200020001"
    assert incident["radio_alert_id"] == alert
    assert "satpolpp" in incident["notes"]
    converted = (await console.get("/api/alerts", params={"status": "converted"})).json()
    assert converted[0]["incident_id"] == incident["id"]

    before = await console.counts()
    again = await console.post(f"/api/alerts/{alert}/incident",
                               {"complaint": "trauma", "triage": "kuning"})
    assert again.status_code == 409
    assert error(again)["code"] == "alert_closed"
    assert await console.counts() == before


async def test_an_alert_without_position_needs_a_kelurahan(console: Console) -> None:
    alert = await raise_alert(console, lat=None, lon=None)
    before = await console.counts()
    response = await console.post(f"/api/alerts/{alert}/incident",
                                  {"complaint": "other", "triage": "hijau"})
    assert response.status_code == 422
    assert error(response)["code"] == "kelurahan_required"
    assert await console.counts() == before
    response = await console.post(f"/api/alerts/{alert}/incident",
                                  {"complaint": "other", "triage": "hijau", "kelurahan": "jati"})
    assert response.status_code == 201
    assert response.json()["location_approximate"]


async def test_an_alert_can_be_dismissed(console: Console) -> None:
    alert = await raise_alert(console)
    response = await console.post(f"/api/alerts/{alert}/dismiss")
    assert response.status_code == 200
    assert response.json()["status"] == "dismissed"
    assert (await console.get("/api/alerts", params={"status": "open"})).json() == []
    trail = [a for a in (await console.get("/api/alerts")).json() if a["id"] == alert]
    assert trail[0]["handled_at"] is not None
