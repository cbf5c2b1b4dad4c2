import gzip

import numpy as np
import pytest

from memory.data import read_mnist_csv, read_ts, split_per_class
from memory.preprocess import PreprocessConfig, binarise, preprocess, resize, skeleton, tile_channels


def test_read_mnist_csv_and_its_errors(tmp_path):
    path = tmp_path / "m.csv.gz"
    rows = np.zeros((3, 785), int)
    rows[:, 784] = [1, 2, 3]
    rows[0, 0] = 255
    with gzip.open(path, "wt") as handle:
        np.savetxt(handle, rows, fmt="%d", delimiter=",")
    data = read_mnist_csv(path)
    assert data.images.shape == (3, 28, 28) and data.images[0, 0, 0] == 1.0
    np.testing.assert_array_equal(data.labels, [1, 2, 3])
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="expected 785 columns"):
        read_mnist_csv(bad)


def test_read_ts(tmp_path):
    path = tmp_path / "x.ts"
    path.write_text("#c\n@problemName X\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n7,8,9:1,1,1:b\n")
    data = read_ts(path)
    assert data.values.shape == (2, 3, 2)
    np.testing.assert_array_equal(data.values[0, :, 1], [4, 5, 6])
    np.testing.assert_array_equal(data.labels, [0, 1])
    path.write_text("@classLabel true a\n@data\n1,2:c\n")
    with pytest.raises(ValueError, match="unknown class label 'c'"):
        read_ts(path)


def test_split_per_class_and_empty_dataset():
    labels = np.repeat(np.arange(3), 5)
    train, test = split_per_class(labels, 2, seed=0)
    assert np.bincount(labels[train]).tolist() == [2, 2, 2] and len(set(train) | set(test)) == 15
    with pytest.raises(ValueError, match="non-empty dataset"):
        split_per_class(np.array([]), 2, seed=0)
    with pytest.raises(ValueError, match="expected at most 5"):
        split_per_class(labels, 6, seed=0)


def test_preprocess_shapes_and_skeleton():
    images = np.zeros((2, 12, 12))
    images[:, 3:9, 4:8] = 1.0
    assert resize(images, (6, 6)).shape == (2, 6, 6)
    binary = binarise(images)
    thin = skeleton(binary)
    assert thin.sum() < binary.sum() and thin.any()
    out = preprocess(images, PreprocessConfig(deskew=True, shape=(8, 8), filter="edges"))
    assert out.shape == (2, 8, 8) and out.dtype == bool
    with pytest.raises(ValueError, match="expected a non-empty stack"):
        preprocess(np.zeros((0, 4, 4)), PreprocessConfig())


def test_tile_channels_centres_each_channel_in_its_tile():
    images = np.zeros((2, 8, 8))
    images[:, 2:6, 3:5] = 1.0
    plain = PreprocessConfig(deskew=False, threshold=0.5)
    small = PreprocessConfig(deskew=False, shape=(4, 4), threshold=0.5)
    frames = tile_channels(images, (plain, small))
    assert frames.shape == (2, 8, 16) and frames.dtype == bool
    np.testing.assert_array_equal(frames[:, :, :8], preprocess(images, plain))
    np.testing.assert_array_equal(frames[:, 2:6, 10:14], preprocess(images, small))
    assert frames[:, :, 8:].sum() == preprocess(images, small).sum()
    with pytest.raises(ValueError, match=r"channels\[0\]: expected frames within the 4x4 tile, found 8x8"):
        tile_channels(images, (plain,), tile=(4, 4))
