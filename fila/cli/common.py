"""What every command shares: the global options, the connection, and reading inputs."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fila.cli.errors import usage_error

if TYPE_CHECKING:
    from fila.client import AsyncClient, Client, Reconnect

DEFAULT_ADDR = "127.0.0.1:5555"


class Output(StrEnum):
    table = "table"
    json = "json"


@dataclass
class State:
    """The root options, kept in the click context for every command below it."""

    addr: str = DEFAULT_ADDR
    api_key: str | None = None  # sent as `authorization: Bearer <key>`
    output: Output = Output.table
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def client_options(self) -> dict[str, Any]:
        return {"api_key": self.api_key, "tls": self.tls, "ca_file": self.ca_file,
                "cert_file": self.cert_file, "key_file": self.key_file}

    @property
    def json(self) -> bool:
        return self.output is Output.json


def check_addr(addr: str) -> None:
    """A usage error (exit 2) for an address that cannot work: no port, a bad port, or a host
    name that does not resolve (rather than "the broker cannot serve now, retry later")."""
    import socket

    host, sep, port = addr.rpartition(":")
    if not sep or not host:
        raise usage_error(f"--addr {addr!r} needs a port: HOST:PORT, for example {DEFAULT_ADDR}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise usage_error(f"--addr {addr!r}: the port must be a number from 1 to 65535")
    try:
        socket.getaddrinfo(host.strip("[]"), int(port))
    except (socket.gaierror, UnicodeError):
        raise usage_error(f"--addr {addr!r}: the host name {host!r} does not resolve") from None


def state(ctx: typer.Context) -> State:
    found = ctx.find_object(State)
    return found if found is not None else State()


TIMEOUT_S = 30.0


@contextmanager
def connect(ctx: typer.Context) -> Iterator[Client]:
    """A client for the broker at --addr (imported here: `--help` and completion stay fast)."""
    from fila.client import Client

    st = state(ctx)
    check_addr(st.addr)
    # A command says at once that the broker is away (exit 5) rather than waiting for it.
    with Client(st.addr, timeout_s=TIMEOUT_S, reconnect=None, **st.client_options()) as client:
        yield client


@asynccontextmanager
async def aconnect(ctx: typer.Context, reconnect: Reconnect | None = None) -> AsyncIterator[AsyncClient]:
    """The asyncio client, for what needs its batching and the credit-controlled Lease stream.
    With `reconnect`, it retries while the broker is away (a long-running consume) instead of
    failing at once."""
    from fila.client import AsyncClient

    st = state(ctx)
    check_addr(st.addr)
    async with AsyncClient(st.addr, timeout_s=TIMEOUT_S, reconnect=reconnect,
                           **st.client_options()) as client:
        yield client


def stdin_bytes() -> bytes:
    return typer.get_binary_stream("stdin").read()


def read_file(path: str, option: str) -> bytes:
    """The whole of `path` (`-` is stdin), or a usage error naming the option."""
    if path == "-":
        return stdin_bytes()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise usage_error(f"cannot read {option} file {path!r}: {exc.strerror or exc}") from None


def read_script(path: str | None, option: str) -> str | None:
    """A Lua script from a file (`-` is stdin); None when the option was not given."""
    if path is None:
        return None
    data = read_file(path, option)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise usage_error(f"{option} file {path!r} is not UTF-8 text") from None


def name_script(message: str, path: str | None, field: str) -> str:
    """An error about a script names the file the user gave, where the broker names the
    request field: `hook.lua:3: '}' expected`."""
    if not path:
        return message
    name = f"<stdin, {field.removesuffix('_script')}>" if path == "-" else path
    return message.replace(f"config.{field}:", f"{name}:")


def check_one_stdin(*values: str | None) -> None:
    if sum(1 for v in values if v in ("-", "@-")) > 1:
        raise usage_error("only one option can read from stdin (-)")


def parse_headers(pairs: list[str] | None) -> dict[str, str]:
    """`k=v` pairs into a dict; a pair without `=` or with an empty name is a usage error."""
    headers: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise usage_error(f"--header {pair!r} must look like name=value")
        headers[name] = value
    return headers


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
