"""Runtime config: key/value pairs set through the admin API, durable, read by Lua's `fila.get`.

Keys under `throttle.` configure token buckets: `throttle.<key>` = "<rate_per_second>,<burst>".
An empty value deletes a key (and so removes a throttle).
"""

from __future__ import annotations

from fila.engine.throttle import CONFIG_PREFIX as THROTTLE_PREFIX
from fila.engine.throttle import Throttles, parse_throttle_value
from fila.errors import InvalidArgument

MAX_KEY_BYTES = 256
MAX_VALUE_BYTES = 64 * 1024


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

    def list(self, prefix: str) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in self.values.items() if k.startswith(prefix))
