"""HTML reports opened in a real headless Chromium: every image decodes and is painted, every internal link
has its target, and nothing is fetched from the network.

The report pages carry no script. The browser checks run on a copy of a page with one inline probe script
appended; after the page has loaded, the script writes what it found (image sizes, link targets, fetched
resources, script errors) as JSON into the DOM, which ``--dump-dom`` prints. A screenshot of the unmodified
page is checked for painted pixels and kept beside the test's files (and copied into ``$DRG_SCREENSHOT_DIR``
when that is set).

Without ``chromium`` on PATH the tests are skipped, unless ``DRG_REQUIRE_CHROMIUM=1`` (CI) makes that a
failure.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drg.report import Report

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_PROBE = """<script>
window.__drgErrors = [];
window.addEventListener('error', function (e) { window.__drgErrors.push(String(e.message || e.type)); }, true);
window.addEventListener('load', function () {
  var out = {title: document.title, images: [], anchors: [], ids: [], resources: [],
             errors: window.__drgErrors, width: document.documentElement.scrollWidth};
  document.querySelectorAll('img').forEach(function (im) {
    var box = im.getBoundingClientRect();
    out.images.push({alt: im.alt, complete: im.complete, naturalWidth: im.naturalWidth,
                     naturalHeight: im.naturalHeight, width: box.width, height: box.height});
  });
  document.querySelectorAll('a[href]').forEach(function (a) {
    var href = a.getAttribute('href');
    if (href.charAt(0) === '#') {
      out.anchors.push({href: href, found: document.getElementById(decodeURIComponent(href.slice(1))) !== null});
    }
  });
  document.querySelectorAll('[id]').forEach(function (el) { out.ids.push(el.id); });
  performance.getEntriesByType('resource').forEach(function (r) { out.resources.push(r.name); });
  var pre = document.createElement('pre');
  pre.id = 'drg-probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""
_EXTERNAL = re.compile(r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:|ftp:|//))"""
                       r"""|(?:url\(\s*["']?\s*(?:https?:|//))|(?:@import)""", re.IGNORECASE)


def _chromium() -> str:
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("DRG_REQUIRE_CHROMIUM") == "1":
        pytest.fail("DRG_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install -y chromium)")
    pytest.skip("chromium is not on PATH (set DRG_REQUIRE_CHROMIUM=1 to make this a failure)")


@pytest.fixture(scope="module")
def chromium() -> str:
    return _chromium()


def _run(browser: str, page: Path, work: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = work / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}",
               "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",  # nothing reaches the network
               "--virtual-time-budget=10000", *extra, page.resolve().as_uri()]
    env = {**os.environ, "HOME": str(work)}
    proc = subprocess.run(command, check=False, capture_output=True, text=True, timeout=180, cwd=work, env=env)
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def probe(browser: str, page: Path, work: Path) -> dict:
    """Load a copy of ``page`` with the probe script and return what the script recorded."""
    text = page.read_text(encoding="utf-8")
    assert "</body>" in text
    copy = page.with_name(f".probe_{page.name}")
    copy.write_text(text.replace("</body>", _PROBE + "</body>", 1), encoding="utf-8")
    try:
        dom = _run(browser, copy, work, "--dump-dom").stdout
    finally:
        copy.unlink()
    found = re.search(r'<pre id="drg-probe">(.*?)</pre>', dom, re.DOTALL)
    assert found, f"the page did not finish loading in the browser; DOM starts: {dom[:500]!r}"
    return json.loads(html.unescape(found.group(1)))


def screenshot(browser: str, page: Path, work: Path, name: str) -> np.ndarray:
    """Screenshot of ``page`` (1200 px wide) as an (H, W, 3) uint8 array; the PNG is kept in ``work``."""
    from PIL import Image

    png = work / f"{name}.png"
    _run(browser, page, work, f"--screenshot={png}", "--window-size=1200,2400")
    assert png.exists() and png.stat().st_size > 0
    keep = os.environ.get("DRG_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)
    with Image.open(png) as image:
        return np.asarray(image.convert("RGB"))


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.fragments: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        href = attrs.get("href") or ""
        if tag == "a" and href.startswith("#"):
            self.fragments.append(href[1:])
        for key in ("src", "href"):
            if attrs.get(key):
                self.sources.append(attrs[key])


def check_page(browser: str, page: Path, work: Path, *, n_images: int | None = None) -> dict:
    """Every assertion a written report must pass in the browser; returns the probe record."""
    text = page.read_text(encoding="utf-8")
    # Static: self-contained, no script, unique ids, internal links with targets.
    assert not _EXTERNAL.search(text), f"external reference: {_EXTERNAL.search(text).group(0)!r}"
    assert "<script" not in text.lower()
    links = _Links()
    links.feed(text)
    assert len(links.ids) == len(set(links.ids)), "duplicate element ids"
    assert set(links.fragments) <= set(links.ids)
    for source in links.sources:  # embedded data, a fragment, or a file beside the page that exists
        if source.startswith(("data:", "#")):
            continue
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", source, re.IGNORECASE), f"non-local reference {source[:60]!r}"
        assert (page.parent / source.split("#")[0]).exists(), f"link to a missing file {source!r}"
    # In the browser.
    record = probe(browser, page, work)
    assert record["errors"] == []
    assert record["resources"] == [], f"the page fetched {record['resources'][:5]}"
    if n_images is not None:
        assert len(record["images"]) == n_images
    for image in record["images"]:
        assert image["complete"] and image["naturalWidth"] > 0 and image["naturalHeight"] > 0, image
        assert image["width"] > 50 and image["height"] > 50, image  # laid out at a visible size
        assert image["width"] <= 1200
    if text.count("<h2") > 1:
        assert record["anchors"], "no table of contents"
    assert all(a["found"] for a in record["anchors"]), [a for a in record["anchors"] if not a["found"]]
    assert record["width"] <= 1200, "the page is wider than the window"
    return record


def _painted(pixels: np.ndarray) -> float:
    """Fraction of pixels that are not (near) white."""
    return float((pixels.min(axis=2) < 235).mean())


# ------------------------------------------------------------------------------------------------- tests


def _figure(colour: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    ax.bar(range(4), [3, 1, 2, 4], color=colour, width=0.9)
    ax.set_title("bars")
    return fig


def test_report_renders_in_chromium(chromium, tmp_path):
    svg = tmp_path / "curve.svg"
    fig = _figure("#00ff00")
    fig.savefig(svg, format="svg")
    report = Report("Browser check <1>", subtitle="figures, tables & links")
    report.add_section("Figures", "A PNG rendered from a figure and an SVG file.")
    report.add_figure(_figure("#ff00ff"), caption="fuchsia bars")
    report.add_figure(svg, caption="green bars (SVG)")
    report.add_section("Tables")
    report.add_table(pd.DataFrame({"pearson": np.linspace(0, 1, 30), "name": [f"t<{i}>" for i in range(30)]}),
                     "per-track", max_rows=10)
    report.add_section("Details", level=3)
    report.add_metrics({"pearson_mean": 0.5, "n": 30})
    report.add_section("Last")
    report.add_text("end")
    page = report.write(tmp_path / "report" / "index.html")
    record = check_page(chromium, page, tmp_path, n_images=2)
    assert record["title"] == "Browser check <1>"
    assert {a["href"] for a in record["anchors"]} == {"#s1", "#s2", "#s4"}  # level-3 sections are not listed
    assert {"s1", "s2", "s3", "s4"} <= set(record["ids"])
    # The PNG keeps its pixel size: 5 x 3 inches at the report's 110 dpi.
    assert (record["images"][0]["naturalWidth"], record["images"][0]["naturalHeight"]) == (550, 330)
    pixels = screenshot(chromium, page, tmp_path, "report_screenshot")
    assert pixels.shape[1] == 1200 and _painted(pixels) > 0.02
    # Both figures were painted: their bar colours appear on screen, and nowhere else in the page's style.
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    fuchsia = (r > 200) & (g < 60) & (b > 200)
    green = (r < 60) & (g > 200) & (b < 60)
    assert fuchsia.sum() > 2000 and green.sum() > 2000


def test_broken_image_is_detected(chromium, tmp_path):
    """The probe is not blind: an image that cannot be decoded is reported with width 0."""
    report = Report("broken").add_section("A").add_section("B")
    report.add_figure(_figure("#ff00ff"), caption="ok")
    page = report.write(tmp_path / "index.html")
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1), encoding="utf-8")
    record = probe(chromium, page, tmp_path)
    assert [image["naturalWidth"] for image in record["images"]] == [0]
    assert all(a["found"] for a in record["anchors"])
    page.write_text(text.replace('href="#s2"', 'href="#missing"'), encoding="utf-8")
    record = probe(chromium, page, tmp_path)
    assert [a["found"] for a in record["anchors"]] == [True, False]


@pytest.mark.slow
def test_quickstart_reports_render(chromium, tmp_path):
    from typer.testing import CliRunner

    from drg.cli.main import app

    config = tmp_path / "small.yaml"
    config.write_text("max_epochs: 2\nn_attribution: 100\nn_logos: 2\n")
    out = tmp_path / "qs"
    result = CliRunner().invoke(app, ["quickstart", "--out", str(out), "--n-sequences", "2000", "--config",
                                      str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    index = out / summary["report"]["index"]
    record = check_page(chromium, index, tmp_path)
    assert len(record["images"]) >= 3 + len(summary["attribution"]["logos"])
    pixels = screenshot(chromium, index, tmp_path, "quickstart_screenshot")
    assert _painted(pixels) > 0.02
    evaluation = out / summary["training"]["run_dir"] / "evaluation" / "targets" / "report.html"
    record = check_page(chromium, evaluation, tmp_path)
    assert len(record["images"]) >= 2
    assert _painted(screenshot(chromium, evaluation, tmp_path, "evaluation_screenshot")) > 0.02


def test_missing_browser_skips_unless_required(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("DRG_REQUIRE_CHROMIUM", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not on PATH"):
        _chromium()
    monkeypatch.setenv("DRG_REQUIRE_CHROMIUM", "1")
    with pytest.raises(pytest.fail.Exception, match="DRG_REQUIRE_CHROMIUM=1"):
        _chromium()


def test_wide_tables_and_long_words_stay_inside_the_page(chromium, tmp_path):
    """A table of many tracks scrolls inside its own box instead of widening the whole page."""
    wide = pd.DataFrame(np.arange(3 * 60, dtype=float).reshape(3, 60),
                        columns=[f"track_with_a_long_name_{i}" for i in range(60)])
    report = Report("wide").add_section("Tracks", "x" * 400).add_table(wide, "per track").add_section("End")
    record = check_page(chromium, report.write(tmp_path / "wide.html"), tmp_path)
    assert record["width"] <= 800  # the default window width of headless Chromium
