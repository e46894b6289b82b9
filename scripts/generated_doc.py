"""Write a generated document, or check that the committed one is current (`--check`).

Shared by scripts/gen_api_docs.py and scripts/gen_cli_docs.py.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path


def write_or_check(out: Path, text: str, *, check: bool, script: str, source: str,
                   root: Path) -> int:
    """Returns the process exit code: 1 when checking and the committed file differs."""
    name = out.relative_to(root).as_posix()
    if check:
        current = out.read_text() if out.exists() else ""
        if current != text:
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(),
                                        f"{name} (committed)", f"{name} (generated)",
                                        lineterm="", n=1)
            print("\n".join(list(diff)[:60]), file=sys.stderr)
            print(f"{name} is out of date: run python {script}", file=sys.stderr)
            return 1
        print(f"{name} matches {source}")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {name}")
    return 0
