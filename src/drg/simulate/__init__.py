"""Simulated data sets with planted motifs and known ground truth."""

from __future__ import annotations

from drg._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "SyntheticCode": "synthetic",
    "synthetic_code": "synthetic",
    "MultitaskSimulation": "multitask",
    "multitask_regression": "multitask",
    "write_simulation": "io",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
