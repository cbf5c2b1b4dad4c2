"""Learned dynamics models: residual ReLU MLPs and graph networks over objects.

`make_model` picks the model a task is meant for: a graph network when the task has a
`GraphLayout` (sort, rope), else an MLP. `save_model` / `load_model` store the
architecture beside the weights; loading never unpickles code (``weights_only=True``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from sparse_core.infra.errors import InputError
from sparse_dynamics.tasks.base import GraphLayout, Task

__all__ = ["load_model", "make_model", "save_model", "saved_architecture"]


def make_model(
    task: Task,
    hidden: Sequence[int],
    *,
    gated: bool = False,
    kind: str = "auto",
    generator: torch.Generator | None = None,
) -> nn.Module:
    """A dense (or gated) dynamics model for ``task``.

    Args:
        task: The task (state and action sizes, graph layout).
        hidden: Hidden widths (of each MLP, for graph models).
        gated: Whether hidden units are learnable choices rather than fixed ReLUs.
        kind: ``"auto"`` (graph if the task has a layout), ``"mlp"`` or ``"graph"``.
        generator: Draws the initial weights; None = the global generator.
    """
    if kind == "auto":
        kind = "graph" if task.graph_layout is not None else "mlp"
    if kind == "mlp":
        from sparse_dynamics.models.mlp import MLPDynamics

        return MLPDynamics(task.state_dim, task.action_dim, hidden, gated=gated, generator=generator)
    if kind == "graph":
        if task.graph_layout is None:
            raise ValueError(f"task {task.name!r} has no graph layout; use kind='mlp'")
        from sparse_dynamics.models.graph import GraphDynamics

        return GraphDynamics(task.graph_layout, task.action_dim, hidden, gated=gated, generator=generator)
    raise ValueError(f"unknown model kind {kind!r}; expected auto, mlp or graph")


def save_model(model: nn.Module, path: Path | str) -> Path:
    """Saves ``{"architecture": ..., "gated": ..., "state_dict": ...}`` with torch.save."""
    path = Path(path)
    gated = any(not a.is_hardened for a in _activations(model))
    torch.save({"architecture": model.architecture(), "gated": gated, "state_dict": model.state_dict()}, path)
    return path


def _activations(model: nn.Module) -> list:
    from sparse_core.activation_gates import ActivationChoice

    return [m for m in model.modules() if isinstance(m, ActivationChoice)]


def _load(path: Path | str) -> tuple[Path, dict]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} not found (write one with `sparseworks dynamics train`)")
    try:
        saved = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:  # torch raises pickle, zip and runtime errors alike for a foreign file
        raise InputError(f"{path}: expected a model saved by `sparseworks dynamics train`, found a file torch.load "
                         f"cannot read as plain weights ({type(error).__name__})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("architecture"), dict) or "state_dict" not in saved:
        raise InputError(f"{path}: expected a model saved by `sparseworks dynamics train` "
                         "(a dict with 'architecture' and 'state_dict')")
    return path, saved


def saved_architecture(path: Path | str) -> dict:
    """The architecture (``kind``, ``hidden``, sizes) of a model file written by `save_model`.

    Raises:
        FileNotFoundError: If the file is missing.
        InputError: If it is not a model file.
    """
    return dict(_load(path)[1]["architecture"])


def load_model(path: Path | str) -> nn.Module:
    """Rebuilds a model saved by `save_model` (hardened choices are restored from the state dict)."""
    path, saved = _load(path)
    architecture = dict(saved["architecture"])
    kind = architecture.pop("kind")
    if kind == "mlp":
        from sparse_dynamics.models.mlp import MLPDynamics

        model = MLPDynamics(architecture["state_dim"], architecture["action_dim"], architecture["hidden"], gated=True)
    elif kind == "graph":
        from sparse_dynamics.models.graph import GraphDynamics

        model = GraphDynamics(GraphLayout(**{k: tuple(v) if isinstance(v, list) else v for k, v in architecture["layout"].items()}),
                              architecture["action_dim"], architecture["hidden"], message_dim=architecture["message_dim"], gated=True)
    else:
        raise InputError(f"{path}: field 'architecture.kind': expected 'mlp' or 'graph', found {kind!r}")
    model.load_state_dict(saved["state_dict"])
    return model.eval()
