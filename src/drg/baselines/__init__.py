"""Classical baselines: k-mer, gapped k-mer and PWM-scan features with penalised linear models.

Every CNN result can stand next to a baseline fitted on the same split and scored with the same metrics.
"""

from __future__ import annotations

from drg._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # features
    "kmer_features": "features",
    "pwm_features": "features",
    "FeatureMatrix": "features",
    # linear models
    "fit_linear": "linear",
    "LinearBaseline": "linear",
    # the whole baseline run
    "BaselineConfig": "runner",
    "run_baseline": "runner",
    "BaselineResult": "runner",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
