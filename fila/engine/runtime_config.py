"""Runtime config: key/value pairs set through the admin API, durable, read by Lua's `fila.get`.

Keys under `throttle.` configure token buckets: `throttle.<key>` = "<rate_per_second>,<burst>".
An empty value deletes a key (and so removes a throttle).

What a queue's hooks may read is scoped, so that one tenant's hook cannot read another's
values: `fila.get(key)` in queue q's hooks returns

    queue/<q>/<key>   the queue's own value (its admin may set it), if set; else
    <key>             if the key starts with one of the shared prefixes, listed (comma-
                      separated) in `lua.shared_prefixes`, by default "weight.,throttle.";
    nil otherwise.
"""

from __future__ import annotations

from fila.engine.throttle import CONFIG_PREFIX as THROTTLE_PREFIX
from fila.engine.throttle import Throttles, parse_throttle_value
from fila.errors import InvalidArgument

MAX_KEY_BYTES = 256
MAX_VALUE_BYTES = 64 * 1024
SHARED_PREFIXES_KEY = "lua.shared_prefixes"
DEFAULT_SHARED_PREFIXES = ("weight.", "throttle.")
QUEUE_SCOPE = "queue/"  # queue/<queue name>/<key>: a queue's own config


def queue_scoped(key: str) -> str | None:
    """The queue a `queue/<queue>/<key>` config key belongs to (None for other keys)."""
    if not key.startswith(QUEUE_SCOPE):
        return None
    queue, sep, rest = key[len(QUEUE_SCOPE):].partition("/")
    return queue if sep and queue and rest else None


def _prefixes(value: str | None) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_SHARED_PREFIXES
    return tuple(p.strip() for p in value.split(",") if p.strip())


def hook_view(values: dict[str, str], queue: str) -> dict[str, str]:
    """Of runtime config `values`, what `queue`'s hooks may read, by the names they read."""
    shared = _prefixes(values.get(SHARED_PREFIXES_KEY))
    out = {k: v for k, v in values.items() if k.startswith(shared)}
    own = f"{QUEUE_SCOPE}{queue}/"
    out.update({k[len(own):]: v for k, v in values.items() if k.startswith(own)})
    return out


class RuntimeConfig:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.throttles = Throttles()

    @staticmethod
    def check(key: str, value: str) -> None:
        """Raise InvalidArgument, naming the field, if (key, value) cannot be set."""
        if not key:
            raise InvalidArgument("key must not be empty")
        if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise InvalidArgument(f"key is longer than {MAX_KEY_BYTES} bytes")
        if not key.isprintable() or any(ch.isspace() for ch in key):
            raise InvalidArgument(f"key {key!r} must be printable and hold no whitespace")
        if len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
            raise InvalidArgument(f"value is longer than {MAX_VALUE_BYTES} bytes")
        if key.startswith(THROTTLE_PREFIX):
            if key == THROTTLE_PREFIX:
                raise InvalidArgument('key "throttle." needs a throttle key after the dot')
            if value:
                parse_throttle_value(key, value)
        if key.startswith(QUEUE_SCOPE) and queue_scoped(key) is None:
            raise InvalidArgument(f'key {key!r}: a queue\'s own keys are "queue/<queue>/<key>"')

    def apply(self, key: str, value: str, now_s: float) -> None:
        if value:
            self.values[key] = value
        else:
            self.values.pop(key, None)
        if key.startswith(THROTTLE_PREFIX):
            tkey = key[len(THROTTLE_PREFIX):]
            if value:
                try:
                    rate, burst = parse_throttle_value(key, value)
                except InvalidArgument:
                    return  # only reachable from storage written by an older version
                self.throttles.configure(tkey, rate, burst, now_s)
            else:
                self.throttles.remove(tkey, now_s)

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def shared_prefixes(self) -> tuple[str, ...]:
        return _prefixes(self.values.get(SHARED_PREFIXES_KEY))

    def seen_by(self, queue: str, key: str) -> str | None:
        """What `fila.get(key)` returns in `queue`'s hooks."""
        own = self.values.get(f"{QUEUE_SCOPE}{queue}/{key}")
        if own is not None:
            return own
        if key.startswith(self.shared_prefixes()):
            return self.values.get(key)
        return None

    def hook_view(self, queue: str) -> dict[str, str]:
        """Everything `queue`'s hooks may read, under the names they read it by."""
        return hook_view(self.values, queue)

    def touches(self, queue: str, key: str) -> str | None:
        """The name under which a change of `key` shows in `queue`'s hooks (None if it
        does not)."""
        own = f"{QUEUE_SCOPE}{queue}/"
        if key.startswith(own):
            return key[len(own):]
        if key.startswith(self.shared_prefixes()):
            return key
        return None

    def list(self, prefix: str) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in self.values.items() if k.startswith(prefix))
