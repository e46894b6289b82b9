"""A hypothesis-driven fuzzer over the request messages of both services.

Whatever the fields hold, the broker answers with a deliberate status (never INTERNAL or
UNKNOWN, which would mean an unhandled exception) and keeps serving.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fila.v1 import admin_pb2 as apb
from fila.v1 import admin_pb2_grpc, service_pb2_grpc
from fila.v1 import service_pb2 as spb
from tests.fila_process import FilaProcess

BAD = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
names = st.one_of(st.sampled_from(["jobs", "jobs.dlq", "", "nope"]), st.text(max_size=300))
ids = st.one_of(st.text(max_size=80), st.just(""))
headers = st.dictionaries(st.text(max_size=40), st.text(max_size=200), max_size=20)
u64 = st.integers(0, 2**64 - 1)
u32 = st.integers(0, 2**32 - 1)
lua = st.one_of(st.just(""), st.text(max_size=200),
                st.just("function on_enqueue(m) return {fairness_key=m.headers.k} end"))


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    proc = FilaProcess(root / "data").start()
    ch = grpc.insecure_channel(proc.addr)
    hot, admin = service_pb2_grpc.FilaServiceStub(ch), admin_pb2_grpc.FilaAdminStub(ch)
    admin.CreateQueue(apb.CreateQueueRequest(name="jobs"))
    yield proc, hot, admin
    ch.close()
    proc.kill()


def requests() -> st.SearchStrategy:
    return st.one_of(
        st.builds(lambda q, h, p: ("hot", "Enqueue", spb.EnqueueRequest(queue=q, headers=h, payload=p)),
                  names, headers, st.binary(max_size=2000)),
        st.builds(lambda q, m, lid: ("hot", "Ack", spb.AckRequest(queue=q, message_id=m, lease_id=lid)),
                  names, ids, ids),
        st.builds(lambda q, m, e: ("hot", "Nack", spb.NackRequest(queue=q, message_id=m, error=e)),
                  names, ids, st.text(max_size=5000)),
        st.builds(lambda q, ms, x: ("hot", "ExtendLease", spb.ExtendLeaseRequest(
            queue=q, message_ids=ms, extend_ms=x)), names, st.lists(ids, max_size=5), u64),
        st.builds(lambda msgs: ("hot", "EnqueueBatch", spb.EnqueueBatchRequest(messages=msgs)),
                  st.lists(st.builds(lambda q, p: spb.EnqueueRequest(queue=q, payload=p), names,
                                     st.binary(max_size=100)), max_size=20)),
        st.builds(lambda n, a, b, v, m: ("admin", "CreateQueue", apb.CreateQueueRequest(
            name=n, config=apb.QueueConfig(on_enqueue_script=a, on_failure_script=b,
                                           visibility_timeout_ms=v, max_attempts=m))),
                  names, lua, lua, u64, u32),
        st.builds(lambda k, v: ("admin", "SetConfig", apb.SetConfigRequest(key=k, value=v)),
                  st.one_of(st.text(max_size=300), st.text(max_size=20).map(lambda t: "throttle." + t)),
                  st.text(max_size=100)),
        st.builds(lambda k: ("admin", "GetConfig", apb.GetConfigRequest(key=k)), st.text(max_size=300)),
        st.builds(lambda p: ("admin", "ListConfig", apb.ListConfigRequest(prefix=p)), st.text(max_size=50)),
        st.builds(lambda q: ("admin", "GetStats", apb.GetStatsRequest(queue=q)), names),
        st.builds(lambda q, c: ("admin", "Redrive", apb.RedriveRequest(dlq_queue=q, count=c)), names, u64),
        st.builds(lambda q, n: ("admin", "PeekMessages", apb.PeekMessagesRequest(queue=q, limit=n)), names, u32),
        st.builds(lambda q, k: ("admin", "Explain", apb.ExplainRequest(queue=q, fairness_key=k)),
                  names, st.text(max_size=300)),
        st.builds(lambda n, x, s: ("admin", "CreateApiKey", apb.CreateApiKeyRequest(
            name=n, expires_at_ms=x, is_superadmin=s)), st.text(max_size=300), u64, st.booleans()),
        st.builds(lambda k, perms: ("admin", "SetAcl", apb.SetAclRequest(key_id=k, permissions=[
            apb.AclPermission(kind=a, pattern=b) for a, b in perms])),
                  ids, st.lists(st.tuples(st.text(max_size=10), st.text(max_size=20)), max_size=4)),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(req=requests())
def test_any_request_gets_a_deliberate_answer(stubs: tuple, req: tuple) -> None:
    proc, hot, admin = stubs
    service, method, message = req
    try:
        getattr(hot if service == "hot" else admin, method)(message, timeout=10)
    except grpc.RpcError as exc:
        assert exc.code() not in BAD, f"{method}: {exc.code()} {exc.details()}"
    assert proc.running


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["/fila.v1.FilaService/Enqueue", "/fila.v1.FilaService/Ack",
                               "/fila.v1.FilaAdmin/CreateQueue", "/fila.v1.FilaAdmin/SetConfig",
                               "/fila.v1.FilaService/EnqueueBatch"]),
       raw=st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(stubs: tuple, method: str, raw: bytes) -> None:
    proc, hot, admin = stubs
    ch = grpc.insecure_channel(proc.addr)
    try:
        call = ch.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        call(raw, timeout=10)
    except grpc.RpcError as exc:
        assert exc.code() not in BAD, f"{method} {raw!r}: {exc.code()} {exc.details()}"
    finally:
        ch.close()
    assert proc.running
