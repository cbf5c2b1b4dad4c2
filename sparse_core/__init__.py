"""sparse_core: the sparse-model core every SparseWorks application shares.

Modules, one idea each (docs/architecture.md, "The core"): :mod:`~sparse_core.masks`, :mod:`~sparse_core.pruning`,
:mod:`~sparse_core.distributions`, :mod:`~sparse_core.schedules`,
:mod:`~sparse_core.dynamic`, :mod:`~sparse_core.gates`, :mod:`~sparse_core.activation_gates`,
:mod:`~sparse_core.lottery`,
:mod:`~sparse_core.soups`, :mod:`~sparse_core.export`, :mod:`~sparse_core.infra.io`,
:mod:`~sparse_core.infra.runtime` and :mod:`~sparse_core.infra.datasets` (real data shared by the apps).
The uniform / ERK helpers stay under :mod:`sparse_core.distributions`.

The public names below are imported lazily (PEP 562), so that ``import sparse_core`` does
not import torch and the ``sparseworks`` command starts fast.
"""

from __future__ import annotations

from sparse_core.infra.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # masks
    "Mask": "masks",
    "MaskParametrization": "masks",
    "apply_mask": "masks",
    "default_prunable": "masks",
    "effective_parameters": "masks",
    "embedding_lookup": "masks",
    "masked_parameters": "masks",
    "remove_masks": "masks",
    "set_mask": "masks",
    "zero_masked_": "masks",
    # pruning
    "keep_largest": "pruning",
    "magnitude_global": "pruning",
    "magnitude_per_layer": "pruning",
    "n_m": "pruning",
    "random_mask": "pruning",
    "structured": "pruning",
    # distributions
    "erk": "distributions",
    # schedules
    "cosine_decay": "schedules",
    "cubic_sparsity": "schedules",
    "is_update_step": "schedules",
    "linear_decay": "schedules",
    # dynamic
    "DynamicSparseConfig": "dynamic",
    "DynamicSparseUpdater": "dynamic",
    # gates
    "ActivationChoice": "activation_gates",
    "GatedLinear": "gates",
    "GatedMLP": "activation_gates",
    "HardConcreteGate": "gates",
    "NeuronGates": "gates",
    "ReluBudgetSchedule": "activation_gates",
    "expected_relu_count": "activation_gates",
    "l0_penalty": "gates",
    "relu_budget_penalty": "activation_gates",
    # lottery
    "imp": "lottery",
    "rewind": "lottery",
    # soups
    "average_state_dicts": "soups",
    "soup": "soups",
    "sparse_model_soups": "soups",
    "CycleResult": "soups",
    "prune_survivors": "lottery",
    "largest_indices": "pruning",
    "smallest_indices": "pruning",
    # export
    "compact_masked_mlp": "export",
    "compact_mlp": "export",
    "count_macs": "export",
    "count_parameters": "export",
    "to_coo": "export",
    "to_csr": "export",
    "to_scipy_csr": "export",
    # infra: dataset fetching, run bookkeeping, shared datasets
    "ChecksumError": "infra.io",
    "FetchError": "infra.io",
    "UnknownDatasetError": "infra.io",
    "atomic_write": "infra.files",
    "cache_dir": "infra.io",
    "fetch": "infra.io",
    "load_sources": "infra.io",
    # runtime
    "choose_device": "infra.runtime",
    "config_hash": "infra.runtime",
    "load_config": "infra.runtime",
    "make_run_dir": "infra.runtime",
    "run_metadata": "infra.runtime",
    "save_config": "infra.runtime",
    "seed_everything": "infra.runtime",
    "set_threads": "infra.runtime",
    # datasets
    "load_mnist5k": "infra.datasets",
    "split_per_class": "infra.datasets",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
