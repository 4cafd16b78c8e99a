"""Replay: the transmissions API (list, filters, rights, pages), audio downloads with byte
ranges, and ``recent`` on the signaling socket after a dead zone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kernel.ranges import RangeNotSatisfiable, byte_range
from ptt.store.models import TransmissionRow
from tests.conftest import LiveServer
from tests.wsaudio.helpers import AudioClient, tone_packets, transmissions

Connect = Callable[..., Awaitable[AudioClient]]


class TestByteRange:
    SIZE = 1000

    @pytest.mark.parametrize(("header", "span"), [
        ("bytes=0-99", (0, 99)),
        ("bytes=900-", (900, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),  # more than the file: all of it
        ("bytes=990-5000", (990, 999)),  # the end is clamped
        ("bytes=999-999", (999, 999)),
        ("BYTES = 1-2", (1, 2)),
        ("bytes=0-" + "9" * 5000, (0, 999)),  # beyond int()'s digit limit: to the end
        ("bytes=-" + "9" * 5000, (0, 999)),
        ("bytes=0-9223372036854775808", (0, 999)),
    ])
    def test_one_range_is_served(self, header: str, span: tuple[int, int]) -> None:
        assert byte_range(header, self.SIZE) == span

    @pytest.mark.parametrize("header", ["items=0-5", "bytes=0-1,5-9"])
    def test_other_units_and_several_ranges_are_ignored(self, header: str) -> None:
        assert byte_range(header, self.SIZE) is None

    @pytest.mark.parametrize("header", [
        "bytes=1000-", "bytes=1000-1200", "bytes=-0", "bytes=5-3", "bytes=a-b", "bytes=-",
        "bytes=", "bytes=5", "bytes=1-x", "bytes=+1-2",
        "bytes=" + "9" * 5000 + "-", "bytes=9223372036854775808-", "bytes=\u00b2-3",
        "bytes=\u0663-5", "bytes=1 - 2 - 3",
    ])
    def test_bad_or_unsatisfiable_ranges_are_refused(self, header: str) -> None:
        with pytest.raises(RangeNotSatisfiable):
            byte_range(header, self.SIZE)

    def test_an_empty_file_satisfies_no_range(self) -> None:
        with pytest.raises(RangeNotSatisfiable):
            byte_range("bytes=0-", 0)


@pytest.fixture
async def history(live_server: LiveServer,
                  audio_client: Connect) -> AsyncIterator[list[TransmissionRow]]:
    """Three recorded bursts (satpolpp by satpol1 and satpol2, dishub by dishub1), and two
    old rows on satpolpp from three days ago, one of them for an incident."""
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    h1 = await audio_client("dishub1", ["dishub"])
    for talker, tg in ((s1, "satpolpp"), (s2, "satpolpp"), (h1, "dishub")):
        await talker.take_floor()
        await talker.talk(tg, tone_packets(440.0, 15), pace=0.005)
        await talker.send("floor_release")
        await talker.expect("floor_idle")
    old = datetime.now(UTC) - timedelta(days=3)
    async with live_server.runtime.sessions() as s, s.begin():
        s.add(TransmissionRow(talkgroup="satpolpp", talker_id=s1.welcome["user"]["user_id"],
                              started_at=old, ended_at=old + timedelta(seconds=2),
                              incident_ref="INC-7"))
        s.add(TransmissionRow(talkgroup="satpolpp", talker_id=s2.welcome["user"]["user_id"],
                              started_at=old + timedelta(minutes=1)))
    yield await transmissions(live_server)


async def api(server: LiveServer, username: str) -> httpx.AsyncClient:
    token = await server.login(username)
    return httpx.AsyncClient(base_url=server.http_url,
                             headers={"Authorization": f"Bearer {token}"})


async def test_listing_is_filtered_by_what_the_caller_may_hear(
    live_server: LiveServer, history: list[TransmissionRow]
) -> None:
    async with await api(live_server, "satpol1") as officer, \
            await api(live_server, "dispatcher1") as dispatcher:
        mine = (await officer.get("/api/transmissions")).json()
        everything = (await dispatcher.get("/api/transmissions")).json()
        assert {i["talkgroup"] for i in mine["items"]} == {"satpolpp"}
        assert mine["total"] == 4 and everything["total"] == 5
        started = [i["started_at"] for i in everything["items"]]
        assert started == sorted(started, reverse=True)  # newest first
        dishub_id = next(i["id"] for i in everything["items"] if i["talkgroup"] == "dishub")
        assert (await officer.get(f"/api/transmissions/{dishub_id}")).status_code == 404
        assert (await officer.get(f"/api/transmissions/{dishub_id}/audio")).status_code == 404
        refused = await officer.get("/api/transmissions", params={"talkgroup": "dishub"})
        assert refused.status_code == 404


async def test_filters_and_pages(live_server: LiveServer,
                                 history: list[TransmissionRow]) -> None:
    async with await api(live_server, "dispatcher1") as http:
        async def ids(**params: str | int) -> list[int]:
            body = (await http.get("/api/transmissions", params=params)).json()
            return [i["id"] for i in body["items"]]

        by_id = {r.id: r for r in history}
        assert {by_id[i].talkgroup for i in await ids(talkgroup="dishub")} == {"dishub"}
        satpol2 = await ids(talker="satpol2")
        assert len(satpol2) == 2
        incident = await ids(incident_ref="INC-7")
        assert [by_id[i].incident_ref for i in incident] == ["INC-7"]
        day = datetime.now(UTC) - timedelta(days=1)
        assert len(await ids(since=day.isoformat())) == 3
        assert len(await ids(until=day.isoformat())) == 2
        pages = [await ids(limit=2, offset=o) for o in (0, 2, 4)]
        assert [len(p) for p in pages] == [2, 2, 1]
        assert sorted(sum(pages, [])) == sorted(by_id)
        assert (await http.get("/api/transmissions", params={"limit": 0})).status_code == 422


async def test_audio_download_with_ranges(live_server: LiveServer,
                                          history: list[TransmissionRow]) -> None:
    row = next(r for r in history if r.path)
    assert row.path is not None
    data = (live_server.runtime.settings.recordings_path / row.path).read_bytes()
    url = f"/api/transmissions/{row.id}/audio"
    async with await api(live_server, "satpol2") as http:
        full = await http.get(url)
        assert full.status_code == 200 and full.content == data
        assert full.headers["content-type"] == "audio/ogg"
        assert full.headers["accept-ranges"] == "bytes"
        part = await http.get(url, headers={"Range": "bytes=10-109"})
        assert part.status_code == 206 and part.content == data[10:110]
        assert part.headers["content-range"] == f"bytes 10-109/{len(data)}"
        tail = await http.get(url, headers={"Range": "bytes=-64"})
        assert tail.status_code == 206 and tail.content == data[-64:]
        huge = "9" * 5000  # beyond int()'s digit limit, and beyond 64 bits
        whole = await http.get(url, headers={"Range": f"bytes=0-{huge}"})
        assert whole.status_code == 206 and whole.content == data
        for bad in (f"bytes={len(data)}-", "bytes=9-3", f"bytes={huge}-",
                    "bytes=18446744073709551616-18446744073709551617"):
            refused = await http.get(url, headers={"Range": bad})
            assert refused.status_code == 416
            assert refused.headers["content-range"] == f"bytes */{len(data)}"
        unrecorded = next(r for r in history if not r.path)
        missing = await http.get(f"/api/transmissions/{unrecorded.id}/audio")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_recorded"
    async with httpx.AsyncClient(base_url=live_server.http_url) as anonymous:
        assert (await anonymous.get(url)).status_code == 401


async def test_recent_after_a_dead_zone(live_server: LiveServer,
                                        history: list[TransmissionRow],
                                        audio_client: Connect) -> None:
    back = await audio_client("satpol2", [], listen=False)
    await back.send("recent", talkgroup="satpolpp", ref="r")
    answer = await back.expect("recent", ref="r")
    items = answer["transmissions"]
    assert answer["talkgroup"] == "satpolpp"
    assert [i["talker"]["username"] for i in items] == ["satpol1", "satpol2"]  # oldest first
    assert all(i["audio_url"] == f"/api/transmissions/{i['id']}/audio" for i in items)
    async with await api(live_server, "satpol2") as http:
        audio = await http.get(items[0]["audio_url"])
        assert audio.status_code == 200 and audio.content.startswith(b"OggS")
    await back.send("recent", talkgroup="dishub", ref="x")
    assert (await back.expect("error", ref="x"))["code"] == "no_right"
    await back.send("recent", talkgroup="nowhere", ref="y")
    assert (await back.expect("error", ref="y"))["code"] == "unknown_talkgroup"
