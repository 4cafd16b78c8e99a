"""``siaga-radio`` as an operator runs it: a separate process against the live server."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from siaga_radio import ToneSource, TransmissionRecorder

from tests.clients.helpers import DURATION_TOLERANCE, decode_file, radio, seconds, tone_of
from tests.conftest import LiveServer
from tests.polling import until

EXE = shutil.which("siaga-radio", path=str(Path(sys.executable).parent)) or ""
needs_exe = pytest.mark.skipif(not EXE, reason="siaga-radio is not installed (pip install -e .)")


async def run(*args: str, timeout: float = 20.0) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    proc = await asyncio.create_subprocess_exec(
        EXE, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@needs_exe
async def test_help_lists_the_commands() -> None:
    code, out, _ = await run("--help")
    assert code == 0
    for command in ("talk", "listen", "emergency", "location", "text", "talkgroups"):
        assert command in out
    code, out, _ = await run("talk", "--help")
    assert code == 0 and "--tone" in out and "--transport" in out


@needs_exe
@pytest.mark.media
async def test_talk_command_is_heard_and_recorded(live_server: LiveServer,
                                                  tmp_path: Path) -> None:
    async with radio(live_server, "satpol2", transport="websocket", receive=True,
                     join=["satpolpp"]) as listener:
        recorder = TransmissionRecorder(tmp_path)
        recorder.attach(listener)
        code, out, err = await run(
            "--server", live_server.http_url, "--user", "satpol1", "--password", "demo",
            "talk", "--talkgroup", "satpolpp", "--tone", "660", "--seconds", "1.5",
            "--transport", "webrtc")
        assert code == 0, err
        assert "talked on satpolpp: 1.50 s (75 packets)" in out
        [rec] = await recorder.wait_saved(1, timeout=5)
    samples = decode_file(rec.path)
    assert abs(tone_of(samples) - 660) < 5
    assert abs(seconds(samples) - 1.5) <= DURATION_TOLERANCE


@needs_exe
@pytest.mark.media
async def test_listen_command_saves_what_it_hears(live_server: LiveServer,
                                                  tmp_path: Path) -> None:
    out_dir = tmp_path / "rec"
    proc = asyncio.create_task(run(
        "--server", live_server.http_url, "--user", "satpol2", "--password", "demo",
        "listen", "--talkgroup", "satpolpp", "--out", str(out_dir), "--count", "1",
        "--seconds", "15"))
    service = live_server.runtime.services["radio"]
    relay = live_server.runtime.services["webrtc"].relay

    def listening() -> bool:
        """The listener is connected, its peer too, with a downlink for satpolpp."""
        assert not proc.done(), "the listener ended early"
        user = next((str(uid) for uid, c in service.clients.items()
                     if c.identity.username == "satpol2" and c.connection is not None), None)
        if user is None or user not in relay.clients:
            return False
        pc = relay.peer_connection(user)
        return (pc.connectionState == "connected" and pc.signalingState == "stable"
                and service.numbers["satpolpp"] in relay.downlink_mids(user))

    async with radio(live_server, "satpol1", join=["satpolpp"]) as talker:
        await until(listening, "the listener's scan and peer connection", timeout=15)
        await talker.talk("satpolpp", ToneSource(440), 1.0)
        code, out, err = await proc
    assert code == 0, err
    assert "listening to satpolpp" in out and "talker=satpol1" in out
    [path] = list(out_dir.glob("*.opus"))
    assert abs(tone_of(decode_file(path)) - 440) < 5


@needs_exe
async def test_operator_mistakes_are_one_line_and_status_2(live_server: LiveServer) -> None:
    code, _, err = await run("--server", live_server.http_url, "--user", "satpol1",
                             "--password", "nope", "talkgroups")
    assert code == 2 and err.startswith("siaga-radio: login refused (401)")
    assert "Traceback" not in err
    code, _, err = await run("--server", "ftp://x", "--user", "a", "--password", "b",
                             "talkgroups")
    assert code == 2 and "http://" in err
    code, _, err = await run("--server", live_server.http_url, "--user", "satpol1",
                             "--password", "demo", "talk", "--talkgroup", "satpolpp",
                             "--wav", "/nonexistent.wav")
    assert code == 2 and "cannot read WAV" in err
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError):  # this machine has no microphone support: said so
        code, _, err = await run("--server", live_server.http_url, "--user", "satpol1",
                                 "--password", "demo", "talk", "--talkgroup", "satpolpp",
                                 "--mic")
        assert code == 2 and "no microphone support" in err and "Traceback" not in err


@needs_exe
async def test_talkgroups_and_text_commands(live_server: LiveServer) -> None:
    base = ("--server", live_server.http_url, "--user", "satpol1", "--password", "demo")
    code, out, err = await run(*base, "talkgroups")
    assert code == 0, err
    assert "satpolpp" in out and "gabungan" in out and "dishub " not in out
    code, out, err = await run(*base, "text", "--talkgroup", "satpolpp", "Apel pagi 07.00")
    assert code == 0 and "text sent to satpolpp" in out, err


@needs_exe
async def test_an_emergency_pressed_while_offline_carries_its_time(
        live_server: LiveServer) -> None:
    base = ("--server", live_server.http_url, "--user", "satpol1", "--password", "demo",
            "emergency")
    wib = timezone(timedelta(hours=7))
    pressed = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    code, out, err = await run(*base, "--raised-at", pressed.astimezone(wib).isoformat())
    assert code == 0, err
    assert f"(pressed at {pressed.isoformat()})" in out
    token = await live_server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        alerts = (await api.get("/api/alerts")).json()
    [alert] = [a for a in alerts if a["username"] == "satpol1"]
    assert datetime.fromisoformat(alert["at"]) == pressed
    assert datetime.fromisoformat(alert["received_at"]) > pressed + timedelta(minutes=4)

    # A time without its zone is the operator's mistake; one too old, the server's refusal.
    code, _, err = await run(*base, "--raised-at", "2026-12-08T09:15:00")
    assert code == 2 and "must name its zone" in err
    code, _, err = await run(*base, "--raised-at", "yesterday")
    assert code == 2 and "not an ISO 8601 time" in err
    too_old = (datetime.now(UTC) - timedelta(hours=13)).isoformat()
    code, _, err = await run(*base, "--raised-at", too_old)
    assert code == 1 and "invalid_raised_at" in err and "Traceback" not in err
