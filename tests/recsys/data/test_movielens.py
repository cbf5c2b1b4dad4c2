import pytest

from recsys.data.movielens import CTR_FIELDS, load_ctr_table, load_interactions, ml100k_folder

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def folder():
    return ml100k_folder()


def test_ml100k_counts(folder):
    data = load_interactions(folder)
    assert (len(data), data.num_users, data.num_items) == (100_000, 943, 1682)
    assert data.users.max() == 942 and data.items.max() == 1681


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
