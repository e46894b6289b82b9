"""`fila demo`."""

from __future__ import annotations

from typing import Annotated

import typer


def demo(
    addr: Annotated[str | None, typer.Option("--addr", help="Use a running broker instead of starting one.")] = None,
    data_dir: Annotated[str, typer.Option("--data-dir", help="Data dir for the broker it starts (default ./fila-data).")] = "",
    listen: Annotated[str, typer.Option(
        "--listen", help="Where the broker it starts listens (default: a free loopback port).",
        show_default=False)] = "",
) -> None:
    """Show fair scheduling and throttling: tenant A's 900 messages vs B-E's 25 each.

    Example: fila demo
    """
    from fila import demo as demo_mod

    raise typer.Exit(demo_mod.main(addr, data_dir, listen))
