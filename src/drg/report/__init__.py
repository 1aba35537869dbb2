"""HTML report pages that gather a run's figures and tables in one self-contained file."""

from __future__ import annotations

from drg._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Report": "html",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
