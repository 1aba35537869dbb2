"""DRG: deep sequence-to-function models for regulatory genomics.

Sub-packages are imported on demand (``import drg.genome``), so ``import drg`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version as _version
from typing import Any

from drg.errors import DRGError, DRGWarning

try:
    __version__ = _version("drg")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

_SUBPACKAGES = ("genome", "data", "simulate", "motifs")

__all__ = ["DRGError", "DRGWarning", "__version__", *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return import_module(f"drg.{name}")
    raise AttributeError(f"module 'drg' has no attribute {name!r}")
