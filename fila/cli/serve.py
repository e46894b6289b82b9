"""`fila serve`."""

from __future__ import annotations

from typing import Annotated

import typer

from fila.errors import FilaError


def serve(
    listen: Annotated[str | None, typer.Option("--listen", help="HOST:PORT to listen on (default 127.0.0.1:5555; env FILA_LISTEN_ADDR).")] = None,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="Where messages live (default ./fila-data; env FILA_DATA_DIR).")] = None,
    config: Annotated[str | None, typer.Option("--config", help="TOML config file (default ./fila.toml when present).")] = None,
    metrics_listen: Annotated[str | None, typer.Option("--metrics-listen", help="HOST:PORT for GET /metrics (default 127.0.0.1:9464; 'off' to disable; env FILA_METRICS_LISTEN).")] = None,
    tls_cert: Annotated[str | None, typer.Option("--tls-cert", help="PEM certificate: serve TLS ([tls] cert_file).")] = None,
    tls_key: Annotated[str | None, typer.Option("--tls-key", help="PEM private key ([tls] key_file).")] = None,
    tls_ca: Annotated[str | None, typer.Option("--tls-ca", help="PEM CA: require client certificates signed by it ([tls] ca_file).")] = None,
    otlp_endpoint: Annotated[str | None, typer.Option("--otlp-endpoint", help="Export traces over OTLP/gRPC to this endpoint (needs fila[tracing]; env OTEL_EXPORTER_OTLP_ENDPOINT).")] = None,
    log_level: Annotated[str | None, typer.Option("--log-level", help="debug, info, warning or error.")] = None,
    log_format: Annotated[str | None, typer.Option("--log-format", help="text or json.")] = None,
) -> None:
    """Run a broker in the foreground until SIGTERM or Ctrl-C.

    Example: fila serve --listen 127.0.0.1:5555 --data-dir /var/lib/fila
    """
    from fila.server import app as server_app
    from fila.server import logs, settings

    try:
        s = settings.load(config, listen, data_dir, log_level, log_format,
                          metrics_listen=metrics_listen, tls_cert_file=tls_cert,
                          tls_key_file=tls_key, tls_ca_file=tls_ca,
                          otlp_endpoint=otlp_endpoint)
    except FilaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    logs.setup(s.log_level, s.log_format)
    raise typer.Exit(server_app.run(s))
