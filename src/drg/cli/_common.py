"""Shared pieces of the command line: consoles and list parsing."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console

console = Console(stderr=True)
out_console = Console()


def split_list(value: str | None) -> list[str]:
    """Split a comma-separated option (``chrX,chrY``) into a list; empty items are dropped."""
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_devices(value: str | None) -> Any:
    """Lightning ``devices`` from an option: None, ``"auto"``, a count, or a list such as ``0,1``."""
    from drg.errors import InputError

    if value is None:
        return None
    value = value.strip()
    if value == "auto":
        return value
    items = split_list(value)
    if not items or not all(item.isdigit() for item in items):
        raise InputError(f"--devices must be a count, 'auto' or a list such as 0,1; got {value!r}")
    if "," in value:
        return [int(item) for item in items]
    if int(value) < 1:
        raise InputError(f"--devices must be at least 1; got {value!r}")
    return int(value)


def done(message: str) -> None:
    """Report a finished step on stderr."""
    console.print(f"[green]✓[/green] {message}")


def run_app(app: Any) -> None:
    """Run a typer app, printing DRG errors as one readable line with exit code 1 (no traceback)."""
    from drg.errors import DRGError

    try:
        app()
    except DRGError as exc:
        console.print(f"[bold red]error:[/bold red] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        sys.exit(130)
