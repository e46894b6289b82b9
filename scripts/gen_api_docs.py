"""Generate docs/api.md, the gRPC API reference, from the `fila.v1` contract in `proto/`.

protoc (from grpc_tools) parses the .proto files into a FileDescriptorSet with source info, so
services, RPCs, messages, fields (numbers, types) and the comments next to them come from the
contract itself, never from a second copy kept by hand.

    python scripts/gen_api_docs.py          # write docs/api.md
    python scripts/gen_api_docs.py --check  # exit 1 if docs/api.md differs from what it would write
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_doc import write_or_check  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT = ROOT / "docs" / "api.md"

# FileDescriptorProto / DescriptorProto / ServiceDescriptorProto field numbers, as used in
# SourceCodeInfo.Location.path.
FILE_SYNTAX, FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 12, 4, 5, 6
MSG_FIELD, MSG_NESTED, MSG_ENUM = 2, 3, 4
SERVICE_METHOD = 2
ENUM_VALUE = 2

F = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    F.TYPE_DOUBLE: "double", F.TYPE_FLOAT: "float", F.TYPE_INT64: "int64",
    F.TYPE_UINT64: "uint64", F.TYPE_INT32: "int32", F.TYPE_FIXED64: "fixed64",
    F.TYPE_FIXED32: "fixed32", F.TYPE_BOOL: "bool", F.TYPE_STRING: "string",
    F.TYPE_BYTES: "bytes", F.TYPE_UINT32: "uint32", F.TYPE_SFIXED32: "sfixed32",
    F.TYPE_SFIXED64: "sfixed64", F.TYPE_SINT32: "sint32", F.TYPE_SINT64: "sint64",
}
WELL_KNOWN = "https://protobuf.dev/reference/protobuf/google.protobuf/#"
FILE_ORDER = ["fila/v1/service.proto", "fila/v1/admin.proto", "fila/v1/messages.proto"]


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    import grpc_tools
    from grpc_tools import protoc

    protos = sorted(p.relative_to(PROTO_DIR).as_posix() for p in PROTO_DIR.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fila.pb"
        args = ["protoc", f"-I{PROTO_DIR}", f"-I{well_known}", "--include_source_info",
                f"--descriptor_set_out={out}", *protos]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


class Comments:
    """Comments of one file, by the path of the element they belong to."""

    def __init__(self, f: descriptor_pb2.FileDescriptorProto) -> None:
        self.by_path = {tuple(loc.path): loc for loc in f.source_code_info.location}

    def leading(self, *path: int) -> str:
        loc = self.by_path.get(path)
        if loc is None:
            return ""
        return _clean(loc.leading_comments or loc.trailing_comments)

    def detached(self, *path: int) -> list[str]:
        loc = self.by_path.get(path)
        return [_clean(c) for c in loc.leading_detached_comments] if loc else []


def _clean(comment: str) -> str:
    lines = [ln[1:] if ln.startswith(" ") else ln for ln in comment.strip("\n").split("\n")]
    return "\n".join(lines).strip()


def _inline(text: str) -> str:
    """A comment as one table cell: lines joined, Markdown-active characters escaped."""
    text = " ".join(part.strip() for part in text.split("\n") if part.strip())
    for ch, esc in (("|", "\\|"), ("*", "\\*"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(ch, esc)
    return text


def _paragraph(text: str) -> str:
    return _inline(text) if text else ""


def _anchor(name: str) -> str:
    return "#" + name.lower()


class Types:
    def __init__(self, fds: descriptor_pb2.FileDescriptorSet) -> None:
        self.maps: dict[str, tuple[descriptor_pb2.FieldDescriptorProto,
                                   descriptor_pb2.FieldDescriptorProto]] = {}
        self.ours: set[str] = set()
        for f in fds.file:
            for m in f.message_type:
                full = f".{f.package}.{m.name}"
                self.ours.add(full)
                for nested in m.nested_type:
                    if nested.options.map_entry:
                        self.maps[f"{full}.{nested.name}"] = (nested.field[0], nested.field[1])

    def name(self, fd: descriptor_pb2.FieldDescriptorProto, link: bool = True) -> str:
        if fd.type in SCALARS:
            return f"`{SCALARS[fd.type]}`"
        full = fd.type_name
        if full in self.maps:
            k, v = self.maps[full]
            return f"`map<{self.name(k, False).strip('`')}, {self.name(v, False).strip('`')}>`"
        short = full.rsplit(".", 1)[-1]
        if not link:
            return f"`{full.lstrip('.')}`"
        if full in self.ours:
            return f"[`{short}`]({_anchor(short)})"
        if full.startswith(".google.protobuf."):
            return f"[`{full.lstrip('.')}`]({WELL_KNOWN}{short.lower()})"
        return f"`{full.lstrip('.')}`"

    def field(self, fd: descriptor_pb2.FieldDescriptorProto) -> str:
        t = self.name(fd)
        if fd.label == F.LABEL_REPEATED and fd.type_name not in self.maps:
            return f"repeated {t}"
        return t


PREAMBLE = """\
# API reference: `fila.v1`

<!-- Generated by scripts/gen_api_docs.py from proto/fila/v1/*.proto. Do not edit by hand:
     change the .proto comments and run `python scripts/gen_api_docs.py`. -->

Fila speaks gRPC, package `fila.v1`, in two services: **`FilaService`** (the hot path:
enqueue, lease, ack, nack) and **`FilaAdmin`** (queues, runtime config, stats, dead letters,
API keys). The contract is wire-compatible with the original Fila broker's (the Rust broker
at [github.com/faiscadev/fila](https://github.com/faiscadev/fila), up to commit `aafee2f`, its
last with the gRPC server): field numbers and types never change, and Fila only ever adds
fields and RPCs, so clients generated from the original `.proto` files keep working. Comments
that say "Fila addition" mark what was added.

**The original's clients.** Its SDKs' own test suites run unchanged against Fila and pass:
Python (9 of 9), Go (7 of 7), Ruby (12 of 12), Java (its 6 server-facing tests) and
JavaScript (11 of 11). Later versions of its Go SDK call `BatchEnqueue`, an RPC of the
original's newer, non-gRPC protocol that is not part of `fila.v1` (its own gRPC server
answers `UNIMPLEMENTED` too); use `EnqueueBatch`, Fila's batch RPC, instead.

The `.proto` files are in [`proto/fila/v1/`](../proto/fila/v1/); generate a client for your
language from them with `protoc`. The Python SDK (`fila.client`) wraps both services.

## Conventions

- **Address.** The broker listens on `127.0.0.1:5555` by default (`fila serve --listen`).
  Plain gRPC over TCP unless the broker is started with TLS (see [security](security.md)).
- **Authentication.** When the broker has API keys on, every call carries the metadata
  `authorization: Bearer <key>`. See [security](security.md) for keys and ACLs.
- **Errors** are gRPC status codes, with a message that names the field or thing at fault:
  `INVALID_ARGUMENT` (bad input), `NOT_FOUND` (no such queue, leased message, config key or API key),
  `ALREADY_EXISTS` (queue exists), `FAILED_PRECONDITION` (well formed but not allowed now,
  e.g. a stale `lease_id`, deleting a DLQ directly), `RESOURCE_EXHAUSTED` (overload),
  `UNAVAILABLE` (storage cannot write, or the broker is unreachable), `UNAUTHENTICATED`,
  `PERMISSION_DENIED`.
- **Overload.** A hot-path call refused with `RESOURCE_EXHAUSTED` carries the trailing
  metadata `retry-after-ms: {retry_after_ms}`: wait about that long and retry.
- **Batch RPCs** (`EnqueueBatch`, `AckBatch`, `NackBatch`, `ExtendLease`) take at most
  {max_batch:,} items per call and answer with one result per item, in request order; a
  failed item carries an `ItemError` whose `code` is the status code name the single-item RPC
  would have returned. One bad item never fails the others.
- **Leases.** `Consume` pushes ready messages as fast as the client reads them, as the
  original broker did: a client may read many messages before it acks. A stream holds at most
  `[lease] consume_max_unacked` (default {max_unacked:,}) leased, unacknowledged messages, and
  a client that stops reading stops getting leases (HTTP/2 flow control); what it was already
  sent stays leased until it is acked or its visibility timeout ends, so a consumer that stops
  early holds up to that many messages for that long. `Lease` holds at most the stream's
  `credit` (1 to {max_credit:,}), never more: use it for flow control. Each ack, nack or
  expired lease frees one slot.
- **Durability.** `Enqueue`, `EnqueueBatch`, `Ack`, `Nack`, `AckBatch`, `NackBatch` and the
  admin calls that change state answer only once their effect is in the write-ahead log on
  disk. Leases (and `ExtendLease`) are not stored: after a restart, leased messages are ready
  again.
- **Defaults.** In `QueueConfig`, 0 (or an empty string) means "the default".
"""


def render(fds: descriptor_pb2.FileDescriptorSet) -> str:
    from fila.server.hot_path import (
        DEFAULT_CONSUME_MAX_UNACKED,
        MAX_BATCH,
        MAX_CREDIT,
        RETRY_AFTER_MS,
    )

    types = Types(fds)
    out = [PREAMBLE.format(retry_after_ms=RETRY_AFTER_MS, max_batch=MAX_BATCH,
                           max_unacked=DEFAULT_CONSUME_MAX_UNACKED, max_credit=MAX_CREDIT)]
    files = sorted(fds.file, key=lambda f: FILE_ORDER.index(f.name) if f.name in FILE_ORDER else 99)
    files = [f for f in files if f.package == "fila.v1"]
    out.append("## Contents\n")
    for f in files:
        names = [s.name for s in f.service] + [m.name for m in f.message_type]
        links = ", ".join(f"[{n}]({_anchor(n)})" for n in names)
        out.append(f"- `{f.name}`: {links}")
    out.append("")
    for f in files:
        c = Comments(f)
        out.append(f"## `{f.name}`\n")
        head = c.leading(FILE_SYNTAX)
        if head:
            out.append(head + "\n")
        for si, s in enumerate(f.service):
            out.append(f"### {s.name}\n")
            if c.leading(FILE_SERVICE, si):
                out.append(_paragraph(c.leading(FILE_SERVICE, si)) + "\n")
            out.append("| RPC | Request | Response | Description |")
            out.append("|---|---|---|---|")
            for mi, m in enumerate(s.method):
                req = types.name(F(type=F.TYPE_MESSAGE, type_name=m.input_type))
                resp = types.name(F(type=F.TYPE_MESSAGE, type_name=m.output_type))
                if m.client_streaming:
                    req = "stream " + req
                if m.server_streaming:
                    resp = "stream " + resp
                notes = [f"_{_inline(d)}_" for d in c.detached(FILE_SERVICE, si, SERVICE_METHOD, mi)]
                desc = " ".join([*notes, _inline(c.leading(FILE_SERVICE, si, SERVICE_METHOD, mi))])
                out.append(f"| `{m.name}` | {req} | {resp} | {desc.strip()} |")
            out.append("")
        for mi, msg in enumerate(f.message_type):
            out.append(f"### {msg.name}\n")
            for d in c.detached(FILE_MESSAGE, mi):
                out.append(_paragraph(d) + "\n")
            if c.leading(FILE_MESSAGE, mi):
                out.append(_paragraph(c.leading(FILE_MESSAGE, mi)) + "\n")
            if not msg.field:
                out.append("No fields.\n")
                continue
            out.append("| # | Field | Type | Description |")
            out.append("|---:|---|---|---|")
            for fi, fd in enumerate(msg.field):
                notes = [f"_{_inline(d)}_" for d in c.detached(FILE_MESSAGE, mi, MSG_FIELD, fi)]
                desc = " ".join([*notes, _inline(c.leading(FILE_MESSAGE, mi, MSG_FIELD, fi))])
                out.append(f"| {fd.number} | `{fd.name}` | {types.field(fd)} | {desc.strip()} |")
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/api.md differs from the generated text")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    text = render(descriptor_set())
    return write_or_check(OUT, text, check=args.check, script="scripts/gen_api_docs.py",
                          source="proto/", root=ROOT)


if __name__ == "__main__":
    sys.exit(main())
