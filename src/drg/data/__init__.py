"""Targets, signal extraction, normalisation, folds, datasets and DRG file formats."""

from __future__ import annotations

from drg._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # targets
    "Targets": "targets",
    "read_targets": "targets",
    "write_targets": "targets",
    "align_targets": "targets",
    "AlignedTargets": "targets",
    # signal extraction
    "bigwig_signal": "signal",
    "bam_insertions": "signal",
    "fragment_insertions": "signal",
    # normalisation
    "normalize": "normalization",
    "denormalize": "normalization",
    "Normalized": "normalization",
    # folds
    "Split": "folds",
    "chromosome_folds": "folds",
    "random_folds": "folds",
    "stratified_folds": "folds",
    "read_folds": "folds",
    "write_folds": "folds",
    "fold_split": "folds",
    "fold_balance": "folds",
    "FoldBalance": "folds",
    # DRG formats and datasets
    "OneHotSet": "drgio",
    "read_onehot_npz": "drgio",
    "write_onehot_npz": "drgio",
    "read_sequences": "drgio",
    "write_onehot_memmap": "datasets",
    "open_onehot_memmap": "datasets",
    "ArrayDataset": "datasets",
    "GenomeDataset": "datasets",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
