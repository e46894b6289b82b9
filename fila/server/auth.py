"""Authentication and authorization at the gRPC boundary.

Auth is on when a bootstrap key is configured (`[auth] bootstrap_apikey` or the env
`FILA_BOOTSTRAP_APIKEY`), as in the original Fila. Every call then carries
`authorization: Bearer <key>` metadata: the bootstrap key is a superadmin; other keys are
created with CreateApiKey and limited by their ACL (produce / consume / admin on queue
patterns). Managing keys and runtime config needs a superadmin or admin on "*".
"""

from __future__ import annotations

import hmac
import time
from typing import Any, Protocol

from fila.engine import KeyRecord
from fila.errors import PermissionDenied, Unauthenticated

BOOTSTRAP = KeyRecord("bootstrap", "bootstrap", "", 0, 0, True)


class KeyLookup(Protocol):
    """What auth needs of the broker's API keys (fila.engine.api_keys.ApiKeys)."""

    def verify(self, token: str) -> KeyRecord | None: ...

    def live(self, key_id: str) -> KeyRecord | None: ...
SUPERADMIN = "superadmin"


def bearer(context: Any) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            scheme, _, token = value.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


class Auth:
    def __init__(self, keys: KeyLookup, bootstrap_key: str | None) -> None:
        self.keys = keys
        self.bootstrap = bootstrap_key or None
        self.enabled = self.bootstrap is not None

    def identify(self, context: Any) -> KeyRecord | None:
        """The caller's key (None when auth is off). Raises Unauthenticated."""
        if not self.enabled:
            return None
        token = bearer(context)
        if not token:
            raise Unauthenticated(
                "missing API key: send metadata `authorization: Bearer <key>`")
        assert self.bootstrap is not None
        if hmac.compare_digest(token.encode(), self.bootstrap.encode()):
            return BOOTSTRAP
        rec = self.keys.verify(token)
        if rec is None:
            raise Unauthenticated("API key is not valid (unknown, revoked or expired)")
        return rec

    def require(self, context: Any, kind: str, queue: str = "*") -> KeyRecord | None:
        """Raise unless the caller may do `kind` on `queue` ("superadmin" for key management)."""
        rec = self.identify(context)
        if rec is None:
            return None
        if kind == SUPERADMIN:
            if rec.is_superadmin:
                return rec
            raise PermissionDenied(f"API key {rec.name!r} is not a superadmin")
        if not rec.allows(kind, queue):
            raise PermissionDenied(f"API key {rec.name!r} may not {kind} on queue {queue!r}")
        return rec

    def still_allows(self, rec: KeyRecord, kind: str, queue: str) -> bool:
        """For open streams, checked at each delivery: the key is still there, unexpired, and
        its ACL (which SetAcl changes in place) still allows this."""
        if rec is BOOTSTRAP:
            return True
        live = self.keys.live(rec.key_id)
        return (live is rec and not rec.expired(int(time.time() * 1000))
                and rec.allows(kind, queue))
