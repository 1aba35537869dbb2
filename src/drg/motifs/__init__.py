"""Motif objects and motif files (MEME, JASPAR)."""

from __future__ import annotations

from drg._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Motif": "motif",
    "read_meme": "io",
    "write_meme": "io",
    "read_jaspar": "io",
    "write_jaspar": "io",
    "read_motifs": "io",
    "bundled_jaspar_path": "io",
    "load_bundled_jaspar": "io",
    "tomtom": "comparison",
    "tomtom_matrices": "comparison",
    "TomtomMatrices": "comparison",
    "scan_motifs": "scan",
    "fimo": "scan",
    # first-layer kernels
    "find_first_conv": "kernels",
    "weights_to_ppm": "kernels",
    "kernel_pwms_from_weights": "kernels",
    "kernel_pwms_from_activations": "kernels",
    "random_onehot": "kernels",
    "kernel_effects": "kernels",
    "KernelEffects": "kernels",
    "combine_kernels": "kernel_clusters",
    "KernelClusters": "kernel_clusters",
    "call_seqlets": "seqlets",
    "call_seqlets_zscore": "seqlets",
    "call_seqlets_pvalue": "seqlets",
    "recursive_seqlet_spans": "seqlets",
    "reference_scores": "seqlets",
    "attribution_std": "seqlets",
    "cluster_motifs": "clustering",
    "merge_aligned": "clustering",
    "group_motifs": "clustering",
    "best_alignment": "clustering",
    "frame_matrices": "clustering",
    "MotifClusters": "clustering",
    "name_motifs": "naming",
    "MotifNames": "naming",
    "extract_seqlets": "discovery",
    "cluster_seqlets": "discovery",
    "cluster_seqlets_models": "discovery",
    "SeqletClusters": "discovery",
    "SeqletMatrices": "discovery",
    "effect_matrix": "discovery",
    "compare_models": "discovery",
    "reproducibility": "discovery",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
