"""Graph dynamics (an edge and a node network) unrolled into one ReLU network, so the MPC can plan on it.

An exported graph model (`sparse_dynamics.export`) is two `CompactNetwork` objects stepped by
`sparse_dynamics.compact.graph_step`: for every ordered pair of distinct nodes ``(i, j)``
the edge network maps ``[p_j - p_i, onehot(type_i), onehot(type_j)]`` to a message, the
messages are summed per receiver ``i``, and the node network maps ``[sum of messages,
onehot(type_i), action if i is actuated else 0]`` to the change of ``p_i``. For a fixed
scene (node count, types and actuated node from the layout) all of this is one ReLU DAG
on ``[state, action]`` (Battaglia et al., "Interaction Networks", NeurIPS 2016, for the
model; Liu et al., NeurIPS 2023, plan on such an unrolled graph model for their object tasks):

- one copy of the edge network's ReLU layers per ordered pair; its input ``p_j - p_i``
  is linear in the state and the one-hot constants fold into the first biases;
- the edge network's output is affine in its input and ReLU layers, and so is the sum
  of messages: it folds into every block of the node network that reads the node input;
- one copy of the node network's ReLU layers per node, the action wired only into the
  actuated node's copy; the copies' outputs, node by node, are the state change.

Layer ``k`` of every edge copy becomes one layer ``edge<k>`` (pairs in the order of
`graph_step`: receiver ``i`` outer, sender ``j`` inner), layer ``k`` of every node copy
one layer ``node<k>`` (nodes in order), so the unrolled network has as many layers as the
two networks together and ``pairs x edge ReLUs + nodes x node ReLUs`` units, less the
units dropped because they cannot matter: a unit whose incoming weights are all zero is
the constant ``relu(bias)`` (folded into the biases of its readers), and a unit nothing
reads is removed. The result is a residual dynamics network (``metadata["residual"]``),
so `MIPEncoding`, `propagate_bounds`, the MIP controller and the torch planners work on
graph tasks unchanged.

`load_dynamics` reads what ``dynamics sparsify`` writes, an MLP export
(``compact_dynamics.npz``) or a graph export (``compact_edge.npz`` + ``compact_node.npz``),
and returns one network either way. numpy only (no torch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sparse_core.infra.errors import InputError
from sparse_dynamics.compact import INPUT, CompactNetwork, ReluLayer

__all__ = ["load_dynamics", "unroll_graph"]

PARTS = ("edge", "node")
MLP_FILE = "compact_dynamics.npz"
GRAPH_FILES = {part: f"compact_{part}.npz" for part in PARTS}

Affine = tuple[dict[str, np.ndarray], np.ndarray]
"""``(source -> matrix (rows, source size), bias (rows,))``: ``bias + sum_s M_s a_s`` over unrolled sources."""


def _compose(weights: dict[str, np.ndarray], bias: np.ndarray, sources: dict[str, Affine]) -> Affine:
    """``bias + sum_s W_s a_s`` where each original source ``a_s`` is itself an affine map of unrolled sources."""
    matrices: dict[str, np.ndarray] = {}
    total = np.asarray(bias, dtype=np.float64).copy()
    for source, weight in weights.items():
        inner, offset = sources[source]
        total += weight @ offset
        for name, matrix in inner.items():
            product = weight @ matrix
            matrices[name] = matrices[name] + product if name in matrices else product
    return matrices, total


def _add(first: Affine, second: Affine) -> Affine:
    matrices = dict(first[0])
    for name, matrix in second[0].items():
        matrices[name] = matrices[name] + matrix if name in matrices else matrix
    return matrices, first[1] + second[1]


def _unroll_layers(prefix: str, mlp_layers, copies: list[dict], layers: list, sizes: dict) -> None:
    """Each hidden layer of an MLP as one stacked layer ``<prefix>k`` over all its copies.

    Appends the stacked layers to ``layers`` (their widths to ``sizes``) and records in each
    copy how its layer's units are read back from the stacked one.
    """
    for k, layer in enumerate(mlp_layers, start=1):
        name = f"{prefix}{k}"
        weights, bias = _stack([_compose(layer.weights, layer.bias, copy) for copy in copies], sizes)
        layers.append(ReluLayer(name, weights, bias))
        sizes[name] = len(bias)
        for p, copy in enumerate(copies):
            copy[layer.name] = ({name: _selector(layer.units, p, len(copies))}, np.zeros(layer.units))


def _stack(parts: list[Affine], sizes: dict[str, int]) -> Affine:
    """The maps of ``parts`` one below the other (a source missing in a part reads as zeros)."""
    names = [name for name in sizes if any(name in matrices for matrices, _ in parts)]
    matrices = {name: np.vstack([m.get(name, np.zeros((len(b), sizes[name]))) for m, b in parts]) for name in names}
    return matrices, np.concatenate([b for _, b in parts])


def _selector(rows: int, copy: int, copies: int) -> np.ndarray:
    """``(rows, rows * copies)``: picks the block of copy ``copy`` out of a layer of ``copies`` equal blocks."""
    selector = np.zeros((rows, rows * copies))
    selector[np.arange(rows), copy * rows + np.arange(rows)] = 1.0
    return selector


def _check_pair(edge: CompactNetwork, node: CompactNetwork) -> dict:
    """The layout shared by ``edge`` and ``node`` after checking that they belong together; raises InputError."""
    for network, part in ((edge, "edge"), (node, "node")):
        if network.metadata.get("part") != part or "layout" not in network.metadata:
            raise InputError(
                f"expected the {part} network of an exported graph model (metadata part {part!r} and a layout), "
                f"found metadata part {network.metadata.get('part')!r}"
            )
    layout = edge.metadata["layout"]
    if node.metadata["layout"] != layout:
        raise InputError(
            f"the edge and node networks come from different graph models: layouts {layout} and "
            f"{node.metadata['layout']}"
        )
    dim, types = layout["node_state_dim"], layout["type_count"]
    if edge.input_dim != dim + 2 * types:
        raise InputError(f"the edge network takes {edge.input_dim} inputs, its layout needs {dim + 2 * types}")
    action_dim = node.input_dim - edge.output_dim - types
    if action_dim < 0 or node.metadata.get("message_dim", edge.output_dim) != edge.output_dim:
        raise InputError(
            f"the edge network sends messages of {edge.output_dim} entries, but the node network takes "
            f"{node.input_dim} inputs (message_dim {node.metadata.get('message_dim')!r} + {types} types + actions)"
        )
    if node.output_dim != dim:
        raise InputError(f"the node network gives {node.output_dim} outputs, its layout needs {dim} per node")
    return {**layout, "action_dim": action_dim}


def unroll_graph(edge: CompactNetwork, node: CompactNetwork) -> CompactNetwork:
    """One residual `CompactNetwork` equal to `graph_step` with ``edge`` and ``node`` (module docstring).

    Args:
        edge: The edge network of an exported graph model (``metadata["part"] == "edge"``).
        node: Its node network (``metadata["part"] == "node"``, the same layout).

    Returns:
        The network ``[state, action] -> state change``, residual; its metadata holds the
        layout (``graph_layout``), ``pairs``, ``edge_relus`` / ``node_relus`` (per copy)
        and ``dropped_units`` (units removed as constant or unread).

    Shapes:
        - input ``(N * D + A,)`` -> output ``(N * D,)`` (N nodes of D entries, A actions)

    Raises:
        InputError: If the two networks do not form one graph model.
    """
    layout = _check_pair(edge, node)
    count, dim, types, action_dim = (
        layout["node_count"],
        layout["node_state_dim"],
        layout["type_count"],
        layout["action_dim"],
    )
    state_dim = count * dim
    input_dim = state_dim + action_dim
    onehot = np.eye(types)[layout["node_types"]]
    pairs = [(i, j) for i in range(count) for j in range(count) if i != j]
    sizes: dict[str, int] = {INPUT: input_dim}
    layers: list[ReluLayer] = []

    def position(i: int) -> np.ndarray:
        picker = np.zeros((dim, input_dim))
        picker[:, i * dim : (i + 1) * dim] = np.eye(dim)
        return picker

    # every copy reads its network's sources through affine maps of the unrolled sources
    copies = [
        {INPUT: ({INPUT: np.vstack([position(j) - position(i), np.zeros((2 * types, input_dim))])},
                 np.concatenate([np.zeros(dim), onehot[i], onehot[j]]))}
        for i, j in pairs
    ]  # fmt: skip
    _unroll_layers("edge", edge.layers, copies, layers, sizes)
    messages = [({}, np.zeros(edge.output_dim)) for _ in range(count)]
    for (i, _), copy in zip(pairs, copies):
        messages[i] = _add(messages[i], _compose(edge.output.weights, edge.output.bias, copy))
    drive = np.zeros((action_dim, input_dim))
    drive[:, state_dim:] = np.eye(action_dim)
    node_copies = []
    for i in range(count):
        actuated = i == layout["actuated_node"]
        constants = ({INPUT: drive} if actuated else {}, np.zeros(action_dim))
        parts = [messages[i], ({}, onehot[i].astype(np.float64)), constants]
        node_copies.append({INPUT: _stack(parts, sizes)})
    _unroll_layers("node", node.layers, node_copies, layers, sizes)
    output = ReluLayer(
        "output", *_stack([_compose(node.output.weights, node.output.bias, copy) for copy in node_copies], sizes)
    )
    full = len(pairs) * edge.relu_count + count * node.relu_count
    layers, output = _drop_idle_units(layers, output)
    metadata = {
        "model": "unrolled_graph_dynamics",
        "residual": True,
        "state_dim": state_dim,
        "action_dim": action_dim,
        "graph_layout": {key: value for key, value in layout.items() if key != "action_dim"},
        "pairs": len(pairs),
        "edge_relus": edge.relu_count,
        "node_relus": node.relu_count,
        "dropped_units": full - sum(layer.units for layer in layers),
        "equation": "next_state = state + network(concat(state, action)); network = graph_step unrolled over "
        "every ordered node pair (edge copies) and every node (node copies)",
    }
    return CompactNetwork(input_dim, layers, output, metadata)


def _drop_idle_units(layers: list[ReluLayer], output: ReluLayer) -> tuple[list[ReluLayer], ReluLayer]:
    """Folds units with all-zero incoming weights (constant ``relu(bias)``) into their readers and removes units
    nobody reads; drops all-zero weight blocks and empty layers. The network's function is unchanged."""
    blocks = [*layers, output]
    for index, layer in enumerate(layers):  # constants, front to back (folding can make later units constant)
        incoming = sum((np.abs(w).sum(axis=1) for w in layer.weights.values()), np.zeros(layer.units))
        constant = incoming == 0.0
        if constant.any():
            value = np.maximum(layer.bias[constant], 0.0)
            for reader in blocks[index + 1 :]:
                if layer.name in reader.weights:
                    reader.bias = reader.bias + reader.weights[layer.name][:, constant] @ value
            _keep_units(blocks, index, ~constant)
    for index in range(len(layers) - 1, -1, -1):  # unread units, back to front (removal can leave earlier ones unread)
        layer = blocks[index]
        read = np.zeros(layer.units, dtype=bool)
        for reader in blocks[index + 1 :]:
            if layer.name in reader.weights:
                read |= np.any(reader.weights[layer.name] != 0.0, axis=0)
        if not read.all():
            _keep_units(blocks, index, read)
    for block in blocks:
        block.weights = {s: w for s, w in block.weights.items() if w.size and np.any(w != 0.0)}
    kept = [layer for layer in blocks[:-1] if layer.units > 0]
    names = {INPUT, *(layer.name for layer in kept)}
    for block in [*kept, blocks[-1]]:
        block.weights = {s: w for s, w in block.weights.items() if s in names}
    return kept, blocks[-1]


def _keep_units(blocks: list[ReluLayer], index: int, keep: np.ndarray) -> None:
    """Keeps only the units ``keep`` of ``blocks[index]``: its rows and its readers' columns."""
    layer = blocks[index]
    layer.weights = {s: w[keep] for s, w in layer.weights.items()}
    layer.bias = layer.bias[keep]
    for reader in blocks[index + 1 :]:
        if layer.name in reader.weights:
            reader.weights[layer.name] = reader.weights[layer.name][:, keep]


# ---------------------------------------------------------------------------- files


def _partner(path: Path, part: str) -> Path:
    """The file of the other part beside ``path`` (``compact_edge.npz`` <-> ``compact_node.npz``)."""
    other = PARTS[1 - PARTS.index(part)]
    stem = path.stem
    name = stem[: -len(part)] + other if stem.endswith(part) else GRAPH_FILES[other][: -len(".npz")]
    return path.with_name(name + ".npz")


def load_dynamics(path: Path | str) -> CompactNetwork:
    """The dynamics network of an export: an MLP's network, or a graph model's edge and node networks unrolled.

    Args:
        path: A compact network file written by ``dynamics sparsify`` (``.npz`` or
            ``.json``; ``compact_dynamics``, or either of ``compact_edge`` /
            ``compact_node``, whose partner is read from beside it), or the folder
            holding them.

    Returns:
        A residual network ``[state, action] -> state change`` (`unroll_graph` for a graph model).

    Raises:
        FileNotFoundError: If the file (or, for a graph model, its partner) is missing.
        InputError: If a file is not a readable compact network, is no dynamics network,
            or the edge and node networks do not belong together (naming the files).
    """
    path = Path(path)
    if path.is_dir():
        if (path / MLP_FILE).exists():
            path = path / MLP_FILE
        elif any((path / name).exists() for name in GRAPH_FILES.values()):
            path = path / next(name for name in GRAPH_FILES.values() if (path / name).exists())
        else:
            raise InputError(
                f"{path}: holds no compact dynamics network (expected {MLP_FILE}, or "
                f"{GRAPH_FILES['edge']} and {GRAPH_FILES['node']}, as `sparseworks dynamics sparsify` writes them)"
            )
    path = path.with_suffix(".npz")
    network = CompactNetwork.load(path)
    part = network.metadata.get("part")
    if part not in PARTS:
        if not network.metadata.get("residual") or "state_dim" not in network.metadata:
            raise InputError(
                f"{path}: not a dynamics network (its metadata says neither residual dynamics with state_dim "
                f"nor a graph model's edge / node part)"
            )
        return network
    partner = _partner(path, part)
    if not partner.exists():
        raise FileNotFoundError(
            f"{path} is the {part} network of a graph model; its {PARTS[1 - PARTS.index(part)]} network {partner} "
            f"is missing (`sparseworks dynamics sparsify` writes both into one folder)"
        )
    other = CompactNetwork.load(partner)
    edge, node = (network, other) if part == "edge" else (other, network)
    try:
        return unroll_graph(edge, node)
    except InputError as error:
        paths = (path, partner) if part == "edge" else (partner, path)
        raise InputError(f"{paths[0]} and {paths[1]}: {error}") from None
