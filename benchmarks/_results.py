"""Shared by the benchmark scripts: the machine's description and replacing one section of RESULTS.md."""

from __future__ import annotations

import platform
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or what the platform module knows)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_section(title: str, body: str, path: Path = RESULTS) -> None:
    """Replace the ``## title`` section of the results file (or append it), atomically.

    ``body`` is the whole section, its ``## title`` line included.
    """
    from drg.utils import atomic_write

    text = path.read_text() if path.exists() else "# Benchmark results\n"
    header = f"## {title}"
    lines = text.splitlines()
    section = body.strip("\n").splitlines()
    if header in lines:
        start = lines.index(header)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        before, after = lines[:start], lines[end:]
    else:
        before, after = lines, []
    # exactly one blank line between sections, however many the text had
    while before and before[-1] == "":
        before.pop()
    lines = before + [""] + section + ([""] + after if after else [])
    with atomic_write(path) as handle:
        handle.write("\n".join(lines).rstrip("\n") + "\n")
