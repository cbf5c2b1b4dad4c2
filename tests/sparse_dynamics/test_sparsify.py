import numpy as np
import pytest
import torch

from sparse_core.activation_gates import IDENTITY, RELU, ReluBudgetSchedule
from sparse_dynamics.data import CollectConfig, collect
from sparse_dynamics.export import export_model
from sparse_dynamics.models.mlp import MLPDynamics
from sparse_dynamics.pareto import small_hidden
from sparse_dynamics.sparsify import (
    SparsifyConfig,
    SparsifyRecipe,
    enforce_budget,
    relu_counts,
    sparsify,
    sparsify_to_budget,
)
from sparse_dynamics.tasks import make_task
from sparse_dynamics.training import TrainConfig, evaluation_step, rollout_error, state_scale, train_dense


@pytest.fixture(scope="module")
def pwa_data():
    return collect(make_task("pwa"), CollectConfig(episodes=40, steps=12, seed=0))


@pytest.fixture(scope="module")
def dense(pwa_data):
    return train_dense(pwa_data, (32, 32), TrainConfig(steps=400), seed=0)


def test_budget_schedule_shrinks_monotonically_to_the_target():
    schedule = ReluBudgetSchedule(64, 8, end_step=100)
    budgets = [schedule(step) for step in range(0, 130, 10)]
    assert budgets[0] == 64 and budgets[-1] == 8 and schedule(100) == 8
    assert all(later <= earlier for earlier, later in zip(budgets, budgets[1:]))
    assert 64 - schedule(10) > schedule(90) - 8  # cubic: fast first, slow at the end


def test_sparsify_meets_the_budget_and_exports_exactly(pwa_data, dense):
    gated = MLPDynamics.gated_from(dense)
    config = SparsifyConfig(
        4, train=TrainConfig(steps=300, learning_rate=1e-3), finetune=TrainConfig(steps=100, learning_rate=5e-4)
    )
    info = sparsify(gated, pwa_data, config, torch.Generator().manual_seed(0))
    assert info["relu_counts"][0] <= 4
    assert all(activation.is_hardened for activation in gated.activations)
    assert info["expected_relus_end"][0] < 64  # the gates followed the shrinking budget
    network = export_model(gated)["dynamics"]
    assert network.relu_count == relu_counts(gated)[0]
    states = pwa_data.states[:, :-1].reshape(-1, 2)
    actions = pwa_data.actions.reshape(-1, 2)
    reference = evaluation_step(gated)(torch.as_tensor(states), torch.as_tensor(actions)).numpy()
    assert np.abs(network.step(states, actions) - reference).max() <= 1e-6
    # a PWA system with two kinks: a few ReLUs predict far better than a constant model
    assert rollout_error(evaluation_step(gated), pwa_data, 1, state_scale(pwa_data)) < 0.05


def test_budget_larger_than_the_network_is_an_error(pwa_data, dense):
    with pytest.raises(ValueError, match="relu budget 65 is larger than the network: MLP 0 has only 64 hidden neurons"):
        sparsify(MLPDynamics.gated_from(dense), pwa_data, SparsifyRecipe().for_budget(65), torch.Generator())


def test_enforce_budget_turns_the_least_likely_relus_into_identities():
    model = MLPDynamics(2, 1, (4,), gated=True)
    with torch.no_grad():
        model.activations[0].keep_gate.log_alpha.fill_(5.0)
        model.activations[0].relu_gate.log_alpha.copy_(torch.tensor([5.0, 3.0, 4.0, 6.0]))
    choices = enforce_budget(model.net, 2)[0]
    assert choices.tolist() == [RELU, IDENTITY, IDENTITY, RELU]


def test_small_dense_widths_split_the_relu_count():
    assert small_hidden(16, 2) == (8, 8) and small_hidden(5, 2) == (3, 2) and small_hidden(1, 2) == (1,)


def _same_weights(first, second):
    return all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_training_and_sparsifying_follow_the_seed_not_the_global_generator(pwa_data):
    torch.manual_seed(1)
    first = train_dense(pwa_data, (8,), TrainConfig(steps=20), seed=5)
    torch.manual_seed(2)
    second = train_dense(pwa_data, (8,), TrainConfig(steps=20), seed=5)
    assert _same_weights(first, second)
    assert not _same_weights(first, train_dense(pwa_data, (8,), TrainConfig(steps=20), seed=6))
    recipe = SparsifyRecipe(sparsify_steps=30, finetune_steps=5, batch_size=32)
    torch.manual_seed(3)
    gated, info = sparsify_to_budget(first, pwa_data, 3, recipe, seed=5)
    torch.manual_seed(4)
    again, same = sparsify_to_budget(first, pwa_data, 3, recipe, seed=5)
    assert info == same and _same_weights(gated, again)
    assert _same_weights(first, second)  # the dense model is left unchanged


def test_recipe_for_a_budget_uses_its_own_rates_and_the_rollout_loss():
    recipe = SparsifyRecipe(sparsify_steps=7, finetune_steps=3, learning_rate=1e-3, finetune_learning_rate=2e-4)
    config = recipe.for_budget(5, rollout_steps=4)
    assert isinstance(config, SparsifyConfig) and config.relu_budget == 5 and config.penalty == recipe.penalty
    assert (config.train.steps, config.train.learning_rate, config.train.rollout_steps) == (7, 1e-3, 4)
    assert (config.finetune.steps, config.finetune.learning_rate, config.finetune.batch_size) == (
        3,
        2e-4,
        recipe.batch_size,
    )
