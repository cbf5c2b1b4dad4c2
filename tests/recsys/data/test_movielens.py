import pytest

from recsys.data.atomic import AtomicFormatError
from recsys.data.movielens import (
    CTR_FIELDS,
    find_inter_file,
    load_ctr_table,
    load_interactions,
    ml100k_folder,
    read_interactions,
)
from sparse_core.infra.errors import InputError
from tests.recsys.conftest import fake_ml100k_texts, write_ml100k


@pytest.fixture(scope="module")
def folder():
    return ml100k_folder()


@pytest.mark.network
def test_ml100k_counts(folder):
    data = load_interactions(folder)
    assert (len(data), data.num_users, data.num_items) == (100_000, 943, 1682)
    assert data.users.max() == 942 and data.items.max() == 1681


@pytest.mark.network
def test_ml100k_ctr_table(folder):
    table = load_ctr_table(folder)
    assert table.fields == CTR_FIELDS
    assert len(table) == 100_000
    assert table.labels.mean() == pytest.approx(0.55375)  # 55.4% of ratings are >= 4
    assert set(table.values["gender"]) == {"M", "F"}
    assert len(set(table.values["age"])) == 7
    assert all(len(z) <= 2 for z in table.values["zip_prefix"])


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="ml-100k.inter"):
        load_interactions(tmp_path)


def test_fake_ml100k_reads(tmp_path):
    folder = write_ml100k(tmp_path / "ml", fake_ml100k_texts())
    data = load_interactions(folder)
    assert (len(data), data.num_users, data.num_items) == (24, 6, 8) and data.timestamps is not None
    table = load_ctr_table(folder)
    assert len(table) == 24 and set(table.values["gender"]) == {"M", "F"}


@pytest.mark.parametrize(
    ("rating", "message"),
    [
        ("nan", "line 3: column 'rating' holds 'nan', not a finite number"),
        ("99", r"line 3: column 'rating' holds 99, outside \[1, 5\]"),
        ("0", r"line 3: column 'rating' holds 0, outside \[1, 5\]"),
        ("x", "line 3: column 'rating' holds 'x', not a number"),
    ],
)
def test_a_bad_ml100k_rating_is_rejected_naming_the_line(tmp_path, rating, message):
    texts = fake_ml100k_texts()
    lines = texts["inter"].splitlines()
    cells = lines[2].split("\t")
    cells[2] = rating
    lines[2] = "\t".join(cells)
    texts["inter"] = "\n".join(lines) + "\n"
    folder = write_ml100k(tmp_path / "ml", texts)
    for load in (load_interactions, load_ctr_table):
        with pytest.raises(AtomicFormatError, match=message):
            load(folder)


def test_unknown_ids_and_bad_side_files_name_the_line(tmp_path):
    texts = fake_ml100k_texts()
    texts["inter"] += "999\t1\t4\t1\n"
    with pytest.raises(AtomicFormatError, match="ml-100k.inter, line 26: user_id '999' is not in ml-100k.user"):
        load_ctr_table(write_ml100k(tmp_path / "a", texts))
    texts = fake_ml100k_texts()
    texts["user"] = texts["user"].replace("\t26\t", "\tabc\t")
    with pytest.raises(AtomicFormatError, match="ml-100k.user, line 3: age 'abc'"):
        load_ctr_table(write_ml100k(tmp_path / "b", texts))
    texts = fake_ml100k_texts()
    texts["item"] += "3\tAgain\t1990\tDrama\n"
    with pytest.raises(AtomicFormatError, match="ml-100k.item, line 10: item_id '3' repeats line 4"):
        load_ctr_table(write_ml100k(tmp_path / "c", texts))


def test_wrong_columns_are_named(tmp_path):
    texts = fake_ml100k_texts()
    texts["inter"] = texts["inter"].replace("rating:float", "score:float", 1)
    with pytest.raises(AtomicFormatError, match="no column 'rating'"):
        load_ctr_table(write_ml100k(tmp_path / "a", texts))
    texts = fake_ml100k_texts()
    texts["inter"] = texts["inter"].replace("item_id:token", "item_id:float", 1)
    with pytest.raises(AtomicFormatError, match="'item_id' is declared 'float', expected token"):
        load_interactions(write_ml100k(tmp_path / "b", texts))


def test_user_interactions_columns_filters_and_folders(tmp_path):
    path = tmp_path / "mine" / "shop.inter"
    path.parent.mkdir()
    path.write_text(
        "who:token\twhat:token\tstars:float\twhen:float\nu1\ta\t5\t3\nu1\tb\t2\t1\nu2\ta\t4\t2\nu2\ta\t4\t9\n"
    )
    assert find_inter_file(path.parent) == path and find_inter_file(path) == path
    data = read_interactions(
        path, user_column="who", item_column="what", rating_column="stars", timestamp_column="when", min_rating=4
    )
    assert len(data) == 2 and data.user_ids == ("u1", "u2") and data.item_ids == ("a",)  # duplicate kept once
    assert data.timestamps.tolist() == [3.0, 2.0]
    with pytest.raises(AtomicFormatError, match="no interaction rated >= 6"):
        read_interactions(path, user_column="who", item_column="what", rating_column="stars", min_rating=6)
    with pytest.raises(AtomicFormatError, match="no column 'timestamp'"):
        read_interactions(path, user_column="who", item_column="what", need_timestamps=True)
    (path.parent / "other.inter").write_text("a:token\n1\n")
    with pytest.raises(InputError, match="several .inter files"):
        find_inter_file(path.parent)
    with pytest.raises(FileNotFoundError, match="no .inter file"):
        find_inter_file(tmp_path)
