"""`fila lua test SCRIPT`: run a hook exactly as the broker would, without enqueueing."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated

import typer

from fila.cli.common import connect, name_script, parse_headers, read_script, state
from fila.cli.errors import ExitCode, fail
from fila.cli.output import emit, fields
from fila.errors import FilaError

app = typer.Typer(
    help="Debug Lua hooks.\n\nExample: fila lua test examples/hooks/tenant.lua -H tenant=acme",
    no_args_is_help=True, rich_markup_mode=None)


class Hook(StrEnum):
    on_enqueue = "on_enqueue"
    on_failure = "on_failure"


@app.command("test")
def test(
    ctx: typer.Context,
    script: Annotated[str, typer.Argument(help="The .lua file (- for stdin).", show_default=False)],
    header: Annotated[list[str] | None, typer.Option(
        "--header", "-H", help="A message header name=value (repeatable).")] = None,
    hook: Annotated[Hook, typer.Option("--hook", help="Which hook to run.")] = Hook.on_enqueue,
    queue: Annotated[str, typer.Option("--queue", help="msg.queue as the hook sees it.")] = "test",
    payload_size: Annotated[int, typer.Option("--payload-size", min=0, help="msg.payload_size.")] = 0,
    attempts: Annotated[int, typer.Option(
        "--attempts", min=1, help="on_failure: msg.attempts (1 on the first failure).")] = 1,
    error: Annotated[str, typer.Option("--error", help="on_failure: msg.error.")] = "nacked",
    message_id: Annotated[str, typer.Option("--id", help="on_failure: msg.id.")] = "test-message",
    config: Annotated[list[str] | None, typer.Option(
        "--config", help="A runtime config key=value for fila.get (repeatable). Without it, "
        "the live broker's config at --addr is used.")] = None,
) -> None:
    """Run a hook in the broker's sandbox, with its limits, and print what it returned.

    Compile errors and run-time errors are reported with the script's line number; the time
    the call took is printed too. fila.get reads --config values, or the running broker's
    runtime config when no --config is given (and none if the broker cannot be reached),
    scoped as on the broker: the queue's own queue/<queue>/<key> values and the shared
    prefixes of lua.shared_prefixes (default weight. and throttle.).

    JSON: {"hook", "ok", "result" ({"fairness_key", "weight", "throttle_keys"} or
    {"action", "delay_ms"}), "error", "took_us", "config_source"}

    Example: fila lua test examples/hooks/tenant.lua -H tenant=acme -H provider=stripe
    """
    from fila.engine import HookError, LuaLimits, QueueRules, hook_view

    st = state(ctx)
    source = read_script(script, "SCRIPT") or ""
    headers = parse_headers(header)
    values, config_source = _config(ctx, config)
    values = hook_view(values, queue)  # what the queue's hooks may read, as on the broker
    try:
        rules = QueueRules(
            source if hook is Hook.on_enqueue else "",
            source if hook is Hook.on_failure else "",
            LuaLimits(),
            values,
        )
    except FilaError as exc:
        raise fail(ExitCode.USAGE, "the script does not compile: "
                   + name_script(str(exc), script, f"{hook.value}_script")) from None
    t0 = time.perf_counter_ns()
    try:
        if hook is Hook.on_enqueue:
            d = rules.on_enqueue(headers, payload_size, queue)
            result: dict[str, object] = {"fairness_key": d.fairness_key, "weight": d.weight,
                                         "throttle_keys": list(d.throttle_keys)}
        else:
            action, delay_ms = rules.on_failure(headers, message_id, attempts, queue, error)
            result = {"action": action, "delay_ms": delay_ms}
        problem = ""
    except HookError as exc:
        result, problem = {}, name_script(str(exc), script, f"{hook.value}_script")
    took_us = (time.perf_counter_ns() - t0) / 1000
    doc = {"hook": hook.value, "ok": not problem, "result": result, "error": problem,
           "took_us": round(took_us, 1), "config_source": config_source}

    def render() -> None:
        if problem:
            typer.echo(f"error: {problem}", err=True)
            typer.echo("the broker would fall back to its defaults for this message "
                       "(and count the error toward the circuit breaker)", err=True)
        else:
            fields([*((k, v if not isinstance(v, list) else ", ".join(v) or "-")
                      for k, v in result.items()), ("took", f"{took_us:.1f} µs")])

    emit(st, doc, render)
    if problem:
        raise typer.Exit(int(ExitCode.USAGE))


def _config(ctx: typer.Context, pairs: list[str] | None) -> tuple[dict[str, str], str]:
    if pairs:
        values: dict[str, str] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise fail(ExitCode.USAGE, f"--config {pair!r} must look like key=value")
            values[key] = value
        return values, "--config"
    try:
        with connect(ctx) as client:
            return client.list_config(), f"broker at {state(ctx).addr}"
    except FilaError:
        typer.echo(f"note: no broker at {state(ctx).addr}; fila.get sees no config "
                   "(pass --config key=value)", err=True)
        return {}, "none"
