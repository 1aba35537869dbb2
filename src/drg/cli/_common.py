"""Shared pieces of the command line: consoles and list parsing."""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True)
out_console = Console()


def split_list(value: str | None) -> list[str]:
    """Split a comma-separated option (``chrX,chrY``) into a list; empty items are dropped."""
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def done(message: str) -> None:
    """Report a finished step on stderr."""
    console.print(f"[green]✓[/green] {message}")
