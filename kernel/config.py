"""Effective configuration: embedded defaults, then an optional TOML file, then ``SIAGA_*``.

The defaults run a complete demo on one machine (SQLite under ``var/``, loopback on port
8080, SMS written to the log). Everything that points outside the process (database,
public URL, SMS provider, STUN/TURN) is a setting, because proxies, NAT and carriers
differ per deployment. Secrets are ``SecretStr`` so that ``siaga config show`` and logs
never print them.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
DEFAULT_CONFIG_FILE = "siaga.toml"


class ConfigError(Exception):
    """A setting is wrong; the message is one line meant for the operator."""


class IceServer(BaseModel):
    """One STUN/TURN server handed to aiortc and to every client."""

    urls: list[str]
    username: str | None = None
    credential: SecretStr | None = None


def _wait_limit(default: int, colour: str) -> Any:
    """A queue limit (``dispatch.queue``): seconds a call of ``colour`` may wait for a unit."""
    return Field(default=default, ge=10, le=4 * 3600,
                 description=f"A {colour} call without a unit for this long raises an alarm "
                 "(with sound) on every console.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIAGA_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file=None,
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    database_url: str = "sqlite+aiosqlite:///var/siaga.db"
    data_dir: Path = Path("var")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    # Identity.
    secret_key: SecretStr | None = Field(
        default=None, description="Signs login tokens; generated into data_dir when unset."
    )
    token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    login_max_failures: int = Field(
        default=5, ge=1,
        description="Failed logins of one account from one address within the window "
        "before that pair is refused (429); from this many failures of an account, "
        "wherever they come from, its logins are slowed (never locked).")
    login_window_seconds: int = Field(default=300, ge=1)
    login_address_max_failures: int = Field(
        default=30, ge=1,
        description="Failed logins from one client address (any accounts) within the window "
        "before it is refused; above the per-account limit because officers share "
        "carrier-grade NAT addresses.")
    login_delay_max_seconds: float = Field(
        default=4.0, ge=0, le=30,
        description="Longest delay a login of an account under attack waits before its "
        "password is checked (0.5 s doubled per further failure, up to this).")
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed (comma-separated in the environment); empty: the "
        "peer's own address counts, whatever headers it sends.")

    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token Prometheus sends for /metrics; unset, /metrics answers "
        "only callers on this machine.")
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=64 * 1024 * 1024,
        description="Largest HTTP request body accepted (413 beyond it, before parsing).")

    # Work kept off the event loop (docs/architecture.md, "Nothing blocks the voice").
    password_workers: int = Field(
        default=2, ge=1, le=32,
        description="Threads that hash and verify passwords (argon2id, 64 MiB each); "
        "logins beyond them queue.")
    blocking_workers: int = Field(
        default=4, ge=1, le=64,
        description="Threads for other blocking or CPU-heavy work: reports, CSV, files.")

    # SMS.
    sms_gateway: Literal["console", "twilio", "http"] = "console"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base: str | None = Field(
        default=None, description="Override of https://api.twilio.com (tests, regional edges)."
    )
    http_gateway_url: str | None = None
    http_gateway_secret: SecretStr | None = None
    sms_ack_timeout_seconds: int = Field(
        default=120, ge=10, le=3600,
        description="A crew that has not acknowledged a dispatch (SMS, link or radio) within "
        "this time raises an escalation on the console.")
    sms_retry_seconds: int = Field(
        default=60, ge=5, le=3600,
        description="Wait before retrying an SMS whose outcome was unknown (same dedup key).")
    sms_lease_seconds: int = Field(
        default=30, ge=2, le=600,
        description="On several nodes, how long an SMS being sent (or a reply being applied) "
        "stays with the node that took it; a node that dies leaves it to the others after "
        "this time. Each send attempt is cut off at two thirds of it.")
    tap_link_ttl_seconds: int = Field(
        default=12 * 3600, ge=300, le=7 * 24 * 3600,
        description="How long the status link in a dispatch SMS works.")
    queue_merah_seconds: int = _wait_limit(60, "MERAH")
    queue_kuning_seconds: int = _wait_limit(180, "KUNING")
    queue_hijau_seconds: int = _wait_limit(600, "HIJAU")
    hospital_prearrival_sms: bool = Field(
        default=False,
        description="Send the destination hospital's phone a pre-arrival SMS on dispatch.")
    mass_casualty_patients: int = Field(
        default=10, ge=2, le=10_000,
        description="An incident with at least this many patients is a mass casualty "
        "incident (its CAP 1.2 alert is offered).")
    trauma_reach_seconds: int = Field(
        default=30 * 60, ge=60, le=4 * 3600,
        description="MERAH trauma goes to a trauma centre reachable within this time; with "
        "none in reach, to the nearest hospital able to treat it.")
    kelurahan_mismatch_metres: int = Field(
        default=2000, ge=200, le=20_000,
        description="An incident's coordinates farther than this from its kelurahan's centre, "
        "and nearer another kelurahan's centre, are flagged at intake.")

    webui_dir: Path = Field(default=Path(__file__).resolve().parent.parent / "webui",
                            description="Static files of the dispatcher console.")
    mobile_dir: Path = Field(
        default=Path(__file__).resolve().parent.parent / "clients" / "mobile",
        description="Static files of the officers' app (PWA), served at /app.")
    map_tile_url: str | None = Field(
        default=None,
        description="Base map tiles for the console, a Leaflet URL template such as "
        "https://tiles.example/{z}/{x}/{y}.png; unset, the console draws an offline map.",
    )
    map_tile_attribution: str = Field(
        default="", description="Attribution the tile provider requires, shown on the map."
    )

    # Voice.
    command_centre_phone: str | None = Field(
        default=None, pattern=r"^\+[1-9][0-9]{6,14}$",
        description="The command centre's phone (E.164): the officers' app offers an SMS to "
        "it for an emergency raised while the radio is not connected. Sent to the app in "
        "the radio's welcome message, which keeps it for offline use.")
    ice_servers: list[IceServer] = Field(default_factory=list)
    ice_public_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Behind 1:1 NAT or in a cloud VM: the public address(es) the server's "
        "WebRTC also announces, each with the port of the private one (comma-separated).")
    ice_port_min: int | None = Field(
        default=None, ge=1024, le=65535,
        description="Lowest UDP port the server's WebRTC (ICE) binds; with ice_port_max.")
    ice_port_max: int | None = Field(
        default=None, ge=1024, le=65535,
        description="Highest UDP port the server's WebRTC (ICE) binds; with ice_port_min.")
    turn_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="The TURN server's URLs given with the minted "
        "credentials (comma-separated), e.g. turn:turn.example:3478?transport=udp, "
        "turns:turn.example:443?transport=tcp.")
    turn_secret: SecretStr | None = Field(
        default=None,
        description="coturn's static-auth-secret (use-auth-secret): each client gets its own "
        "short-lived TURN credential in welcome.")
    turn_credential_ttl_seconds: int = Field(
        default=12 * 3600, ge=60, le=7 * 24 * 3600,
        description="Lifetime of a minted TURN credential; coturn refuses it after that, "
        "allocations included.")
    recordings_dir: Path | None = None
    record_transmissions: bool = Field(
        default=True, description="Record every transmission as Ogg Opus under recordings_dir.")
    ws_audio_buffer_bytes: int = Field(
        default=8192, ge=1024, le=1 << 20,
        description="Audio bytes queued per WebSocket listener before new frames are dropped.")

    # Dispatch.
    osrm_url: str | None = None

    # Cluster (docs/deploy.md). Without nats_url the server is one node and needs nothing else.
    nats_url: str | None = Field(
        default=None,
        description="NATS server(s) of the cluster (comma-separated URLs); set, every "
        "`siaga serve` on the same PostgreSQL database is a node of one cluster.")
    cluster_name: str = Field(
        default="siaga", pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="Prefix of the cluster's NATS subjects and key/value buckets, so that "
        "several clusters (or test runs) can share one NATS.")
    nats_replicas: int = Field(
        default=1, ge=1, le=5,
        description="Copies JetStream keeps of the cluster's key/value buckets: 3 on a "
        "three-server NATS cluster, so that losing one NATS server loses nothing.")
    node_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="This node's name in the cluster; default: host name and port.")
    node_url: str | None = Field(
        default=None,
        description="Where the other nodes reach this node's HTTP and WebSocket endpoints "
        "(e.g. http://10.0.0.11:8080); default: http://<host>:<port>.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments > environment > TOML file > defaults.
        toml_path = _config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {value!r}") from exc
        # Plain URLs are accepted and given the async driver the server uses.
        aliases = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
                   "postgres": "postgresql+asyncpg"}
        if url.drivername in aliases:
            url = url.set(drivername=aliases[url.drivername])
            value = url.render_as_string(hide_password=False)
        if url.drivername not in SUPPORTED_DRIVERS:
            raise ValueError(
                f"unsupported driver {url.drivername!r}; use one of {', '.join(SUPPORTED_DRIVERS)}"
            )
        return value

    @field_validator("ice_public_ips")
    @classmethod
    def _check_public_ips(cls, value: list[str]) -> list[str]:
        addresses = []
        for item in value:
            try:
                address = ipaddress.ip_address(item)
            except ValueError:
                raise ValueError(f"not an IP address: {item!r}") from None
            if address.is_unspecified or address.is_loopback or address.is_multicast:
                raise ValueError(f"not an address peers can reach: {item!r}")
            addresses.append(str(address))
        return list(dict.fromkeys(addresses))

    @field_validator("turn_urls")
    @classmethod
    def _check_turn_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"not a TURN URL (turn: or turns:): {url!r}")
        return value

    @model_validator(mode="after")
    def _check_ice_settings(self) -> Settings:
        if (self.ice_port_min is None) != (self.ice_port_max is None):
            raise ValueError("set both ice_port_min and ice_port_max, or neither")
        if self.ice_port_min is not None and self.ice_port_max is not None \
                and self.ice_port_min > self.ice_port_max:
            raise ValueError("ice_port_min is above ice_port_max")
        if self.turn_secret is not None and not self.turn_urls:
            raise ValueError("turn_secret needs turn_urls: where clients use the credentials")
        if self.turn_urls and self.turn_secret is None:
            raise ValueError("turn_urls need turn_secret: Siaga mints their credentials")
        return self

    @model_validator(mode="after")
    def _cluster_needs_postgresql(self) -> Settings:
        if self.nats_url and not self.database_url.startswith("postgresql"):
            raise ValueError("a cluster (nats_url) needs PostgreSQL as its database: "
                             "every node must see the same state")
        if self.nats_url and self.secret_key is None:
            # Each node would make its own key in its data directory: a login, or a crew's
            # status link, signed by one node would be refused by the others.
            raise ValueError("a cluster (nats_url) needs SIAGA_SECRET_KEY, the same on every "
                             "node: tokens and status links are checked by any node")
        return self

    def cluster_node_id(self) -> str:
        """This node's name: ``node_id``, or the host name and port."""
        return self.node_id or f"{socket.gethostname()}-{self.port}"

    def cluster_node_url(self) -> str:
        return self.node_url or f"http://{self.host}:{self.port}"

    @field_validator("forwarded_allow_ips", "ice_public_ips", "turn_urls", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_forwarded_allow_ips(cls, value: list[str]) -> list[str]:
        for item in value:
            if item == "*":
                continue
            try:
                # As uvicorn's proxy middleware reads them: a network has a "/".
                if "/" in item:
                    ipaddress.ip_network(item)
                else:
                    ipaddress.ip_address(item)
            except ValueError:
                raise ValueError(f"not an IP address or network: {item!r}") from None
        return value

    @field_validator("map_tile_url")
    @classmethod
    def _check_map_tile_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://", "/")):
            raise ValueError("must start with http://, https:// or /")
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in value]
        if missing:
            raise ValueError(f"must contain {', '.join(missing)}")
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def recordings_path(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    def token_secret(self) -> str:
        """The signing key: configured, or created once under ``data_dir``.

        Generating it on first run keeps the demo zero-configuration while tokens stay
        valid across restarts; a production deployment sets ``SIAGA_SECRET_KEY``.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, secrets replaced by ``***``."""
        data = self.model_dump(mode="json")
        for name, field in type(self).model_fields.items():
            if "SecretStr" in str(field.annotation) and data.get(name) is not None:
                data[name] = "***"
        for server in data.get("ice_servers", []):
            if server.get("credential") is not None:
                server["credential"] = "***"
        url = make_url(self.database_url)
        if url.password:
            data["database_url"] = url.render_as_string(hide_password=True)
        return data


def _config_file() -> Path | None:
    explicit = os.environ.get("SIAGA_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"SIAGA_CONFIG: no such file: {path}")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings or raise :class:`ConfigError` with one readable line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        env = "SIAGA_" + where.split(".")[0].upper()
        raise ConfigError(f"invalid setting {where} ({env}): {first['msg']}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file is not valid TOML: {exc}") from None
