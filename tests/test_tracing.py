"""Tracing through the real server to a real OTLP/gRPC receiver run by the test."""

from __future__ import annotations

import threading
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from fila.client import Client
from tests.conftest import take, wait_for
from tests.fila_process import FilaProcess

trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc")
trace_pb2 = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")


class Collector(trace_service.TraceServiceServicer):  # type: ignore[name-defined,misc]
    def __init__(self) -> None:
        self.spans: list = []
        self.lock = threading.Lock()

    def Export(self, request, context):  # noqa: N802, ANN001, ANN201 - the OTLP service's name
        with self.lock:
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    self.spans.extend(ss.spans)
        return trace_pb2.ExportTraceServiceResponse()


def test_spans_follow_the_callers_traceparent(tmp_path: Path) -> None:
    collector = Collector()
    receiver = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service.add_TraceServiceServicer_to_server(collector, receiver)
    port = receiver.add_insecure_port("127.0.0.1:0")
    receiver.start()
    proc = FilaProcess(tmp_path / "data", extra_args=["--otlp-endpoint", f"http://127.0.0.1:{port}"])
    proc.start()
    try:
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
        with Client(proc.addr, timeout_s=5) as c:
            c.create_queue("q")
            ch = grpc.insecure_channel(proc.addr)
            from fila.v1 import service_pb2, service_pb2_grpc

            hot = service_pb2_grpc.FilaServiceStub(ch)
            resp = hot.Enqueue(service_pb2.EnqueueRequest(queue="q", payload=b"x"),
                               metadata=[("traceparent", traceparent)])
            [m] = take(c, "q", 1)
            hot.Ack(service_pb2.AckRequest(queue="q", message_id=resp.message_id),
                    metadata=[("traceparent", traceparent)])
            ch.close()
            assert m.id == resp.message_id

        def names() -> set[str]:
            with collector.lock:
                return {s.name for s in collector.spans}

        wait_for(lambda: {"fila.enqueue", "fila.lease", "fila.ack"} <= names(), what="spans")
        with collector.lock:
            by_name = {s.name: s for s in collector.spans}
        assert by_name["fila.enqueue"].trace_id.hex() == trace_id
        assert by_name["fila.ack"].trace_id.hex() == trace_id
        attrs = {a.key: a.value.string_value for a in by_name["fila.enqueue"].attributes}
        assert attrs["fila.queue"] == "q"
    finally:
        proc.kill()
        receiver.stop(None)


def test_no_endpoint_no_tracing(server: FilaProcess) -> None:
    assert "tracing to" not in server.log_text()
