"""`fila config set|get|list|unset`: the broker's runtime config (Lua reads it with fila.get)."""

from __future__ import annotations

from typing import Annotated

import typer

from fila.cli.common import connect, state
from fila.cli.errors import CliError, ExitCode, usage_error
from fila.cli.output import emit, table

app = typer.Typer(
    help="Set and read runtime config (Lua reads it with fila.get).\n\n"
         "Example: fila config set limits.max_batch 100",
    no_args_is_help=True,
)

Key = Annotated[str, typer.Argument(help="The config key.", show_default=False)]


@app.command("set")
def set_(
    ctx: typer.Context, key: Key,
    value: Annotated[str, typer.Argument(help="The value (not empty).", show_default=False)],
) -> None:
    """Set a config key (a throttle.KEY value must be "RATE,BURST": see `fila throttle set`).

    JSON: {"key", "value"}

    Example: fila config set feature.fast_path on
    """
    if value == "":
        raise usage_error(f"an empty value is not allowed; to remove the key run `fila config unset {key}`")
    with connect(ctx) as client:
        client.set_config(key, value)
    emit(state(ctx), {"key": key, "value": value}, lambda: typer.echo(f"{key} = {value}"))


@app.command("get")
def get(ctx: typer.Context, key: Key) -> None:
    """Print a config key's value (exit code 3 if it is not set).

    JSON: {"key", "value"}

    Example: fila config get feature.fast_path
    """
    with connect(ctx) as client:
        value = client.get_config(key)
    emit(state(ctx), {"key": key, "value": value}, lambda: typer.echo(value))


@app.command("list")
def list_(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Option("--prefix", help="Only keys starting with this.")] = "",
) -> None:
    """List config keys and values, sorted by key.

    JSON: [{"key", "value"}]

    Example: fila config list --prefix throttle.
    """
    with connect(ctx) as client:
        entries = client.list_config(prefix)
    doc = [{"key": k, "value": v} for k, v in sorted(entries.items())]
    emit(state(ctx), doc, lambda: table(
        ["key", "value"], [(e["key"], e["value"].replace("\n", "\\n")) for e in doc]))


@app.command("unset")
def unset(ctx: typer.Context, key: Key) -> None:
    """Remove a config key (exit code 3 if it is not set).

    JSON: {"key", "unset": true}

    Example: fila config unset feature.fast_path
    """
    from fila.errors import NotFound

    with connect(ctx) as client:
        try:
            client.get_config(key)
        except NotFound:
            raise CliError(ExitCode.NOT_FOUND, f"config key {key!r} is not set — "
                           "`fila config list` shows the keys that are set") from None
        client.set_config(key, "")
    emit(state(ctx), {"key": key, "unset": True}, lambda: typer.echo(f"unset {key}"))
