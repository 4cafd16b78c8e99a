"""``siaga-radio``: a command-line radio (gateways, load tests, checks from a shell).

Examples::

    siaga-radio --server http://127.0.0.1:8080 --user satpol1 --password demo \\
        talk --talkgroup satpolpp --tone 440 --seconds 3 --transport websocket
    siaga-radio --user satpol2 --password demo listen --talkgroup satpolpp --out recordings/
    siaga-radio --user satpol1 --password demo emergency --lat -7.75 --lon 113.21

Exit status: 0 done; 1 the server refused (floor denied, connection lost); 2 a usage or
set-up problem (bad arguments, login refused, no microphone). Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from siaga_radio import __version__
from siaga_radio.audio import MicSource, PcmSource, ToneSource, WavSource
from siaga_radio.client import RadioClient, run_until
from siaga_radio.errors import (
    ConnectionLost,
    LoginFailed,
    NoAudioDevice,
    RadioError,
    ServerRefused,
    TransportUnavailable,
)
from siaga_radio.recorder import Recording, TransmissionRecorder

DEFAULT_SERVER = "http://127.0.0.1:8080"


class UsageProblem(Exception):
    """Bad arguments or set-up: exit status 2."""


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Connection options, accepted before and after the command name."""
    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--server", default=d(os.environ.get("SIAGA_RADIO_SERVER",
                                                             DEFAULT_SERVER)),
                        help="http(s) URL of the Siaga server (env SIAGA_RADIO_SERVER)")
    parser.add_argument("--user", default=d(os.environ.get("SIAGA_RADIO_USER")),
                        help="username (env SIAGA_RADIO_USER)")
    parser.add_argument("--password", default=d(os.environ.get("SIAGA_RADIO_PASSWORD")),
                        help="password (env SIAGA_RADIO_PASSWORD; asked for if missing)")
    parser.add_argument("--transport", choices=("webrtc", "websocket"), default=d("webrtc"),
                        help="how voice travels (default webrtc)")
    parser.add_argument("--cafile", default=d(None),
                        help="trust this certificate (the server's self-signed cert.pem)")
    parser.add_argument("--insecure", action="store_true", default=d(False),
                        help="do not verify the server's TLS certificate (lab only)")
    parser.add_argument("-v", "--verbose", action="store_true", default=d(False))


def _source_options(parser: argparse.ArgumentParser, required: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--tone", type=float, metavar="HZ", help="send a sine tone")
    group.add_argument("--wav", metavar="FILE", help="send a WAV file")
    group.add_argument("--mic", nargs="?", const="default", metavar="DEVICE",
                       help="send the microphone (needs the sounddevice package)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this long (default: 3 s for a tone/microphone, "
                        "the whole file for --wav)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="siaga-radio", description="Siaga push-to-talk radio client.")
    parser.add_argument("--version", action="version", version=f"siaga-radio {__version__}")
    _common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        _common(sub, suppress=True)
        return sub

    talk = command("talk", "Take the floor of a talkgroup and talk.")
    talk.add_argument("--talkgroup", "-g", required=True)
    _source_options(talk, required=True)

    listen = command("listen", "Hear talkgroups and save each transmission as Ogg Opus.")
    listen.add_argument("--talkgroup", "-g", action="append", dest="talkgroups",
                        help="a talkgroup to hear (repeat; default: every one you may hear)")
    listen.add_argument("--out", "-o", default="recordings", help="directory for .opus files")
    listen.add_argument("--seconds", type=float, default=None, help="stop after this long")
    listen.add_argument("--count", type=int, default=None,
                        help="stop after this many transmissions")

    emergency = command("emergency", "Raise an emergency (optionally talk on it).")
    emergency.add_argument("--talkgroup", "-g", default=None,
                           help="default: the first talkgroup you may use")
    emergency.add_argument("--lat", type=float, default=None)
    emergency.add_argument("--lon", type=float, default=None)
    emergency.add_argument("--raised-at", default=None, metavar="TIME",
                           help="when the button was pressed, ISO 8601 with its zone "
                           "(2026-12-08T09:15:00+07:00): an emergency kept while offline")
    _source_options(emergency, required=False)

    location = command("location", "Share your position with the dispatchers.")
    location.add_argument("--lat", type=float, required=True)
    location.add_argument("--lon", type=float, required=True)
    location.add_argument("--accuracy", type=float, default=None, help="metres")

    text = command("text", "Send a short text message to a talkgroup.")
    text.add_argument("--talkgroup", "-g", required=True)
    text.add_argument("body")

    command("talkgroups", "List the talkgroups you may use.")

    monitor = command("monitor", "Print every server message (JSON lines).")
    monitor.add_argument("--talkgroup", "-g", action="append", dest="talkgroups")
    monitor.add_argument("--seconds", type=float, default=None)
    return parser


def _source(args: argparse.Namespace) -> tuple[PcmSource | None, float | None]:
    seconds = args.seconds
    if args.tone is not None:
        if not 20 <= args.tone <= 20000:
            raise UsageProblem("--tone must be between 20 and 20000 Hz")
        return ToneSource(args.tone), seconds if seconds is not None else 3.0
    if args.wav is not None:
        try:
            return WavSource(args.wav), seconds
        except ValueError as exc:
            raise UsageProblem(str(exc)) from None
    if args.mic is not None:
        return MicSource(None if args.mic == "default" else args.mic), (
            seconds if seconds is not None else 3.0)
    return None, seconds


def _say(text: str) -> None:
    print(text, flush=True)


def _who(identity: dict[str, Any] | None) -> str:
    if not identity:
        return "?"
    unit = identity.get("unit")
    return f"{identity.get('username')}" + (f" ({unit})" if unit else "")


async def _talk(client: RadioClient, args: argparse.Namespace) -> int:
    source, seconds = _source(args)
    assert source is not None
    try:
        result = await client.talk(args.talkgroup, source, seconds)
    finally:
        source.close()
    _say(f"talked on {result.talkgroup}: {result.seconds:.2f} s ({result.packets} packets)")
    return 0


async def _listen(client: RadioClient, args: argparse.Namespace) -> int:
    groups = args.talkgroups or [tg for tg, info in client.talkgroups.items()
                                 if "listen" in info.get("rights", [])]
    done = asyncio.Event()

    def saved(rec: Recording) -> None:
        _say(f"saved {rec.path} talkgroup={rec.talkgroup} talker={rec.talker or '?'} "
             f"duration={rec.duration:.2f}s packets={rec.packets} lost={rec.lost}")
        if args.count is not None and len(recorder.saved) >= args.count:
            done.set()

    recorder = TransmissionRecorder(args.out, talkgroups=set(groups), on_saved=saved)
    recorder.attach(client)

    def on_message(msg: dict[str, Any]) -> None:
        if msg["type"] == "floor_taken":
            _say(f"{msg['talkgroup']}: {_who(msg['talker'])} talking ({msg['call_type']})")
        elif msg["type"] == "text":
            _say(f"{msg['talkgroup']}: text from {_who(msg['sender'])}: {msg['body']}")
        elif msg["type"] == "emergency_raised":
            _say(f"{msg['talkgroup']}: EMERGENCY raised by {_who(msg['raised_by'])}")

    client.on_message.append(on_message)
    await client.scan(groups, groups[0] if groups else None)
    _say(f"listening to {', '.join(groups)}; saving to {args.out}/")
    await _until_stopped(done, args.seconds)
    recorder.close()
    return 0


async def _until_stopped(done: asyncio.Event, seconds: float | None) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, done.set)
    await run_until(done.wait(), seconds)


def _raised_at(text: str | None) -> datetime | None:
    """``--raised-at``: a time that names its zone (the server refuses one that does not)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageProblem(f"--raised-at {text!r} is not an ISO 8601 time") from None
    if value.utcoffset() is None:
        raise UsageProblem(f"--raised-at {text!r} must name its zone (+07:00 for WIB)")
    return value


async def _emergency(client: RadioClient, args: argparse.Namespace) -> int:
    raised_at = _raised_at(args.raised_at)
    source, seconds = _source(args)
    me = client.user["user_id"]
    if source is not None:
        await client.voice.ready()
    grant = client.waiter(lambda m: m.get("type") == "floor_granted"
                          and m["talker"].get("user_id") == me)
    # The server raises an emergency on a joined talkgroup: join it first (the first one
    # the user may use when none is named), as the phone app has always joined its own.
    talkgroup = args.talkgroup or next(iter(client.talkgroups), None)
    if talkgroup is None:
        raise UsageProblem("you may use no talkgroup")
    if talkgroup not in client.joined:
        await client.join(talkgroup)
    raised = await client.raise_emergency(talkgroup, args.lat, args.lon, raised_at)
    late = f" (pressed at {raised['raised_at']})" if raised.get("raised_at") else ""
    _say(f"emergency raised on {raised['talkgroup']}{late}")
    if source is None:
        grant.cancel()
        return 0
    try:
        granted = await asyncio.wait_for(grant, 5)
        result = await client.send_audio(granted["talkgroup"], source, seconds)
    finally:
        source.close()
    _say(f"talked on {result.talkgroup} (emergency): {result.seconds:.2f} s")
    return 0


async def _monitor(client: RadioClient, args: argparse.Namespace) -> int:
    client.on_message.append(lambda m: _say(json.dumps(m, ensure_ascii=False)))
    if args.talkgroups:
        await client.scan(args.talkgroups)
    await _until_stopped(asyncio.Event(), args.seconds)
    return 0


async def run(args: argparse.Namespace) -> int:
    if not args.user:
        raise UsageProblem("--user is required (or SIAGA_RADIO_USER)")
    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            raise UsageProblem("--password is required (or SIAGA_RADIO_PASSWORD)")
        password = getpass.getpass(f"password for {args.user}: ")
    verify: bool | str = args.cafile if args.cafile else not args.insecure
    receive = args.command == "listen"
    try:
        client = RadioClient(args.server, args.user, password, transport=args.transport,
                             receive=receive, verify=verify)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    await client.connect()
    try:
        match args.command:
            case "talk":
                return await _talk(client, args)
            case "listen":
                return await _listen(client, args)
            case "emergency":
                return await _emergency(client, args)
            case "location":
                await client.send_location(args.lat, args.lon, args.accuracy)
                await client.request("presence", lambda m: m.get("type") == "presence")
                _say(f"position shared: {args.lat}, {args.lon}")
                return 0
            case "text":
                if args.talkgroup not in client.joined:
                    await client.join(args.talkgroup)
                await client.send_text(args.talkgroup, args.body)
                _say(f"text sent to {args.talkgroup}")
                return 0
            case "talkgroups":
                for tg in client.talkgroups.values():
                    _say(f"{tg['id']:<16} {tg['name']:<24} {','.join(tg.get('rights', []))}")
                return 0
            case "monitor":
                return await _monitor(client, args)
        raise UsageProblem(f"unknown command {args.command}")
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(run(args))
    except (UsageProblem, LoginFailed, NoAudioDevice, TransportUnavailable) as exc:
        print(f"siaga-radio: {exc}", file=sys.stderr)
        return 2
    except (ServerRefused, ConnectionLost, RadioError, TimeoutError) as exc:
        print(f"siaga-radio: {exc or type(exc).__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
