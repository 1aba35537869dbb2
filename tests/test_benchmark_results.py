"""benchmarks/_results.py: replacing one section of RESULTS.md leaves the others and the spacing alone."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _results import write_section  # noqa: E402


def test_write_section_replaces_in_place_and_keeps_one_blank_line(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## A\n\nold a\n\n\n\n## B\n\nb\n")
    write_section("A", "\n## A\n\nnew a\n", path)
    first = path.read_text()
    assert first == "# Benchmark results\n\n## A\n\nnew a\n\n## B\n\nb\n"
    write_section("A", "\n## A\n\nnew a\n", path)
    assert path.read_text() == first  # rewriting the same section changes nothing
    write_section("C", "## C\n\nc", path)
    assert path.read_text() == first + "\n## C\n\nc\n"
