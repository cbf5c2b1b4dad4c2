"""The self-contained HTML report: figures embedded, no outside references, text escaped."""

import base64
import re
import struct
import zlib

import pytest

from sparse_core.infra.report import Figure, Section, format_value, section_from_result, write_report


def tiny_png(width=3, height=2):
    """A valid RGB PNG of the given size, written without matplotlib."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x80\x20\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def figures(tmp_path):
    paths = []
    for index, size in enumerate([(3, 2), (5, 4)]):
        path = tmp_path / f"figure{index}.png"
        path.write_bytes(tiny_png(*size))
        paths.append(path)
    return paths


def test_report_embeds_every_figure_and_references_nothing_outside(tmp_path, figures):
    sections = [
        Section("first", "a paragraph", {"accuracy": 0.912345, "weights": 26620}, [Figure(figures[0], "accuracy (%)")]),
        Section("second", "", {}, [Figure(figures[1], "z500 (m)"), Figure(figures[0], "again")]),
    ]
    path = write_report(tmp_path / "out" / "report.html", sections, title="demo", facts={"seed": 0})
    text = path.read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)"', text)
    assert len(sources) == 3
    for source, figure in zip(sources, [figures[0], figures[1], figures[0]]):
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix) :]) == figure.read_bytes()
    assert not re.search(r"https?://", text)
    assert not re.search(r"<(link|script)\b", text)
    assert "0.9123" in text and "26,620" in text and "accuracy (%)" in text
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temporary file left


def test_report_escapes_all_text(tmp_path, figures):
    hostile = '<script>alert("x")</script> & <b>'
    section = Section(hostile, hostile, {hostile: hostile}, [Figure(figures[0], hostile)])
    text = write_report(tmp_path / "report.html", [section], title=hostile, intro=hostile).read_text()
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in text


def test_missing_figure_is_an_error_naming_it_and_writes_nothing(tmp_path, figures):
    missing = tmp_path / "never_written.png"
    sections = [Section("stage", "text", {}, [Figure(figures[0], "ok"), Figure(missing, "lost")])]
    with pytest.raises(FileNotFoundError) as raised:
        write_report(tmp_path / "report.html", sections)
    assert raised.value.filename == str(missing) and "stage" in str(raised.value)
    assert not (tmp_path / "report.html").exists()


def test_a_figure_that_is_not_a_png_is_an_error(tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    with pytest.raises(ValueError, match="not a PNG"):
        write_report(tmp_path / "report.html", [Section("stage", figures=[Figure(fake, "")])])


def test_section_from_a_stage_result(tmp_path, figures):
    result = {"summary": "one line", "key_numbers": {"n": 3}, "figures": [{"path": figures[1].name, "caption": "c"}]}
    section = section_from_result("memory", result, tmp_path)
    assert section.title == "memory" and section.paragraph == "one line"
    assert section.figures == [Figure(figures[1], "c")] and section.key_numbers == {"n": 3}
    assert section_from_result("x", {"paragraph": "longer", "summary": "short"}, tmp_path).paragraph == "longer"


def test_number_formatting():
    assert format_value(1234567) == "1,234,567"
    assert format_value(0.000123456) == "0.0001235"
    assert format_value(42325.23) == "42,325"
    assert format_value(True) == "yes"
    assert format_value([1, 2.5]) == "1, 2.5"
    assert format_value("text") == "text"
