"""`fila top`: watch a running broker live, in the terminal."""

from __future__ import annotations

from typing import Annotated

import typer

from fila.cli.common import check_addr, state
from fila.cli.errors import usage_error


def top(
    ctx: typer.Context,
    interval_s: Annotated[float, typer.Option(
        "--interval-s", help="Seconds between polls (the next poll waits for the last answer).",
    )] = 1.0,
) -> None:
    """Watch queues, fairness keys, throttles and Lua hooks live (q quits, ? lists the keys).

    Uses only the admin RPCs; if the broker goes away it says so and reconnects by itself.

    Example: fila --addr 127.0.0.1:5555 top
    """
    if not interval_s > 0:
        raise usage_error("--interval-s must be more than 0")
    from fila.tui import run  # imported here: `--help` and completion stay fast

    st = state(ctx)
    check_addr(st.addr)
    run(st.addr, interval_s=interval_s, **st.client_options())
