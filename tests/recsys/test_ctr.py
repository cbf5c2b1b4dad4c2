import numpy as np
import pytest

from recsys.ctr import CTRConfig, prepare_ctr, train_ctr
from recsys.models.autoint import AutoIntConfig
from recsys.trainer import TrainerConfig


def test_prepare_fits_vocabularies_on_training_rows(ctr_table):
    data = prepare_ctr(ctr_table, CTRConfig())
    assert [len(data.labels[k]) for k in ("train", "valid", "test")] == [2400, 300, 300]
    assert data.ids["train"].shape == (2400, 8)
    assert data.cardinalities == [7] * 8  # six values + out-of-vocabulary


def test_unseen_values_map_to_oov(ctr_table):
    ctr_table.values["user_id"][:] = np.arange(len(ctr_table)).astype(str)  # every user unique
    data = prepare_ctr(ctr_table, CTRConfig())
    assert np.all(data.ids["test"][:, 0] == 0)


@pytest.mark.parametrize("model", ["autoint", "autoint+"])
def test_training_beats_chance(ctr_table, model):
    config = CTRConfig(
        model=model,
        architecture=AutoIntConfig(head_dim=8),
        batch_size=256,
        learning_rate=3e-3,
        trainer=TrainerConfig(epochs=4, patience=2, monitor="auc"),
    )
    metrics = train_ctr(config, prepare_ctr(ctr_table, config), seed=0)
    assert metrics["test_auc"] > 0.7
    assert set(metrics) >= {"test_auc", "test_logloss", "parameters", "samples_per_second"}


def test_plain_autoint_rejects_a_dnn():
    with pytest.raises(ValueError, match="autoint\\+"):
        CTRConfig(model="autoint", architecture=AutoIntConfig.plus()).resolved_architecture()


def test_a_split_with_one_class_is_an_input_error(ctr_table):
    from sparse_core.infra.errors import InputError

    ctr_table.labels[:] = 1.0
    with pytest.raises(InputError, match="AUC needs both classes"):
        prepare_ctr(ctr_table, CTRConfig())


def test_settings_are_checked_when_the_config_is_built():
    from sparse_core.infra.errors import ConfigError

    for bad in (
        lambda: CTRConfig(learning_rate=0.0),
        lambda: CTRConfig(max_rows=5),
        lambda: CTRConfig(fractions=(0.9, 0.1)),
        lambda: CTRConfig(model="deepfm"),
        lambda: AutoIntConfig(dropout=1.0),
        lambda: CTRConfig(trainer=TrainerConfig(monitor="auc", mode="min")),
    ):
        with pytest.raises(ConfigError):
            bad()


def test_a_min_count_no_value_reaches_is_an_input_error(ctr_table):
    from sparse_core.infra.errors import InputError

    with pytest.raises(InputError, match="every id would be out of vocabulary"):
        prepare_ctr(ctr_table, CTRConfig(min_count=10_000))
