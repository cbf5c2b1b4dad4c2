"""sparse_core: the sparse-model core every SparseWorks application shares.

Modules, one idea each (DESIGN §2): :mod:`~sparse_core.masks`, :mod:`~sparse_core.pruning`,
:mod:`~sparse_core.distributions`, :mod:`~sparse_core.schedules`,
:mod:`~sparse_core.dynamic`, :mod:`~sparse_core.gates`, :mod:`~sparse_core.lottery`,
:mod:`~sparse_core.soups`, :mod:`~sparse_core.export`, :mod:`~sparse_core.io` and
:mod:`~sparse_core.runtime`.

The public names below are imported lazily (PEP 562), so that ``import sparse_core`` does
not import torch and the ``sparseworks`` command starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # io
    "cache_dir": "io",
    "fetch": "io",
    "atomic_write": "io",
    "load_sources": "io",
    "FetchError": "io",
    "ChecksumError": "io",
    "UnknownDatasetError": "io",
    # runtime
    "seed_everything": "runtime",
    "set_threads": "runtime",
    "choose_device": "runtime",
    "run_metadata": "runtime",
    "config_hash": "runtime",
    "save_config": "runtime",
    "load_config": "runtime",
    "make_run_dir": "runtime",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"sparse_core.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sparse_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
