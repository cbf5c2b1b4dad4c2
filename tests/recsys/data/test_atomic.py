import gzip

import numpy as np
import pytest

from recsys.data.atomic import AtomicFormatError, read_atomic
from sparse_core.infra.errors import InputError


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
    assert table.lines.tolist() == [2, 3]


def test_the_format_error_is_an_input_error():
    assert issubclass(AtomicFormatError, InputError) and issubclass(AtomicFormatError, ValueError)


def test_bad_header_names_the_cell(tmp_path):
    path = write(tmp_path, "user_id\trating:float\n1\t2\n")
    with pytest.raises(AtomicFormatError, match="'user_id'.*name:type"):
        read_atomic(path)


def test_repeated_header_column_is_an_error(tmp_path):
    with pytest.raises(AtomicFormatError, match="repeats column.*'a'"):
        read_atomic(write(tmp_path, "a:token\ta:float\n1\t2\n"))


def test_wrong_cell_count_names_the_line(tmp_path):
    path = write(tmp_path, "a:token\tb:float\n1\t2\n3\n")
    with pytest.raises(AtomicFormatError, match="line 3: expected 2 tab-separated cells, found 1"):
        read_atomic(path)


def test_non_numeric_float_names_the_column_and_line(tmp_path):
    path = write(tmp_path, "a:token\tb:float\n1\tx\n")
    with pytest.raises(AtomicFormatError, match="line 2: column 'b' holds 'x', not a number"):
        read_atomic(path)


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_non_finite_floats_are_rejected_with_the_line(tmp_path, value):
    path = write(tmp_path, f"a:token\trating:float\n1\t3\n2\t{value}\n")
    with pytest.raises(AtomicFormatError, match=f"line 3: column 'rating' holds '{value}', not a finite number"):
        read_atomic(path)


def test_ranges_reject_out_of_range_values(tmp_path):
    path = write(tmp_path, "a:token\trating:float\n1\t3\n2\t99\n")
    with pytest.raises(AtomicFormatError, match=r"line 3: column 'rating' holds 99, outside \[1, 5\]"):
        read_atomic(path, ranges={"rating": (1, 5)})


def test_malformed_rows_up_to_the_limit_are_skipped_and_counted(tmp_path):
    path = write(tmp_path, "a:token\tb:float\n1\t2\n2\tnan\n3\n4\t5\n")
    table = read_atomic(path, max_malformed=2)
    assert list(table["a"]) == ["1", "4"] and table.lines.tolist() == [2, 5]
    assert sorted(line for line, _ in table.malformed.rows) == [3, 4]
    with pytest.raises(AtomicFormatError, match="more than 1 malformed rows"):
        read_atomic(path, max_malformed=1)


def test_empty_file_and_no_data_rows_are_errors(tmp_path):
    with pytest.raises(AtomicFormatError, match="file is empty"):
        read_atomic(write(tmp_path, ""))
    with pytest.raises(AtomicFormatError, match="no valid rows"):
        read_atomic(write(tmp_path, "a:token\tb:float\n\n"))


def test_compressed_file_crlf_and_bom_read_alike(tmp_path):
    path = tmp_path / "x.inter"  # gzip inside, whatever the name says
    path.write_bytes(gzip.compress("\ufeffa:token\tb:float\r\nu1\t2\r\n".encode()))
    table = read_atomic(path)
    assert list(table["a"]) == ["u1"] and table["b"].tolist() == [2.0]


def test_missing_column_lists_the_columns(tmp_path):
    table = read_atomic(write(tmp_path, "a:token\n1\n"))
    with pytest.raises(AtomicFormatError, match="columns: \\['a'\\]"):
        table["b"]
    with pytest.raises(AtomicFormatError, match="no column 'b' .the header has a:token"):
        table.require("b", "float")
    with pytest.raises(AtomicFormatError, match="'a' is declared 'token', expected float"):
        table.require("a", "float")
