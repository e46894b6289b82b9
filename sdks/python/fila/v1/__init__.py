"""Generated gRPC stubs for the fila.v1 contract (scripts/gen_proto.py)."""
