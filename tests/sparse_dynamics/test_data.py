import json

import numpy as np
import pytest

from sparse_dynamics.data import CollectConfig, collect, load_dataset, save_dataset, split_episodes
from sparse_dynamics.tasks import make_task


@pytest.fixture
def dataset():
    return collect(make_task("pwa"), CollectConfig(episodes=10, steps=5, seed=3))


def test_collection_is_deterministic_and_shaped(dataset):
    again = collect(make_task("pwa"), CollectConfig(episodes=10, steps=5, seed=3))
    assert dataset.states.shape == (10, 6, 2) and dataset.actions.shape == (10, 5, 2)
    assert np.array_equal(dataset.states, again.states) and np.array_equal(dataset.actions, again.actions)
    task = make_task("pwa")  # states really follow the simulator
    assert np.allclose(task.dynamics(dataset.states[:, :-1], dataset.actions), dataset.states[:, 1:])


def test_round_trip_and_split(dataset, tmp_path):
    path = save_dataset(dataset, tmp_path / "d.npz")
    loaded = load_dataset(path, task="pwa")
    assert np.array_equal(loaded.states, dataset.states)
    train, val, test = split_episodes(loaded)
    assert train.episodes + val.episodes + test.episodes == 10


def test_wrong_state_dimension_is_rejected(dataset, tmp_path):
    path = save_dataset(dataset, tmp_path / "d.npz")
    np.savez(path, states=np.zeros((10, 6, 3)), actions=dataset.actions)
    with pytest.raises(ValueError, match=r"d\.npz: field 'states': expected shape \(episodes, steps \+ 1, 2\)"):
        load_dataset(path)


def test_nans_are_rejected(dataset, tmp_path):
    path = save_dataset(dataset, tmp_path / "d.npz")
    states = dataset.states.copy()
    states[4, 2, 1] = np.nan
    np.savez(path, states=states, actions=dataset.actions)
    with pytest.raises(
        ValueError,
        match=r"field 'states': expected finite values, found 1 NaN/inf entries \(first at episode 4, step 2",
    ):
        load_dataset(path)


def test_wrong_task_and_missing_files(dataset, tmp_path):
    path = save_dataset(dataset, tmp_path / "d.npz")
    with pytest.raises(ValueError, match="field 'task': expected 'push', found 'pwa'"):
        load_dataset(path, task="push")
    description = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**description, "format": "other"}))
    with pytest.raises(ValueError, match="field 'format'"):
        load_dataset(path)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_dataset(tmp_path / "missing.npz")
