"""Lazy re-exports for package ``__init__`` files (PEP 562).

A package shows its public names in ``__init__`` (docs/style.md, rule 2) without importing the
modules that hold them, so that ``import sparse_core`` or ``sparseworks --help`` does not
pay for torch, torch_geometric or xarray::

    _EXPORTS = {"Mask": "masks", "fetch": "io"}
    __all__ = sorted(_EXPORTS)
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` that import a name on first use.

    Args:
        package: the package's ``__name__``.
        exports: public name -> module relative to the package (``"models.mf"``).
        namespace: the package's ``globals()``; a resolved name is cached there.
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
