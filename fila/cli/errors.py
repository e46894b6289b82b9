"""Exit codes and error lines of the `fila` command: the one place where they are decided.

    0  ok
    1  unexpected: a bug, or a broker error Fila does not classify
    2  usage: a bad option, argument, file or value (the broker's INVALID_ARGUMENT too)
    3  not found: a queue, message or config key that does not exist
    4  already exists
    5  unavailable: the broker cannot be reached, or cannot serve now (retry later)
    6  refused: the broker understood and said no (failed precondition, overload, auth)

Every expected error is one line on stderr, "error: <what happened> — <what to do>", and
never a traceback. Commands raise `CliError` (or let a `FilaError` from the client escape);
`FilaGroup`, the root command's class, turns both into that line and the exit code.
"""

from __future__ import annotations

from enum import IntEnum
from typing import IO, Any

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer vendors click
from typer.core import TyperGroup

from fila.errors import (
    AlreadyExists,
    FailedPrecondition,
    FilaError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    NOT_FOUND = 3
    ALREADY_EXISTS = 4
    UNAVAILABLE = 5
    REFUSED = 6


class CliError(Exception):
    """An expected failure found by the CLI itself: exits with `code` after one line."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def usage_error(message: str) -> CliError:
    return CliError(ExitCode.USAGE, message)


_BY_CLASS: dict[type[FilaError], ExitCode] = {
    InvalidArgument: ExitCode.USAGE,
    NotFound: ExitCode.NOT_FOUND,
    AlreadyExists: ExitCode.ALREADY_EXISTS,
    Unavailable: ExitCode.UNAVAILABLE,
    FailedPrecondition: ExitCode.REFUSED,
    ResourceExhausted: ExitCode.REFUSED,
    Unauthenticated: ExitCode.REFUSED,
    PermissionDenied: ExitCode.REFUSED,
}
_BY_STATUS: dict[str, ExitCode] = {
    "DEADLINE_EXCEEDED": ExitCode.UNAVAILABLE,
    "UNIMPLEMENTED": ExitCode.REFUSED,
}
# What gRPC says when it never got a connection (as opposed to a broker that answered
# UNAVAILABLE itself, e.g. because its storage cannot write).
_UNREACHABLE = (
    "failed to connect", "connection refused", "dns resolution failed", "socket closed",
    "connection reset", "connections to all backends failing", "name resolution",
)


def exit_code_for(exc: FilaError) -> ExitCode:
    for cls, code in _BY_CLASS.items():
        if isinstance(exc, cls):
            return code
    return _BY_STATUS.get(exc.code_name, ExitCode.UNEXPECTED)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def describe(exc: FilaError, addr: str) -> tuple[ExitCode, str]:
    """The exit code and the one-line message (without "error: ") for a broker error."""
    code = exit_code_for(exc)
    msg = _one_line(str(exc))
    low = msg.lower()
    if code is ExitCode.UNAVAILABLE:
        if exc.code_name == "DEADLINE_EXCEEDED":
            return code, f"the broker at {addr} did not answer in time — is it overloaded or unreachable?"
        if isinstance(exc, Unavailable) and not any(s in low for s in _UNREACHABLE):
            return code, f"the broker at {addr} cannot serve now: {msg} — retry later, and check its log"
        return code, f"cannot reach a Fila broker at {addr} — is `fila serve` running? (set --addr or FILA_ADDR)"
    if isinstance(exc, NotFound):
        if low.startswith("queue "):
            return code, f"{msg} — `fila queue list` shows the queues there are"
        if low.startswith("config key"):
            return code, f"{msg} — `fila config list` shows the keys that are set"
        return code, msg
    if isinstance(exc, AlreadyExists):
        return code, f"{msg} — change it with `fila queue update`, or delete it first"
    if isinstance(exc, InvalidArgument):
        return code, f"{msg} — fix the value and retry (see --help)"
    if isinstance(exc, ResourceExhausted):
        return code, f"{msg} — the broker is overloaded, retry later"
    if isinstance(exc, Unauthenticated):
        return code, f"{msg} — pass a valid key with --api-key or FILA_API_KEY"
    if isinstance(exc, PermissionDenied):
        return code, f"{msg} — this API key may not do that; ask an admin"
    if code is ExitCode.REFUSED and exc.code_name == "UNIMPLEMENTED":
        return code, f"{msg} — this broker does not support that"
    if code is ExitCode.REFUSED:
        return code, msg
    return code, f"the broker failed ({exc.code_name}): {msg} — check its log"


def fail(code: ExitCode, message: str) -> typer.Exit:
    """Print `error: message` on stderr; return the Exit to raise."""
    typer.echo(f"error: {_one_line(message)}", err=True)
    return typer.Exit(int(code))


class _OneLineUsageError(UsageError):
    def show(self, file: IO[Any] | None = None) -> None:
        msg = _one_line(self.format_message()).rstrip(".")
        if msg[:2].istitle():  # click's "No such option" -> "no such option"
            msg = msg[0].lower() + msg[1:]
        hint = f" — see `{self.ctx.command_path} --help`" if self.ctx is not None else ""
        typer.echo(f"error: {msg}{hint}", err=True)


# The root's connection and output options, accepted after the subcommand too (as kubectl and
# gh do): `fila stats q -o json` is read as `fila -o json stats q`. Commands with options of
# the same name keep theirs.
_ROOT_VALUED = ("--addr", "--api-key", "--output", "-o", "--ca-file", "--cert-file", "--key-file")
_ROOT_FLAGS = ("--tls",)
_OWN_OPTIONS = {"demo": {"--addr"}}


def hoist_root_options(args: list[str]) -> list[str]:
    """Move root options that follow the subcommand in front of it (up to a `--`)."""
    i = 0
    while i < len(args) and args[i].startswith("-"):  # root options already in front
        i += 2 if args[i] in _ROOT_VALUED else 1
    if i >= len(args):
        return args
    own = _OWN_OPTIONS.get(args[i], set())
    front, rest = list(args[:i]), [args[i]]
    j = i + 1
    while j < len(args):
        a = args[j]
        if a == "--":
            rest += args[j:]
            break
        name = a.split("=", 1)[0] if a.startswith("--") else a[:2]
        if name in own:
            rest.append(a)
        elif a in _ROOT_VALUED and j + 1 < len(args):
            front += [a, args[j + 1]]
            j += 1
        elif name in _ROOT_VALUED and (a.startswith("--") and "=" in a or a.startswith("-o") and a != "-o"):
            front.append(a)
        elif a in _ROOT_FLAGS:
            front.append(a)
        else:
            rest.append(a)
        j += 1
    return front + rest


class FilaGroup(TyperGroup):
    """The root command: maps every expected error below it to one line and an exit code."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_root_options(list(args)))

    def make_context(self, info_name: str | None, args: list[str],
                     parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            raise _OneLineUsageError(exc.format_message(), exc.ctx) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise
        except _OneLineUsageError:
            raise
        except UsageError as exc:
            raise _OneLineUsageError(exc.format_message(), exc.ctx) from None
        except CliError as exc:
            raise fail(exc.code, exc.message) from None
        except FilaError as exc:
            addr = getattr(ctx.obj, "addr", "the configured address")
            code, line = describe(exc, addr)
            raise fail(code, line) from None
