"""Producer and consumer processes for RabbitMQ (pika) and Redis Streams (redis-py).

The same lifecycle as Fila's batched one: a producer publishing batches of `batch` durable
messages and waiting until the broker confirms each batch, a consumer taking them and
acknowledging each batch with one ack. Run by `bench.workers.Load` (`target=main`):
producers count confirmed messages, consumers acknowledged ones.

- RabbitMQ: a durable classic queue, persistent messages (delivery_mode 2), publisher
  confirms (a batch of publishes, then wait for the broker's acks of all of them), manual
  acks (prefetch 2 * batch, one `basic_ack(multiple=True)` per batch).
- Redis Streams with `appendfsync always`: a pipeline of `batch` XADDs, XREADGROUP COUNT
  `batch`, one XACK per batch.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any

QUEUE = "bench"
GROUP = "bench"


@dataclass(frozen=True)
class Role:
    broker: str  # "rabbitmq" | "redis"
    side: str  # "producer" | "consumer"
    port: int
    batch: int = 100
    payload_bytes: int = 100


def _payload(size: int) -> bytes:
    return (b"0123456789abcdef" * (size // 16 + 1))[:size]


# -- RabbitMQ -----------------------------------------------------------------------------------


def _rabbit_producer(role: Role, count: Any, ready: Any, stop: Any) -> None:
    import pika

    body = _payload(role.payload_bytes)
    props = pika.BasicProperties(delivery_mode=2)  # persistent
    st = {"published": 0, "confirmed": 0}
    channel: Any = None

    def publish_batch() -> None:
        if stop.is_set():
            conn.close()
            return
        for _ in range(role.batch):
            channel.basic_publish("", QUEUE, body, props)
        st["published"] += role.batch

    def on_confirm(frame: Any) -> None:
        m = frame.method
        before = st["confirmed"]
        st["confirmed"] = m.delivery_tag if m.multiple else before + 1
        if m.NAME == "Basic.Ack":
            count.value += st["confirmed"] - before
        if st["confirmed"] >= st["published"]:
            publish_batch()

    def on_channel(ch: Any) -> None:
        nonlocal channel
        channel = ch
        ch.confirm_delivery(on_confirm)
        ready.set()
        publish_batch()

    def watch() -> None:
        if stop.is_set() and conn.is_open:
            conn.close()
        else:
            conn.ioloop.call_later(0.1, watch)

    conn = pika.SelectConnection(
        pika.ConnectionParameters("127.0.0.1", role.port),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_close_callback=lambda c, reason: c.ioloop.stop())
    conn.ioloop.call_later(0.1, watch)
    conn.ioloop.start()


def _rabbit_consumer(role: Role, count: Any, ready: Any, stop: Any) -> None:
    import pika

    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", role.port))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=2 * role.batch)
    pending, last_tag = 0, 0
    ready.set()
    for method, _props, _body in ch.consume(QUEUE, auto_ack=False, inactivity_timeout=0.05):
        if method is not None:
            last_tag = method.delivery_tag
            pending += 1
        if pending and (pending >= role.batch or method is None):
            ch.basic_ack(last_tag, multiple=True)
            count.value += pending
            pending = 0
        if stop.is_set():
            break
    ch.cancel()
    conn.close()


def rabbit_setup(port: int) -> None:
    import pika

    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    conn.channel().queue_declare(QUEUE, durable=True)
    conn.close()


# -- Redis Streams ------------------------------------------------------------------------------


def _redis_producer(role: Role, count: Any, ready: Any, stop: Any) -> None:
    import redis

    r = redis.Redis(port=role.port)
    fields: dict[Any, Any] = {"p": _payload(role.payload_bytes)}  # redis-py types fields invariantly
    ready.set()
    while not stop.is_set():
        pipe = r.pipeline(transaction=False)
        for _ in range(role.batch):
            pipe.xadd(QUEUE, fields)
        pipe.execute()
        count.value += role.batch


def _redis_consumer(role: Role, count: Any, ready: Any, stop: Any) -> None:
    import redis

    r = redis.Redis(port=role.port)
    ready.set()
    while not stop.is_set():
        resp: Any = r.xreadgroup(GROUP, "c1", {QUEUE: ">"}, count=role.batch, block=100)
        if not resp:
            continue
        ids = [mid for mid, _ in resp[0][1]]
        r.xack(QUEUE, GROUP, *ids)
        count.value += len(ids)


def redis_setup(port: int) -> None:
    import redis

    redis.Redis(port=port).xgroup_create(QUEUE, GROUP, id="0", mkstream=True)


_RUN = {
    ("rabbitmq", "producer"): _rabbit_producer,
    ("rabbitmq", "consumer"): _rabbit_consumer,
    ("redis", "producer"): _redis_producer,
    ("redis", "consumer"): _redis_consumer,
}


def main(role: Role, count: Any, ready: Any, stop: Any, errors: Any) -> None:
    """A worker process's entry point (see bench.workers.Load)."""
    try:
        _RUN[(role.broker, role.side)](role, count, ready, stop)
    except BaseException:
        errors.put(f"{role.broker} {role.side}: {traceback.format_exc()}")
        time.sleep(0.1)
        raise SystemExit(1) from None
