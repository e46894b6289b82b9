# syntax=docker/dockerfile:1
# Fila in a container: the broker (`fila serve`), the CLI and `fila top`.
#
#   docker build -t fila .
#   docker run -d --name fila -p 5555:5555 -p 9464:9464 -v fila-data:/var/lib/fila fila
#   docker exec -it fila fila top
#
# Builder: a wheel of this checkout plus wheels of its dependencies. Final: those wheels
# installed into a venv (/opt/fila) on a slim Python (no compiler, no pip cache), run as the
# unprivileged user `fila`, with messages in the volume /var/lib/fila.
#
# PYTHON_IMAGE is any image with Python 3.11 as `python3` (with venv): python:3.11-slim by
# default; scripts/container_check.sh builds one from a Debian rootfs where no registry is
# reachable.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY sdks/python ./sdks/python
COPY pyproject.toml README.md ./
COPY fila ./fila
# The SDK (fila-client) first: the broker's wheel depends on it.
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip wheel --wheel-dir /wheels ./sdks/python \
 && /opt/build/bin/pip wheel --wheel-dir /wheels --find-links /wheels .

FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/fila/bin:$PATH \
    FILA_DATA_DIR=/var/lib/fila
RUN groupadd --system --gid 10001 fila \
 && useradd --system --uid 10001 --gid fila --home-dir /var/lib/fila --no-create-home \
      --shell /usr/sbin/nologin fila \
 && mkdir -p /var/lib/fila \
 && chown fila:fila /var/lib/fila
# Bind-mount the builder's wheels for the install only: they never become a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python3 -m venv /opt/fila \
 && /opt/fila/bin/pip install --no-index --find-links=/wheels /wheels/fila-*.whl
# Numeric, so Kubernetes' runAsNonRoot can verify it: uid 10001 is the user `fila` made above.
USER 10001:10001
WORKDIR /var/lib/fila
VOLUME ["/var/lib/fila"]
# 5555: gRPC (fila.v1); 9464: GET /metrics and /healthz
EXPOSE 5555 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4).status == 200 else 1)"]
STOPSIGNAL SIGTERM
CMD ["fila", "serve", "--listen", "0.0.0.0:5555", "--metrics-listen", "0.0.0.0:9464"]
