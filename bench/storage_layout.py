"""What a message costs in RocksDB, by layout: `python -m bench.storage_layout` (seconds).

Fila stores each message under its own key (fila.engine.keys: `M <qid> <seq>`) and deletes it
when it is acked: a put and a delete per message. The performance issue weighs storing one
value per enqueued batch (a segment) with small ack records instead, deleting the segment
once all of it is acked. This measures both layouts through rocksdict as the broker uses it
(one WriteBatch per turn written with sync off, the WAL synced every few turns), with CPU
time of the whole process, so RocksDB's own flush and compaction threads count too:

    per-message  a put per message (the broker's stored bytes, ~190 B for a 100 B payload),
                 a delete per ack, the acks one turn behind the puts
    segment      one put per batch (the batch's values joined), one ack record per batch,
                 the segment deleted once acked

    python -m bench.storage_layout [--messages N] [--batch N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import tempfile
import time
from pathlib import Path

import rocksdict

from fila.engine import keys

VALUE_BYTES = 190  # what a 100-byte message with a tenant key takes as stored
SYNC_EVERY = 20  # turns between WAL syncs (the group commit shares one fsync between turns)
_ACK = struct.Struct(">IQ")


def _open(path: Path) -> tuple[rocksdict.Rdict, rocksdict.WriteOptions]:
    opts = rocksdict.Options(raw_mode=True)
    opts.create_if_missing(True)
    wo = rocksdict.WriteOptions()
    wo.sync = False
    return rocksdict.Rdict(str(path), opts), wo


def per_message(db: rocksdict.Rdict, wo: rocksdict.WriteOptions, messages: int, batch: int) -> None:
    value = os.urandom(VALUE_BYTES)
    unacked: list[bytes] = []
    seq = 0
    for turn in range(messages // batch):
        wb = rocksdict.WriteBatch(raw_mode=True)
        for _ in range(batch):
            seq += 1
            k = keys.message(1, seq)
            wb.put(k, value)
            unacked.append(k)
        if len(unacked) > batch:  # the previous turn's messages are acked in this one
            for k in unacked[:batch]:
                wb.delete(k)
            del unacked[:batch]
        db.write(wb, wo)
        if turn % SYNC_EVERY == 0:
            db.flush_wal(True)


def segment(db: rocksdict.Rdict, wo: rocksdict.WriteOptions, messages: int, batch: int) -> None:
    values = [os.urandom(VALUE_BYTES) for _ in range(batch)]
    unacked: list[bytes] = []
    for turn in range(messages // batch):
        wb = rocksdict.WriteBatch(raw_mode=True)
        k = b"S" + _ACK.pack(1, turn)
        wb.put(k, b"".join(values))  # the batch as one value (each message's bytes in turn)
        unacked.append(k)
        if len(unacked) > 1:  # the previous segment is acked whole: an ack record, then gone
            done = unacked.pop(0)
            wb.put(b"A" + done[1:], b"\xff" * ((batch + 7) // 8))  # one bit per message
            wb.delete(done)
        db.write(wb, wo)
        if turn % SYNC_EVERY == 0:
            db.flush_wal(True)


LAYOUTS = {"per-message": per_message, "segment": segment}


def measure(layout: str, messages: int, batch: int, workdir: Path) -> dict[str, float | str]:
    path = Path(tempfile.mkdtemp(prefix="fila-layout-", dir=workdir))
    try:
        db, wo = _open(path)
        t0, w0 = time.process_time(), time.perf_counter()
        LAYOUTS[layout](db, wo, messages, batch)
        db.close()  # its flush counts: it is work the layout caused
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    finally:
        shutil.rmtree(path, ignore_errors=True)
    return {"layout": layout, "cpu_us_per_msg": cpu / messages * 1e6,
            "wall_us_per_msg": wall / messages * 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storage_layout",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each layout")
    parser.add_argument("--dir", default=None, help="where the scratch databases go")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    workdir = Path(args.dir) if args.dir else Path(tempfile.gettempdir())
    rows = [measure(layout, args.messages, args.batch, workdir)
            for _ in range(args.rounds) for layout in LAYOUTS]
    print(f"{args.messages:,} messages, batches of {args.batch}, {VALUE_BYTES} B each:")
    for r in rows:
        print(f"  {r['layout']:12} {r['cpu_us_per_msg']:5.2f} µs of CPU per message "
              f"({r['wall_us_per_msg']:.2f} µs wall)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
