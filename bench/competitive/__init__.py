"""Fila next to what a user would run instead: RabbitMQ and Redis Streams, same workload.

`python -m bench.competitive` (see bench/README.md). Not part of the test suite or CI: it
needs Debian's rabbitmq-server and redis-server and the pika and redis packages, and
installs none of them itself.
"""
