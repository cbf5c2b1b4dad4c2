"""A self-contained HTML report: one file holding its text, tables and figures.

:func:`write_report` turns a list of :class:`Section` (a title, a paragraph, a table of
key numbers and figures with captions) into ``report.html``. The file references
nothing outside itself: figures are embedded as base64 ``data:image/png`` URIs and the
style sheet is inline, so it opens the same from a copied run folder, an e-mail
attachment or a machine without network access. Every piece of text is escaped.

``sparseworks demo`` writes one from its stages' results (``docs/architecture.md``,
"Outputs")::

    section = Section("memory", "One pass over 1,000 digits ...", {"accuracy": 0.902},
                      [Figure(Path("memory/accuracy.png"), "Test accuracy against ...")])
    write_report(folder / "report.html", [section], title="SparseWorks demo")
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparse_core.infra.files import atomic_write

__all__ = ["Figure", "Section", "format_value", "render_report", "section_from_result", "write_report"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #1d2330; background: #f6f7f9; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 2rem 3rem; }
header { border-bottom: 2px solid #d5d9e0; margin-bottom: 1rem; }
h1 { font-size: 1.7rem; margin: 0.5rem 0; }
h2 { font-size: 1.3rem; margin: 0 0 0.5rem; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 1rem 1.5rem;
          margin: 1.2rem 0; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.92rem; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 0.25rem 0.9rem 0.25rem 0; text-align: left; }
td.value { font-variant-numeric: tabular-nums; text-align: right; }
figure { margin: 0.8rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eceef1; }
figcaption { font-size: 0.9rem; color: #4a5161; margin-top: 0.3rem; }
p.meta { color: #5b6272; font-size: 0.9rem; }
nav a { margin-right: 1rem; }
"""


@dataclass(frozen=True)
class Figure:
    """A PNG file and its caption.

    Attributes:
        path: the PNG file (read when the report is written).
        caption: what the figure shows, including units.
    """

    path: Path
    caption: str


@dataclass(frozen=True)
class Section:
    """One application's part of the report.

    Attributes:
        title: the heading, e.g. ``"memory: single-pass classification"``.
        paragraph: what was run, at what scale, and what the numbers mean.
        key_numbers: name -> value, shown as a two-column table in this order.
        figures: the section's figures, in order.
    """

    title: str
    paragraph: str = ""
    key_numbers: Mapping[str, Any] = field(default_factory=dict)
    figures: Sequence[Figure] = ()


def format_value(value: Any) -> str:
    """A value as a table shows it.

    Integers and floats of 10,000 or more get thousands separators (floats then lose their
    fraction), other floats 4 significant digits, booleans yes / no, lists comma-separated.
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return str(number)
        if abs(number) >= 1e4:
            return f"{number:,.0f}"
        return f"{number:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def section_from_result(title: str, result: Mapping[str, Any], folder: Path) -> Section:
    """A section from a demo stage's result dict.

    Args:
        title: the heading used when the result has no ``"title"``.
        result: a stage's ``run_demo`` result: ``"paragraph"`` (else ``"summary"``),
            ``"key_numbers"`` (name -> value) and ``"figures"`` (a list of
            ``{"path": relative to folder, "caption": ...}``); all optional.
        folder: the stage's folder, which figure paths are relative to.
    """
    figures = [Figure(Path(folder) / item["path"], str(item.get("caption", ""))) for item in result.get("figures", ())]
    return Section(
        title=str(result.get("title", title)),
        paragraph=str(result.get("paragraph") or result.get("summary") or ""),
        key_numbers=dict(result.get("key_numbers", {})),
        figures=figures,
    )


def _image_uri(figure: Figure, section: Section) -> str:
    path = Path(figure.path)
    if not path.is_file():
        raise FileNotFoundError(2, f"report section {section.title!r}: figure file missing", str(path))
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"report section {section.title!r}: {path} is not a PNG file")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _table(rows: Mapping[str, Any], css_class: str = "numbers") -> list[str]:
    if not rows:
        return []
    lines = [f'<table class="{css_class}">']
    for name, value in rows.items():
        lines.append(
            f'<tr><th scope="row">{html.escape(str(name))}</th>'
            f'<td class="value">{html.escape(format_value(value))}</td></tr>'
        )
    lines.append("</table>")
    return lines


def _anchor(index: int) -> str:
    return f"section-{index}"


def render_report(
    sections: Sequence[Section],
    *,
    title: str = "SparseWorks report",
    intro: str = "",
    facts: Mapping[str, Any] | None = None,
) -> str:
    """The report as one HTML document (figures embedded; see :func:`write_report`).

    Raises:
        FileNotFoundError: a figure file is missing (the message names it).
        ValueError: a figure file is not a PNG.
    """
    escape = html.escape
    made = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Written {escape(made)}. Figures are embedded; this file needs nothing else.</p>',
    ]
    if intro:
        lines.append(f"<p>{escape(intro)}</p>")
    lines += _table(facts or {}, "facts")
    if len(sections) > 1:
        links = " ".join(f'<a href="#{_anchor(i)}">{escape(s.title)}</a>' for i, s in enumerate(sections))
        lines.append(f"<nav>{links}</nav>")
    lines.append("</header>")
    for index, section in enumerate(sections):
        lines.append(f'<section id="{_anchor(index)}">')
        lines.append(f"<h2>{escape(section.title)}</h2>")
        if section.paragraph:
            lines.append(f"<p>{escape(section.paragraph)}</p>")
        lines += _table(section.key_numbers)
        for figure in section.figures:
            alt = figure.caption or Path(figure.path).name
            lines += [
                "<figure>",
                f'<img src="{_image_uri(figure, section)}" alt="{escape(alt, quote=True)}">',
                f"<figcaption>{escape(figure.caption)}</figcaption>",
                "</figure>",
            ]
        lines.append("</section>")
    lines += ["</main>", "</body>", "</html>", ""]
    return "\n".join(lines)


def write_report(
    path: Path | str,
    sections: Sequence[Section],
    *,
    title: str = "SparseWorks report",
    intro: str = "",
    facts: Mapping[str, Any] | None = None,
) -> Path:
    """Write a self-contained HTML report atomically; returns its path.

    Args:
        path: the file to write, e.g. ``run_folder / "report.html"``.
        sections: the report's sections, in order.
        title: the page's title and heading.
        intro: a paragraph under the heading.
        facts: name -> value shown under the heading (seed, revision, ...).

    Raises:
        FileNotFoundError: a figure file is missing (the message names it); nothing is written.
        ValueError: a figure file is not a PNG.
    """
    document = render_report(sections, title=title, intro=intro, facts=facts)
    path = Path(path)
    with atomic_write(path, "w") as handle:
        handle.write(document)
    return path
