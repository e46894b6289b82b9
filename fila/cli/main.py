"""`fila`: serve a broker, and script or watch one.

One module per command group; exit codes and error lines live in `fila.cli.errors`.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from fila.cli import config, consume, dlq, explain, keys, lua, messages, queue, stats, throttle
from fila.cli import demo as demo_cmd
from fila.cli import serve as serve_cmd
from fila.cli import top as top_cmd
from fila.cli.common import DEFAULT_ADDR, Output, State
from fila.cli.errors import FilaGroup

app = typer.Typer(
    name="fila",
    cls=FilaGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
)
app.command("serve")(serve_cmd.serve)
app.command("demo")(demo_cmd.demo)
app.command("top")(top_cmd.top)
app.add_typer(queue.app, name="queue")
app.command("explain")(explain.explain)
app.add_typer(lua.app, name="lua")
app.add_typer(keys.apikey_app, name="apikey")
app.add_typer(keys.acl_app, name="acl")
app.command("enqueue")(messages.enqueue)
app.command("consume")(consume.consume)
app.command("ack")(messages.ack)
app.command("nack")(messages.nack)
app.add_typer(config.app, name="config")
app.add_typer(throttle.app, name="throttle")
app.command("stats")(stats.stats)
app.add_typer(dlq.app, name="dlq")


def main() -> None:
    # `python -m fila` would otherwise call itself "python -m fila" in usage and hints.
    prog = "fila" if os.path.basename(sys.argv[0]) == "__main__.py" else None
    app(prog_name=prog)


@app.callback()
def _root(
    ctx: typer.Context,
    addr: Annotated[str, typer.Option(
        "--addr", envvar="FILA_ADDR", help="The broker's HOST:PORT.")] = DEFAULT_ADDR,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="FILA_API_KEY", show_default=False,
        help="API key, sent as a Bearer token (needed when the broker has API keys on).")] = None,
    output: Annotated[Output, typer.Option(
        "--output", "-o", envvar="FILA_OUTPUT", case_sensitive=False,
        help="table for people, json for scripts (one JSON document per command).")] = Output.table,
    tls: Annotated[bool, typer.Option(
        "--tls", envvar="FILA_TLS", help="Connect with TLS (implied by any of the files below).")] = False,
    ca_file: Annotated[str | None, typer.Option(
        "--ca-file", envvar="FILA_CA_FILE", show_default=False,
        help="PEM CA to trust for the broker's certificate.")] = None,
    cert_file: Annotated[str | None, typer.Option(
        "--cert-file", envvar="FILA_CERT_FILE", show_default=False,
        help="PEM client certificate, for brokers that require one (mTLS).")] = None,
    key_file: Annotated[str | None, typer.Option(
        "--key-file", envvar="FILA_KEY_FILE", show_default=False,
        help="PEM private key of the client certificate.")] = None,
) -> None:
    """Fila: a message broker with fair scheduling and per-key throttling.

    Exit codes: 0 ok, 1 unexpected, 2 usage or invalid argument, 3 not found,
    4 already exists, 5 broker unavailable, 6 refused by the broker.

    Example: fila --addr 127.0.0.1:5555 --output json queue list
    """
    ctx.obj = State(addr=addr, api_key=api_key, output=output, tls=tls, ca_file=ca_file,
                    cert_file=cert_file, key_file=key_file)
