"""Officers see the presence of their own talkgroups' members only, over ``/ws`` and REST;
dispatchers see everyone."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer
from tests.radio.client import RadioClient


async def joined(server: LiveServer, username: str, talkgroup: str) -> RadioClient:
    client = await RadioClient.connect(server, username)
    await client.send("join", talkgroup=talkgroup)
    await client.expect("joined", talkgroup=talkgroup)
    return client


async def online_seen(client: RadioClient, server: LiveServer) -> tuple[set[str], set[str]]:
    """Who ``client`` sees online: by the ``presence`` message and by the REST route."""
    await client.send("presence", ref="who")
    over_ws = {who["username"] for who in (await client.expect("presence", ref="who"))["online"]}
    token = await server.login(client.name)
    async with httpx.AsyncClient(base_url=server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        response = await http.get("/api/radio/presence")
    assert response.status_code == 200
    return over_ws, {who["username"] for who in response.json()}


async def test_an_officer_sees_its_talkgroups_members_and_a_dispatcher_everyone(
        live_server: LiveServer) -> None:
    satpol1 = await joined(live_server, "satpol1", "satpolpp")
    satpol2 = await joined(live_server, "satpol2", "satpolpp")
    dishub1 = await joined(live_server, "dishub1", "dishub")
    dispatcher = await joined(live_server, "dispatcher1", "dishub")
    everyone = {"satpol1", "satpol2", "dishub1", "dispatcher1"}

    for seen in await online_seen(satpol1, live_server):
        assert seen == {"satpol1", "satpol2"}
    for seen in await online_seen(dishub1, live_server):
        assert seen == {"dishub1", "dispatcher1"}
    for seen in await online_seen(dispatcher, live_server):
        assert seen == everyone

    # Joining the joint group makes the Satpol PP officer one of Dishub's talkgroups' members.
    await satpol2.send("join", talkgroup="gabungan")
    await satpol2.expect("joined", talkgroup="gabungan")
    for seen in await online_seen(dishub1, live_server):
        assert seen == {"dishub1", "dispatcher1", "satpol2"}
    for client in (satpol1, satpol2, dishub1, dispatcher):
        await client.ws.close()
