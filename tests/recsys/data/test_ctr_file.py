import numpy as np
import pytest

from recsys.config import CTRConfig, CTRFileConfig
from recsys.data.ctr_file import open_ctr_file
from recsys.data.ctr_reader import CTRFormatError, iter_chunks
from sparse_core.infra.errors import InputError
from tests.recsys.conftest import criteo_lines, write_criteo


def config(path, **file_settings):
    top = {k: file_settings.pop(k) for k in ("min_count", "max_rows", "fractions") if k in file_settings}
    return CTRConfig(data=CTRFileConfig(path=path, **file_settings), **top)


def test_line_order_split_counts_and_vocabularies(tmp_path):
    path = write_criteo(tmp_path / "day.gz", rows=200)
    scanned = open_ctr_file(config(path, format="criteo", min_count=1))
    assert scanned.rows == {"train": 160, "valid": 20, "test": 20}
    assert {k: r.start for k, r in scanned.ranges.items()} == {"train": 0, "valid": 160, "test": 180}
    assert len(scanned.cardinalities) == 39 and scanned.cardinalities[13] == 5  # v0..v3 + OOV
    chunks = [(labels.copy(), ids.copy()) for labels, ids in scanned.chunks("train", chunk_rows=64)]  # buffers reused
    assert [len(labels) for labels, _ in chunks] == [64, 64, 32]
    assert all(ids.shape[1] == 39 and ids.min() >= 1 for _, ids in chunks)  # min_count 1: all known
    fresh = list(iter_chunks(path, scanned.schema, scanned.vocabularies, chunk_rows=64, lines=scanned.ranges["train"]))
    for (a_labels, a_ids), (b_labels, b_ids) in zip(chunks, fresh, strict=True):
        np.testing.assert_array_equal(a_ids, b_ids)
        np.testing.assert_array_equal(a_labels, b_labels)
    assert sum(len(labels) for labels, _ in scanned.chunks("test", 1000)) == 20


def test_max_rows_and_malformed_rows(tmp_path):
    path = write_criteo(tmp_path / "day.txt", rows=100, gz=False, extra=["1\tinf\tb"] * 3)
    scanned = open_ctr_file(config(path, format="criteo", min_count=1))
    assert scanned.malformed_rows == 3 and [line for line, _ in scanned.errors.rows] == [101, 102, 103]
    assert sum(scanned.rows.values()) == 100
    limited = open_ctr_file(config(path, format="criteo", min_count=1, max_rows=50))
    assert limited.rows == {"train": 40, "valid": 5, "test": 5} and limited.malformed_rows == 0
    with pytest.raises(CTRFormatError, match="more than 2 malformed rows"):
        open_ctr_file(config(path, format="criteo", max_malformed=2))


def test_hashing_needs_no_vocabulary(tmp_path):
    path = write_criteo(tmp_path / "day.gz")
    scanned = open_ctr_file(config(path, format="criteo", hash_buckets=32))
    assert scanned.vocabularies is None and scanned.cardinalities == [32] * 39
    ((_, ids),) = scanned.chunks("valid", 1000)
    assert ids.min() >= 1 and ids.max() <= 31


def test_csv_with_a_split_column_and_named_columns(tmp_path):
    rng = np.random.default_rng(1)
    rows = ["id;part;clicked;site;price"]
    for r in range(90):
        site = f"s{r % 3}"
        rows.append(
            f"{r};{('train', 'valid', 'Test')[r % 3 if r >= 60 else 0]};{int(site == 's0' or rng.random() < 0.2)};"
            f"{site};{r * 1.5}"
        )
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(rows) + "\n")
    scanned = open_ctr_file(
        config(
            path,
            format="csv",
            delimiter="semicolon",
            label_column="clicked",
            split_column="part",
            numeric_columns=("price",),
            ignore_columns=("id",),
            min_count=1,
        )
    )
    assert scanned.schema.field_names == ("price", "site")
    assert scanned.rows == {"train": 70, "valid": 10, "test": 10} and scanned.ranges is None
    assert sum(len(labels) for labels, _ in scanned.chunks("valid", 4)) == 10


def test_avazu_defaults(tmp_path):
    lines = ["id,click,hour,site_id,app_id"]
    lines += [f"{r},{r % 2},14102100,s{r % 4},a{r % 3}" for r in range(40)]
    path = tmp_path / "avazu.csv"
    path.write_text("\n".join(lines) + "\n")
    scanned = open_ctr_file(config(path, format="avazu", min_count=1))
    assert scanned.schema.field_names == ("hour", "site_id", "app_id")
    assert scanned.rows == {"train": 32, "valid": 4, "test": 4}


def test_parts_without_rows_or_with_one_class_are_errors(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(criteo_lines(2)) + "\n")
    with pytest.raises(InputError, match="the valid part .none of the 2 data lines. holds no valid row"):
        open_ctr_file(config(path, format="criteo", fractions=(0.8, 0.1, 0.1)))
    path = write_criteo(tmp_path / "ones.txt", rows=50, gz=False)
    path.write_text("".join("1" + line[1:] + "\n" for line in path.read_text().splitlines()))
    with pytest.raises(InputError, match="the train part .* 0 negatives|AUC needs both classes"):
        open_ctr_file(config(path, format="criteo"))


def test_header_problems_name_the_file(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(CTRFormatError, match="mine.csv: no column named 'label'"):
        open_ctr_file(config(path, format="csv"))
    path.write_text("")
    with pytest.raises(CTRFormatError, match="mine.csv: the file is empty"):
        open_ctr_file(config(path, format="csv"))


def test_a_min_count_no_value_reaches_is_an_error(tmp_path):
    path = write_criteo(tmp_path / "day.gz", rows=100)
    with pytest.raises(InputError, match="no value occurs --min-count 1000 times"):
        open_ctr_file(config(path, format="criteo", min_count=1000))


def shared_scans(settings, count):
    """``open_ctr_file`` as each of ``count`` processes would run it, the exchange simulated in one process.

    Every share scans its span first (what ``gather`` hands over), then each share's call
    pools them; returns every share's scan.
    """
    found = []

    def keep(mine):
        found.append(mine)
        raise _Gathered

    for index in range(count):
        with pytest.raises(_Gathered):
            open_ctr_file(settings, share=(index, count), gather=keep)
    return [open_ctr_file(settings, share=(index, count), gather=lambda mine: list(found)) for index in range(count)]


class _Gathered(Exception):
    pass


def same_scan(a, b):
    for name in ("rows", "positives", "ranges", "lines", "cardinalities"):
        assert getattr(a, name) == getattr(b, name), name
    assert [v.tokens_ for v in a.vocabularies] == [v.tokens_ for v in b.vocabularies]
    assert a.errors.rows == b.errors.rows


@pytest.mark.parametrize("count", [2, 3])
def test_a_scan_shared_by_processes_equals_one_scan(tmp_path, count):
    """Malformed rows in several shares; the vocabularies from pooled counts, min_count 2 included."""
    lines = criteo_lines(150, seed=3)
    lines[10] = lines[120] = "1\tinf\tb"
    path = tmp_path / "day.txt"
    path.write_text("\n".join(lines) + "\n")
    for settings in (
        config(path, format="criteo", min_count=2),
        config(path, format="criteo", min_count=1, max_rows=97),
    ):
        whole = open_ctr_file(settings)
        for shared in shared_scans(settings, count):
            same_scan(shared, whole)
    assert [line for line, _ in whole.errors.rows] == [11]
    rows = ["part,clicked,site"] + [f"{('train', 'valid', 'test')[r % 3]},{r % 2},s{r % 4}" for r in range(40)]
    split = tmp_path / "split.csv"
    split.write_text("\n".join(rows) + "\n")
    settings = config(split, format="csv", label_column="clicked", split_column="part", min_count=1)
    whole = open_ctr_file(settings)  # a split column: the shares are cut from the count of lines
    for shared in shared_scans(settings, count):
        same_scan(shared, whole)
    with pytest.raises(ValueError, match="needs gather"):
        open_ctr_file(config(path, format="criteo"), share=(0, 2))


def test_a_shared_scan_counts_malformed_rows_over_all_shares_against_the_limit(tmp_path):
    lines = criteo_lines(120, seed=4)
    lines[5] = lines[70] = lines[110] = "1\tinf\tb"  # one per share: no share alone is past the limit
    path = tmp_path / "day.txt"
    path.write_text("\n".join(lines) + "\n")
    settings = config(path, format="criteo", max_malformed=2)
    with pytest.raises(CTRFormatError, match="more than 2 malformed rows") as one:
        open_ctr_file(settings)
    with pytest.raises(CTRFormatError, match="more than 2 malformed rows") as shared:
        shared_scans(settings, 3)
    assert str(shared.value) == str(one.value)
