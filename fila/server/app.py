"""`fila serve`: startup -> main loop -> shutdown, with SIGTERM/SIGINT handled gracefully."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import sys
from pathlib import Path

import grpc

from fila.engine import Broker, Storage, views
from fila.errors import FilaError
from fila.server import gc_tuning, tls
from fila.server.admin import Admin
from fila.server.auth import Auth
from fila.server.core_loop import CoreLoop
from fila.server.hot_path import HotPath
from fila.server.metrics import MetricsServer, StorageStats, make_registry
from fila.server.settings import ServerSettings
from fila.server.tracing import make_tracing

log = logging.getLogger("fila.server")

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.so_reuseport", 0),
    # Calls gRPC's core holds until the server picks them up: it caps them at 1,000 / 3,000 by
    # default and cancels the rest (CANCELLED, no details). Old clients send an Ack RPC per
    # message and a Consume stream pushes up to 2,000 unacked, so a few consumers reach that.
    ("grpc.server.max_pending_requests", 50_000),
    ("grpc.server.max_pending_requests_hard_limit", 100_000),
]
SHUTDOWN_GRACE_S = 3.0


class FilaServer:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.should_exit = asyncio.Event()
        self.port = 0

    async def startup(self) -> None:
        s = self.settings
        # Before anything is created (the data dir) or logged by gRPC's C core: a port
        # another process holds is one clear line.
        check_listen(s.listen_addr, "--listen")
        if s.metrics_listen.lower() not in ("off", "none", "false", ""):
            check_listen(s.metrics_listen, "--metrics-listen")
        self.storage = Storage(s.data_dir)
        self.metrics: MetricsServer | None = None
        self.server: grpc.aio.Server | None = None
        try:
            self.broker = Broker(self.storage, s.broker_settings())
            log.info("recovery finished", extra=self.broker.recovered)
            self.storage_stats = StorageStats()
            self.core = CoreLoop(self.broker, self.storage, self.storage_stats)
            self.tracing = make_tracing(self.settings.otlp_endpoint)
            await self._start_metrics()
            await self._start_grpc()
        except BaseException:
            await self._abandon()
            raise
        host = s.listen_addr.rsplit(":", 1)[0]
        log.info(
            f"fila listening on {host}:{self.port}, data in {Path(s.data_dir).resolve()}"
            f"{', TLS' if s.tls_cert_file else ''}{' (client certificates required)' if s.tls_ca_file else ''}"
            f"{', API keys required' if self.auth.enabled else ''}",
            extra={"recovered_" + k: v for k, v in self.broker.recovered.items()},
        )
        self.core.poke()  # deliver what recovery made ready

    async def _start_metrics(self) -> None:
        s = self.settings
        if s.metrics_listen.lower() in ("off", "none", "false", ""):
            return
        limit = max(views.STATS_KEY_LIMIT, s.metrics_top_keys)

        async def prepare() -> None:  # rank big queues' keys between turns, not in the scrape
            await self.core.ranked(self.broker.queue_names(), limit)

        self.metrics = MetricsServer(make_registry(self.broker, s.metrics_top_keys, self.storage_stats),
                                     prepare)
        try:
            await self.metrics.start(s.metrics_listen)
        except (OSError, ValueError) as exc:
            self.metrics = None
            raise FilaError(f"cannot serve metrics on {s.metrics_listen}: {exc}") from exc
        mhost = s.metrics_listen.rsplit(":", 1)[0]
        log.info(f"metrics on http://{mhost}:{self.metrics.port}/metrics")

    async def _start_grpc(self) -> None:
        s = self.settings
        creds = tls.server_credentials(s.tls_cert_file, s.tls_key_file, s.tls_ca_file)
        self.server = grpc.aio.server(options=GRPC_OPTIONS)
        self.auth = Auth(self.broker.api_keys, s.bootstrap_apikey)
        self.server.add_generic_rpc_handlers(
            [HotPath(self.core, self.auth, self.tracing, s.consume_max_unacked).handler(),
             Admin(self.core, self.auth).handler()]
        )
        try:
            if creds is None:
                self.port = self.server.add_insecure_port(s.listen_addr)
            else:
                self.port = self.server.add_secure_port(s.listen_addr, creds)
        except RuntimeError as exc:
            raise FilaError(f"cannot listen on {s.listen_addr}: {exc}") from exc
        await self.server.start()

    async def _abandon(self) -> None:
        """Undo a failed startup: nothing left bound, the data dir unlocked."""
        if self.server is not None:
            await self.server.stop(None)
        if self.metrics is not None:
            await self.metrics.stop()
        if hasattr(self, "core"):
            await self.core.close()
        self.storage.close()

    async def shutdown(self) -> None:
        log.info("shutting down: no new requests, finishing in-flight writes")
        if self.metrics is not None:
            await self.metrics.stop()
        assert self.server is not None
        await self.server.stop(SHUTDOWN_GRACE_S)
        await self.core.close()
        self.storage.close()
        if self.tracing is not None:
            self.tracing.shutdown()
        log.info("stopped")

    async def main_loop(self) -> None:
        await self.should_exit.wait()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.should_exit.set)
        try:
            await self.startup()
            await self.main_loop()
            await self.shutdown()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


def check_listen(addr: str, option: str) -> None:
    """FilaError if `addr` (HOST:PORT) cannot be listened on now: in use, or not an address
    of this machine. Port 0 (any free port) always can."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise FilaError(f"{option} {addr!r} must be HOST:PORT, for example 127.0.0.1:5555")
    if int(port) == 0:
        return
    try:
        infos = socket.getaddrinfo(host.strip("[]") or None, int(port), type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise FilaError(f"cannot listen on {addr} ({option}): {exc.strerror}") from None
    for family, kind, proto, _, sockaddr in infos[:1]:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does
            try:
                s.bind(sockaddr)
            except OSError as exc:
                hint = (" (is another `fila serve` running? choose another port with "
                        f"{option})" if exc.errno == errno.EADDRINUSE else "")
                raise FilaError(f"cannot listen on {addr}: {exc.strerror}{hint}") from None


def run(settings: ServerSettings) -> int:
    """Run the server until a signal; returns the process exit code."""
    # A short switch interval lets the group-commit thread hand back fsync results promptly.
    sys.setswitchinterval(0.0005)
    gc_tuning.tune()  # a backlog of messages is many long-lived objects
    try:
        asyncio.run(FilaServer(settings).serve())
    except FilaError as exc:
        log.error(str(exc))
        return 2
    return 0
