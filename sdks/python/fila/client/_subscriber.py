"""AsyncClient.subscribe: a handler per message, acked when it returns, nacked when it raises,
its lease kept alive while it works (the shape of Google Pub/Sub's subscriber)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fila.client.errors import FilaError

if TYPE_CHECKING:
    from fila.client._types import Message
    from fila.client.aio import AsyncClient

log = logging.getLogger("fila.client")

Handler = Callable[["Message"], Awaitable[object]]
DEFAULT_EXTEND_EVERY_S = 10.0  # when the key may not read the queue's visibility timeout


async def extend_interval(client: AsyncClient, queue: str) -> float:
    """A third of the queue's visibility timeout, so two extensions may fail before a lease
    ends; 10 s if this client may not read the queue's settings (GetQueue needs admin)."""
    try:
        config, _ = await client.get_queue(queue)
    except FilaError:
        return DEFAULT_EXTEND_EVERY_S
    return max(0.05, (config.visibility_timeout_ms or 30_000) / 3000.0)


async def _keep_leased(client: AsyncClient, queue: str, msg: Message, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await client.extend_lease(queue, [msg.id], 0, [msg.lease_id])
        except FilaError as exc:  # the lease is gone (expired, the broker restarted): stop
            log.warning("fila: could not extend the lease of %s: %s", msg.id, exc)
            return


async def _handle(client: AsyncClient, queue: str, handler: Handler, msg: Message,
                  every_s: float) -> None:
    keeper = asyncio.ensure_future(_keep_leased(client, queue, msg, every_s))
    try:
        try:
            await handler(msg)
        finally:
            keeper.cancel()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the handler failed: on_failure (or the retry policy) decides
        try:
            await client.nack(queue, msg.id, str(exc) or type(exc).__name__, msg.lease_id)
        except FilaError as nack_exc:
            log.warning("fila: nack of %s failed: %s", msg.id, nack_exc)
        return
    try:
        await client.ack(queue, msg.id, msg.lease_id)
    except FilaError as exc:  # its lease was lost (expired, restart): it comes again
        log.warning("fila: ack of %s failed: %s", msg.id, exc)


async def subscribe(client: AsyncClient, queue: str, handler: Handler, credit: int,
                    extend_every_s: float | None) -> None:
    every_s = extend_every_s or await extend_interval(client, queue)
    running: set[asyncio.Future[None]] = set()
    stream = client.lease(queue, credit=credit)
    try:
        async for msg in stream:
            task = asyncio.ensure_future(_handle(client, queue, handler, msg, every_s))
            running.add(task)
            task.add_done_callback(running.discard)
    finally:
        stream.close()
        if running:  # let the handlers in progress finish (and their acks go out)
            await asyncio.gather(*running, return_exceptions=True)
