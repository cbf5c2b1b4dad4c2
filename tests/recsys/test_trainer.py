import json

import pytest
import torch
from torch import nn

from recsys.trainer import EarlyStopping, TrainerConfig, fit


def test_early_stopping_patience():
    stopper = EarlyStopping(patience=2, mode="max")
    assert stopper.update(0.5) and not stopper.should_stop
    assert not stopper.update(0.4) and not stopper.should_stop
    assert not stopper.update(0.5) and stopper.should_stop  # equal is not better
    clone = EarlyStopping(2)
    clone.load_state_dict(stopper.state_dict())
    assert clone.best == 0.5 and clone.should_stop


def test_fit_restores_the_best_state_and_stops(tmp_path):
    model = nn.Linear(1, 1, bias=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scores = iter([0.1, 0.9, 0.5, 0.4, 0.3, 0.2])
    weights = []

    def evaluate():
        weights.append(model.weight.item())
        return {"auc": next(scores)}

    batches = lambda epoch: [torch.ones(4, 1)]  # noqa: E731
    loss = lambda x: model(x).sum()  # noqa: E731
    config = TrainerConfig(epochs=10, patience=2, monitor="auc")
    result = fit(model, optimizer, batches, loss, evaluate, config, folder=tmp_path)
    assert result.best_epoch == 2 and len(result.history) == 4  # stopped after 2 evaluations without gain
    assert model.weight.item() == pytest.approx(weights[1])
    assert (tmp_path / "best.pt").exists()
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert [e["valid_auc"] for e in saved["epochs"]] == [0.1, 0.9, 0.5, 0.4]
    assert result.samples == 16 and result.steps == 4


def test_fit_names_a_missing_metric_and_a_nan_loss():
    model = nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = lambda epoch: [torch.ones(1, 1)]  # noqa: E731
    with pytest.raises(KeyError, match="lacks the monitored 'recall@20'"):
        fit(model, optimizer, batches, lambda x: model(x).sum(), lambda: {"auc": 1.0}, TrainerConfig(epochs=1))
    with pytest.raises(FloatingPointError, match="epoch 1, step 1"):
        fit(model, optimizer, batches, lambda x: model(x).sum() * float("nan"), lambda: {}, TrainerConfig(epochs=1))
