"""Learned dynamics models: residual ReLU MLPs and graph networks over objects.

`make_model` picks the model a task is meant for: a graph network when the task has a
`GraphLayout` (sort, rope), else an MLP. `save_model` / `load_model` store the
architecture beside the weights; loading never unpickles code (``weights_only=True``) and
checks every field and tensor of the file first (`load_model`).
"""

from __future__ import annotations

import io
import typing
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from sparse_core.infra.errors import InputError
from sparse_core.infra.files import atomic_write
from sparse_dynamics.config import MAX_HIDDEN_WIDTH
from sparse_dynamics.readers import MODEL_FILE, read_model_bytes
from sparse_dynamics.tasks import TASK_NAMES
from sparse_dynamics.tasks.base import GraphLayout, Task

__all__ = ["FORMAT", "load_model", "make_model", "save_model", "saved_architecture", "saved_summary", "saved_task"]

FORMAT = "sparseworks.dynamics.model/1"
"""Format tag of a model file (files without one, from earlier versions, are read too)."""
MAX_LAYERS, MAX_SIZE, MAX_NODES = 64, 4096, 256
"""Limits on a model file's architecture: hidden layers, state / action / message sizes, graph nodes."""
STRUCTURAL_BUFFERS = ("edge_index", "node_types", "actuated")
"""Buffers of `GraphDynamics` derived from the layout, which a model file must not change."""


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


def save_model(model: nn.Module, path: Path | str, *, task: str | None = None) -> Path:
    """Saves ``{"format", "architecture", "gated", "state_dict"[, "task"]}`` with torch.save, atomically.

    Args:
        model: An `MLPDynamics` or `GraphDynamics`.
        path: The file to write.
        task: The task the model was trained for, checked when the model is used with data.
    """
    path = Path(path)
    gated = any(not a.is_hardened for a in _activations(model))
    saved = {"format": FORMAT, "architecture": model.architecture(), "gated": gated, "state_dict": model.state_dict()}
    if task is not None:
        saved["task"] = task
    with atomic_write(path, "wb") as handle:
        torch.save(saved, handle)
    return path


def _activations(model: nn.Module) -> list:
    from sparse_core.activation_gates import ActivationChoice

    return [m for m in model.modules() if isinstance(m, ActivationChoice)]


def _fail(path: Path, field: str, message: str) -> typing.NoReturn:
    raise InputError(f"{path}: field {field!r}: {message}")


def _count(path: Path, field: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        _fail(path, field, f"expected an integer in [{low}, {high}], found {value!r}")
    return value


def _hidden(path: Path, field: str, value: object) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_LAYERS:
        _fail(path, field, f"expected a list of 1 to {MAX_LAYERS} hidden widths, found {value!r}")
    return tuple(_count(path, field, width, 1, MAX_HIDDEN_WIDTH) for width in value)


def _check_architecture(path: Path, architecture: dict) -> dict:
    """The architecture of a model file, every field checked (kind, sizes, graph layout)."""
    kind = architecture.get("kind")
    fields = {
        "mlp": {"kind", "state_dim", "action_dim", "hidden"},
        "graph": {"kind", "action_dim", "hidden", "message_dim", "layout"},
    }
    expected = fields.get(kind) if isinstance(kind, str) else None
    if expected is None:
        _fail(path, "architecture.kind", f"expected 'mlp' or 'graph', found {kind!r}")
    if set(architecture) != expected:
        _fail(
            path,
            "architecture",
            f"expected the fields {sorted(expected)} of a {kind} model, found {sorted(architecture)}",
        )
    checked = {
        "kind": kind,
        "hidden": list(_hidden(path, "architecture.hidden", architecture["hidden"])),
        "action_dim": _count(path, "architecture.action_dim", architecture["action_dim"], 1, MAX_SIZE),
    }
    if kind == "mlp":
        checked["state_dim"] = _count(path, "architecture.state_dim", architecture["state_dim"], 1, MAX_SIZE)
        return checked
    checked["message_dim"] = _count(path, "architecture.message_dim", architecture["message_dim"], 1, MAX_SIZE)
    layout = architecture["layout"]
    names = {"node_count", "node_state_dim", "node_types", "type_count", "actuated_node"}
    if not isinstance(layout, dict) or set(layout) != names:
        _fail(path, "architecture.layout", f"expected a graph layout with the fields {sorted(names)}, found {layout!r}")
    count = _count(path, "architecture.layout.node_count", layout["node_count"], 2, MAX_NODES)
    types = _count(path, "architecture.layout.type_count", layout["type_count"], 1, MAX_NODES)
    node_types = layout["node_types"]
    if not isinstance(node_types, (list, tuple)) or len(node_types) != count:
        _fail(path, "architecture.layout.node_types", f"expected {count} node types, found {node_types!r}")
    checked["layout"] = {
        "node_count": count,
        "node_state_dim": _count(path, "architecture.layout.node_state_dim", layout["node_state_dim"], 1, MAX_SIZE),
        "node_types": [_count(path, "architecture.layout.node_types", t, 0, types - 1) for t in node_types],
        "type_count": types,
        "actuated_node": _count(path, "architecture.layout.actuated_node", layout["actuated_node"], 0, count - 1),
    }
    return checked


def _build(architecture: dict) -> nn.Module:
    """A gated model of ``architecture`` (on the current default device, e.g. ``meta``)."""
    if architecture["kind"] == "mlp":
        from sparse_dynamics.models.mlp import MLPDynamics

        return MLPDynamics(architecture["state_dim"], architecture["action_dim"], architecture["hidden"], gated=True)
    from sparse_dynamics.models.graph import GraphDynamics

    layout = GraphLayout(**{k: tuple(v) if isinstance(v, list) else v for k, v in architecture["layout"].items()})
    return GraphDynamics(
        layout, architecture["action_dim"], architecture["hidden"], message_dim=architecture["message_dim"], gated=True
    )


def _check_state(path: Path, state: dict, architecture: dict) -> None:
    """Every tensor of the state dict: the names, shapes and kinds of the architecture, finite values.

    The expected tensors come from a model built on torch's ``meta`` device (no memory),
    so a file whose architecture promises a huge model is refused before anything is allocated.
    """
    from sparse_core.activation_gates import IDENTITY, OFF, RELU

    with torch.device("meta"):
        reference = _build(architecture).state_dict()
    missing, extra = sorted(set(reference) - set(state)), sorted(set(state) - set(reference))
    if missing or extra:
        _fail(path, "state_dict", f"does not match its architecture: missing {missing[:5]}, unexpected {extra[:5]}")
    for name, expected in reference.items():
        tensor = state[name]
        if not isinstance(tensor, torch.Tensor) or tensor.shape != expected.shape:
            found = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            _fail(path, f"state_dict.{name}", f"expected a tensor of shape {tuple(expected.shape)}, found {found}")
        if tensor.layout != torch.strided or tensor.device.type != "cpu" or tensor.is_quantized:
            _fail(path, f"state_dict.{name}", f"expected a plain CPU tensor, found {tensor.layout} on {tensor.device}")
        if expected.dtype.is_floating_point:
            if not tensor.dtype.is_floating_point:
                _fail(path, f"state_dict.{name}", f"expected floating-point values, found {tensor.dtype}")
            if not bool(torch.isfinite(tensor).all()):
                _fail(
                    path,
                    f"state_dict.{name}",
                    f"expected finite values, found {int((~torch.isfinite(tensor)).sum())} NaN/inf entries",
                )
            if name.endswith("_scale") and not bool((tensor > 0).all()):
                _fail(path, f"state_dict.{name}", "expected positive normalisation scales")
        elif expected.dtype == torch.bool:
            if tensor.dtype != torch.bool:
                _fail(path, f"state_dict.{name}", f"expected a boolean, found {tensor.dtype}")
        elif tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype == torch.bool:
            _fail(path, f"state_dict.{name}", f"expected integers, found {tensor.dtype}")
        elif name.endswith("hard_choices") and not bool(torch.isin(tensor, torch.tensor([OFF, IDENTITY, RELU])).all()):
            _fail(
                path, f"state_dict.{name}", f"expected choices in {{{OFF}, {IDENTITY}, {RELU}}} (off, identity, relu)"
            )


def _read(path: Path | str) -> tuple[Path, dict]:
    """A model file, checked from its bytes to every tensor (see `load_model`)."""
    path = Path(path)
    data = read_model_bytes(path)
    try:
        saved = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as error:  # torch raises pickle, zip and runtime errors alike for a damaged file
        raise InputError(
            f"{path}: a damaged torch file that torch.load cannot read as plain weights "
            f"({type(error).__name__}: {str(error)[:200]}); expected {MODEL_FILE}"
        ) from None
    if (
        not isinstance(saved, dict)
        or not isinstance(saved.get("architecture"), dict)
        or not isinstance(saved.get("state_dict"), dict)
    ):
        raise InputError(
            f"{path}: expected {MODEL_FILE} (a dict with 'architecture' and 'state_dict'), found "
            f"{type(saved).__name__}" + (f" with keys {sorted(map(str, saved))[:8]}" if isinstance(saved, dict) else "")
        )
    if saved.get("format", FORMAT) != FORMAT:
        _fail(path, "format", f"expected {FORMAT!r}, found {saved.get('format')!r}")
    if "task" in saved and saved["task"] not in TASK_NAMES:
        _fail(path, "task", f"expected one of {', '.join(TASK_NAMES)}, found {saved['task']!r}")
    if not isinstance(saved.get("gated", False), bool):
        _fail(path, "gated", f"expected true or false, found {saved.get('gated')!r}")
    architecture = _check_architecture(path, saved["architecture"])
    _check_state(path, saved["state_dict"], architecture)
    return path, {**saved, "architecture": architecture}


def saved_architecture(path: Path | str) -> dict:
    """The architecture (``kind``, ``hidden``, sizes) of a model file written by `save_model`.

    Raises:
        FileNotFoundError: If the file is missing.
        InputError: If it is not a valid model file (see `load_model`).
    """
    return dict(_read(path)[1]["architecture"])


def saved_task(path: Path | str) -> str | None:
    """The task a model file was trained for (None for files that do not record it)."""
    return saved_summary(path)[1]


def saved_summary(path: Path | str) -> tuple[dict, str | None]:
    """``(architecture, task)`` of a model file, after every check of `load_model` but building no model.

    Raises:
        FileNotFoundError: If the file is missing.
        InputError: If it is not a valid model file.
    """
    saved = _read(path)[1]
    return dict(saved["architecture"]), saved.get("task")


def load_model(path: Path | str) -> nn.Module:
    """Rebuilds a model saved by `save_model` (hardened choices are restored from the state dict).

    The file is checked before a model is built: a zip archive of torch tensors
    (gzip-compressed is fine) that ``torch.load(weights_only=True)`` reads (code is never
    unpickled), the format tag, every architecture field, and every tensor of the state
    dict against that architecture (names, shapes, kinds, finite values, valid choices).

    Raises:
        FileNotFoundError: If the file is missing.
        InputError: Naming the file and the field on any malformed content.
    """
    path, saved = _read(path)
    model = _build(saved["architecture"])
    fresh = {name: value.clone() for name, value in model.state_dict().items() if name in STRUCTURAL_BUFFERS}
    try:
        model.load_state_dict(saved["state_dict"])
    except (RuntimeError, TypeError, ValueError) as error:
        raise InputError(f"{path}: the weights do not load into the model ({str(error)[:200]})") from None
    for name, value in fresh.items():  # derived from the layout: a file may not change them
        if not torch.equal(model.state_dict()[name], value):
            _fail(path, f"state_dict.{name}", "disagrees with the graph layout of the architecture")
    return model.eval()
