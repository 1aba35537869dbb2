"""Attributions: gradients in every gauge, TISM, exact ISM, DeepLIFT/SHAP, integrated gradients, SmoothGrad,
storage and ensembles, behind one :func:`attribute` call."""

from __future__ import annotations

from drg._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # one entry point and DRG-style calls
    "attribute": "api",
    "takegrad": "api",
    "ism": "api",
    "deepliftshap": "api",
    "METHODS": "api",
    # gauges
    "apply_gauge": "gauges",
    "apply_delta_gauge": "gauges",
    "expand_baseline": "gauges",
    "GAUGES": "gauges",
    # gradients and mutagenesis
    "input_gradients": "gradients",
    "saturation_mutagenesis": "mutagenesis",
    # track selection
    "TrackSelection": "tracks",
    "resolve_tracks": "tracks",
    "read_track_groups": "tracks",
    "select_outputs": "tracks",
    # reference-based methods
    "deeplift_shap": "deeplift",
    "make_references": "deeplift",
    "integrated_gradients": "integrated",
    "expected_integrated_gradients": "integrated",
    "expected_gradients": "integrated",
    "smoothgrad": "integrated",
    # storage and ensembles
    "write_attributions": "storage",
    "read_attributions": "storage",
    "to_topk": "storage",
    "densify": "storage",
    "Attributions": "storage",
    "AttributionWriter": "storage",
    "export_bigwig": "storage",
    "ensemble_attribute": "ensemble",
    "EnsembleResult": "ensemble",
    "fixed_dropout": "ensemble",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
