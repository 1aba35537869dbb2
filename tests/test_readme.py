"""The README's set-up commands are the ones CI runs, and its CLI examples name real commands."""

from __future__ import annotations

import re
import shlex

import typer.main

from drg.cli.main import app
from tests.conftest import REPO


def _setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Set up.*?```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_readme_test_command():
    commands = _setup_commands()
    assert len(commands) == 2
    assert "drg quickstart" in commands[0]
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == commands[1]


def test_readme_cli_examples_use_existing_commands_and_options():
    text = (REPO / "README.md").read_text()
    root = typer.main.get_command(app)
    joined = text.replace("\\\n", " ")
    examples = [line for line in joined.splitlines() if line.startswith("drg ")]
    assert len(examples) >= 10
    for example in examples:
        words = shlex.split(example, comments=True)[1:]
        command = root
        while words and hasattr(command, "commands") and words[0] in command.commands:
            command = command.commands[words.pop(0)]
        assert not hasattr(command, "commands"), f"incomplete command in README: {example}"
        known = {opt for param in command.params for opt in getattr(param, "opts", [])}
        for word in words:
            if word.startswith("--"):
                assert word.split("=")[0] in known, f"{word} is not an option of: {example}"
