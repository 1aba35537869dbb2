"""The walk-throughs in examples/*.md run top to bottom in an empty directory and produce what they promise.

Every fenced ``bash`` and ``python`` block of an example runs in order in one fresh directory (bash with
``drg`` on PATH, python in a subprocess of this interpreter). A ``<!-- produces: a b c -->`` comment lists
the files and directories the example must leave behind. Blocks in other languages are only shown.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

EXAMPLES = REPO / "examples"
BLOCK = re.compile(r"^```(bash|python)[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
PRODUCES = re.compile(r"<!--\s*produces:(.*?)-->", re.DOTALL)


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*.md") if p.name != "README.md")


def blocks(path: Path) -> list[tuple[str, str]]:
    """``(language, code)`` of every bash/python block, in order."""
    return [(lang, code) for lang, code in BLOCK.findall(path.read_text())]


def produces(path: Path) -> list[str]:
    found = PRODUCES.findall(path.read_text())
    return [name for group in found for name in group.split()]


def _env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["MPLBACKEND"] = "Agg"
    env["DRG_CACHE"] = str(workdir / ".drg_cache")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH", "")) if p)
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


def run_example(path: Path, workdir: Path, timeout: float = 600.0) -> list[float]:
    """Run the blocks of ``path`` in ``workdir``; return the seconds each took. Fails with the block's output."""
    env = _env(workdir)
    times = []
    for i, (lang, code) in enumerate(blocks(path), start=1):
        cmd = ["bash", "-euo", "pipefail", "-c", code] if lang == "bash" else [sys.executable, "-c", code]
        t0 = time.perf_counter()
        result = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout,
                                check=False)
        times.append(time.perf_counter() - t0)
        if result.returncode != 0:
            pytest.fail(f"{path.name}, block {i} ({lang}) exited with {result.returncode}\n--- code\n{code}\n"
                        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-5000:]}")
    return times


# ---------------------------------------------------------------------------------------------- static checks


def test_every_example_has_blocks_outputs_and_an_index_entry():
    files = example_files()
    assert len(files) >= 6
    index = (EXAMPLES / "README.md").read_text()
    for path in files:
        assert blocks(path), f"{path.name} has no bash/python block"
        assert produces(path), f"{path.name} has no '<!-- produces: ... -->' line"
        assert f"({path.name})" in index, f"examples/README.md does not link {path.name}"


def test_examples_do_not_use_repository_data():
    for path in example_files():
        text = path.read_text()
        for forbidden in ("/work/", "shared/data", "../shared"):
            assert forbidden not in text, f"{path.name} refers to {forbidden!r}; examples must make their own data"


def test_block_parser_on_a_known_text(tmp_path):
    md = tmp_path / "x.md"
    md.write_text("text\n```bash\necho a\n```\n```yaml\nk: v\n```\n<!-- produces: a b -->\n"
                  "```python\nprint(1)\n```\n")
    assert blocks(md) == [("bash", "echo a\n"), ("python", "print(1)\n")]
    assert produces(md) == ["a", "b"]


def test_drg_commands_in_examples_exist():
    """Every ``drg ...`` line of a bash block names a real command and only its real options."""
    import typer.main

    from drg.cli.main import app

    root = typer.main.get_command(app)
    n = 0
    for path in example_files():
        for lang, code in blocks(path):
            if lang != "bash":
                continue
            for line in code.replace("\\\n", " ").splitlines():
                line = line.strip()
                if not line.startswith("drg "):
                    continue
                n += 1
                words = shlex.split(line, comments=True)[1:]
                command = root
                while words and hasattr(command, "commands") and words[0] in command.commands:
                    command = command.commands[words.pop(0)]
                assert not hasattr(command, "commands"), f"{path.name}: incomplete command: {line}"
                known = {opt for param in command.params for opt in getattr(param, "opts", [])}
                known |= {opt for param in command.params for opt in getattr(param, "secondary_opts", [])}
                for word in words:
                    if word.startswith("--"):
                        assert word.split("=")[0] in known, f"{path.name}: {word} is not an option of: {line}"
    assert n >= 20


# ---------------------------------------------------------------------------------------------- running them


@pytest.mark.slow
@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.stem)
def test_example_runs_and_produces_its_files(path, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    run_example(path, work)
    missing = [name for name in produces(path) if not (work / name).exists()]
    assert not missing, f"{path.name} did not produce {missing}"
