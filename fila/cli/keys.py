"""`fila apikey` and `fila acl`: API keys and what they may do (superadmin only)."""

from __future__ import annotations

from typing import Annotated

import typer

from fila.cli.common import connect, state
from fila.cli.errors import usage_error
from fila.cli.output import emit, fields, table

apikey_app = typer.Typer(help="Create, list and revoke API keys.\n\nExample: fila apikey create billing",
                         no_args_is_help=True, rich_markup_mode=None)
acl_app = typer.Typer(help="What an API key may do.\n\nExample: fila acl get 3f2a9c0d1e4b5a6c",
                      no_args_is_help=True, rich_markup_mode=None)

KeyId = Annotated[str, typer.Argument(help="The key's id (not the key itself).", show_default=False)]


@apikey_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for people.", show_default=False)],
    superadmin: Annotated[bool, typer.Option("--superadmin", help="May do everything.")] = False,
    expires_at_ms: Annotated[int, typer.Option(
        "--expires-at-ms", min=0, help="Unix time in ms when it stops working (0: never).")] = 0,
) -> None:
    """Create an API key and print it. The key is shown only this once: store it now.

    A new key may do nothing until `fila acl set` gives it permissions (or --superadmin).

    JSON: {"key_id", "key", "name", "superadmin"}

    Example: fila apikey create billing-worker
    """
    with connect(ctx) as client:
        key_id, key = client.create_api_key(name, expires_at_ms=expires_at_ms, superadmin=superadmin)
    doc = {"key_id": key_id, "key": key, "name": name, "superadmin": superadmin}
    emit(state(ctx), doc, lambda: fields([("key id", key_id), ("key", key),
                                          ("note", "shown only once: store it now")]))


@apikey_app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """List API keys (never the keys themselves).

    JSON: [{"key_id", "name", "created_at_ms", "expires_at_ms", "is_superadmin"}]

    Example: fila apikey list
    """
    with connect(ctx) as client:
        keys = client.list_api_keys()
    emit(state(ctx), keys, lambda: table(
        ["key id", "name", "created (ms)", "expires (ms)", "superadmin"],
        [(k["key_id"], k["name"], k["created_at_ms"], k["expires_at_ms"] or "never",
          "yes" if k["is_superadmin"] else "no") for k in keys]))


@apikey_app.command("revoke")
def revoke(ctx: typer.Context, key_id: KeyId) -> None:
    """Revoke an API key: its next call fails and its open lease streams end.

    JSON: {"key_id", "revoked": true}

    Example: fila apikey revoke 3f2a9c0d1e4b5a6c
    """
    with connect(ctx) as client:
        client.revoke_api_key(key_id)
    emit(state(ctx), {"key_id": key_id, "revoked": True}, lambda: typer.echo(f"revoked {key_id}"))


@acl_app.command("set")
def set_acl(
    ctx: typer.Context,
    key_id: KeyId,
    allow: Annotated[list[str], typer.Option(
        "--allow", help="kind:pattern, kind being produce, consume or admin; pattern '*', a "
        "queue name or a prefix like 'orders.*' (repeatable).")],
) -> None:
    """Replace what an API key may do.

    JSON: {"key_id", "permissions": [{"kind", "pattern"}]}

    Example: fila acl set 3f2a9c0d1e4b5a6c --allow produce:orders.* --allow consume:orders.*
    """
    perms = []
    for item in allow:
        kind, sep, pattern = item.partition(":")
        if not sep or not kind or not pattern:
            raise usage_error(f"--allow {item!r} must look like kind:pattern, e.g. produce:orders.*")
        perms.append((kind, pattern))
    with connect(ctx) as client:
        client.set_acl(key_id, perms)
    doc = {"key_id": key_id, "permissions": [{"kind": k, "pattern": p} for k, p in perms]}
    emit(state(ctx), doc, lambda: typer.echo(f"{key_id}: " + ", ".join(allow)))


@acl_app.command("get")
def get_acl(ctx: typer.Context, key_id: KeyId) -> None:
    """Show what an API key may do.

    JSON: {"key_id", "superadmin", "permissions": [{"kind", "pattern"}]}

    Example: fila acl get 3f2a9c0d1e4b5a6c
    """
    with connect(ctx) as client:
        perms, superadmin = client.get_acl(key_id)
    doc = {"key_id": key_id, "superadmin": superadmin,
           "permissions": [{"kind": k, "pattern": p} for k, p in perms]}

    def render() -> None:
        if superadmin:
            typer.echo("superadmin: may do everything")
        if perms:
            table(["kind", "pattern"], perms)
        elif not superadmin:
            typer.echo("no permissions: this key may do nothing")

    emit(state(ctx), doc, render)
