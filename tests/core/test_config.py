"""Configuration: defaults, sources, and one clear line for every bad setting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.config import ConfigError, load_settings

SIAGA = [sys.executable, "-c", "from siaga.cli import main; main()"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    full_env.update(env or {})
    return subprocess.run([*SIAGA, *args], capture_output=True, text=True, env=full_env,
                          timeout=60)


def test_embedded_defaults() -> None:
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.database_url == "sqlite+aiosqlite:///var/siaga.db"
    assert settings.sms_gateway == "console"
    assert settings.ice_servers == []


def test_environment_overrides_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "siaga.toml").write_text('port = 9000\nsms_gateway = "http"\n')
    monkeypatch.setenv("SIAGA_PORT", "9100")
    settings = load_settings()
    assert settings.port == 9100
    assert settings.sms_gateway == "http"


def test_plain_urls_get_the_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIAGA_DATABASE_URL", "postgresql://u:p@db.example:5432/siaga")
    assert load_settings().database_url.startswith("postgresql+asyncpg://")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SIAGA_SMS_GATEWAY": "pigeon"}, "invalid setting sms_gateway (SIAGA_SMS_GATEWAY)"),
        ({"SIAGA_DATABASE_URL": "not a url"}, "not a database URL"),
        ({"SIAGA_DATABASE_URL": "mysql://x/y"}, "unsupported driver 'mysql'"),
        ({"SIAGA_PORT": "70000"}, "invalid setting port (SIAGA_PORT)"),
        ({"SIAGA_PUBLIC_URL": "siaga.example"}, "invalid setting public_url"),
        ({"SIAGA_NATS_URL": "nats://127.0.0.1:4222",
          "SIAGA_DATABASE_URL": "postgresql://u@db/siaga"}, "a cluster (nats_url) needs "
         "SIAGA_SECRET_KEY, the same on every node"),
        ({"SIAGA_COMMAND_CENTRE_PHONE": "0335421119"},
         "invalid setting command_centre_phone (SIAGA_COMMAND_CENTRE_PHONE)"),
    ],
)
def test_bad_settings_raise_one_readable_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_the_command_centre_phone_is_e164(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().command_centre_phone is None
    monkeypatch.setenv("SIAGA_COMMAND_CENTRE_PHONE", "+62335421119")
    assert load_settings().command_centre_phone == "+62335421119"


def test_missing_config_file_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIAGA_CONFIG", "/nonexistent/siaga.toml")
    with pytest.raises(ConfigError, match="no such file"):
        load_settings()


def test_cli_unknown_gateway_exits_without_traceback() -> None:
    result = run_cli("config", "show", env={"SIAGA_SMS_GATEWAY": "pigeon"})
    assert result.returncode == 2
    assert result.stderr.startswith("siaga: invalid setting sms_gateway")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_unreachable_database_exits_without_traceback() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, never listening: connecting is refused
        port = s.getsockname()[1]
        result = run_cli("db", "upgrade",
                         env={"SIAGA_DATABASE_URL": f"postgresql://x@127.0.0.1:{port}/none"})
    assert result.returncode == 2
    assert result.stderr.startswith("siaga: cannot reach database")
    assert "Traceback" not in result.stderr


def test_cli_port_in_use_exits_without_traceback(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", env={"SIAGA_PORT": str(port),
                                       "SIAGA_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"siaga: port {port} on 127.0.0.1 is already in use (set SIAGA_PORT to another port)"
    )


def test_config_show_masks_secrets() -> None:
    result = run_cli("config", "show", env={
        "SIAGA_TWILIO_AUTH_TOKEN": "supersecret-token",
        "SIAGA_SECRET_KEY": "another-secret",
        "SIAGA_DATABASE_URL": "postgresql://siaga:dbpassword@db/siaga",
    })
    assert result.returncode == 0, result.stderr
    assert "supersecret-token" not in result.stdout
    assert "another-secret" not in result.stdout
    assert "dbpassword" not in result.stdout
    assert '"twilio_auth_token": "***"' in result.stdout
