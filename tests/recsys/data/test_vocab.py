import numpy as np

from recsys.data.features import FieldEncoder
from recsys.data.vocab import OOV_INDEX, Vocabulary


def test_unknown_values_map_to_the_oov_index():
    vocab = Vocabulary.fit(["b", "a", "b", "c"], name="f")
    assert len(vocab) == 4  # three values + OOV
    ids = vocab.encode(["b", "a", "zzz"])
    assert ids[2] == OOV_INDEX == 0
    assert ids[0] == 1  # most frequent value first
    assert vocab.decode(ids) == ["b", "a", None]


def test_min_count_sends_rare_values_to_oov():
    vocab = Vocabulary.fit(["a", "a", "b"], min_count=2)
    np.testing.assert_array_equal(vocab.encode(["a", "b"]), [1, 0])


def test_state_dict_round_trip():
    vocab = Vocabulary.fit(["x", "y", "y"], name="field")
    again = Vocabulary.from_state_dict(vocab.state_dict())
    np.testing.assert_array_equal(again.encode(["x", "y", "q"]), vocab.encode(["x", "y", "q"]))
    assert again.name == "field"


def test_field_encoder_fits_on_training_rows_only():
    values = {"u": np.array(["1", "2", "3"], dtype=object), "g": np.array(["M", "F", "M"], dtype=object)}
    encoder = FieldEncoder(["u", "g"]).fit(values, rows=np.array([0, 1]))
    ids = encoder.transform(values)
    assert ids.shape == (3, 2)
    assert ids[2, 0] == OOV_INDEX  # user "3" only in the held-out row
    assert ids[2, 1] == ids[0, 1]
    assert encoder.cardinalities == [3, 3]
    clone = FieldEncoder([])
    clone.load_state_dict(encoder.state_dict())
    np.testing.assert_array_equal(clone.transform(values), ids)
