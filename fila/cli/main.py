"""`fila`: serve a broker, and script or watch one."""

from __future__ import annotations

import typer

from fila.cli import demo as demo_cmd
from fila.cli import serve as serve_cmd

app = typer.Typer(
    name="fila",
    help="Fila: a message broker with fair scheduling and per-key throttling.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.command("serve")(serve_cmd.serve)
app.command("demo")(demo_cmd.demo)


def main() -> None:
    app()


@app.callback()
def _root() -> None:
    """Fila: a message broker with fair scheduling and per-key throttling."""
