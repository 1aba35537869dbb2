"""A small builder of self-contained HTML report pages.

A :class:`Report` is a title and a list of blocks (sections of text, figures, tables, key-value lists).
Figures are embedded as base64 ``data:`` URIs, so the written page is one file that opens in any browser
without a server and can be moved or mailed on its own. All text is HTML-escaped; the page contains no
script.

Examples
--------
>>> report = Report("Evaluation")
>>> report.add_section("Summary", "Mean Pearson r over tracks: 0.81")
>>> report.add_figure(fig, "Per-track Pearson r")           # doctest: +SKIP
>>> report.add_table(per_track.head(20), "Best tracks")     # doctest: +SKIP
>>> report.write("out/report.html")                         # doctest: +SKIP
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from drg.errors import InputError
from drg.utils import PathLike, atomic_write

_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
         ".gif": "image/gif"}

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { border-bottom: 2px solid #446; padding-bottom: .2em; }
h2 { margin-top: 1.6em; color: #334; border-bottom: 1px solid #ccd; }
figure { margin: 1em 0; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; margin-top: .3em; }
.table-scroll { max-width: 100%; overflow-x: auto; margin: .8em 0; }
table { border-collapse: collapse; font-size: .88em; }
th, td { border: 1px solid #ccd; padding: .25em .6em; text-align: right; }
th { background: #eef; }
td.text, th.text { text-align: left; }
.caption { font-size: .9em; color: #555; }
.meta { font-size: .8em; color: #777; }
nav ul { columns: 2; font-size: .9em; }
p, figcaption, h1, h2, h3, li { overflow-wrap: anywhere; }
"""


def _escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _paragraphs(text: str) -> str:
    blocks = [b.strip() for b in str(text).replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{_escape(b).replace(chr(10), '<br>')}</p>\n" for b in blocks if b)


def _format_value(value: Any, float_format: str) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return format(value, float_format)
    return str(value)


@dataclass
class _Block:
    kind: str
    html: str
    anchor: str | None = None
    title: str | None = None


@dataclass
class Report:
    """A self-contained HTML page made of sections, figures and tables.

    Parameters
    ----------
    title
        Page title (escaped).
    subtitle
        Optional line under the title.

    Notes
    -----
    Blocks appear in the order they are added. :meth:`add_section` starts a new heading; figures and tables
    added after it belong to it. The page has a table of contents of the sections.
    """

    title: str
    subtitle: str | None = None
    blocks: list[_Block] = field(default_factory=list)

    # ------------------------------------------------------------------------------------------- content

    def add_section(self, title: str, text: str | None = None, *, level: int = 2) -> Report:
        """Add a heading (``level`` 2 or 3) with optional text; blank lines separate paragraphs."""
        if level not in (2, 3):
            raise InputError(f"section level must be 2 or 3, got {level}")
        anchor = f"s{sum(b.kind == 'section' for b in self.blocks) + 1}"
        body = f'<h{level} id="{anchor}">{_escape(title)}</h{level}>\n'
        if text:
            body += _paragraphs(text)
        self.blocks.append(_Block("section", body, anchor if level == 2 else None, str(title)))
        return self

    def add_text(self, text: str) -> Report:
        """Add paragraphs of plain text (escaped; blank lines separate paragraphs)."""
        self.blocks.append(_Block("text", _paragraphs(text)))
        return self

    def add_figure(self, figure: Any, caption: str | None = None, *, alt: str | None = None,
                   dpi: int = 110) -> Report:
        """Embed a figure as a base64 image.

        Parameters
        ----------
        figure
            A matplotlib Figure (rendered to PNG at ``dpi``) or the path of a PNG, JPG, GIF or SVG file.
        caption
            Text under the figure (escaped).
        alt
            Alternative text (defaults to the caption).
        """
        if isinstance(figure, str | Path):
            path = Path(figure)
            mime = _MIME.get(path.suffix.lower())
            if mime is None:
                raise InputError(f"cannot embed {path.suffix!r} files in a page; use one of "
                                 f"{', '.join(_MIME)}", path=path)
            if not path.is_file():
                raise InputError("figure file not found", path=path)
            data = path.read_bytes()
        elif hasattr(figure, "savefig"):
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=dpi)
            data, mime = buffer.getvalue(), "image/png"
        else:
            raise InputError(f"expected a matplotlib Figure or an image path, got {type(figure).__name__}")
        uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        alt_text = _escape(alt if alt is not None else (caption or "figure"))
        body = f'<figure><img src="{uri}" alt="{alt_text}">'
        if caption:
            body += f"<figcaption>{_escape(caption)}</figcaption>"
        self.blocks.append(_Block("figure", body + "</figure>\n"))
        return self

    def add_table(self, table: pd.DataFrame | pd.Series, caption: str | None = None, *,
                  float_format: str = ".4g", max_rows: int | None = 200, index: bool = True) -> Report:
        """Add a table (every cell escaped); a table wider than the page scrolls sideways in its own box.

        Parameters
        ----------
        table
            DataFrame or Series.
        caption
            Text above the table.
        float_format
            Format spec for floats (NaN is written ``NaN``).
        max_rows
            Show at most this many rows and say how many were left out (None: all rows).
        index
            Include the index as the first column.
        """
        frame = table.to_frame() if isinstance(table, pd.Series) else table
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"expected a pandas DataFrame or Series, got {type(table).__name__}")
        shown = frame if max_rows is None else frame.head(max_rows)
        parts = []
        if caption:
            parts.append(f'<p class="caption">{_escape(caption)}</p>')
        parts.append('<div class="table-scroll"><table>\n<thead><tr>')
        if index:
            parts.append(f'<th class="text">{_escape(frame.index.name or "")}</th>')
        for col in frame.columns:
            parts.append(f"<th>{_escape(col)}</th>")
        parts.append("</tr></thead>\n<tbody>\n")
        for label, row in zip(shown.index, shown.itertuples(index=False, name=None), strict=True):
            parts.append("<tr>")
            if index:
                parts.append(f'<td class="text">{_escape(label)}</td>')
            for value in row:
                cls = ' class="text"' if isinstance(value, str) else ""
                parts.append(f"<td{cls}>{_escape(_format_value(value, float_format))}</td>")
            parts.append("</tr>\n")
        parts.append("</tbody></table></div>\n")
        if len(shown) < len(frame):
            parts.append(f'<p class="caption">{len(frame) - len(shown)} more rows not shown.</p>\n')
        self.blocks.append(_Block("table", "".join(parts)))
        return self

    def add_metrics(self, values: Mapping[str, Any], caption: str | None = None, *,
                    float_format: str = ".4g") -> Report:
        """Add a two-column table of named values (e.g. a summary dictionary)."""
        frame = pd.DataFrame({"value": [(_format_value(v, float_format) if isinstance(v, float) else str(v))
                                        for v in values.values()]},
                             index=pd.Index([str(k) for k in values], name="metric"))
        return self.add_table(frame, caption, max_rows=None)

    # ------------------------------------------------------------------------------------------- output

    def to_html(self) -> str:
        """The complete page as a string."""
        sections = [b for b in self.blocks if b.anchor]
        toc = ""
        if len(sections) > 1:
            items = "".join(f'<li><a href="#{b.anchor}">{_escape(b.title)}</a></li>' for b in sections)
            toc = f"<nav><ul>{items}</ul></nav>\n"
        from drg import __version__

        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        subtitle = f'<p class="caption">{_escape(self.subtitle)}</p>\n' if self.subtitle else ""
        body = "".join(b.html for b in self.blocks)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_escape(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<h1>{_escape(self.title)}</h1>\n{subtitle}{toc}{body}"
            f'<p class="meta">Written by drg {_escape(__version__)} on {stamp}.</p>\n</body>\n</html>\n'
        )

    def write(self, path: PathLike) -> Path:
        """Write the page atomically (UTF-8) and return its path."""
        path = Path(path)
        with atomic_write(path, "w", encoding="utf-8") as handle:
            handle.write(self.to_html())
        return path
