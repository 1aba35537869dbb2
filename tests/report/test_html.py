"""The HTML report page: escaping, embedded images, tables, atomic writing."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from drg.errors import InputError
from drg.report import Report


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _figure():
    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    return fig


def test_page_structure_and_escaping(tmp_path):
    report = Report("Run <1> & co", subtitle="x < y")
    report.add_section("Tracks <b>", "first paragraph & more\n\nsecond <script>alert(1)</script>")
    report.add_figure(_figure(), caption='caption "<i>"')
    report.add_table(pd.DataFrame({"pearson": [0.5, np.nan], "name": ["<b>&", "ok"]},
                                  index=pd.Index(["<t1>", "t2"], name="track")), "table <c>")
    report.add_section("Second")
    report.add_metrics({"pearson_mean": 0.123456, "n": 3})
    path = report.write(tmp_path / "sub" / "report.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "<b>" not in page and "<i>" not in page
    assert "Run &lt;1&gt; &amp; co" in page and "&lt;b&gt;&amp;" in page and "&lt;t1&gt;" in page
    parser = _Collect()
    parser.feed(page)
    text = "".join(parser.text)
    assert "second <script>alert(1)</script>" in text  # the text survives, as text
    assert "NaN" in text and "0.1235" in text
    imgs = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert len(imgs) == 1 and imgs[0]["alt"] == 'caption "<i>"'
    data = base64.b64decode(imgs[0]["src"].split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len([t for t, _ in parser.tags if t == "p"]) >= 2
    assert re.search(r'<a href="#s1">Tracks &lt;b&gt;</a>', page)
    assert not list((tmp_path / "sub").glob(".*"))


def test_figure_from_file_and_errors(tmp_path):
    png = tmp_path / "a.png"
    _figure().savefig(png)
    report = Report("t").add_figure(png, "from file")
    assert base64.b64encode(png.read_bytes()).decode() in report.to_html()
    with pytest.raises(InputError, match="cannot embed"):
        report.add_figure(tmp_path / "a.pdf")
    with pytest.raises(InputError, match="not found"):
        report.add_figure(tmp_path / "missing.png")
    with pytest.raises(InputError, match="Figure or an image path"):
        report.add_figure(42)


def test_table_row_limit():
    frame = pd.DataFrame({"v": range(10)})
    page = Report("t").add_table(frame, max_rows=3).to_html()
    assert page.count("<tr>") == 4 and "7 more rows not shown" in page
