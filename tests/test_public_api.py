"""The SDK's public face: what `fila.client` exports is deliberate, documented and importable."""

from __future__ import annotations

import ast
from pathlib import Path

import fila
import fila.client
from fila import errors


def test_all_is_sorted_complete_and_importable() -> None:
    names = fila.client.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(fila.client, name).__doc__ or name.isupper(), f"{name} has no docstring"
    public = {n for n in dir(fila.client) if not n.startswith("_") and n[0].isupper()}
    exported = {n for n in names if n[0].isupper()}
    assert public == exported, f"exported but not in __all__: {public - exported}"
    assert all(callable(getattr(fila.client, n)) for n in set(names) - exported)


def test_every_fila_error_is_exported_under_one_root() -> None:
    for cls in errors.ALL_ERRORS:
        assert issubclass(cls, errors.FilaError)
        assert getattr(fila.client, cls.__name__) is cls


ROOT = Path(__file__).resolve().parent.parent
BROKER = ROOT / "fila"  # the broker's part of the `fila` namespace package
SDK = ROOT / "sdks" / "python" / "fila"  # the SDK's part (fila-client)


def _python_files(*packages: str) -> list[Path]:
    return [p for pkg in packages for p in sorted((BROKER / pkg).rglob("*.py"))]


def test_outside_the_engine_only_its_public_names_are_used() -> None:
    """The server, CLI, TUI and SDK see the engine only through `fila.engine`'s names: no
    submodule import, and no private attribute (`x._y`) of anything but their own objects."""
    import fila.engine

    bad = []
    sdk = sorted((SDK / "client").rglob("*.py"))
    for path in _python_files("server", "cli", "tui") + sdk + [BROKER / "demo.py"]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fila.engine."):
                bad.append(f"{path.name}:{node.lineno} imports {node.module}")
            if isinstance(node, ast.ImportFrom) and node.module == "fila.engine":
                unknown = [a.name for a in node.names if a.name not in fila.engine.__all__]
                if unknown:
                    bad.append(f"{path.name}:{node.lineno} imports {unknown} (not public)")
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                bad.append(f"{path.name}:{node.lineno} reaches {ast.unparse(node)}")
    assert not bad, "\n".join(bad)


def test_the_engine_api_is_sorted_and_importable() -> None:
    import fila.engine

    names = fila.engine.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(fila.engine, name), name


def test_the_sdk_needs_nothing_of_the_broker() -> None:
    """fila-client (sdks/python) installs alone with grpcio and protobuf: it imports no module
    of the broker's distribution (engine, server, cli, tui, rocksdict, lupa, textual, typer)."""
    allowed = ("fila.client", "fila.v1", "grpc", "google.protobuf")
    bad = []
    for path in sorted(SDK.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            for name in names:
                top = name.split(".")[0]
                if top in ("fila", "rocksdict", "lupa", "textual", "typer", "prometheus_client") \
                        and not name.startswith(allowed):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not bad, "\n".join(bad)
    assert not (SDK / "__init__.py").exists() and not (BROKER / "__init__.py").exists(), \
        "fila is a namespace package: neither distribution may own fila/__init__.py"
