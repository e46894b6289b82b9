"""Hostile and malformed requests, on purpose: each gets the right status and a message naming
the field; afterwards the server is up and nothing it had accepted is lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from fila.v1 import admin_pb2 as apb
from fila.v1 import admin_pb2_grpc, service_pb2_grpc
from fila.v1 import service_pb2 as spb
from tests.fila_process import FilaProcess

MB = 1024 * 1024
CONFIG = "[limits]\nmax_payload_bytes = 65536\nmax_headers = 64\nmax_header_bytes = 4096\n"


@dataclass
class Env:
    proc: FilaProcess
    channel: grpc.Channel
    hot: service_pb2_grpc.FilaServiceStub
    admin: admin_pb2_grpc.FilaAdminStub
    accepted: list[str]

    def raw(self, method: str, payload: bytes) -> Any:
        call = self.channel.unary_unary(method, request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
        return call(payload, timeout=10)

    def leased_id(self, queue: str = "jobs") -> str:
        mid = self.hot.Enqueue(spb.EnqueueRequest(queue=queue, payload=b"to lease")).message_id
        call = self.hot.Lease(iter([spb.LeaseRequest(queue=queue, credit=1)]))
        got = next(iter(call)).messages[0].id
        call.cancel()
        assert got == mid
        return mid


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root: Path = tmp_path_factory.mktemp("hostile")
    conf = root / "fila.toml"
    conf.write_text(CONFIG)
    proc = FilaProcess(root / "data", config_file=conf).start()
    channel = grpc.insecure_channel(proc.addr, options=[("grpc.max_send_message_length", 64 * MB)])
    e = Env(proc, channel, service_pb2_grpc.FilaServiceStub(channel),
            admin_pb2_grpc.FilaAdminStub(channel), [])
    e.admin.CreateQueue(apb.CreateQueueRequest(name="jobs"))
    e.admin.CreateQueue(apb.CreateQueueRequest(name="other"))
    for i in range(5):
        e.accepted.append(e.hot.Enqueue(spb.EnqueueRequest(queue="other", payload=b"%d" % i)).message_id)
    yield e
    channel.close()
    proc.kill()


INV, NF, AE, FP = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                   grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION)


def cq(name: str, **cfg: Any) -> Callable[[Env], Any]:
    return lambda e: e.admin.CreateQueue(apb.CreateQueueRequest(name=name, config=apb.QueueConfig(**cfg)))


def enq(queue: str = "jobs", payload: bytes = b"x", headers: dict[str, str] | None = None) -> Callable[[Env], Any]:
    return lambda e: e.hot.Enqueue(spb.EnqueueRequest(queue=queue, payload=payload, headers=headers or {}))


def setcfg(key: str, value: str) -> Callable[[Env], Any]:
    return lambda e: e.admin.SetConfig(apb.SetConfigRequest(key=key, value=value))


def lease(queue: str, credit: int) -> Callable[[Env], Any]:
    return lambda e: next(iter(e.hot.Lease(iter([spb.LeaseRequest(queue=queue, credit=credit)]))))


def ack_twice(e: Env) -> None:
    mid = e.leased_id()
    e.hot.Ack(spb.AckRequest(queue="jobs", message_id=mid))
    e.hot.Ack(spb.AckRequest(queue="jobs", message_id=mid))


def ack_other_queue(e: Env) -> None:
    mid = e.leased_id()
    e.hot.Ack(spb.AckRequest(queue="other", message_id=mid))


def ack_stale_lease(e: Env) -> None:
    mid = e.leased_id()
    e.hot.Ack(spb.AckRequest(queue="jobs", message_id=mid, lease_id="999999"))


def first_item_error(call: Callable[[Env], Any]) -> Callable[[Env], Any]:
    """For batch RPCs: raise the first per-item error as if it were the call's status."""
    def run(e: Env) -> Any:
        resp = call(e)
        for r in resp.results:
            if r.HasField("error"):
                raise ItemFailed(r.error.code, r.error.message)
        return resp
    return run


class ItemFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code_name, self.message = code, message


CASES: list[tuple[str, Callable[[Env], Any], grpc.StatusCode, str]] = [
    # queue names and settings
    ("empty queue name", cq(""), INV, "name must not be empty"),
    ("1 MB queue name", cq("q" * MB), INV, "name is longer than 255 bytes"),
    ("queue name with a space", cq("my queue"), INV, "may hold only"),
    ("queue name with a slash", cq("a/b"), INV, "may hold only"),
    ("queue name starting with a dot", cq(".hidden"), INV, "start with a letter or digit"),
    ("queue name with NUL", cq("a\0b"), INV, "may hold only"),
    ("queue name with emoji", cq("q😀"), INV, "may hold only"),
    ("reserved .dlq suffix", cq("mine.dlq"), INV, "reserved for dead-letter queues"),
    ("duplicate queue", cq("jobs"), AE, "'jobs' already exists"),
    ("script syntax error", cq("s1", on_enqueue_script="function on_enqueue("), INV, "on_enqueue_script"),
    ("script without the hook", cq("s2", on_failure_script="x = 1"), INV, "must define a function on_failure"),
    ("script that loops at load", cq("s3", on_enqueue_script="while true do end"), INV, "instruction budget"),
    ("huge script", cq("s4", on_enqueue_script="-- " + "x" * (300 * 1024)), INV, "on_enqueue_script is longer"),
    ("visibility timeout of a year", cq("s5", visibility_timeout_ms=365 * 24 * 3600 * 1000), INV, "visibility_timeout_ms"),
    ("backoff max below base", cq("s6", retry_backoff_base_ms=5000, retry_backoff_max_ms=10), INV, "retry_backoff_max_ms"),
    ("non-UTF-8 queue name", lambda e: e.raw("/fila.v1.FilaAdmin/CreateQueue", b"\x0a\x02\xff\xfe"), INV, "name is not valid UTF-8"),
    ("garbage bytes as a request", lambda e: e.raw("/fila.v1.FilaAdmin/CreateQueue", b"\xff\xff\xff\xff"), INV, "malformed fila.v1.CreateQueueRequest"),
    ("update a missing queue", lambda e: e.admin.UpdateQueue(apb.UpdateQueueRequest(name="nope")), NF, "'nope' does not exist"),
    ("update a DLQ", lambda e: e.admin.UpdateQueue(apb.UpdateQueueRequest(name="jobs.dlq")), FP, "is a dead-letter queue"),
    ("delete a missing queue", lambda e: e.admin.DeleteQueue(apb.DeleteQueueRequest(queue="nope")), NF, "does not exist"),
    ("delete a DLQ", lambda e: e.admin.DeleteQueue(apb.DeleteQueueRequest(queue="jobs.dlq")), FP, "delete 'jobs' instead"),
    ("delete with empty name", lambda e: e.admin.DeleteQueue(apb.DeleteQueueRequest(queue="")), INV, "queue must not be empty"),
    # enqueue
    ("enqueue to a missing queue", enq("nope"), NF, "'nope' does not exist"),
    ("enqueue with empty queue", enq(""), INV, "queue must not be empty"),
    ("enqueue with a 1 MB queue name", enq("q" * MB), INV, "queue is longer than 255 bytes"),
    ("payload over the configured maximum", enq(payload=b"x" * 65537), INV, "payload is 65537 bytes, over the limit of 65536"),
    ("10,000 headers", enq(headers={f"h{i}": "v" for i in range(10_000)}), INV, "headers has 10000 entries"),
    ("a 1 MB header value", enq(headers={"big": "v" * MB}), INV, "headers['big'] is over the limit"),
    ("a 1 MB header name", enq(headers={"k" * MB: "v"}), INV, "is over the limit of 4096 bytes"),
    ("an empty header name", enq(headers={"": "v"}), INV, "header name must not be empty"),
    ("non-UTF-8 header value", lambda e: e.raw("/fila.v1.FilaService/Enqueue", b"\x0a\x04jobs\x12\x08\x0a\x01k\x12\x03\xff\xfe\xfd"), INV, "headers.value is not valid UTF-8"),
    ("truncated enqueue", lambda e: e.raw("/fila.v1.FilaService/Enqueue", b"\x0a\x10jo"), INV, "truncated"),
    ("batch of 10,001 messages", lambda e: e.hot.EnqueueBatch(spb.EnqueueBatchRequest(messages=[spb.EnqueueRequest(queue="jobs")] * 10_001)), INV, "at most 10000 per call"),
    ("batch item to a missing queue", first_item_error(lambda e: e.hot.EnqueueBatch(spb.EnqueueBatchRequest(messages=[spb.EnqueueRequest(queue="nope")]))), NF, "does not exist"),
    ("batch item over the payload limit", first_item_error(lambda e: e.hot.EnqueueBatch(spb.EnqueueBatchRequest(messages=[spb.EnqueueRequest(queue="jobs", payload=b"x" * 70000)]))), INV, "payload is 70000 bytes"),
    # ack, nack, leases
    ("ack an unknown id", lambda e: e.hot.Ack(spb.AckRequest(queue="jobs", message_id="00000000-0000-7000-8000-000000000000")), NF, "is not leased"),
    ("ack an empty id", lambda e: e.hot.Ack(spb.AckRequest(queue="jobs", message_id="")), INV, "message_id must not be empty"),
    ("ack a 1 MB id", lambda e: e.hot.Ack(spb.AckRequest(queue="jobs", message_id="x" * MB)), INV, "message_id is longer than 64 bytes"),
    ("ack the same message twice", ack_twice, NF, "is not leased"),
    ("ack through the wrong queue", ack_other_queue, NF, "is not leased from queue 'other'"),
    ("ack with a stale lease id", ack_stale_lease, FP, "is not the current lease"),
    ("ack on a missing queue", lambda e: e.hot.Ack(spb.AckRequest(queue="nope", message_id="x")), NF, "does not exist"),
    ("nack an unknown id", lambda e: e.hot.Nack(spb.NackRequest(queue="jobs", message_id="nope")), NF, "is not leased"),
    ("ack batch with mismatched lease ids", lambda e: e.hot.AckBatch(spb.AckBatchRequest(queue="jobs", message_ids=["a", "b"], lease_ids=["1"])), INV, "lease_ids must be empty or as long"),
    ("ack batch repeating an unknown id", first_item_error(lambda e: e.hot.AckBatch(spb.AckBatchRequest(queue="jobs", message_ids=["u", "u"]))), NF, "is not leased"),
    ("extend a lease by a year", first_item_error(lambda e: e.hot.ExtendLease(spb.ExtendLeaseRequest(queue="jobs", message_ids=[e.leased_id()], extend_ms=365 * 24 * 3600 * 1000))), INV, "extend_ms must be at most"),
    ("consume a missing queue", lambda e: next(iter(e.hot.Consume(spb.ConsumeRequest(queue="nope")))), NF, "does not exist"),
    ("consume with empty queue", lambda e: next(iter(e.hot.Consume(spb.ConsumeRequest(queue="")))), INV, "queue must not be empty"),
    ("lease with zero credit", lease("jobs", 0), INV, "credit must be 1..10000"),
    ("lease with a billion credit", lease("jobs", 10**9), INV, "credit must be 1..10000"),
    ("lease a missing queue", lease("nope", 1), NF, "does not exist"),
    # runtime config
    ("config with empty key", setcfg("", "v"), INV, "key must not be empty"),
    ("config key with spaces", setcfg("a key", "v"), INV, "must be printable and hold no whitespace"),
    ("config key of 1 KB", setcfg("k" * 1024, "v"), INV, "key is longer than 256 bytes"),
    ("config value of 100 KB", setcfg("k", "v" * 100_000), INV, "value is longer than"),
    ("throttle value not numbers", setcfg("throttle.x", "fast"), INV, '"<rate_per_second>,<burst>"'),
    ("throttle with negative rate", setcfg("throttle.x", "-1,5"), INV, "rate_per_second must be >= 0"),
    ("throttle with three parts", setcfg("throttle.x", "1,2,3"), INV, '"<rate_per_second>,<burst>"'),
    ("throttle rate NaN", setcfg("throttle.x", "nan,5"), INV, "rate_per_second must be >= 0"),
    ("throttle rate infinite", setcfg("throttle.x", "inf,5"), INV, "rate_per_second must be >= 0"),
    ("throttle with zero burst", setcfg("throttle.x", "5,0"), INV, "burst >= 1"),
    ("throttle key missing", setcfg("throttle.", "5,5"), INV, "needs a throttle key"),
    ("get a config key that is not set", lambda e: e.admin.GetConfig(apb.GetConfigRequest(key="unset")), NF, "'unset' is not set"),
    ("get config with empty key", lambda e: e.admin.GetConfig(apb.GetConfigRequest(key="")), INV, "key must not be empty"),
    # stats, dead letters, inspection, keys
    ("GetStats on nothing", lambda e: e.admin.GetStats(apb.GetStatsRequest()), INV, "queue must not be empty"),
    ("GetStats on a missing queue", lambda e: e.admin.GetStats(apb.GetStatsRequest(queue="nope")), NF, "does not exist"),
    ("redrive a queue that is not a DLQ", lambda e: e.admin.Redrive(apb.RedriveRequest(dlq_queue="jobs")), FP, "not a dead-letter queue"),
    ("redrive a missing DLQ", lambda e: e.admin.Redrive(apb.RedriveRequest(dlq_queue="nope.dlq")), NF, "does not exist"),
    ("redrive with empty name", lambda e: e.admin.Redrive(apb.RedriveRequest()), INV, "dlq_queue must not be empty"),
    ("peek 20,000 messages", lambda e: e.admin.PeekMessages(apb.PeekMessagesRequest(queue="jobs", limit=20_000)), INV, "limit must be at most 10000"),
    ("peek a missing queue", lambda e: e.admin.PeekMessages(apb.PeekMessagesRequest(queue="nope")), NF, "does not exist"),
    ("explain with empty key", lambda e: e.admin.Explain(apb.ExplainRequest(queue="jobs")), INV, "fairness_key must not be empty"),
    ("explain a missing queue", lambda e: e.admin.Explain(apb.ExplainRequest(queue="nope", fairness_key="k")), NF, "does not exist"),
    ("API key with empty name", lambda e: e.admin.CreateApiKey(apb.CreateApiKeyRequest()), INV, "name must not be empty"),
    ("API key expiring in the past", lambda e: e.admin.CreateApiKey(apb.CreateApiKeyRequest(name="k", expires_at_ms=1)), INV, "expires_at_ms is in the past"),
    ("ACL for an unknown key", lambda e: e.admin.GetAcl(apb.GetAclRequest(key_id="nope")), NF, "does not exist"),
    ("revoke with empty id", lambda e: e.admin.RevokeApiKey(apb.RevokeApiKeyRequest()), INV, "key_id must not be empty"),
]


@pytest.mark.parametrize(("name", "call", "code", "match"), CASES, ids=[c[0] for c in CASES])
def test_hostile_request(env: Env, name: str, call: Callable[[Env], Any], code: grpc.StatusCode,
                         match: str) -> None:
    try:
        call(env)
    except grpc.RpcError as exc:
        assert exc.code() == code, f"{name}: {exc.code()} {exc.details()}"
        assert match in (exc.details() or ""), f"{name}: {exc.details()!r}"
        assert len(exc.details() or "") < 1000, "error messages must not echo huge input"
    except ItemFailed as exc:
        assert exc.code_name == code.name, f"{name}: {exc.code_name} {exc.message}"
        assert match in exc.message
    else:
        raise AssertionError(f"{name}: accepted")


def test_at_least_fifty_cases() -> None:
    assert len(CASES) >= 50


def test_server_still_up_and_nothing_lost(env: Env) -> None:
    """Runs after the table (file order): the accepted messages are all still there."""
    assert env.proc.running
    peek = env.admin.PeekMessages(apb.PeekMessagesRequest(queue="other", limit=100))
    assert set(env.accepted) <= {m.id for m in peek.messages}


def test_delete_queue_with_live_consumers_and_leases(env: Env) -> None:
    env.admin.CreateQueue(apb.CreateQueueRequest(name="doomed"))
    mid = env.leased_id("doomed")
    stream = env.hot.Consume(spb.ConsumeRequest(queue="doomed"))
    env.admin.DeleteQueue(apb.DeleteQueueRequest(queue="doomed"))
    with pytest.raises(grpc.RpcError) as info:
        next(iter(stream))
    assert info.value.code() == NF and "was deleted" in (info.value.details() or "")
    with pytest.raises(grpc.RpcError) as info:
        env.hot.Ack(spb.AckRequest(queue="doomed", message_id=mid))
    assert info.value.code() == NF
