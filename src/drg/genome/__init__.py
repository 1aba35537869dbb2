"""Genome access, regions, one-hot encoding, shuffling and k-mers.

Heavy modules (numba kernels, pyfaidx) load on first use of a name that needs them.
"""

from __future__ import annotations

from drg._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # fasta
    "Genome": "fasta",
    "read_fasta": "fasta",
    "FastaRecords": "fasta",
    "write_fasta": "fasta",
    "read_chrom_sizes": "fasta",
    # regions
    "read_regions": "regions",
    "write_regions": "regions",
    "resize": "intervals",
    "flank": "intervals",
    "filter_blacklist": "intervals",
    "fit_to_chromosomes": "intervals",
    "drop_duplicates": "intervals",
    "region_names": "regions",
    "prepare_regions": "prepare",
    # one-hot
    "one_hot_encode": "onehot",
    "one_hot_decode": "onehot",
    "reverse_complement": "onehot",
    "reverse_complement_sequence": "onehot",
    # shuffling and k-mers
    "dinucleotide_shuffle": "shuffle",
    "kmer_counts": "kmers",
    "gapped_kmer_counts": "kmers",
    "KmerFeatures": "kmers",
    "kmer_patterns": "kmers",
    "count_patterns": "kmers",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
