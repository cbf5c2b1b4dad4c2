"""Model-based control with sparse neural dynamics.

After Liu, Zhou, He, Marcucci, Fei-Fei, Wu & Li, "Model-Based Control with Sparse
Neural Dynamics" (NeurIPS 2023): simulate control tasks (`tasks`), learn ReLU / graph
dynamics from collected transitions, remove redundant neurons under a shrinking ReLU
budget (`sparsify`), fold the result into a compact ReLU network (`CompactNetwork`,
readable without torch) and, in part 2, plan exactly with a mixed-integer MPC.

Public names are imported lazily (PEP 562): ``import sparse_dynamics`` imports neither
torch nor pymunk, so tools that only read compact networks stay light.
"""

from __future__ import annotations

from sparse_core.infra.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "make_task": "tasks",
    "TASK_NAMES": "tasks",
    "optimal_control": "tasks.pwa",
    "CollectConfig": "config",
    "DenseConfig": "config",
    "SparsifyRecipe": "config",
    "TransitionData": "data",
    "collect": "data",
    "load_dataset": "data",
    "save_dataset": "data",
    "split_episodes": "data",
    "MLPDynamics": "models.mlp",
    "GraphDynamics": "models.graph",
    "make_model": "models",
    "save_model": "models",
    "load_model": "models",
    "TrainConfig": "config",
    "train_dense": "training",
    "fit": "training",
    "rollout_error": "training",
    "SparsifyConfig": "config",
    "sparsify": "sparsify",
    "sparsify_to_budget": "sparsify",
    "fold_gated_mlp": "folding",
    "export_model": "export",
    "CompactNetwork": "compact",
    "graph_step": "compact",
    "ParetoConfig": "config",
    "run_pareto": "pareto",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
