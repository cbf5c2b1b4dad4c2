import gzip

import numpy as np
import pytest

from recsys.data.ctr_reader import CTRFormatError, CTRSchema, RowErrors, bin_numeric, fit_vocabularies, iter_chunks
from sparse_core.infra.errors import InputError

SCHEMA = CTRSchema(label=0, numeric=(1, 2), categorical=(3, 4))


def synthetic(tmp_path, rows=57, seed=0, bad_lines=()):
    rng = np.random.default_rng(seed)
    lines = []
    for r in range(rows):
        label = int(rng.integers(0, 2))
        n1 = "" if r % 7 == 0 else str(int(rng.integers(0, 50)))
        n2 = str(int(rng.integers(0, 5)))
        c1 = f"a{int(rng.integers(0, 4))}"
        c2 = "" if r % 5 == 0 else f"b{int(rng.integers(0, 30))}"
        lines.append("\t".join([str(label), n1, n2, c1, c2]))
    for index, text in bad_lines:
        lines.insert(index, text)
    path = tmp_path / "train.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_log_binning():
    assert bin_numeric("") == "<missing>"
    assert bin_numeric("1") == "1"
    assert bin_numeric("2") == "2"
    assert bin_numeric("100") == str(int(np.floor(np.log(100) ** 2)))  # 21
    assert bin_numeric("-3") == "-3" and bin_numeric("1.5") == "1"
    for bad in ("abc", "inf", "-inf", "nan", "1e400"):
        with pytest.raises(ValueError):
            bin_numeric(bad)


def test_chunks_concatenate_to_the_whole_file(tmp_path):
    path = synthetic(tmp_path)
    vocabularies = fit_vocabularies(path, SCHEMA, min_count=1)
    chunks = list(iter_chunks(path, SCHEMA, vocabularies, chunk_rows=10))
    assert [len(labels) for labels, _ in chunks] == [10] * 5 + [7]
    whole = list(iter_chunks(path, SCHEMA, vocabularies, chunk_rows=1000))
    assert len(whole) == 1
    np.testing.assert_array_equal(np.concatenate([ids for _, ids in chunks]), whole[0][1])
    np.testing.assert_array_equal(np.concatenate([lab for lab, _ in chunks]), whole[0][0])
    assert whole[0][1].shape == (57, 4)
    assert whole[0][1].min() >= 1  # min_count 1: every training value is known


def test_min_count_and_unknown_values(tmp_path):
    path = synthetic(tmp_path)
    vocabularies = fit_vocabularies(path, SCHEMA, min_count=3)
    ((labels, ids),) = iter_chunks(path, SCHEMA, vocabularies, chunk_rows=1000)
    assert (ids[:, 3] == 0).any()  # rare b-values fall to the out-of-vocabulary id
    assert len(vocabularies[2]) == 5  # a0..a3 all frequent + OOV
    other = tmp_path / "test.txt"
    other.write_text("1\t3\t1\tnever_seen\tb1\n")
    ((_, ids),) = iter_chunks(other, SCHEMA, vocabularies)
    assert ids[0, 2] == 0


def test_hashing_needs_no_vocabulary_pass(tmp_path):
    path = synthetic(tmp_path)
    ((_, ids),) = iter_chunks(path, SCHEMA, hash_buckets=8, chunk_rows=1000)
    assert ids.min() >= 1 and ids.max() <= 7
    ((_, again),) = iter_chunks(path, SCHEMA, hash_buckets=8, chunk_rows=1000)
    np.testing.assert_array_equal(ids, again)  # stable across runs


def test_malformed_rows_are_reported_with_line_numbers(tmp_path):
    path = synthetic(tmp_path, rows=20, bad_lines=[(3, "1\t2\t3"), (8, "x\t1\t1\ta\tb"), (12, "0\tnan?\t1\ta\tb")])
    errors = RowErrors(path, max_errors=10)
    ((labels, _),) = iter_chunks(path, SCHEMA, hash_buckets=16, errors=errors)
    assert len(labels) == 20
    assert [line for line, _ in errors.rows] == [4, 9, 13]
    assert "expected 5 cells, found 3" in errors.rows[0][1]
    assert "label 'x'" in errors.rows[1][1]
    assert "numeric column 1" in errors.rows[2][1]


def test_too_many_malformed_rows_is_a_clear_error(tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("\n".join("1,2,3,a,b" for _ in range(5)) + "\n")  # comma-separated, schema says tab
    with pytest.raises(CTRFormatError, match="more than 2 malformed rows.*line 1.*delimiter"):
        list(iter_chunks(path, SCHEMA, hash_buckets=16, max_errors=2))


def test_avazu_style_csv_with_header(tmp_path):
    schema = CTRSchema(label=1, numeric=(), categorical=(2, 3), delimiter=",", header=True, names=("site", "app"))
    path = tmp_path / "avazu.csv"
    path.write_text("id,click,site,app\n1,0,s1,a1\n2,1,s2,a1\n3,1,s1,a2\n")
    vocabularies = fit_vocabularies(path, schema, min_count=1)
    assert [v.name for v in vocabularies] == ["site", "app"]
    ((labels, ids),) = iter_chunks(path, schema, vocabularies)
    np.testing.assert_array_equal(labels, [0, 1, 1])
    assert ids[0, 0] == ids[2, 0] and ids[0, 1] == ids[1, 1]


def test_criteo_schema_layout():
    schema = CTRSchema.criteo()
    assert schema.columns == 40
    assert schema.field_names[0] == "I1" and schema.field_names[-1] == "C26"


def test_the_format_error_is_an_input_error():
    assert issubclass(CTRFormatError, InputError)


def test_non_finite_numerics_are_counted_malformed_rows(tmp_path):
    path = synthetic(
        tmp_path, rows=10, bad_lines=[(2, "1\tinf\t1\ta\tb"), (5, "0\t3\tnan\ta\tb"), (7, "1\t1e400\t1\ta\tb")]
    )
    errors = RowErrors(path, max_errors=10)
    ((labels, _),) = iter_chunks(path, SCHEMA, hash_buckets=16, errors=errors)
    assert len(labels) == 10
    assert [line for line, _ in errors.rows] == [3, 6, 8]
    assert "numeric column 1 holds 'inf', not a finite number" in errors.rows[0][1]
    assert "numeric column 2 holds 'nan'" in errors.rows[1][1]


def test_gzip_is_read_whatever_the_name(tmp_path):
    plain = synthetic(tmp_path)
    packed = tmp_path / "train.csv"  # gzip inside, a misleading name outside
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    expected = fit_vocabularies(plain, SCHEMA, min_count=1)
    got = fit_vocabularies(packed, SCHEMA, min_count=1)
    assert [v.tokens_ for v in got] == [v.tokens_ for v in expected]
    ((_, a),) = iter_chunks(plain, SCHEMA, expected)
    ((_, b),) = iter_chunks(packed, SCHEMA, got)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("text", ["", "\n\n", "x\ty\n" * 3, "1\tinf\t1\ta\tb\n"])
def test_no_valid_row_is_an_error_not_an_empty_result(tmp_path, text):
    path = tmp_path / "empty.txt"
    path.write_text(text)
    with pytest.raises(CTRFormatError, match="empty.txt: no valid rows"):
        fit_vocabularies(path, SCHEMA, min_count=1)
    with pytest.raises(CTRFormatError, match="empty.txt: no valid rows"):
        list(iter_chunks(path, SCHEMA, hash_buckets=8))


def test_binary_garbage_is_malformed_rows_not_a_crash(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(range(256)) * 50)
    with pytest.raises(CTRFormatError, match="garbage.bin: no valid rows; .* malformed"):
        list(iter_chunks(path, SCHEMA, hash_buckets=8))


def test_schema_from_a_header():
    schema = CTRSchema.from_header(
        ["id", "click", "hour", "site", "n1"], label="click", numeric=["n1"], ignore=["id"], delimiter=","
    )
    assert (schema.label, schema.numeric, schema.categorical, schema.width) == (1, (4,), (2, 3), 5)
    assert schema.field_names == ("n1", "hour", "site")
    with pytest.raises(CTRFormatError, match="no column named 'label'.*header has"):
        CTRSchema.from_header(["a", "b"], label="label")
    with pytest.raises(CTRFormatError, match="repeats \\['a'\\]"):
        CTRSchema.from_header(["a", "a", "label"], label="label")
    with pytest.raises(CTRFormatError, match="no feature column"):
        CTRSchema.from_header(["label", "id"], label="label", ignore=["id"])
