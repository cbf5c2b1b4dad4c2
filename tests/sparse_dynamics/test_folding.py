import subprocess
import sys

import numpy as np
import pytest
import torch

from sparse_core.activation_gates import IDENTITY, OFF, RELU, GatedMLP
from sparse_dynamics.compact import CompactNetwork
from sparse_dynamics.export import export_model
from sparse_dynamics.folding import fold_gated_mlp
from sparse_dynamics.models.mlp import MLPDynamics


def _hardened(sizes, choices, seed=0):
    torch.manual_seed(seed)
    mlp = GatedMLP(sizes).double()
    for activation, choice in zip(mlp.activations, choices):
        activation.harden(torch.as_tensor(choice))
    return mlp.eval()


@pytest.mark.parametrize("seed", range(4))
def test_compact_equals_hardened_gated_network(seed):
    generator = np.random.default_rng(seed)
    sizes = [5, 12, 9, 7, 3]
    choices = [generator.integers(0, 3, size=width) for width in sizes[1:-1]]
    mlp = _hardened(sizes, choices, seed)
    inputs = torch.randn(200, 5, dtype=torch.float64) * 3
    compact = fold_gated_mlp(mlp)
    assert np.abs(compact(inputs.numpy()) - mlp(inputs).detach().numpy()).max() <= 1e-6
    assert compact.relu_count == sum(int((torch.as_tensor(c) == RELU).sum()) for c in choices)


def test_identity_and_removed_layers_fold_away():
    sizes = [3, 4, 4, 2]
    mlp = _hardened(sizes, [[IDENTITY] * 4, [RELU, OFF, IDENTITY, RELU]])
    compact = fold_gated_mlp(mlp)
    assert [layer.name for layer in compact.layers] == ["relu1"] and compact.relu_count == 2
    assert set(compact.layers[0].weights) == {"input"}  # the all-identity layer became W2 @ W1
    inputs = torch.randn(50, 3, dtype=torch.float64)
    assert np.allclose(compact(inputs.numpy()), mlp(inputs).detach().numpy(), atol=1e-12)
    linear = fold_gated_mlp(_hardened(sizes, [[IDENTITY] * 4, [OFF, IDENTITY, IDENTITY, OFF]]))
    assert linear.relu_count == 0 and list(linear.output.weights) == ["input"]


def test_unhardened_network_is_refused():
    with pytest.raises(ValueError, match="not hardened"):
        fold_gated_mlp(GatedMLP([2, 3, 2]))


def test_dynamics_export_matches_the_float32_model_and_round_trips(tmp_path):
    torch.manual_seed(0)
    model = MLPDynamics(4, 2, (16, 16), gated=True)
    with torch.no_grad():
        model.input_mean.uniform_(-1, 1), model.input_scale.uniform_(0.5, 2)
        model.delta_mean.uniform_(-1, 1), model.delta_scale.uniform_(0.1, 2)
    for activation in model.activations:
        activation.harden(torch.randint(0, 3, (16,)))
    model.eval()
    network = export_model(model)["dynamics"]
    state, action = torch.randn(64, 4), torch.randn(64, 2)
    with torch.no_grad():
        gated = model.double()(state.double(), action.double()).numpy()
    assert np.abs(network.step(state.numpy(), action.numpy()) - gated).max() <= 1e-6
    path = network.save(tmp_path / "net.npz")
    loaded = CompactNetwork.load(path)
    assert np.array_equal(loaded.step(state.numpy(), action.numpy()), network.step(state.numpy(), action.numpy()))


def test_compact_files_are_readable_without_torch(tmp_path):
    mlp = _hardened([3, 6, 6, 2], [[RELU, IDENTITY, OFF] * 2, [RELU] * 3 + [IDENTITY] * 3])
    fold_gated_mlp(mlp, metadata={"residual": False}).save(tmp_path / "net.npz")
    expected = fold_gated_mlp(mlp)(np.ones((1, 3)))
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from sparse_dynamics.compact import CompactNetwork\n"
        f"net = CompactNetwork.load({str(tmp_path / 'net.npz')!r})\n"
        "print(repr(net(np.ones((1, 3))).tolist()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert np.allclose(eval(result.stdout), expected)


def test_corrupt_compact_file_names_the_array(tmp_path):
    path = fold_gated_mlp(_hardened([3, 4, 2], [[RELU] * 4])).save(tmp_path / "net.npz")
    arrays = dict(np.load(path))
    arrays["relu1.from.input"] = np.zeros((4, 5))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"array 'relu1.from.input': expected shape \(4, 3\), found \(4, 5\)"):
        CompactNetwork.load(path)
