"""Lazy attribute exports for sub-packages, so that ``import drg.x`` does not load numba, torch or pyfaidx."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package`` exporting ``name -> submodule``.

    An exported name must differ from every submodule name: once ``package.x`` (the module) is imported,
    Python binds the module on the package and a function also called ``x`` could no longer be reached.
    """
    clashes = sorted(name for name in exports if name in set(exports.values()))
    if clashes:
        raise ImportError(f"{package}: exported names {clashes} are also module names")

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
