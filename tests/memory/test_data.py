import gzip

import numpy as np
import pytest

from memory.data import read_mnist_csv, read_png_folder, read_ts, split_per_class
from memory.preprocess import PreprocessConfig, binarise, preprocess, resize, skeleton, tile_channels
from sparse_core.infra.errors import InputError


def test_read_mnist_csv_and_its_errors(tmp_path):
    path = tmp_path / "m.csv.gz"
    rows = np.zeros((3, 785), int)
    rows[:, 784] = [1, 2, 3]
    rows[0, 0] = 255
    with gzip.open(path, "wt") as handle:
        np.savetxt(handle, rows, fmt="%d", delimiter=",")
    data = read_mnist_csv(path)
    assert data.images.shape == (3, 28, 28) and data.images[0, 0, 0] == 1.0
    np.testing.assert_array_equal(data.labels, [0, 1, 2])  # renumbered; the values are the class names
    assert data.class_names == ("1", "2", "3")
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


def _mnist_rows(count, classes=2):
    rng = np.random.default_rng(0)
    return np.c_[rng.integers(0, 256, (count, 784)), np.arange(count) % classes]


def test_mnist_csv_is_read_by_its_magic_bytes_and_with_a_label_first_header(tmp_path):
    rows = _mnist_rows(4)
    text = "\n".join(",".join(map(str, r)) for r in rows) + "\n"
    disguised = tmp_path / "plain_name.csv"  # gzip inside, whatever the name says
    disguised.write_bytes(gzip.compress(text.encode()))
    data = read_mnist_csv(disguised)
    np.testing.assert_allclose(data.images.reshape(4, -1), rows[:, :784] / 255.0)
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    first = "\n".join(",".join(map(str, np.r_[r[784], r[:784]])) for r in rows)
    (tmp_path / "kaggle.csv").write_text(header + "\n" + first + "\n")
    kaggle = read_mnist_csv(tmp_path / "kaggle.csv")
    np.testing.assert_array_equal(kaggle.labels, data.labels)
    np.testing.assert_allclose(kaggle.images, data.images)


def test_mnist_csv_skips_a_few_malformed_rows_and_refuses_many(tmp_path, caplog):
    rows = [",".join(map(str, r)) for r in _mnist_rows(30)]
    rows[3] = rows[3].replace(",", ",nan,", 1)
    rows[7] = "1,2,3"
    path = tmp_path / "some_bad.csv"
    path.write_text("\n".join(rows) + "\n")
    data = read_mnist_csv(path)
    assert data.images.shape[0] == 28 and data.malformed == ("line 4", "line 8")
    assert "skipped 2 malformed row" in caplog.text
    for i in range(0, 30, 2):
        rows[i] = "x," + rows[i]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"some_bad.csv: 17 malformed rows \(line 1, line 3, line 4"):
        read_mnist_csv(path)


def test_labels_are_renumbered_and_named(tmp_path):
    rows = _mnist_rows(4)
    rows[:, 784] = [7, 3, 7, 3]
    path = tmp_path / "sevens.csv"
    path.write_text("\n".join(",".join(map(str, r)) for r in rows) + "\n")
    data = read_mnist_csv(path)
    assert data.class_names == ("3", "7") and data.labels.tolist() == [1, 0, 1, 0]


def test_png_folder_reader_inverts_dark_strokes_and_names_classes(tmp_path):
    from PIL import Image

    for label, name in enumerate(("cat", "dog")):
        for i in range(3):
            image = np.full((12, 10), 255, np.uint8)
            image[3:9, 2 + label : 5 + label] = 0  # dark strokes on white
            (tmp_path / name).mkdir(exist_ok=True)
            Image.fromarray(image).save(tmp_path / name / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("ignored")
    data = read_png_folder(tmp_path)
    assert data.images.shape == (6, 12, 10) and data.class_names == ("cat", "dog")
    assert data.images[0, 0, 0] == 0.0 and data.images[0, 4, 2] == 1.0  # inverted: strokes bright
    np.testing.assert_array_equal(data.labels, [0, 0, 0, 1, 1, 1])


def test_ts_reader_skips_malformed_cases_and_reads_gzip(tmp_path):
    good = "1,2,3:4,5,6:a\n7,8,9:1,1,1:b\n"
    text = "@classLabel true a b\n@data\n" + good * 3 + "1,2:3,4:a\n1,nan,3:4,5,6:b\n"
    path = tmp_path / "x.ts"
    path.write_bytes(gzip.compress(text.encode()))
    data = read_ts(path)
    assert data.values.shape == (6, 3, 2) and data.malformed == ("line 9", "line 10")
    path.write_text("@classLabel false\n@data\n1:2\n")
    with pytest.raises(InputError, match="line 1: expected '@classLabel true"):
        read_ts(path)
