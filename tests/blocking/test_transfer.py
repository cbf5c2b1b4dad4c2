"""Transfer learning: folds, fine-tuning only the last layer, the one-sided Wilcoxon test, a replayable run."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from blocking.cnn import BlockingCNN, initialise
from blocking.config import CNNConfig, DatasetConfig, SplitConfig, TransferConfig
from blocking.training import FitSettings
from blocking.transfer import fine_tune, kfold, run_transfer, wilcoxon_greater
from sparse_core.infra.errors import InputError

SMALL = CNNConfig(channels=(4, 4, 4), dense=8)


def test_folds_are_disjoint_and_cover_everything():
    folds = kfold(23, 5, np.random.default_rng(0))
    assert len(folds) == 5 and sorted(np.concatenate(folds).tolist()) == list(range(23))
    assert {len(f) for f in folds} == {4, 5}
    with pytest.raises(InputError):
        kfold(3, 5, np.random.default_rng(0))


def test_fine_tuning_the_last_layer_leaves_the_rest_frozen():
    generator = torch.Generator().manual_seed(0)
    model = initialise(BlockingCNN((3, 8, 16), SMALL), generator)
    inputs = torch.randn(40, 3, 8, 16, generator=generator)
    labels = torch.tensor([0, 1] * 20)
    settings = FitSettings(epochs=3, batch_size=8, learning_rate=1e-2, imbalance="class_weights", patience=0)
    tuned = fine_tune(model, (inputs, labels), settings, "last", torch.Generator().manual_seed(1))
    for (name, before), after in zip(model.named_parameters(), tuned.parameters()):
        changed = not torch.equal(before, after)
        assert changed == name.startswith("output."), name
    everything = fine_tune(model, (inputs, labels), settings, "all", torch.Generator().manual_seed(1))
    assert not torch.equal(everything.blocks[0][0].weight, model.blocks[0][0].weight)
    assert all(p.requires_grad for p in model.parameters())  # the pre-trained network itself is untouched


def test_wilcoxon_is_one_sided():
    rng = np.random.default_rng(0)
    direct = rng.uniform(0.4, 0.6, 30)
    assert wilcoxon_greater(direct + 0.05, direct) < 0.001
    assert wilcoxon_greater(direct - 0.05, direct) > 0.99
    assert wilcoxon_greater(direct, direct) == 1.0


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    from blocking.dataset import run_dataset
    from blocking.synthetic import synthetic_qg3_file

    folder = tmp_path_factory.mktemp("transfer")
    for name, days, seed in (("source", 900, 1), ("target", 500, 2)):
        synthetic_qg3_file(folder / f"{name}.nc", days=days, members=1, seed=seed)
        (folder / name).mkdir()
        run_dataset(
            DatasetConfig(inputs=(str(folder / f"{name}.nc"),), split=SplitConfig(block_days=30)), folder / name
        )
    return folder


def test_transfer_run_reports_the_three_models_and_replays(datasets, tmp_path):
    config = TransferConfig(
        source=datasets / "source" / "dataset.nc",
        target=datasets / "target" / "dataset.nc",
        cnn=SMALL,
        pretrain_epochs=2,
        finetune_epochs=2,
        direct_epochs=2,
        folds=3,
        seeds=2,
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = run_transfer(config, tmp_path / "a"), run_transfer(config, tmp_path / "b")
    assert first == second
    for kind in ("direct", "pretrained", "transfer"):
        for score in ("f1", "recall", "precision"):
            assert set(first[f"{kind}_{score}"]) == {"mean", "std"}
            assert 0.0 <= first[f"{kind}_{score}"]["mean"] <= 1.0
    assert 0.0 < first["wilcoxon_p_f1"] <= 1.0 and 0.0 < first["wilcoxon_p_recall"] <= 1.0
    assert first["folds"] == 3 and first["seeds"] == 2 and first["target_samples"] > 10
    assert (tmp_path / "a" / "pretrained.pt").exists()
    reused = run_transfer(replace(config, pretrained=tmp_path / "a" / "pretrained.pt"), tmp_path)
    assert reused["pretrained_f1"] == first["pretrained_f1"]
