"""`fila throttle set|list|unset`: token buckets, kept as config keys `throttle.<key>`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fila.cli.common import connect, state
from fila.cli.errors import CliError, ExitCode
from fila.cli.output import emit, table

PREFIX = "throttle."

app = typer.Typer(
    help="Limit throttle keys to a rate (token buckets).\n\n"
         "Example: fila throttle set provider:smtp --rate 100 --burst 20",
    no_args_is_help=True,
)

Key = Annotated[str, typer.Argument(
    help="The throttle key, as on_enqueue returns it in throttle_keys.", show_default=False)]


def _parse(value: str) -> tuple[float | None, float | None]:
    """"<rate>,<burst>" (or "<rate>", burst max(1, rate)); (None, None) if unreadable."""
    parts = value.split(",")
    try:
        rate = float(parts[0])
        burst = float(parts[1]) if len(parts) > 1 else max(1.0, rate)
    except (ValueError, IndexError):
        return None, None
    return rate, burst


@app.command("set")
def set_(
    ctx: typer.Context, key: Key,
    rate: Annotated[float, typer.Option("--rate", "-r", min=0.0,
                                        help="Messages per second.", show_default=False)],
    burst: Annotated[float | None, typer.Option(
        "--burst", "-b", min=1.0, help="Bucket size (default: max(1, rate)).")] = None,
) -> None:
    """Limit a throttle key to RATE messages per second, in bursts of up to BURST.

    JSON: {"key", "rate_per_second", "burst"}

    Example: fila throttle set tenant:acme --rate 50 --burst 100
    """
    b = burst if burst is not None else max(1.0, rate)
    with connect(ctx) as client:
        client.set_throttle(key, rate, b)
    emit(state(ctx), {"key": key, "rate_per_second": rate, "burst": b},
         lambda: typer.echo(f"throttle {key}: {rate:g}/s, bursts of {b:g}"))


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the throttles that are set.

    JSON: [{"key", "rate_per_second", "burst"}] (null where a stored value is unreadable)

    Example: fila throttle list --output json
    """
    with connect(ctx) as client:
        entries = client.list_config(PREFIX)
    doc: list[dict[str, Any]] = []
    for k, v in sorted(entries.items()):
        rate, burst = _parse(v)
        doc.append({"key": k[len(PREFIX):], "rate_per_second": rate, "burst": burst})
    emit(state(ctx), doc, lambda: table(
        ["throttle key", "rate/s", "burst"],
        [(t["key"], "?" if t["rate_per_second"] is None else t["rate_per_second"],
          "?" if t["burst"] is None else t["burst"]) for t in doc]))


@app.command("unset")
def unset(ctx: typer.Context, key: Key) -> None:
    """Remove a throttle: the key is no longer limited (exit code 3 if it was not set).

    JSON: {"key", "unset": true}

    Example: fila throttle unset tenant:acme
    """
    from fila.errors import NotFound

    with connect(ctx) as client:
        try:
            client.get_config(PREFIX + key)
        except NotFound:
            raise CliError(ExitCode.NOT_FOUND, f"no throttle is set for {key!r} — "
                           "`fila throttle list` shows the ones there are") from None
        client.set_config(PREFIX + key, "")
    emit(state(ctx), {"key": key, "unset": True}, lambda: typer.echo(f"unset throttle {key}"))
