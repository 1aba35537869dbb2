"""Plots of model performance and training (matplotlib, headless; every function returns the Figure)."""

from __future__ import annotations

from drg._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # performance
    "plot_metric_distribution": "performance",
    "plot_scatter_density": "performance",
    "plot_track_scatter": "performance",
    "plot_model_comparison": "performance",
    "plot_class_metrics": "performance",
    # training curves
    "plot_loss_curves": "curves",
    "read_history": "curves",
    # motifs
    "plot_motif_logos": "motifs",
    "plot_motif_tree": "motifs",
    "plot_effect_heatmap": "motifs",
    "motif_distances": "motifs",
    # sequence logos
    "plot_attribution": "logos",
    "plot_motif_logo": "logos",
    "motif_heights": "logos",
    # variants, in-silico experiments, design and embeddings
    "plot_variant_attribution": "variants",
    "plot_marginal_effects": "insilico",
    "plot_spacing_scan": "insilico",
    "plot_ablation_effects": "insilico",
    "plot_design_trajectory": "design",
    "plot_design_logos": "design",
    "plot_embedding": "embeddings",
    # output
    "save_figure": "_style",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
