"""Using trained models: variant effects, in-silico experiments, sequence design and embeddings.

- :func:`read_vcf` reads SNVs and short indels; :func:`variant_effects` predicts their effect per track.
- :func:`implant`, :func:`marginalize`, :func:`spacing_scan` and :func:`ablate` are in-silico experiments.
- :func:`optimize_sequences` edits sequences toward a target profile over tracks under constraints.
- :func:`extract_embeddings` and :func:`embed_2d` turn a model's intermediate representations into 2-D maps.
"""

from __future__ import annotations

from drg._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # variants
    "read_vcf": "vcf",
    "variant_effects": "variants",
    "VariantEffects": "variants",
    # in-silico experiments
    "implant": "insilico",
    "marginalize": "insilico",
    "MarginalEffects": "insilico",
    "spacing_scan": "insilico",
    "SpacingScan": "insilico",
    "ablate": "insilico",
    "AblationEffects": "insilico",
    # sequence design
    "optimize_sequences": "optimization",
    "DesignObjective": "optimization",
    "DesignConstraints": "optimization",
    "DesignResult": "optimization",
    # embeddings
    "extract_embeddings": "embeddings",
    "embed_2d": "embeddings",
    "Embedding2D": "embeddings",
    "track_vectors": "embeddings",
    "TrackVectors": "embeddings",
    "layer_names": "embeddings",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
