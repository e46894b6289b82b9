"""API keys and their ACLs: durable, stored only as hashes, looked up in O(1).

A key is shown to its creator once, as `fila_<key_id>_<secret>`. Storage holds the key id,
a SHA-256 of the secret, and the key's name, expiry, superadmin flag and permissions
(`K <key_id>` -> JSON). Checking a presented key is a dict lookup by key id and a
constant-time comparison of hashes; revoking deletes the record, so the next call fails.

Permissions are (kind, pattern) pairs: kind is produce, consume or admin; pattern is "*",
an exact queue name, or a prefix ending in ".*" ("orders.*" matches "orders.eu" and
"orders.eu.dlq", not "orders").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from fila.engine import keys
from fila.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from fila.engine.staging import Staging

KINDS = ("produce", "consume", "admin")
TOKEN_PREFIX = "fila_"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class KeyRecord:
    key_id: str
    name: str
    secret_sha256: str
    created_at_ms: int
    expires_at_ms: int = 0
    is_superadmin: bool = False
    permissions: list[tuple[str, str]] = field(default_factory=list)

    def expired(self, now_ms: int) -> bool:
        return bool(self.expires_at_ms) and now_ms >= self.expires_at_ms

    def allows(self, kind: str, queue: str) -> bool:
        if self.is_superadmin:
            return True
        for k, pattern in self.permissions:
            if k == kind and pattern_matches(pattern, queue):
                return True
        return False


def pattern_matches(pattern: str, queue: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return queue.startswith(pattern[:-1])
    return pattern == queue


def check_permissions(perms: list[tuple[str, str]]) -> None:
    for i, (kind, pattern) in enumerate(perms):
        if kind not in KINDS:
            raise InvalidArgument(
                f"permissions[{i}].kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if not pattern:
            raise InvalidArgument(f"permissions[{i}].pattern must not be empty")
        if "*" in pattern and pattern != "*" and not (pattern.endswith(".*") and pattern.count("*") == 1):
            raise InvalidArgument(
                f'permissions[{i}].pattern must be "*", a queue name, or a prefix like "orders.*"; '
                f"got {pattern!r}")


class ApiKeys:
    """All API keys. Changes stage their record (and its undo) like every other effect."""

    def __init__(self, stage: Staging) -> None:
        self.stage = stage
        self.by_id: dict[str, KeyRecord] = {}

    def load(self, key: bytes, value: bytes) -> None:
        doc = json.loads(value)
        doc["permissions"] = [tuple(p) for p in doc.get("permissions", [])]
        rec = KeyRecord(**doc)
        self.by_id[rec.key_id] = rec

    def _save(self, rec: KeyRecord) -> None:
        self.by_id[rec.key_id] = rec
        self.stage.put(keys.api_key(rec.key_id), json.dumps(asdict(rec)).encode())

    def create(self, name: str, expires_at_ms: int, is_superadmin: bool) -> tuple[KeyRecord, str]:
        if not name:
            raise InvalidArgument("name must not be empty")
        if len(name) > 256:
            raise InvalidArgument("name is longer than 256 characters")
        now = int(time.time() * 1000)
        if expires_at_ms and expires_at_ms <= now:
            raise InvalidArgument("expires_at_ms is in the past")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        rec = KeyRecord(key_id, name, _hash(secret), now, expires_at_ms, is_superadmin)
        self._save(rec)
        self.stage.undo(self.by_id.pop, key_id, None)
        return rec, f"{TOKEN_PREFIX}{key_id}_{secret}"

    def get(self, key_id: str) -> KeyRecord:
        if not key_id:
            raise InvalidArgument("key_id must not be empty")
        rec = self.by_id.get(key_id)
        if rec is None:
            raise NotFound(f"API key {key_id!r} does not exist")
        return rec

    def live(self, key_id: str) -> KeyRecord | None:
        """The current record of a key (None once revoked)."""
        return self.by_id.get(key_id)

    def listed(self) -> list[KeyRecord]:
        """Every key, oldest first."""
        return sorted(self.by_id.values(), key=lambda r: r.created_at_ms)

    def revoke(self, key_id: str) -> None:
        rec = self.get(key_id)
        del self.by_id[key_id]
        self.stage.delete(keys.api_key(key_id))
        self.stage.undo(self.by_id.__setitem__, key_id, rec)

    def set_acl(self, key_id: str, perms: list[tuple[str, str]]) -> None:
        rec = self.get(key_id)
        check_permissions(perms)
        self.stage.undo(setattr, rec, "permissions", rec.permissions)
        rec.permissions = list(perms)
        self._save(rec)

    def verify(self, token: str) -> KeyRecord | None:
        """The live record for a presented key, or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        key_id, _, secret = token[len(TOKEN_PREFIX):].partition("_")
        rec = self.by_id.get(key_id)
        if rec is None or not hmac.compare_digest(rec.secret_sha256, _hash(secret)):
            return None
        if rec.expired(int(time.time() * 1000)):
            return None
        return rec
