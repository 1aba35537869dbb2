"""One call from a region file to the regions a model should see: read, reshape, filter, check."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from drg.utils import PathLike


def prepare_regions(
    path: PathLike,
    *,
    format: str | None = None,
    feature: str = "gene",
    length: int | None = None,
    anchor: Literal["center", "start", "end", "summit"] = "center",
    upstream: int = 0,
    downstream: int = 0,
    blacklist: PathLike | None = None,
    chrom_sizes: dict[str, int] | None = None,
    off_end: Literal["pad", "drop", "clip", "error"] = "pad",
    deduplicate: bool = True,
) -> pd.DataFrame:
    """Read regions and apply the usual preparation steps in a fixed, documented order.

    The order is: read (:func:`~drg.genome.read_regions`) → resize to ``length`` around ``anchor``
    (``"summit"`` uses narrowPeak summits) → extend by ``upstream``/``downstream`` (strand-aware) →
    remove regions overlapping ``blacklist`` → handle regions running off a chromosome end (``off_end``,
    needs ``chrom_sizes``) → drop duplicated coordinates.

    Parameters
    ----------
    path
        BED/narrowPeak/GTF/GFF/table file (gzip allowed).
    format, feature
        Passed to :func:`~drg.genome.read_regions` (``feature`` selects gene, transcript, tss or exon
        records of a GTF).
    length
        Final length of every region before flanks; ``None`` keeps the lengths of the file.
    anchor
        Which point stays fixed when resizing.
    upstream, downstream
        Bases added 5' and 3' of each region (strand-aware).
    blacklist
        BED file of regions to exclude (any overlap removes a region).
    chrom_sizes
        Chromosome lengths; required to check and handle regions off the chromosome ends.
    off_end
        ``"pad"`` keeps such regions (sequences are padded with N), ``"drop"`` removes them with a warning,
        ``"clip"`` trims them, ``"error"`` raises.
    deduplicate
        Drop regions with identical coordinates and strand (with a warning saying how many).

    Returns
    -------
    pandas.DataFrame
        Regions with columns chrom, start, end, name, strand (0-based half-open).
    """
    from drg.genome.intervals import drop_duplicates, filter_blacklist, fit_to_chromosomes, flank, resize
    from drg.genome.regions import read_regions

    regions = read_regions(path, format=format, feature=feature)
    if length is not None:
        regions = resize(regions, length, anchor=anchor)
    if upstream or downstream:
        regions = flank(regions, upstream, downstream)
    if blacklist is not None:
        regions = filter_blacklist(regions, blacklist)
    if chrom_sizes is not None:
        regions = fit_to_chromosomes(regions, chrom_sizes, off_end=off_end)
    if deduplicate:
        regions = drop_duplicates(regions)
    return regions.reset_index(drop=True)
