"""Rendering for people (aligned tables, key: value blocks) and for scripts (one JSON document).

With `--output json` every command prints exactly one JSON document on stdout; the shapes are
documented on each command. Field names are spelled out here, not derived from the SDK's
classes, so that they only change on purpose.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from fila.cli.common import State

if TYPE_CHECKING:
    from fila.client import Message


def print_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))


def emit(st: State, doc: Any, render: Callable[[], None]) -> None:
    """Print `doc` as JSON with --output json, else call `render` for the table view."""
    if st.json:
        print_json(doc)
    else:
        render()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Columns separated by two spaces; numbers right-aligned; the header in capitals."""
    body = [list(r) for r in rows]
    text = [[_cell(v) for v in r] for r in body]
    widths = [len(h) for h in headers]
    for r in text:
        widths = [max(w, len(c)) for w, c in zip(widths, r, strict=True)]
    numeric = [bool(body) and all(isinstance(r[i], int | float) for r in body)
               for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w)
                 for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    typer.echo(line([h.upper() for h in headers]))
    for r in text:
        typer.echo(line(r))


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """`name:  value` lines, aligned; multi-line values are indented under their name."""
    width = max(len(k) for k, _ in pairs) + 2
    for key, value in pairs:
        lines = _cell(value).splitlines() or [""]
        typer.echo(f"{key + ':':<{width}}{lines[0]}".rstrip())
        for more in lines[1:]:
            typer.echo(f"{'':<{width}}{more}".rstrip())


def payload_view(payload: bytes) -> tuple[str, str]:
    """(text, "utf-8") for printable UTF-8, else (base64, "base64")."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode("ascii"), "base64"
    if all(ch.isprintable() or ch in "\t\n\r" for ch in text):
        return text, "utf-8"
    return base64.b64encode(payload).decode("ascii"), "base64"


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 in UTC with a "Z" (the SDK gives naive UTC datetimes), or None."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def message_doc(m: Message) -> dict[str, Any]:
    """One message as JSON: id, queue, fairness_key, weight, throttle_keys, attempt_count,
    headers, payload, payload_encoding ("utf-8" or "base64"), enqueued_at, leased_at (ISO 8601
    UTC or null), last_error and lease_id (empty unless leased)."""
    text, encoding = payload_view(m.payload)
    return {
        "id": m.id,
        "queue": m.queue,
        "fairness_key": m.fairness_key,
        "weight": m.weight,
        "throttle_keys": list(m.throttle_keys),
        "attempt_count": m.attempt_count,
        "headers": dict(m.headers),
        "payload": text,
        "payload_encoding": encoding,
        "enqueued_at": iso(m.enqueued_at),
        "leased_at": iso(m.leased_at),
        "last_error": m.last_error,
        "lease_id": m.lease_id,
    }


def headers_text(headers: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(headers.items())) or "-"


def print_message(m: Message) -> None:
    """A message as a `key: value` block followed by a blank line."""
    text, encoding = payload_view(m.payload)
    pairs: list[tuple[str, Any]] = [
        ("id", m.id),
        ("fairness key", m.fairness_key),
        ("attempts", m.attempt_count),
        ("headers", headers_text(m.headers)),
    ]
    if m.throttle_keys:
        pairs.append(("throttle keys", " ".join(m.throttle_keys)))
    if m.last_error:
        pairs.append(("last error", m.last_error))
    if m.lease_id:
        pairs.append(("lease id", m.lease_id))
    pairs.append(("payload" if encoding == "utf-8" else "payload (base64)", text))
    fields(pairs)
    typer.echo("")
