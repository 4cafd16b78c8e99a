"""``GET /api/radio/positions``: the last known position of each user, for dispatchers.

Positions are written the way the radio writes them (the service's store, then a flush),
on SQLite and PostgreSQL; the last test goes through the real signaling socket.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from kernel.identity import get_user, set_disabled
from ptt.server.store import SqlRadioStore
from tests.conftest import App, LiveServer
from tests.radio.client import RadioClient

T0 = datetime(2025, 6, 1, 2, 15, tzinfo=UTC)


async def user_id(app: App, username: str) -> int:
    async with app.runtime.sessions() as s:
        user = await get_user(s, username)
    assert user is not None
    return user.id


async def store_positions(app: App, *positions: tuple[str, float, float, float | None,
                                                     datetime]) -> None:
    store: SqlRadioStore = app.runtime.services["radio_store"]
    for username, lat, lon, accuracy, at in positions:
        store.position(await user_id(app, username), lat, lon, accuracy, at)
    await store.flush()


async def test_a_dispatcher_sees_the_newest_position_of_each_officer(app: App) -> None:
    await store_positions(
        app,
        ("satpol1", -7.7500, 113.2100, 12.0, T0),
        ("dishub1", -7.7600, 113.2200, None, T0 + timedelta(minutes=1)),
        ("satpol1", -7.7512, 113.2155, 6.5, T0 + timedelta(minutes=2)),
    )
    response = await app.client.get("/api/radio/positions",
                                     headers=await app.login("dispatcher1"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["user"]["username"] for p in body] == ["satpol1", "dishub1"]  # newest first
    satpol, dishub = body
    assert satpol == {
        "user": {"user_id": await user_id(app, "satpol1"), "username": "satpol1",
                 "name": "Satpol PP Regu 1", "agency": "satpolpp", "role": "officer",
                 "unit": "SATPOL-01"},
        "lat": -7.7512, "lon": 113.2155, "accuracy": 6.5,
        "at": "2025-06-01T02:17:00Z", "online": False,
    }
    assert (dishub["lat"], dishub["lon"], dishub["accuracy"]) == (-7.76, 113.22, None)
    assert dishub["user"]["agency"] == "dishub" and dishub["user"]["unit"] == "DISHUB-01"
    assert datetime.fromisoformat(dishub["at"]) == T0 + timedelta(minutes=1)


async def test_an_admin_sees_them_too_and_none_is_an_empty_list(app: App) -> None:
    headers = await app.login("admin")
    empty = await app.client.get("/api/radio/positions", headers=headers)
    assert empty.status_code == 200 and empty.json() == []
    await store_positions(app, ("dishub2", -7.77, 113.23, 20.0, T0),
                          ("satpol2", -7.78, 113.24, None, T0))
    async with app.runtime.sessions() as s, s.begin():
        await set_disabled(s, "satpol2")  # an account switched off is no unit on the map
    listed = await app.client.get("/api/radio/positions", headers=headers)
    assert [p["user"]["username"] for p in listed.json()] == ["dishub2"]


async def test_officers_and_strangers_are_refused(app: App) -> None:
    await store_positions(app, ("satpol1", -7.75, 113.21, None, T0))
    officer = await app.client.get("/api/radio/positions", headers=await app.login("satpol2"))
    assert officer.status_code == 403
    assert officer.json()["error"]["code"] == "forbidden"
    anonymous = await app.client.get("/api/radio/positions")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    forged = await app.client.get("/api/radio/positions",
                                  headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401


async def test_a_shared_position_says_whether_its_sender_is_online(
        live_server: LiveServer) -> None:
    live_server.runtime.services["radio"].resume_window = 0.2
    dispatcher = await RadioClient.connect(live_server, "dispatcher1")
    officer = await RadioClient.connect(live_server, "dishub1")
    await officer.send("location", lat=-7.755, lon=113.215, accuracy=9.0)
    await dispatcher.expect("location")
    await live_server.runtime.services["radio_store"].flush()
    token = await live_server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        (pos,) = (await http.get("/api/radio/positions")).json()
        assert pos["user"]["username"] == "dishub1" and pos["online"] is True
        assert (pos["lat"], pos["lon"], pos["accuracy"]) == (-7.755, 113.215, 9.0)
        await officer.close()
        await dispatcher.expect("presence_changed", online=False)
        (pos,) = (await http.get("/api/radio/positions")).json()
        assert pos["user"]["username"] == "dishub1" and pos["online"] is False
