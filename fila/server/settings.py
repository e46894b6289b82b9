"""Server configuration: defaults < TOML file < environment < command-line flags.

The TOML file is `--config FILE`, or `./fila.toml` when present (so existing Fila config
files keep working). Environment overrides are read here and nowhere else.

    [server]
    listen_addr = "127.0.0.1:5555"
    data_dir = "fila-data"          # also accepted as [storage] data_dir

    [scheduler]
    quantum = 1

    [lease]
    consume_max_unacked = 2000      # classic Consume streams: leased, unacked messages each
    stall_timeout_ms = 30000        # close a stream that takes nothing while messages wait

    [limits]
    max_payload_bytes = 1048576
    max_headers = 64
    max_header_bytes = 4096
    max_queue_name_bytes = 255

    [lua]
    instruction_budget = 1000000
    memory_bytes = 16777216
    time_limit_ms = 50
    breaker_cooldown_ms = 10000

    [metrics]
    listen_addr = "127.0.0.1:9464"  # "off" turns the /metrics endpoint off
    top_keys = 50                   # per-key series: the busiest N, the rest as "__other__"

    [auth]
    bootstrap_apikey = "..."        # turns API keys on (also env FILA_BOOTSTRAP_APIKEY)

    [tls]
    cert_file = "server.pem"        # TLS on the gRPC port
    key_file = "server.key"
    ca_file = "ca.pem"              # optional: require client certificates (mTLS)

    [tracing]
    otlp_endpoint = "http://127.0.0.1:4317"  # OTLP/gRPC; also env OTEL_EXPORTER_OTLP_ENDPOINT

    [log]
    level = "info"                  # debug, info, warning, error
    format = "text"                 # or "json"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from fila.engine import BrokerSettings, Limits, LuaLimits
from fila.errors import InvalidArgument

DEFAULT_LISTEN = "127.0.0.1:5555"
DEFAULT_DATA_DIR = "fila-data"
DEFAULT_CONFIG_FILE = "fila.toml"
DEFAULT_METRICS_LISTEN = "127.0.0.1:9464"


@dataclass(frozen=True)
class ServerSettings:
    listen_addr: str = DEFAULT_LISTEN
    data_dir: str = DEFAULT_DATA_DIR
    quantum: int = 1
    consume_max_unacked: int = 2000
    stall_timeout_ms: int = 30_000
    limits: Limits = field(default_factory=Limits)
    lua: LuaLimits = field(default_factory=LuaLimits)
    breaker_cooldown_ms: int = 10_000
    metrics_listen: str = DEFAULT_METRICS_LISTEN
    metrics_top_keys: int = 50
    otlp_endpoint: str = ""
    bootstrap_apikey: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_ca_file: str = ""
    log_level: str = "info"
    log_format: str = "text"
    config_file: str = ""

    def broker_settings(self) -> BrokerSettings:
        return BrokerSettings(
            quantum=self.quantum,
            lua=self.lua,
            limits=self.limits,
            breaker_cooldown_s=self.breaker_cooldown_ms / 1000.0,
            stall_ms=self.stall_timeout_ms,
        )


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise InvalidArgument(f"config file: [{name}] must be a table")
    return value


LOG_LEVELS = ("debug", "info", "warning", "error")

# Environment variable -> setting; read here and nowhere else.
ENV_VARS = {
    "FILA_LISTEN_ADDR": "listen_addr",
    "FILA_DATA_DIR": "data_dir",
    "FILA_LOG_LEVEL": "log_level",
    "FILA_METRICS_LISTEN": "metrics_listen",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "otlp_endpoint",
    "FILA_BOOTSTRAP_APIKEY": "bootstrap_apikey",
}

# The sections and keys a config file may hold; anything else is a typo worth reporting.
KNOWN_KEYS: dict[str, set[str]] = {
    "server": {"listen_addr", "data_dir"},
    "storage": {"data_dir"},
    "scheduler": {"quantum"},
    "lease": {"consume_max_unacked", "stall_timeout_ms"},
    "limits": {f.name for f in fields(Limits)},
    "lua": {f.name for f in fields(LuaLimits)} | {"breaker_cooldown_ms"},
    "metrics": {"listen_addr", "top_keys"},
    "tracing": {"otlp_endpoint"},
    "auth": {"bootstrap_apikey"},
    "tls": {"cert_file", "key_file", "ca_file"},
    "log": {"level", "format"},
}


def _check_known(doc: dict[str, Any]) -> None:
    for section, body in doc.items():
        if section not in KNOWN_KEYS:
            raise InvalidArgument(
                f"config file: unknown section [{section}] (known: {', '.join(KNOWN_KEYS)})")
        if isinstance(body, dict):
            for key in body:
                if key not in KNOWN_KEYS[section]:
                    raise InvalidArgument(f"config file: unknown key {key!r} in [{section}] "
                                          f"(known: {', '.join(sorted(KNOWN_KEYS[section]))})")


def _int(section: dict[str, Any], key: str, default: int, where: str) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgument(f"config file: [{where}] {key} must be a positive integer, got {value!r}")
    return value


def _typed(cls: type, section: dict[str, Any], where: str) -> dict[str, Any]:
    known = {f.name: f.type for f in fields(cls)}
    out = {}
    for key, value in section.items():
        if key not in known:
            raise InvalidArgument(f"config file: unknown key {key!r} in [{where}]")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise InvalidArgument(f"config file: [{where}] {key} must be a positive integer")
        out[key] = value
    return out


def load(
    config_file: str | None = None,
    listen_addr: str | None = None,
    data_dir: str | None = None,
    log_level: str | None = None,
    log_format: str | None = None,
    env: dict[str, str] | None = None,
    metrics_listen: str | None = None,
    tls_cert_file: str | None = None,
    tls_key_file: str | None = None,
    tls_ca_file: str | None = None,
    otlp_endpoint: str | None = None,
) -> ServerSettings:
    """Build settings from the file, the environment and explicit values (flags)."""
    env = dict(os.environ) if env is None else env
    s = ServerSettings()
    path = Path(config_file) if config_file else Path(DEFAULT_CONFIG_FILE)
    if config_file or path.exists():
        try:
            doc = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise InvalidArgument(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidArgument(f"config file {path}: {exc}") from None
        _check_known(doc)
        server = _section(doc, "server")
        storage = _section(doc, "storage")
        scheduler = _section(doc, "scheduler")
        lease = _section(doc, "lease")
        lua = dict(_section(doc, "lua"))
        logsec = _section(doc, "log")
        metrics = _section(doc, "metrics")
        auth = _section(doc, "auth")
        tracing = _section(doc, "tracing")
        tls = _section(doc, "tls")
        cooldown = lua.pop("breaker_cooldown_ms", s.breaker_cooldown_ms)
        s = replace(
            s,
            config_file=str(path),
            listen_addr=str(server.get("listen_addr", s.listen_addr)),
            data_dir=str(server.get("data_dir", storage.get("data_dir", s.data_dir))),
            quantum=_int(scheduler, "quantum", s.quantum, "scheduler"),
            consume_max_unacked=_int(lease, "consume_max_unacked", s.consume_max_unacked, "lease"),
            stall_timeout_ms=_int(lease, "stall_timeout_ms", s.stall_timeout_ms, "lease"),
            limits=Limits(**_typed(Limits, _section(doc, "limits"), "limits")),
            lua=LuaLimits(**_typed(LuaLimits, lua, "lua")),
            breaker_cooldown_ms=_int({"breaker_cooldown_ms": cooldown}, "breaker_cooldown_ms",
                                     s.breaker_cooldown_ms, "lua"),
            metrics_listen=str(metrics.get("listen_addr", s.metrics_listen)),
            metrics_top_keys=_int(metrics, "top_keys", s.metrics_top_keys, "metrics"),
            otlp_endpoint=str(tracing.get("otlp_endpoint", "")),
            bootstrap_apikey=str(auth.get("bootstrap_apikey", "")),
            tls_cert_file=str(tls.get("cert_file", "")),
            tls_key_file=str(tls.get("key_file", "")),
            tls_ca_file=str(tls.get("ca_file", "")),
            log_level=str(logsec.get("level", s.log_level)),
            log_format=str(logsec.get("format", s.log_format)),
        )
    # The environment overrides the file, and flags override both.
    overrides: dict[str, Any] = {field: env[var] for var, field in ENV_VARS.items() if env.get(var)}
    flags = {"listen_addr": listen_addr, "data_dir": data_dir, "log_level": log_level,
             "log_format": log_format, "metrics_listen": metrics_listen,
             "tls_cert_file": tls_cert_file, "tls_key_file": tls_key_file,
             "tls_ca_file": tls_ca_file, "otlp_endpoint": otlp_endpoint}
    overrides.update({field: value for field, value in flags.items() if value})
    s = replace(s, **overrides)
    if s.quantum < 1:
        raise InvalidArgument("[scheduler] quantum must be at least 1")
    if s.log_level.lower() not in LOG_LEVELS:
        raise InvalidArgument(f"log level must be one of {', '.join(LOG_LEVELS)}, got {s.log_level!r}")
    if s.log_format not in ("text", "json"):
        raise InvalidArgument('[log] format must be "text" or "json"')
    return s
