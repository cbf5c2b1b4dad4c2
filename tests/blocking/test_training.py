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


def test_first_training_days_count_member_by_member_over_training_blocks(tmp_path):
    """Positions run over the training blocks of member 0, then member 1; the subset is standardised anew."""
    from blocking.dataset import TRAIN, load_dataset

    synthetic_qg3_file(tmp_path / "output.nc", days=400, members=3, seed=5)
    config = DatasetConfig(inputs=(str(tmp_path / "output.nc"),), split=SplitConfig(block_days=50))
    run_dataset(config, tmp_path)
    dataset = load_dataset(tmp_path / "dataset.nc")
    assert dataset.attrs["member_days"] == 400 and json.loads(dataset.attrs["members"]) == [0, 1, 2]
    blocks = np.asarray(json.loads(dataset.attrs["block_split"]))
    assert blocks.shape == (3, 8) and (blocks[:, :6] == TRAIN).all() and (blocks[:, 6:] != TRAIN).all()
    position = dataset.training_day()
    train = dataset.split == TRAIN
    # 6 training blocks of 50 days per member: member m's training days are m*300 ... m*300+299
    np.testing.assert_array_equal(position[train], dataset.member[train] * 300 + dataset.onset[train])
    assert (position[~train] == -1).all()
    subset, used = dataset.first_training_days(450)
    assert used == 450
    kept = subset.split == TRAIN
    np.testing.assert_array_equal(np.flatnonzero(kept), np.flatnonzero(train & (position < 450)))
    assert ((subset.split == -1) == (train & (position >= 450))).all()
    np.testing.assert_array_equal(subset.split[~train], dataset.split[~train])  # validation, test untouched
    np.testing.assert_allclose(subset.raw_inputs(), dataset.raw_inputs(), atol=1e-3)  # same Z'
    np.testing.assert_allclose(subset.inputs[kept].mean(axis=0), 0.0, atol=1e-5)  # the subset's own statistics
    assert dataset.first_training_days(10**6)[1] == 900
    with pytest.raises(InputError, match="no training sample in the first 1 training days"):
        dataset.first_training_days(1)


def test_learning_curve_trains_each_point_on_its_days_and_tests_on_one_split(tmp_path):
    from blocking.config import FitConfig, LearningCurveConfig
    from blocking.learning_curve import run_learning_curve
    from sparse_core.infra.errors import ConfigError

    synthetic_qg3_file(tmp_path / "output.nc", days=900, members=2, seed=6)
    run_dataset(DatasetConfig(inputs=(str(tmp_path / "output.nc"),), split=SplitConfig(block_days=30)), tmp_path)
    fit = FitConfig(dataset=tmp_path / "dataset.nc", cnn=SMALL, epochs=2, bootstrap=10, seed=3)
    metrics = run_learning_curve(LearningCurveConfig(fit=fit, train_days=(300, 100000)), tmp_path / "curve")
    small, full = metrics["points"]
    assert small["train_days"] == 300 and full["train_days"] == 2 * 720  # 24 of 30 blocks train, 2 members
    assert small["samples"]["train"] < full["samples"]["train"]
    assert small["samples"]["test"] == full["samples"]["test"] == metrics["test_samples"]
    assert small["samples"]["validation"] == full["samples"]["validation"]
    direct = run_train(
        TrainConfig(dataset=tmp_path / "dataset.nc", cnn=SMALL, epochs=2, bootstrap=10, seed=3), tmp_path
    )
    assert full["cnn_f1"]["first_seed"] == direct["cnn"]["f1"]["value"]  # all days = plain training
    assert full["logistic_f1"]["value"] == direct["logistic"]["f1"]["value"]
    lines = (tmp_path / "curve" / "learning_curve.csv").read_text().splitlines()
    assert lines[0].startswith("train_days,train_samples,base_rate,cnn_precision_mean") and len(lines) == 3
    assert (tmp_path / "curve" / "learning_curve.png").stat().st_size > 0
    assert (tmp_path / "curve" / "days-300" / "model.pt").exists()
    with pytest.raises(ConfigError, match="must increase"):
        LearningCurveConfig(fit=fit, train_days=(1000, 100))
