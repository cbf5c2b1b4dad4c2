"""A compact ReLU network as plain arrays: saving, loading and evaluating it without torch.

After neuron sparsification (Liu et al., NeurIPS 2023, sec. 3.2) every hidden neuron is
a ReLU, an identity or removed. Removed neurons vanish; identity neurons are folded into
the neighbouring linear maps (`sparse_dynamics.folding`), which turns the layered MLP into
a DAG whose only nonlinear units are the kept ReLUs: the pre-activation of ReLU layer
``k`` is an affine function of the input and of the outputs of earlier ReLU layers, and
so is the network's output::

    a_0 = input
    a_k = relu(b_k + sum_{j < k} W_{k, j} a_j)          k = 1 .. L
    output = c + sum_{j <= L} V_j a_j

This is the form a mixed-integer encoder wants: one binary per ReLU unit, nothing else
nonlinear. Files: ``<name>.npz`` holds the arrays, ``<name>.json`` describes the graph
(format ``sparseworks.relu_dag/1``); both are read by `CompactNetwork.load` with numpy
only. This module must not import torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["FORMAT", "CompactNetwork", "ReluLayer"]

FORMAT = "sparseworks.relu_dag/1"
INPUT = "input"


@dataclass
class ReluLayer:
    """One layer of ReLU units fed by earlier sources.

    Attributes:
        name: Source name of this layer's outputs (``"relu1"``, ``"relu2"``, ...; the
            output block uses ``"output"`` and has no ReLU).
        weights: Source name (``"input"`` or an earlier layer) -> matrix ``(units, source_dim)``.
        bias: ``(units,)``.
    """

    name: str
    weights: dict[str, np.ndarray]
    bias: np.ndarray

    @property
    def units(self) -> int:
        return int(self.bias.shape[0])

    def pre_activation(self, sources: dict[str, np.ndarray]) -> np.ndarray:
        total = np.broadcast_to(self.bias, (*next(iter(sources.values())).shape[:-1], self.units)).copy()
        for source, weight in self.weights.items():
            total += sources[source] @ weight.T
        return total


@dataclass
class CompactNetwork:
    """A ReLU DAG (module docstring) with metadata saying what its input and output mean.

    Attributes:
        input_dim: Size of the input vector.
        layers: The ReLU layers in evaluation order.
        output: The affine output block (no ReLU).
        metadata: Free-form JSON-safe description, e.g. ``{"residual": true,
            "state_dim": 5, "action_dim": 2, "input_names": [...], "output_names": [...]}``
            for a dynamics model ``next_state = state + network([state, action])``.
    """

    input_dim: int
    layers: list[ReluLayer]
    output: ReluLayer
    metadata: dict = field(default_factory=dict)

    @property
    def output_dim(self) -> int:
        return self.output.units

    @property
    def relu_count(self) -> int:
        """Number of ReLU units (binaries in a big-M encoding)."""
        return sum(layer.units for layer in self.layers)

    @property
    def parameter_count(self) -> int:
        """Number of stored weights and biases."""
        blocks = [*self.layers, self.output]
        return sum(w.size for b in blocks for w in b.weights.values()) + sum(b.bias.size for b in blocks)

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """Evaluates the network.

        Shapes:
            - inputs: ``(..., input_dim)``
            - output: ``(..., output_dim)``
        """
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.shape[-1] != self.input_dim:
            raise ValueError(f"expected inputs with last dimension {self.input_dim}, got shape {inputs.shape}")
        sources = {INPUT: inputs}
        for layer in self.layers:
            sources[layer.name] = np.maximum(layer.pre_activation(sources), 0.0)
        return self.output.pre_activation(sources)

    def step(self, state: np.ndarray, action: np.ndarray) -> np.ndarray:
        """For a residual dynamics network: ``state + network([state, action])``."""
        if not self.metadata.get("residual"):
            raise ValueError("step() needs a residual dynamics network (metadata 'residual': true)")
        state = np.asarray(state, dtype=np.float64)
        return state + self(np.concatenate([state, np.asarray(action, dtype=np.float64)], axis=-1))

    # ------------------------------------------------------------------ files

    def save(self, path: Path | str) -> Path:
        """Writes ``path.npz`` (arrays) and ``path.json`` (structure); returns the .npz path."""
        path = Path(path).with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        described = []
        for block in [*self.layers, self.output]:
            inputs = []
            for source, weight in block.weights.items():
                key = f"{block.name}.from.{source}"
                arrays[key] = weight
                inputs.append({"from": source, "weight": key, "shape": list(weight.shape)})
            arrays[f"{block.name}.bias"] = block.bias
            described.append({"name": block.name, "units": block.units, "inputs": inputs, "bias": f"{block.name}.bias"})
        description = {
            "format": FORMAT, "input_dim": self.input_dim, "output_dim": self.output_dim,
            "relu_count": self.relu_count, "arrays": path.name,
            "layers": described[:-1], "output": described[-1], "metadata": self.metadata,
            "semantics": "a_0 = input; a_k = relu(bias_k + sum_j W_kj a_j); output = bias + sum_j V_j a_j",
        }
        np.savez(path, **arrays)
        path.with_suffix(".json").write_text(json.dumps(description, indent=2))
        return path

    @classmethod
    def load(cls, path: Path | str) -> CompactNetwork:
        """Reads a network written by `save` (numpy and json only).

        Raises:
            ValueError: Naming the file and field on a wrong format or inconsistent shapes.
        """
        path = Path(path).with_suffix(".npz")
        description_path = path.with_suffix(".json")
        description = json.loads(description_path.read_text())
        if description.get("format") != FORMAT:
            raise ValueError(f"{description_path}: field 'format': expected {FORMAT!r}, found {description.get('format')!r}")
        dims = {INPUT: int(description["input_dim"])}
        with np.load(path, allow_pickle=False) as arrays:
            blocks = []
            for entry in [*description["layers"], description["output"]]:
                weights = {}
                for source in entry["inputs"]:
                    weight = arrays[source["weight"]].astype(np.float64)
                    expected = (int(entry["units"]), dims.get(source["from"], -1))
                    if weight.shape != expected:
                        raise ValueError(f"{path}: array {source['weight']!r}: expected shape {expected}, found {weight.shape}")
                    weights[source["from"]] = weight
                blocks.append(ReluLayer(entry["name"], weights, arrays[entry["bias"]].astype(np.float64)))
                dims[entry["name"]] = int(entry["units"])
        return cls(dims[INPUT], blocks[:-1], blocks[-1], description.get("metadata", {}))


def graph_step(edge: CompactNetwork, node: CompactNetwork, state: np.ndarray, action: np.ndarray) -> np.ndarray:
    """One step of exported graph dynamics (`sparse_dynamics.export`), numpy only.

    Shapes:
        - state: ``(B, N * D)``, action: ``(B, A)``; output ``(B, N * D)``
    """
    layout = edge.metadata["layout"]
    count, dim, types = layout["node_count"], layout["node_state_dim"], layout["type_count"]
    state, action = np.atleast_2d(np.asarray(state, dtype=np.float64)), np.atleast_2d(np.asarray(action, dtype=np.float64))
    positions = state.reshape(len(state), count, dim)
    onehot = np.eye(types)[layout["node_types"]]
    messages = np.zeros((len(state), count, edge.output_dim))
    for i in range(count):
        for j in range(count):
            if i != j:
                features = np.concatenate(
                    [positions[:, j] - positions[:, i], np.broadcast_to(np.concatenate([onehot[i], onehot[j]]), (len(state), 2 * types))],
                    axis=-1,
                )
                messages[:, i] += edge(features)
    drive = np.zeros((len(state), count, action.shape[-1]))
    drive[:, layout["actuated_node"]] = action
    node_input = np.concatenate([messages, np.broadcast_to(onehot, (len(state), count, types)), drive], axis=-1)
    return state + node(node_input).reshape(len(state), count * dim)
