"""The SDK's public face: what `fila.client` exports is deliberate, documented and importable."""

from __future__ import annotations

import fila.client
from fila import errors


def test_all_is_sorted_complete_and_importable() -> None:
    names = fila.client.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(fila.client, name).__doc__ or name.isupper(), f"{name} has no docstring"
    public = {n for n in dir(fila.client) if not n.startswith("_") and n[0].isupper()}
    assert public == set(names), f"exported but not in __all__: {public - set(names)}"


def test_every_fila_error_is_exported_under_one_root() -> None:
    for cls in errors.ALL_ERRORS:
        assert issubclass(cls, errors.FilaError)
        assert getattr(fila.client, cls.__name__) is cls
