"""Generate the Python stubs for the `fila.v1` contract from `proto/`.

The stubs land in the SDK's `sdks/python/fila/v1/` (the fila-client distribution, which the
broker depends on) so that their own imports (`from fila.v1 import messages_pb2`) resolve in
the `fila` namespace package without rewriting. Never edit them by hand: change the
`.proto` files and run

    python scripts/gen_proto.py          # regenerate
    python scripts/gen_proto.py --check  # exit 1 if the committed stubs drifted
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
SDK = ROOT / "sdks" / "python"
PACKAGE_DIR = Path("fila") / "v1"
INIT_TEXT = '"""Generated gRPC stubs for the fila.v1 contract (scripts/gen_proto.py)."""\n'


def generate(out_dir: Path) -> list[Path]:
    """Run protoc on every .proto under proto/ and return the files written, relative to out_dir."""
    import grpc_tools
    from grpc_tools import protoc  # imported here: only needed when generating

    protos = sorted(p.relative_to(PROTO_DIR).as_posix() for p in PROTO_DIR.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    (out_dir / PACKAGE_DIR / "__init__.py").write_text(INIT_TEXT)
    return sorted(p.relative_to(out_dir) for p in (out_dir / PACKAGE_DIR).iterdir() if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed stubs differ")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        written = generate(out)
        target = SDK / PACKAGE_DIR
        if args.check:
            committed = sorted(
                p.relative_to(SDK) for p in target.iterdir() if p.is_file() and p.suffix != ".pyc"
            )
            drift = [str(p) for p in written if not (SDK / p).exists()]
            drift += [str(p) for p in committed if p not in written]
            drift += [
                str(p) for p in written
                if (SDK / p).exists() and not filecmp.cmp(out / p, SDK / p, shallow=False)
            ]
            if drift:
                print("generated stubs drifted from proto/: " + ", ".join(drift), file=sys.stderr)
                print("run: python scripts/gen_proto.py", file=sys.stderr)
                return 1
            print(f"{len(written)} generated files match proto/")
            return 0
        target.mkdir(parents=True, exist_ok=True)
        for old in target.iterdir():
            if old.is_file():
                old.unlink()
        for p in written:
            (SDK / p).write_bytes((out / p).read_bytes())
        print(f"wrote {len(written)} files to {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
