"""docs/protocol.md "Replay": what is recorded and how each transmission ended."""

from __future__ import annotations

import functools

import httpx
import pytest
from aiortc import RTCSessionDescription

from ptt import control
from tests.conformance.client import Client, token_for
from tests.conftest import LiveServer, live_server_for, loopback_socket, make_settings, port_of
from tests.media.officers import Officer
from tests.polling import until


async def welcomed(server: LiveServer, username: str, *groups: str) -> Client:
    client = await Client.connect(server, username)
    assert (await client.next())["type"] == "welcome"
    for tg in groups:
        await client.join(tg)
    return client


async def listed(server: LiveServer, token: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        page = (await http.get("/api/transmissions", params={"talkgroup": "satpolpp"})).json()
    return list(page["items"])


async def test_a_floor_handed_to_the_queue_is_released_and_silent_grants_are_not_kept(
        live_server: LiveServer) -> None:
    a, b, c = [await welcomed(live_server, n, "satpolpp")
               for n in ("satpol1", "satpol2", "dispatcher1")]
    for client in (a, b):
        await client.opt_in_audio()
    assert (await a.answer("floor_request"))["type"] == "floor_granted"
    await a.send_audio("satpolpp")
    assert (await b.answer("floor_request"))["type"] == "floor_queued"
    await a.answer("floor_release")
    offered = await b.expect("floor_granted")
    assert offered["accept_within"] is not None
    await b.send_audio("satpolpp", stream=2)  # sending audio takes the grant
    await b.answer("floor_release")
    # A grant nobody talks on: dispatcher1 takes and gives back the floor.
    assert (await c.answer("floor_request"))["type"] == "floor_granted"
    assert (await c.answer("floor_release"))["type"] == "floor_released"

    auth = await token_for(live_server, "dispatcher1")

    async def two_ended() -> list[dict[str, object]] | None:
        items = await listed(live_server, auth)
        done = [i for i in items if i["ended_at"] is not None]
        return items if len(done) == 2 else None

    items = await until(two_ended, "both voiced transmissions to be stored")
    assert [(i["talker"]["username"], i["end_reason"])  # type: ignore[index]
            for i in reversed(items)] == [("satpol1", "released"), ("satpol2", "released")]
    recent = await c.answer("recent", talkgroup="satpolpp")
    assert [t["talker"]["username"] for t in recent["transmissions"]] == ["satpol1", "satpol2"]
    assert all(t["audio_url"] for t in recent["transmissions"])
    for client in (a, b, c):
        await client.close()


async def test_documented_http_answers(
        live_server: LiveServer) -> None:
    token = await token_for(live_server, "satpol1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        for talkgroup in ("dishub", "no-such-group"):
            r = await http.get("/api/transmissions", params={"talkgroup": talkgroup})
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        for path in ("/sms/http/inbound", "/sms/twilio/status"):
            r = await http.get(path)  # docs/sms-gateway.md: POST only; GET is not found
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


@pytest.mark.media
async def test_closing_the_peer_connection_frees_the_floor(
        tmp_path: object, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A no-media timer far away: only the peer closing can end this grant.
    monkeypatch.setattr(control, "RadioConfig",
                        functools.partial(control.RadioConfig, no_media_timeout=3600.0))
    sock = loopback_socket()
    settings = make_settings(sqlite_url, tmp_path, port=port_of(sock))  # type: ignore[arg-type]
    async with live_server_for(settings, sock) as server:
        talker = await welcomed(server, "satpol1", "satpolpp")
        listener = await welcomed(server, "satpol2", "satpolpp")
        peer = Officer("satpol1", 440.0)
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        answer = await talker.answer("rtc_offer", sdp=peer.pc.localDescription.sdp)
        assert answer["type"] == "rtc_answer"
        await peer.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await until(lambda: peer.pc.connectionState == "connected", "the peer to connect")
        assert (await talker.answer("floor_request"))["type"] == "floor_granted"
        await peer.pc.close()
        revoked = await talker.expect("floor_revoked", timeout=10)
        assert revoked["reason"] == "no_media"
        await listener.expect("floor_idle", talkgroups=["satpolpp"])
        for client in (talker, listener):
            await client.close()
