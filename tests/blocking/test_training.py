"""Training the CNN: balanced batches, class weights, early stopping, seeded replays, model files."""

import json

import numpy as np
import pytest
import torch

from blocking.config import CNNConfig, DatasetConfig, SplitConfig, TrainConfig
from blocking.dataset import run_dataset
from blocking.synthetic import synthetic_qg3_file
from blocking.training import EarlyStopping, balanced_batches, class_weights, load_model, run_train
from sparse_core.infra.errors import InputError

SMALL = CNNConfig(channels=(4, 8, 8), dense=8)


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dataset")
    synthetic_qg3_file(folder / "output.nc", days=900, members=1, seed=4)
    run_dataset(DatasetConfig(inputs=(str(folder / "output.nc"),), split=SplitConfig(block_days=30)), folder)
    return folder / "dataset.nc"


def test_balanced_batches_hold_half_of_each_class():
    labels = torch.tensor([0] * 30 + [1] * 6)
    batches = balanced_batches(labels, 8, torch.Generator().manual_seed(0))
    assert len(batches) == 30 // 4  # an epoch is as long as the majority class needs
    for batch in batches:
        assert len(batch) == 8 and int(labels[batch].sum()) == 4
    majority = torch.cat(batches)[labels[torch.cat(batches)] == 0]
    assert len(torch.unique(majority)) == 28  # each majority sample once (the last 2 do not fill a batch)
    torch.testing.assert_close(class_weights(labels), torch.tensor([36 / 60, 36 / 12]))
    with pytest.raises(InputError, match="both classes"):
        balanced_batches(torch.zeros(5, dtype=torch.int64), 4, torch.Generator())


def test_early_stopping_keeps_the_best_weights():
    model = torch.nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2)
    losses = [3.0, 1.0, 2.0, 2.5]
    stopped = []
    for epoch, loss in enumerate(losses):
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        stopped.append(stopper(model, loss, epoch))
    assert stopped == [False, False, False, True] and stopper.best_epoch == 1
    stopper.restore(model)
    assert float(model.weight.detach()) == 1.0
    assert not EarlyStopping(0)(model, 1.0, 0)


def test_train_replays_and_beats_nothing(dataset_file, tmp_path):
    config = TrainConfig(dataset=dataset_file, cnn=SMALL, epochs=3, bootstrap=20, seeds=2, seed=1)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = run_train(config, tmp_path / "a"), run_train(config, tmp_path / "b")
    first.pop("train_seconds"), second.pop("train_seconds")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    for name in ("precision", "recall", "f1", "roc_auc", "brier_skill_score"):
        assert set(first["cnn"][name]) == {"value", "ci_low", "ci_high"}
        assert set(first["cnn_seeds"][name]) == {"mean", "std"}
    assert first["climatology"]["recall"]["value"] == 1.0
    assert len(first["logistic"]["coefficients"]) == 2 and first["seeds"] == 2
    model, payload = load_model(tmp_path / "a" / "model.pt")
    assert tuple(payload["input_shape"]) == (3, 12, 64) and payload["cnn"]["channels"] == [4, 8, 8]
    assert (tmp_path / "a" / "predictions.csv").read_text().startswith("sample,member,onset_time")
    other = run_train(TrainConfig(dataset=dataset_file, cnn=SMALL, epochs=3, bootstrap=0, seed=2), tmp_path)
    assert other["cnn"]["roc_auc"]["value"] != first["cnn"]["roc_auc"]["value"]


def test_model_and_dataset_files_are_checked(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"not a model")
    with pytest.raises(InputError, match="not a blocking model file"):
        load_model(tmp_path / "model.pt")
    with pytest.raises(InputError, match="model not found"):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(InputError, match="dataset not found"):
        run_train(TrainConfig(dataset=tmp_path / "missing.nc"), tmp_path)
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(InputError, match="not a blocking dataset"):
        run_train(TrainConfig(dataset=tmp_path / "other.npz"), tmp_path)
