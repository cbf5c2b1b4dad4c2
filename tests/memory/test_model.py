import json

import numpy as np
import pytest

from memory.config import CSAConfig, HierarchyConfig, LevelConfig
from memory.model import ClassifierConfig, MemoryClassifier
from memory.readout import HebbianReadout, NearestCode


def _config(k=64):
    csa = CSAConfig(cms=6, cells_per_cm=k, normalise="max", sigmoid_center=0.9, freeze_fraction=1.0)
    return ClassifierConfig(
        HierarchyConfig(input_shape=(8, 8), levels=(LevelConfig(grid=(1, 1), rf=(8, 8), csa=csa),)), n_classes=2
    )


def _data():
    rng = np.random.default_rng(0)
    prototypes = rng.random((2, 8, 8)) < 0.3
    labels = np.arange(40) % 2
    noise = rng.random((40, 8, 8)) < 0.05
    return prototypes[labels] ^ noise, labels


def test_classifier_learns_two_noisy_prototypes_in_one_pass():
    frames, labels = _data()
    model = MemoryClassifier(_config(), seed=0).fit(frames[:20], labels[:20])
    assert (model.predict(frames[20:]) == labels[20:]).mean() >= 0.95
    assert (model.nearest_code_predict(model.codes(frames[20:])) == labels[20:]).mean() >= 0.95


def test_save_load_round_trip(tmp_path):
    frames, labels = _data()
    model = MemoryClassifier(_config(), seed=0).fit(frames[:20], labels[:20])
    model.save(tmp_path / "m")
    assert (tmp_path / "m.npz").exists() and json.loads((tmp_path / "m.json").read_text())[
        "kind"
    ] == "memory.MemoryClassifier"
    loaded = MemoryClassifier.load(tmp_path / "m", expected=_config())
    np.testing.assert_array_equal(loaded.codes(frames), model.codes(frames))
    np.testing.assert_array_equal(loaded.readout_.counts_, model.readout_.counts_)


def test_load_refuses_a_config_that_does_not_match(tmp_path):
    MemoryClassifier(_config(), seed=0).fit(*[a[:4] for a in _data()]).save(tmp_path / "m")
    with pytest.raises(ValueError, match="cells_per_cm"):
        MemoryClassifier.load(tmp_path / "m", expected=_config(k=32))
    with pytest.raises(FileNotFoundError, match="not found"):
        MemoryClassifier.load(tmp_path / "missing")


def test_bad_labels_are_refused():
    frames, labels = _data()
    with pytest.raises(ValueError, match=r"expected integers in \[0, 2\)"):
        MemoryClassifier(_config()).fit(frames, labels + 5)


def test_readouts_hand_checked():
    readout = HebbianReadout(n_cells=4, n_classes=2, normalise=False).fit(
        np.array([[0, 1], [2, 3], [0, 3]]), np.array([0, 1, 1])
    )
    np.testing.assert_array_equal(readout.counts_[:4], [[1, 1], [1, 0], [0, 1], [0, 2]])
    np.testing.assert_array_equal(readout.predict(np.array([[0, 1], [2, -1]])), [0, 1])
    nearest = NearestCode().fit(np.array([[0, 1, 2], [0, 5, 6]]), np.array([7, 8]))
    np.testing.assert_array_equal(nearest.intersections(np.array([0, 5, -1])), [1, 2])
