import numpy as np
import torch

from sparse_dynamics.compact import graph_step
from sparse_dynamics.export import export_model
from sparse_dynamics.models import load_model, make_model, save_model
from sparse_dynamics.models.graph import GraphDynamics
from sparse_dynamics.sparsify import relu_counts
from sparse_dynamics.tasks import make_task


def _states(task, count=8):
    return torch.as_tensor(np.stack([task.reset(seed) for seed in range(count)]), dtype=torch.float64)


def test_graph_model_is_translation_invariant():
    torch.manual_seed(0)
    task = make_task("sort")
    model = make_model(task, (16,)).double().eval()
    states, actions = _states(task), torch.randn(8, 2, dtype=torch.float64)
    shift = torch.tensor([3.0, -2.0], dtype=torch.float64).repeat(task.graph_layout.node_count)
    with torch.no_grad():
        assert torch.allclose(model(states + shift, actions), model(states, actions) + shift, atol=1e-10)


def test_exported_graph_networks_equal_the_gated_model(tmp_path):
    torch.manual_seed(1)
    task = make_task("rope")
    dense = make_model(task, (12, 12))
    gated = GraphDynamics.gated_from(dense)
    with torch.no_grad():
        gated.position_scale.uniform_(0.5, 2), gated.action_scale.uniform_(0.5, 2), gated.delta_scale.uniform_(0.1, 1)
    for group in gated.budget_groups():
        for activation in group.activations:
            activation.harden(torch.randint(0, 3, (activation.num_neurons,)))
    networks = export_model(gated)
    assert [networks[p].relu_count for p in ("edge", "node")] == relu_counts(gated)
    states, actions = _states(task), torch.randn(8, 2, dtype=torch.float64)
    with torch.no_grad():
        reference = gated.double().eval()(states, actions).numpy()
    assert (
        np.abs(graph_step(networks["edge"], networks["node"], states.numpy(), actions.numpy()) - reference).max()
        <= 1e-6
    )
    reloaded = load_model(save_model(gated.float(), tmp_path / "gated.pt"))
    assert relu_counts(reloaded) == relu_counts(gated)
