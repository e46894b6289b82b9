"""`fila queue create|update|delete|list|inspect`."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fila.cli.common import check_one_stdin, connect, name_script, read_script, state
from fila.cli.errors import CliError, ExitCode, usage_error
from fila.cli.output import emit, fields, table
from fila.cli.stats import print_stats, stats_doc
from fila.client import InvalidArgument, dlq_name

if TYPE_CHECKING:
    from fila.client import QueueConfig

app = typer.Typer(
    help="Create, change, delete and look at queues.\n\nExample: fila queue create emails --on-enqueue hook.lua",
    no_args_is_help=True,
)

QueueName = Annotated[str, typer.Argument(help="The queue's name.", show_default=False)]
OnEnqueue = Annotated[str | None, typer.Option(
    "--on-enqueue", metavar="FILE", help="Lua file defining on_enqueue(msg) (- for stdin; an empty file removes the hook).")]
OnFailure = Annotated[str | None, typer.Option(
    "--on-failure", metavar="FILE", help="Lua file defining on_failure(msg) (- for stdin; an empty file removes the hook).")]
Visibility = Annotated[int | None, typer.Option(
    "--visibility-timeout-ms", min=1, help="How long a lease lasts before the message is redelivered (default 30000).")]
MaxAttempts = Annotated[int | None, typer.Option(
    "--max-attempts", min=1, help="Failures before a message goes to the DLQ, when there is no on_failure hook (default 10).")]
BackoffBase = Annotated[int | None, typer.Option(
    "--retry-backoff-base-ms", min=1, help="First retry delay; it doubles per attempt (default 100).")]
BackoffMax = Annotated[int | None, typer.Option(
    "--retry-backoff-max-ms", min=1, help="Longest retry delay (default 60000).")]

_CONFIG_JSON = ("on_enqueue_script", "on_failure_script", "visibility_timeout_ms", "max_attempts",
                "retry_backoff_base_ms", "retry_backoff_max_ms", "lua_instruction_budget",
                "lua_memory_bytes", "lua_time_limit_ms")


def _changes(on_enqueue: str | None, on_failure: str | None, visibility_timeout_ms: int | None,
             max_attempts: int | None, retry_backoff_base_ms: int | None,
             retry_backoff_max_ms: int | None) -> dict[str, Any]:
    """The QueueConfig fields the options set (scripts read from their files)."""
    check_one_stdin(on_enqueue, on_failure)
    given = {
        "on_enqueue_script": read_script(on_enqueue, "--on-enqueue"),
        "on_failure_script": read_script(on_failure, "--on-failure"),
        "visibility_timeout_ms": visibility_timeout_ms,
        "max_attempts": max_attempts,
        "retry_backoff_base_ms": retry_backoff_base_ms,
        "retry_backoff_max_ms": retry_backoff_max_ms,
    }
    return {k: v for k, v in given.items() if v is not None}


@contextmanager
def _naming_scripts(on_enqueue: str | None, on_failure: str | None) -> Iterator[None]:
    """The broker's errors about a script name its field; say the file the user gave."""
    try:
        yield
    except InvalidArgument as exc:
        msg = name_script(str(exc), on_enqueue, "on_enqueue_script")
        raise InvalidArgument(name_script(msg, on_failure, "on_failure_script")) from None


def config_doc(cfg: QueueConfig) -> dict[str, Any]:
    return {name: getattr(cfg, name) for name in _CONFIG_JSON}


@app.command("create")
def create(ctx: typer.Context, name: QueueName, on_enqueue: OnEnqueue = None,
           on_failure: OnFailure = None, visibility_timeout_ms: Visibility = None,
           max_attempts: MaxAttempts = None, retry_backoff_base_ms: BackoffBase = None,
           retry_backoff_max_ms: BackoffMax = None) -> None:
    """Create a queue and its dead-letter queue NAME.dlq.

    Options not given take the broker's defaults.

    JSON: {"queue", "dlq"}

    Example: fila queue create emails --on-enqueue hook.lua --max-attempts 5
    """
    from fila.client import QueueConfig

    changes = _changes(on_enqueue, on_failure, visibility_timeout_ms, max_attempts,
                       retry_backoff_base_ms, retry_backoff_max_ms)
    with connect(ctx) as client, _naming_scripts(on_enqueue, on_failure):
        created = client.create_queue(name, QueueConfig(**changes))
    doc = {"queue": created, "dlq": dlq_name(created)}
    emit(state(ctx), doc, lambda: typer.echo(f"created queue {created} (dead letters go to {dlq_name(created)})"))


@app.command("update")
def update(ctx: typer.Context, name: QueueName, on_enqueue: OnEnqueue = None,
           on_failure: OnFailure = None, visibility_timeout_ms: Visibility = None,
           max_attempts: MaxAttempts = None, retry_backoff_base_ms: BackoffBase = None,
           retry_backoff_max_ms: BackoffMax = None) -> None:
    """Change a queue's settings; options not given keep their value.

    A script that does not compile changes nothing.

    JSON: {"queue", "config": {...as in `fila queue inspect`}}

    Example: fila queue update emails --on-failure retry.lua --visibility-timeout-ms 60000
    """
    changes = _changes(on_enqueue, on_failure, visibility_timeout_ms, max_attempts,
                       retry_backoff_base_ms, retry_backoff_max_ms)
    if not changes:
        raise usage_error("nothing to change: give at least one option (see `fila queue update --help`)")
    with connect(ctx) as client, _naming_scripts(on_enqueue, on_failure):
        current, _ = client.get_queue(name)
        new = dataclasses.replace(current, **changes)
        client.update_queue(name, new)
    doc = {"queue": name, "config": config_doc(new)}
    emit(state(ctx), doc, lambda: typer.echo(f"updated queue {name}: {', '.join(sorted(changes))}"))


@app.command("delete")
def delete(
    ctx: typer.Context, name: QueueName,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a queue, its dead-letter queue and every message in both.

    Asks first when run in a terminal; elsewhere --yes is required.

    JSON: {"queue", "deleted": true}

    Example: fila queue delete emails --yes
    """
    if not yes:
        if not sys.stdin.isatty():
            raise usage_error(f"deleting queue {name!r} drops its messages; pass --yes to confirm")
        if not typer.confirm(f"Delete queue {name!r}, {name}.dlq and all their messages?"):
            raise CliError(ExitCode.UNEXPECTED, "not deleted — answer y, or pass --yes")
    with connect(ctx) as client:
        client.delete_queue(name)
    emit(state(ctx), {"queue": name, "deleted": True},
         lambda: typer.echo(f"deleted queue {name} and {name}.dlq"))


@app.command("list")
def list_queues(ctx: typer.Context) -> None:
    """List queues (DLQs included) with their depth and consumers.

    JSON: [{"name", "depth", "in_flight", "active_consumers"}]

    Example: fila queue list --output json
    """
    with connect(ctx) as client:
        queues = client.list_queues()
    doc = [{"name": q.name, "depth": q.depth, "in_flight": q.in_flight,
            "active_consumers": q.active_consumers} for q in queues]
    emit(state(ctx), doc, lambda: table(
        ["name", "depth", "in flight", "consumers"],
        [(q["name"], q["depth"], q["in_flight"], q["active_consumers"]) for q in doc]))


def _print_inspect(doc: dict[str, Any]) -> None:
    cfg = doc["config"]
    pairs: list[tuple[str, Any]] = [("queue", doc["name"])]
    if doc["dlq_of"]:
        pairs.append(("dead letters of", doc["dlq_of"]))
    pairs += [(k.replace("_", " "), cfg[k]) for k in _CONFIG_JSON[2:]]
    fields(pairs)
    for key, title in (("on_enqueue_script", "on_enqueue"), ("on_failure_script", "on_failure")):
        typer.echo("")
        script = cfg[key].strip("\n")
        typer.echo(f"{title}:" if script else f"{title}: (none)")
        for line in script.splitlines():
            typer.echo(f"  {line}".rstrip())
    typer.echo("")
    print_stats(doc["stats"])


@app.command("inspect")
def inspect(ctx: typer.Context, name: QueueName) -> None:
    """Show a queue's settings, scripts and stats.

    JSON: {"name", "dlq_of" ("" unless a DLQ), "config": {"on_enqueue_script",
    "on_failure_script", "visibility_timeout_ms", "max_attempts", "retry_backoff_base_ms",
    "retry_backoff_max_ms", "lua_instruction_budget", "lua_memory_bytes",
    "lua_time_limit_ms"}, "stats": {...as in `fila stats`}}

    Example: fila queue inspect emails
    """
    with connect(ctx) as client:
        cfg, dlq_of = client.get_queue(name)
        st = client.get_stats(name)
    doc = {"name": name, "dlq_of": dlq_of, "config": config_doc(cfg), "stats": stats_doc(name, st)}
    emit(state(ctx), doc, lambda: _print_inspect(doc))
