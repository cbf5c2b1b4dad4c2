import numpy as np
import pytest

from recsys.data.atomic import AtomicFormatError, read_atomic


def write(tmp_path, text, name="x.inter"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_typed_columns_are_parsed(tmp_path):
    path = write(tmp_path, "user_id:token\trating:float\tclass:token_seq\n7\t4.5\tAction Comedy\n8\t1\t\n")
    table = read_atomic(path)
    assert len(table) == 2
    assert list(table["user_id"]) == ["7", "8"]
    np.testing.assert_array_equal(table["rating"], [4.5, 1.0])
    assert table["class"] == [["Action", "Comedy"], []]
    assert table.types == {"user_id": "token", "rating": "float", "class": "token_seq"}


def test_bad_header_names_the_cell(tmp_path):
    path = write(tmp_path, "user_id\trating:float\n1\t2\n")
    with pytest.raises(AtomicFormatError, match="'user_id'.*name:type"):
        read_atomic(path)


def test_wrong_cell_count_names_the_line(tmp_path):
    path = write(tmp_path, "a:token\tb:float\n1\t2\n3\n")
    with pytest.raises(AtomicFormatError, match="line 3: expected 2 tab-separated cells, found 1"):
        read_atomic(path)


def test_non_numeric_float_names_the_column(tmp_path):
    path = write(tmp_path, "a:token\tb:float\n1\tx\n")
    with pytest.raises(AtomicFormatError, match="column 'b' declared float"):
        read_atomic(path)


def test_missing_column_lists_the_columns(tmp_path):
    table = read_atomic(write(tmp_path, "a:token\n1\n"))
    with pytest.raises(KeyError, match="columns: \\['a'\\]"):
        table["b"]
