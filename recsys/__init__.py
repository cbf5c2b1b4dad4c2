"""Sparse recommendation: dynamic sparse learning and AutoInt CTR models.

After Wang et al., "Dynamic Sparse Learning: A Novel Paradigm for Efficient
Recommendation" (WSDM 2024) and Song et al., "AutoInt" (CIKM 2019).

Modules: :mod:`~recsys.data` (MovieLens-100k, splits, vocabularies, a streaming
Criteo / Avazu / CSV reader for the user's own files, RecBole atomic files), :mod:`~recsys.models` (MF, LightGCN, AutoInt),
:mod:`~recsys.metrics`, :mod:`~recsys.trainer`, :mod:`~recsys.dsl`,
:mod:`~recsys.topk` and :mod:`~recsys.ctr` (the two tasks), :mod:`~recsys.config` (their
settings, torch-free), :mod:`~recsys.distributed`, :mod:`~recsys.serving` /
:mod:`~recsys.export` (compact serving files of DSL models).

The public names are imported lazily (PEP 562), so that ``sparseworks recsys --help``
does not import torch.
"""

from __future__ import annotations

from sparse_core.infra.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "TopKConfig": "config",
    "train_topk": "topk",
    "run_topk": "topk",
    "load_split": "topk",
    "CTRConfig": "config",
    "CTRFileConfig": "config",
    "InteractionFileConfig": "config",
    "open_ctr_file": "data.ctr_file",
    "read_interactions": "data.movielens",
    "train_ctr": "ctr",
    "run_ctr": "ctr",
    "load_ctr_data": "ctr",
    "DSLConfig": "config",
    "sparsify": "dsl",
    "make_updater": "dsl",
    "parameter_counts": "dsl",
    "TrainerConfig": "config",
    "EarlyStopping": "trainer",
    "fit": "trainer",
    "topk_metrics": "metrics",
    "auc": "metrics",
    "logloss": "metrics",
    "MF": "models.mf",
    "LightGCN": "models.lightgcn",
    "AutoInt": "models.autoint",
    "AutoIntConfig": "config",
    "run_demo": "demo",
    "ServingModel": "serving",
    "load_serving_model": "serving",
    "recommend": "serving",
    "export_model": "export",
    "run_export": "export",
    "ExportConfig": "config",
    "RecommendConfig": "config",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
