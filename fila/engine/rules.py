"""A queue's Lua rules: `on_enqueue` and `on_failure`, compiled once, run in a sandbox.

Each queue with a script gets its own Lua 5.4 runtime (lupa), so one queue's script can never
see another's state, and its memory limit is its own. The sandbox itself is Lua
(`sandbox.lua`): it strips the dangerous parts of the standard library, runs every call under
an instruction budget and a wall-clock guard, and gives each call fresh globals.

Calls cross the Python/Lua boundary with positional arguments and multiple return values (no
result tables copied back), which keeps a typical hook at a few microseconds.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

from lupa import lua54

from fila.errors import InvalidArgument

DEFAULT_FAIRNESS_KEY = "default"
MAX_KEY_BYTES = 256
MAX_WEIGHT = 1_000_000
MAX_THROTTLE_KEYS = 16
MAX_SHARED_THROTTLE_KEYS = 100_000  # distinct throttle-key sets kept shared (then anew)
SHORT_KEY = MAX_KEY_BYTES // 4  # characters: a string this short is within MAX_KEY_BYTES in any UTF-8

_SANDBOX_SOURCE = resources.files("fila.engine").joinpath("sandbox.lua").read_text()


@dataclass(frozen=True)
class LuaLimits:
    """Per-call limits a script runs under (server defaults, overridable per queue)."""

    instruction_budget: int = 1_000_000
    memory_bytes: int = 16 * 1024 * 1024
    time_limit_ms: int = 50


class EnqueueDecision(NamedTuple):  # a tuple: built once per message, so cheap to make
    fairness_key: str
    weight: int
    throttle_keys: tuple[str, ...]


DEFAULT_DECISION = EnqueueDecision(DEFAULT_FAIRNESS_KEY, 1, ())


class HookError(Exception):
    """A hook failed at run time (Lua error, limit hit, or a result of the wrong shape)."""


class QueueRules:
    """The compiled hooks of one queue. Build with `compile`; a bad script raises InvalidArgument."""

    def __init__(
        self,
        on_enqueue_script: str,
        on_failure_script: str,
        limits: LuaLimits,
        config: dict[str, str] | None = None,
    ) -> None:
        """`config`: what `fila.get` may return, by key (RuntimeConfig.hook_view)."""
        self.limits = limits
        self.has_on_enqueue = bool(on_enqueue_script.strip())
        self.has_on_failure = bool(on_failure_script.strip())
        self._lua: Any = None
        self._api: Any = None
        self._on_enqueue: Any = None
        self._on_failure: Any = None
        self._throttle_keys: dict[tuple[str, ...], tuple[str, ...]] = {}  # each set, once
        if not (self.has_on_enqueue or self.has_on_failure):
            return
        self._lua = lua54.LuaRuntime(
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            max_memory=limits.memory_bytes,
        )
        # Remove the bridge to Python before any user code can run.
        self._lua.execute("python = nil")
        self._api = self._lua.execute(_SANDBOX_SOURCE)
        # The time guard is wall-clock (time.monotonic), read only when the count hook fires.
        self._api.configure(limits.instruction_budget, limits.time_limit_ms / 1000.0,
                            time.monotonic)
        for key, value in (config or {}).items():
            self._api.set_config(key, value)
        if self.has_on_enqueue:
            self._on_enqueue = self._compile(on_enqueue_script, "config.on_enqueue_script", "on_enqueue")
        if self.has_on_failure:
            self._on_failure = self._compile(on_failure_script, "config.on_failure_script", "on_failure")

    def _compile(self, source: str, field: str, function: str) -> Any:
        """The script's chunk is named after its request field, so errors read
        `config.on_enqueue_script:3: '}' expected` (the CLI puts the file name there)."""
        try:
            ok, script_or_error = self._api.compile(source, field, function)
        except Exception as exc:  # lupa's memory error and friends
            raise InvalidArgument(f"{field}: {exc}") from exc
        if not ok:
            msg = str(script_or_error)
            raise InvalidArgument(msg if msg.startswith(field + ":") else f"{field}: {msg}")
        return script_or_error

    def set_config(self, key: str, value: str | None) -> None:
        """Mirror a runtime config change so `fila.get` sees it on the next call (`key` as
        the hook reads it: fila.engine.runtime_config scopes what it may)."""
        if self._api is not None:
            self._api.set_config(key, value)

    def replace_config(self, values: dict[str, str]) -> None:
        """What `fila.get` sees, all of it anew."""
        if self._api is not None:
            self._api.clear_config()
            for key, value in values.items():
                self._api.set_config(key, value)

    def _check_time(self, hook: str, t0: float) -> None:
        """A call that ran past its time limit failed, whatever it returned: the limit is
        checked only between Lua instructions, so a long call into C can overrun it, and
        such a call must count against the hook (and its breaker) all the same."""
        took = time.monotonic() - t0
        limit = self.limits.time_limit_ms / 1000.0
        if took > limit:
            raise HookError(f"{hook}: ran {took * 1000:.0f} ms, over its time limit of "
                            f"{self.limits.time_limit_ms} ms")

    def on_enqueue(self, headers: dict[str, str], payload_size: int, queue: str) -> EnqueueDecision:
        """Run on_enqueue; raise HookError if it fails or returns something unusable."""
        decisions, error = self.on_enqueue_many([headers], [payload_size], queue)
        if error is not None:
            raise error
        return decisions[0]

    def on_enqueue_many(self, headers: list[dict[str, str]], payload_sizes: list[int],
                        queue: str) -> tuple[list[EnqueueDecision], HookError | None]:
        """Run on_enqueue for each message, in order, in one call into Lua (each message is
        still its own hook call: fresh globals, its own budget and time limit). Stops at the
        first message whose hook fails: returns the decisions before it and its HookError
        (None if every message got one)."""
        if self._on_enqueue is None or not payload_sizes:
            return [DEFAULT_DECISION] * len(payload_sizes), None
        table = self._lua.table_from
        try:
            # One table per message, not table_from(headers, recursive=True): lupa 2.8 turns a
            # dict that appears twice in the list into an empty table the second time.
            flat = self._api.on_enqueue_many(self._on_enqueue, table([table(h) for h in headers]),
                                             table(payload_sizes), queue)
        except Exception as exc:  # e.g. LuaMemoryError raised past the sandbox
            return [], HookError(f"on_enqueue: {exc}")
        if type(flat) is not tuple:
            flat = (flat,)
        decisions: list[EnqueueDecision] = []
        append = decisions.append
        # Every message of a tenant held in a backlog shares one key string and one tuple of
        # throttle keys, not a copy each from Lua (~100 bytes per message with a throttle
        # key); their hashes, cached on the shared strings, are then computed once.
        intern = sys.intern
        if len(self._throttle_keys) + len(payload_sizes) > MAX_SHARED_THROTTLE_KEYS:
            self._throttle_keys.clear()  # bounded by the cap, or by one run if that is longer
        shared = self._throttle_keys.setdefault
        i, n = 0, len(flat)
        while i < n:
            if flat[i] is not True:
                return decisions, HookError(f"on_enqueue: {flat[i + 1]}")
            key, weight, ntk = flat[i + 1], flat[i + 2], flat[i + 3]
            # Fast path for the usual shapes: a short string key, no weight or an int, and no
            # throttle keys or a few short strings (what _decision accepts, checked cheaply).
            if type(key) is str and 0 < len(key) <= SHORT_KEY:
                w = 1 if weight is None else (
                    weight if type(weight) is int and 1 <= weight <= MAX_WEIGHT else 0)
                if w and not ntk:
                    append(EnqueueDecision(intern(key), w, ()))
                    i += 4
                    continue
                if w and ntk <= MAX_THROTTLE_KEYS:
                    tks = flat[i + 4:i + 4 + ntk]
                    for tk in tks:
                        if type(tk) is not str or not 0 < len(tk) <= SHORT_KEY:
                            break
                    else:
                        append(EnqueueDecision(intern(key), w, shared(tks, tks)))
                        i += 4 + ntk
                        continue
            try:
                d = _decision(key, weight, flat[i + 4:i + 4 + ntk])
            except HookError as exc:
                return decisions, exc
            append(EnqueueDecision(intern(d.fairness_key), d.weight,
                                   shared(d.throttle_keys, d.throttle_keys)))
            i += 4 + ntk
        return decisions, None

    def on_failure(
        self, headers: dict[str, str], message_id: str, attempts: int, queue: str, error: str
    ) -> tuple[str, int]:
        """Run on_failure; returns (action, delay_ms) or raises HookError."""
        if self._on_failure is None:
            raise LookupError("queue has no on_failure script")
        t0 = time.monotonic()
        try:
            result = self._api.on_failure(
                self._on_failure, self._lua.table_from(headers), message_id, attempts, queue, error,
                t0,
            )
        except Exception as exc:
            raise HookError(f"on_failure: {exc}") from exc
        self._check_time("on_failure", t0)
        if not result[0]:
            raise HookError(f"on_failure: {result[1]}")
        action, delay = result[1], result[2]
        if action not in ("retry", "dlq"):
            raise HookError(f'on_failure: action must be "retry" or "dlq", got {action!r}')
        if delay is None:
            delay = 0
        if isinstance(delay, float) and delay.is_integer():
            delay = int(delay)
        if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
            raise HookError(f"on_failure: delay_ms must be a non-negative integer, got {delay!r}")
        return action, delay


def _decision(key: Any, weight: Any, throttle: tuple[Any, ...]) -> EnqueueDecision:
    if key is None:
        key = DEFAULT_FAIRNESS_KEY
    elif not isinstance(key, str):
        if isinstance(key, (int, float)) and not isinstance(key, bool):
            key = str(key)
        else:
            raise HookError(f"on_enqueue: fairness_key must be a string, got {type(key).__name__}")
    if not key or len(key.encode()) > MAX_KEY_BYTES:
        raise HookError(f"on_enqueue: fairness_key must be 1..{MAX_KEY_BYTES} bytes")
    if weight is None:
        weight = 1
    elif isinstance(weight, float) and weight.is_integer():
        weight = int(weight)
    if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= MAX_WEIGHT:
        raise HookError(f"on_enqueue: weight must be an integer 1..{MAX_WEIGHT}, got {weight!r}")
    if len(throttle) > MAX_THROTTLE_KEYS:
        raise HookError(f"on_enqueue: at most {MAX_THROTTLE_KEYS} throttle_keys")
    for tk in throttle:
        if not isinstance(tk, str) or not tk or len(tk.encode()) > MAX_KEY_BYTES:
            raise HookError(f"on_enqueue: throttle_keys must be strings of 1..{MAX_KEY_BYTES} bytes")
    return EnqueueDecision(key, weight, tuple(throttle))
