"""Sparse recommendation: dynamic sparse learning and AutoInt CTR models.

After Wang et al., "Dynamic Sparse Learning: A Novel Paradigm for Efficient
Recommendation" (WSDM 2024) and Song et al., "AutoInt" (CIKM 2019).

Modules: :mod:`~recsys.data` (MovieLens-100k, splits, vocabularies, a streaming
Criteo / Avazu reader), :mod:`~recsys.models` (MF, LightGCN, AutoInt),
:mod:`~recsys.metrics`, :mod:`~recsys.trainer`, :mod:`~recsys.dsl`,
:mod:`~recsys.topk` and :mod:`~recsys.ctr` (the two tasks), :mod:`~recsys.distributed`.

The public names are imported lazily (PEP 562), so that ``sparseworks recsys --help``
does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "TopKConfig": "topk",
    "train_topk": "topk",
    "run_topk": "topk",
    "load_split": "topk",
    "CTRConfig": "ctr",
    "train_ctr": "ctr",
    "run_ctr": "ctr",
    "load_ctr_data": "ctr",
    "DSLConfig": "dsl",
    "sparsify": "dsl",
    "make_updater": "dsl",
    "parameter_counts": "dsl",
    "TrainerConfig": "trainer",
    "EarlyStopping": "trainer",
    "fit": "trainer",
    "topk_metrics": "metrics",
    "auc": "metrics",
    "logloss": "metrics",
    "MF": "models.mf",
    "LightGCN": "models.lightgcn",
    "AutoInt": "models.autoint",
    "AutoIntConfig": "models.autoint",
    "run_demo": "demo",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"recsys.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'recsys' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
