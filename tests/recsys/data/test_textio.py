import bz2
import gzip
import lzma

import pytest

from recsys.data.textio import MalformedRows, compression, count_lines, iter_lines
from sparse_core.infra.errors import InputError

TEXT = "a\tb\n1\t2\n\n3\t4"  # a blank line, no newline at the end


@pytest.mark.parametrize(
    ("name", "pack", "kind"),
    [
        ("plain.txt", lambda b: b, None),
        ("named.gz", lambda b: b, None),  # a plain file named .gz is read as plain text
        ("gzip.txt", gzip.compress, "gzip"),  # a gzip file with the wrong extension is still gzip
        ("data.bz2", bz2.compress, "bzip2"),
        ("data.xz", lzma.compress, "xz"),
    ],
)
def test_compression_is_recognised_by_content_not_name(tmp_path, name, pack, kind):
    path = tmp_path / name
    path.write_bytes(pack(TEXT.encode()))
    assert compression(path) == kind
    assert list(iter_lines(path)) == [(1, "a\tb"), (2, "1\t2"), (3, ""), (4, "3\t4")]
    assert count_lines(path) == 4 and count_lines(path, limit=2) == 2


def test_line_ends_bom_and_undecodable_lines(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes("\ufeffh1,h2\r\n".encode() + b"\xff\xfe\x00bad\n" + b"ok\n")
    assert list(iter_lines(path)) == [(1, "h1,h2"), (2, None), (3, "ok")]


def test_a_line_longer_than_the_limit_is_unreadable_not_loaded(tmp_path):
    path = tmp_path / "long.txt"
    path.write_bytes(b"x" * 5000 + b"\nshort\n" + b"y" * 5000)
    assert list(iter_lines(path, max_line_bytes=1000)) == [(1, None), (2, "short"), (3, None)]


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_gzip_is_an_input_error_naming_the_file(tmp_path, damage):
    data = bytearray(gzip.compress(("1\t2\n" * 5000).encode()))
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    path = tmp_path / "broken.txt.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="broken.txt.gz: damaged gzip data after line"):
        list(iter_lines(path))
    with pytest.raises(InputError, match="broken.txt.gz: damaged gzip data"):
        count_lines(path)


def test_missing_file_and_folder_are_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(iter_lines(tmp_path / "nope.txt"))
    with pytest.raises(IsADirectoryError):
        list(iter_lines(tmp_path))


def test_malformed_rows_are_counted_once_and_limited(tmp_path):
    errors = MalformedRows(tmp_path / "f", max_errors=2)
    errors.add(3, "bad")
    errors.add(3, "bad")  # the same row in a second pass
    errors.add(7, "worse")
    assert errors.count == 2 and errors.listing() == "line 3: bad; line 7: worse"
    with pytest.raises(InputError, match="more than 2 malformed rows .first: line 3: bad; line 7: worse; line 9"):
        errors.add(9, "third")
    strict = MalformedRows(tmp_path / "f", max_errors=0)
    with pytest.raises(InputError, match="f, line 4: nope"):
        strict.add(4, "nope")
