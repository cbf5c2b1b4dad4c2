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
import typing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sparse_core.infra.errors import InputError
from sparse_core.infra.files import atomic_write
from sparse_dynamics.readers import read_json, read_npz

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
        """Writes ``path.npz`` (arrays) and ``path.json`` (structure), each atomically; returns the .npz path."""
        path = Path(path).with_suffix(".npz")
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
            "format": FORMAT,
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "relu_count": self.relu_count,
            "arrays": path.name,
            "layers": described[:-1],
            "output": described[-1],
            "metadata": self.metadata,
            "semantics": "a_0 = input; a_k = relu(bias_k + sum_j W_kj a_j); output = bias + sum_j V_j a_j",
        }
        with atomic_write(path, "wb") as handle:
            np.savez(handle, **arrays)
        with atomic_write(path.with_suffix(".json"), "w") as handle:
            handle.write(json.dumps(description, indent=2))
        return path

    @classmethod
    def load(cls, path: Path | str) -> CompactNetwork:
        """Reads a network written by `save` (numpy and json only; either file may be gzipped).

        Every field of the description is checked (format tag, names, sizes, sources that
        exist and come earlier), and so is every array: its shape against the graph
        (``(units, size of its source)`` for a weight, ``(units,)`` for a bias) and its
        values (finite). A residual dynamics network's sizes are checked against its
        ``state_dim`` and ``action_dim``.

        Raises:
            FileNotFoundError: If either file is missing.
            InputError: Naming the file and the field or array on any malformed content
                (`sparse_core.infra.errors.InputError`, a ValueError).
        """
        path = Path(path).with_suffix(".npz")
        description_path = path.with_suffix(".json")
        for needed in (path, description_path):
            if not needed.exists():
                raise FileNotFoundError(
                    f"compact network file {needed} not found (write one with `sparseworks dynamics sparsify`)"
                )
        description = read_json(description_path, f"the JSON description of a compact network ({FORMAT})")
        structure = _Structure(description_path, description)
        arrays = read_npz(path, f"the arrays of a compact network ({FORMAT})")
        blocks = [structure.block(entry, arrays, path) for entry in structure.entries]
        network = cls(structure.input_dim, blocks[:-1], blocks[-1], structure.metadata)
        structure.check_totals(network)
        return network


class _Structure:
    """The checked description (.json) of a compact network; `block` reads one block's arrays."""

    def __init__(self, path: Path, description: dict) -> None:
        self.path = path
        if description.get("format") != FORMAT:
            self.fail(
                "format",
                f"expected {FORMAT!r} (a compact network written by `sparseworks dynamics sparsify`), "
                f"found {description.get('format')!r}",
            )
        self.description = description
        self.input_dim = self.count("input_dim", description.get("input_dim"))
        layers, output = description.get("layers"), description.get("output")
        if not isinstance(layers, list):
            self.fail("layers", f"expected a list of ReLU layers, found {_kind(layers)}")
        if not isinstance(output, dict):
            self.fail("output", f"expected the output block (a JSON object), found {_kind(output)}")
        self.entries = [*layers, output]
        metadata = description.get("metadata", {})
        if not isinstance(metadata, dict):
            self.fail("metadata", f"expected a JSON object, found {_kind(metadata)}")
        self.metadata = metadata
        self.sizes = {INPUT: self.input_dim}

    def fail(self, key: str, message: str) -> typing.NoReturn:
        raise InputError(f"{self.path}: field {key!r}: {message}")

    def count(self, key: str, value: object, minimum: int = 1) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.fail(key, f"expected an integer >= {minimum}, found {value!r}")
        return value

    def block(self, entry: object, arrays: dict[str, np.ndarray], npz: Path) -> ReluLayer:
        """One block: its sources must exist already (the input or earlier layers)."""
        index = len(self.sizes) - 1
        is_output = index == len(self.entries) - 1
        where = "output" if is_output else f"layers[{index}]"
        if not isinstance(entry, dict):
            self.fail(where, f"expected a JSON object, found {_kind(entry)}")
        name = entry.get("name")
        if not isinstance(name, str) or not name or name in self.sizes:
            self.fail(f"{where}.name", f"expected a new block name (not {', '.join(self.sizes)}), found {name!r}")
        units = self.count(f"{where}.units", entry.get("units"))
        inputs = entry.get("inputs")
        if not isinstance(inputs, list):
            self.fail(f"{where}.inputs", f"expected a list of sources, found {_kind(inputs)}")
        weights: dict[str, np.ndarray] = {}
        for number, source in enumerate(inputs):
            place = f"{where}.inputs[{number}]"
            if not isinstance(source, dict):
                self.fail(place, f"expected a JSON object with 'from' and 'weight', found {_kind(source)}")
            origin = source.get("from")
            if not isinstance(origin, str) or origin not in self.sizes:
                self.fail(
                    f"{place}.from",
                    f"expected the input or an earlier layer ({', '.join(self.sizes)}), found {origin!r}",
                )
            if origin in weights:
                self.fail(f"{place}.from", f"source {origin!r} is listed twice")
            expected = (units, self.sizes[origin])
            if "shape" in source and source["shape"] != list(expected):
                self.fail(
                    f"{place}.shape",
                    f"expected {list(expected)} ({units} units from {origin!r}), found {source['shape']!r}",
                )
            weights[origin] = _array(arrays, source.get("weight"), expected, npz, self.path, f"{place}.weight")
        bias = _array(arrays, entry.get("bias"), (units,), npz, self.path, f"{where}.bias")
        self.sizes[name] = units
        return ReluLayer(name, weights, bias)

    def check_totals(self, network: CompactNetwork) -> None:
        """The description's summary fields and a residual network's sizes agree with the blocks."""
        for key, actual in (("output_dim", network.output_dim), ("relu_count", network.relu_count)):
            if key in self.description and self.description[key] != actual:
                self.fail(key, f"says {self.description[key]!r}, but the blocks give {actual}")
        if "layout" in self.metadata:
            self.check_graph_part(network)
        if self.metadata.get("residual"):
            state_dim, action_dim = self.metadata.get("state_dim"), self.metadata.get("action_dim")
            if state_dim is None and action_dim is None:
                return
            state_dim = self.count("metadata.state_dim", state_dim)
            action_dim = self.count("metadata.action_dim", action_dim, minimum=0)
            if (network.input_dim, network.output_dim) != (state_dim + action_dim, state_dim):
                self.fail(
                    "metadata",
                    f"a residual dynamics network of {state_dim} states and {action_dim} actions "
                    f"maps {state_dim + action_dim} inputs to {state_dim} outputs, found "
                    f"{network.input_dim} inputs and {network.output_dim} outputs",
                )

    def check_graph_part(self, network: CompactNetwork) -> None:
        """An exported graph model's layout, and the sizes of its edge or node network (`graph_step`)."""
        layout = self.metadata["layout"]
        if not isinstance(layout, dict):
            self.fail("metadata.layout", f"expected a JSON object, found {_kind(layout)}")
        count = self.count("metadata.layout.node_count", layout.get("node_count"), minimum=2)
        dim = self.count("metadata.layout.node_state_dim", layout.get("node_state_dim"))
        types = self.count("metadata.layout.type_count", layout.get("type_count"))
        node_types = layout.get("node_types")
        if (
            not isinstance(node_types, list)
            or len(node_types) != count
            or not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < types for t in node_types)
        ):
            self.fail("metadata.layout.node_types", f"expected {count} integers in [0, {types}), found {node_types!r}")
        actuated = layout.get("actuated_node")
        if not isinstance(actuated, int) or isinstance(actuated, bool) or not 0 <= actuated < count:
            self.fail("metadata.layout.actuated_node", f"expected an integer in [0, {count}), found {actuated!r}")
        part = self.metadata.get("part")
        if part == "edge":
            expected = (dim + 2 * types, None)
        elif part == "node":
            message = self.count("metadata.message_dim", self.metadata.get("message_dim"))
            action = self.count("metadata.action_dim", self.metadata.get("action_dim"))
            expected = (message + types + action, dim)
        else:
            self.fail("metadata.part", f"expected 'edge' or 'node' for a network with a graph layout, found {part!r}")
        if network.input_dim != expected[0] or expected[1] is not None and network.output_dim != expected[1]:
            self.fail(
                "input_dim",
                f"the {part} network of this layout takes {expected[0]} inputs"
                + (f" and gives {expected[1]} outputs" if expected[1] is not None else "")
                + f", found {network.input_dim} inputs and {network.output_dim} outputs",
            )


def _kind(value: object) -> str:
    return "nothing" if value is None else f"a JSON {type(value).__name__} ({str(value)[:40]})"


def _array(
    arrays: dict[str, np.ndarray], key: object, shape: tuple[int, ...], npz: Path, json_path: Path, field: str
) -> np.ndarray:
    """The array ``key`` of the npz file, checked for shape and finiteness."""
    if not isinstance(key, str) or key not in arrays:
        raise InputError(
            f"{json_path}: field {field!r}: names array {key!r}, which {npz.name} does not hold "
            f"(it holds {len(arrays)} arrays)"
        )
    array = arrays[key]
    if array.shape != shape:
        raise InputError(f"{npz}: array {key!r}: expected shape {shape}, found {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(
            f"{npz}: array {key!r}: expected finite values, found {int((~np.isfinite(array)).sum())} NaN/inf entries"
        )
    return array


def graph_step(edge: CompactNetwork, node: CompactNetwork, state: np.ndarray, action: np.ndarray) -> np.ndarray:
    """One step of exported graph dynamics (`sparse_dynamics.export`), numpy only.

    Shapes:
        - state: ``(B, N * D)``, action: ``(B, A)``; output ``(B, N * D)``
    """
    layout = edge.metadata["layout"]
    count, dim, types = layout["node_count"], layout["node_state_dim"], layout["type_count"]
    state, action = (
        np.atleast_2d(np.asarray(state, dtype=np.float64)),
        np.atleast_2d(np.asarray(action, dtype=np.float64)),
    )
    positions = state.reshape(len(state), count, dim)
    onehot = np.eye(types)[layout["node_types"]]
    messages = np.zeros((len(state), count, edge.output_dim))
    for i in range(count):
        for j in range(count):
            if i != j:
                features = np.concatenate(
                    [
                        positions[:, j] - positions[:, i],
                        np.broadcast_to(np.concatenate([onehot[i], onehot[j]]), (len(state), 2 * types)),
                    ],
                    axis=-1,
                )
                messages[:, i] += edge(features)
    drive = np.zeros((len(state), count, action.shape[-1]))
    drive[:, layout["actuated_node"]] = action
    node_input = np.concatenate([messages, np.broadcast_to(onehot, (len(state), count, types)), drive], axis=-1)
    return state + node(node_input).reshape(len(state), count * dim)
