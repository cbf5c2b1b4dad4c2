"""Graph dynamics unrolled into one network: equal to graph_step, sized as pairs x edge + nodes x node, plannable."""

import numpy as np
import pytest
import torch

from sparse_core.activation_gates import IDENTITY, OFF, RELU
from sparse_core.infra.errors import InputError
from sparse_dynamics.compact import INPUT, CompactNetwork, ReluLayer, graph_step
from sparse_dynamics.export import export_model, save_export
from sparse_dynamics.models import make_model
from sparse_dynamics.mpc.config import MIPConfig, MPPIConfig
from sparse_dynamics.mpc.controller import MIPController
from sparse_dynamics.mpc.graph import load_dynamics, unroll_graph
from sparse_dynamics.mpc.planners import make_planner
from sparse_dynamics.mpc.problem import ControlProblem
from sparse_dynamics.tasks import make_task


def exported_graph(task_name: str, hidden=(6, 5), seed: int = 0, **options) -> dict[str, CompactNetwork]:
    """A graph model of the task with random weights and random hardened choices (off / identity / ReLU), exported."""
    task = make_task(task_name, **options)
    generator = torch.Generator().manual_seed(seed)
    model = make_model(task, hidden, gated=True, generator=generator)
    for mlp in model.budget_groups():
        for activation in mlp.activations:
            choices = torch.randint(OFF, RELU + 1, (activation.num_neurons,), generator=generator)
            choices[:2] = torch.tensor([RELU, IDENTITY])
            activation.harden(choices)
        with torch.no_grad():
            for linear in mlp.linears:
                linear.bias.normal_(0.0, 0.5, generator=generator)
    with torch.no_grad():
        model.position_scale.fill_(4.0)
        model.delta_scale.fill_(0.7)
        model.delta_mean.fill_(0.1)
    return export_model(model)


def random_states(task_name: str, count: int, seed: int, **options) -> tuple[np.ndarray, np.ndarray]:
    task = make_task(task_name, **options)
    rng = np.random.default_rng(seed)
    return rng.uniform(-15, 15, size=(count, task.state_dim)), rng.uniform(-2, 2, size=(count, task.action_dim))


@pytest.mark.parametrize("task_name, options", [("sort", {}), ("rope", {"segments": 5, "grasped_segment": 2})])
def test_unrolled_network_equals_graph_step_and_has_a_copy_per_pair_and_node(task_name, options):
    parts = exported_graph(task_name, **options)
    edge, node = parts["edge"], parts["node"]
    assert any(len(layer.weights) > 1 for layer in edge.layers[1:] + node.layers[1:])  # identities folded: a DAG
    unrolled = unroll_graph(edge, node)
    layout = edge.metadata["layout"]
    nodes = layout["node_count"]
    states, actions = random_states(task_name, 64, 1, **options)
    expected = graph_step(edge, node, states, actions)
    assert np.abs(unrolled.step(states, actions) - expected).max() <= 1e-10
    assert unrolled.metadata["residual"] and unrolled.metadata["pairs"] == nodes * (nodes - 1)
    assert unrolled.metadata["dropped_units"] == 0  # generic weights: every unit reads and is read
    assert unrolled.relu_count == nodes * (nodes - 1) * edge.relu_count + nodes * node.relu_count
    assert len(unrolled.layers) == len(edge.layers) + len(node.layers)
    assert (unrolled.input_dim, unrolled.output_dim) == (states.shape[1] + actions.shape[1], states.shape[1])


def hand_built_pair(node_count: int = 3, actuated: int = 0) -> tuple[CompactNetwork, CompactNetwork]:
    """A 2-D, 2-type graph model whose edge unit 2 reads only the types and whose node unit 2 reads only the
    action (constants in every pair / every unactuated node), and whose node unit 3 nobody reads."""
    rng = np.random.default_rng(3)
    layout = {"node_count": node_count, "node_state_dim": 2, "node_types": [0] + [1] * (node_count - 1),
              "type_count": 2, "actuated_node": actuated}  # fmt: skip
    graph = {"model": "graph_dynamics", "kind": "graph", "layout": layout, "message_dim": 3, "action_dim": 2}
    edge_in = rng.normal(size=(3, 6))
    edge_in[1, :2] = 0.0  # unit 1 reads one-hot types only
    relu1 = ReluLayer("relu1", {INPUT: edge_in}, rng.normal(size=3))
    edge_out = ReluLayer(
        "output", {INPUT: rng.normal(size=(3, 6)), "relu1": rng.normal(size=(3, 3))}, rng.normal(size=3)
    )
    edge = CompactNetwork(6, [relu1], edge_out, {**graph, "part": "edge"})
    node_in = rng.normal(size=(3, 7))
    node_in[1, :5] = 0.0  # unit 1 reads the action only: constant 0-input where the node is not actuated
    node_relu = ReluLayer("relu1", {INPUT: node_in}, rng.normal(size=3))
    node_out_relu = 0.1 * rng.normal(size=(2, 3))
    node_out_relu[:, 2] = 0.0  # unit 2 is read by nobody
    node_out = ReluLayer(
        "output", {INPUT: 0.1 * rng.normal(size=(2, 7)), "relu1": node_out_relu}, 0.1 * rng.normal(size=2)
    )
    node = CompactNetwork(7, [node_relu], node_out, {**graph, "part": "node"})
    return edge, node


def test_constant_and_unread_units_are_dropped_without_changing_the_function():
    edge, node = hand_built_pair(node_count=4, actuated=1)
    unrolled = unroll_graph(edge, node)
    pairs, nodes = 12, 4
    dropped = pairs * 1 + (nodes - 1) * 1 + nodes * 1  # type-only edge units, action-only unactuated, unread
    assert unrolled.metadata["dropped_units"] == dropped
    assert unrolled.relu_count == pairs * 3 + nodes * 3 - dropped
    rng = np.random.default_rng(0)
    states, actions = rng.uniform(-10, 10, size=(100, 8)), rng.uniform(-2, 2, size=(100, 2))
    assert np.abs(unrolled.step(states, actions) - graph_step(edge, node, states, actions)).max() <= 1e-10


def small_problem(state_dim: int, horizon: int) -> ControlProblem:
    high = np.full(state_dim, 30.0)
    return ControlProblem(
        horizon=horizon, state_low=-high, state_high=high, action_low=np.full(2, -2.0), action_high=np.full(2, 2.0),
        rate_limit=None, goal_matrix=np.eye(state_dim), goal_weights=np.ones(state_dim),
        goal_map=lambda goal, state: goal.reshape(-1),
    )  # fmt: skip


def graph_rollout(edge, node, state, actions) -> np.ndarray:
    states = [np.asarray(state, dtype=np.float64)]
    for action in actions:
        states.append(graph_step(edge, node, states[-1], action)[0])
    return np.stack(states)


def test_a_mip_on_the_unrolled_graph_predicts_the_graph_rollout_of_its_plan():
    edge, node = hand_built_pair(node_count=3)
    unrolled = unroll_graph(edge, node)
    problem = small_problem(6, horizon=2)
    controller = MIPController(unrolled, problem, MIPConfig(mip_gap=0.0, time_limit_seconds=30.0))
    state, goal = np.array([0.0, 0.0, 3.0, 1.0, -2.0, 4.0]), np.array([1.0, 1.0, 2.0, 2.0, -1.0, 3.0])
    for _ in range(2):
        actions, info = controller.plan(state, goal)
        assert info["status"] == "optimal"
        expected = graph_rollout(edge, node, state, actions)
        assert np.abs(info["predicted_states"] - expected).max() <= 1e-5
        assert info["objective"] == pytest.approx(problem.trajectory_cost(expected, actions, goal), abs=1e-5)
        state = expected[1]
    mppi = make_planner("mppi", unrolled, problem, MPPIConfig(samples=16, iterations=2))
    actions, info = mppi.plan(state, goal)
    assert np.abs(info["predicted_states"] - graph_rollout(edge, node, state, actions)).max() <= 1e-9


def test_load_dynamics_reads_a_graph_export_by_folder_or_either_file_and_an_mlp_export(tmp_path):
    parts = exported_graph("sort")
    save_export(parts, tmp_path / "graph")
    states, actions = random_states("sort", 8, 2)
    expected = graph_step(parts["edge"], parts["node"], states, actions)
    for path in ("graph", "graph/compact_edge.npz", "graph/compact_node.json"):
        network = load_dynamics(tmp_path / path)
        assert np.abs(network.step(states, actions) - expected).max() <= 1e-10
    mlp = CompactNetwork(
        3, [ReluLayer("relu1", {INPUT: np.ones((1, 3))}, np.zeros(1))], ReluLayer("output", {"relu1": np.ones((2, 1))},
        np.zeros(2)), {"residual": True, "state_dim": 2, "action_dim": 1},
    )  # fmt: skip
    save_export({"dynamics": mlp}, tmp_path / "mlp")
    loaded = load_dynamics(tmp_path / "mlp")
    assert loaded.relu_count == 1 and np.allclose(loaded(np.ones(3)), [3.0, 3.0])


def test_load_dynamics_names_what_is_missing_or_does_not_fit(tmp_path):
    save_export(exported_graph("sort"), tmp_path / "sort")
    save_export({"edge": exported_graph("rope")["edge"]}, tmp_path / "mixed")
    save_export({"node": exported_graph("sort")["node"]}, tmp_path / "mixed")
    with pytest.raises(InputError, match=r"mixed/compact_edge.npz and .*mixed/compact_node.npz: .*different graph"):
        load_dynamics(tmp_path / "mixed")
    (tmp_path / "lonely").mkdir()
    save_export({"edge": exported_graph("sort")["edge"]}, tmp_path / "lonely")
    with pytest.raises(FileNotFoundError, match=r"edge network of a graph model; its node network .*compact_node.npz"):
        load_dynamics(tmp_path / "lonely" / "compact_edge.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no compact dynamics network"):
        load_dynamics(tmp_path / "empty")
    plain = CompactNetwork(2, [], ReluLayer("output", {INPUT: np.ones((1, 2))}, np.zeros(1)), {})
    plain.save(tmp_path / "plain.npz")
    with pytest.raises(InputError, match="not a dynamics network"):
        load_dynamics(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError):
        load_dynamics(tmp_path / "absent.npz")
