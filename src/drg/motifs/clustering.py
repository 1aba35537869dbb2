"""Clustering many motifs (seqlet CWMs, kernels, database motifs) by best-offset similarity, at scale.

Similarity. Every matrix becomes a *signal* matrix (a contribution weight matrix as given; a probability
matrix minus its background, so that an uninformative column is zero), is placed in a zero-padded frame of
``width`` columns (centred; longer matrices keep their ``width`` columns of largest total magnitude) and
scaled to unit Frobenius norm. The similarity of two matrices is the largest cosine between them over all
shifts of up to ``width - min_overlap`` columns and both strands (the reverse complement of the second).
Zero padding means that unaligned columns count as empty. Distance is ``1 - similarity``.

Two column weightings (``similarity``):

* ``"cosine"`` (default, for contribution weight matrices): columns keep their magnitudes, so the strong
  columns of a seqlet decide and its near-zero flanks hardly count.
* ``"pearson"`` (Tomtom's Pearson column score, for probability matrices): every column is centred on its
  mean and scaled to unit length first, so that the dot product of two aligned columns is their Pearson
  correlation, and the similarity of an alignment is the sum of the correlations of the aligned columns
  divided by ``sqrt(n_a n_b)`` (``n`` the matrix's non-constant columns in the frame): 1 for two identical
  motifs, as Tomtom's complete score sums column correlations over the alignment with unaligned columns
  scoring 0 (the median).

Algorithm (:func:`cluster_motifs`), never holding an n x n matrix:

1. Draw ``sample_size`` of the unassigned matrices (all, when fewer remain), compute their exact pairwise
   similarities and cluster them by agglomerative clustering (``linkage``) cut at ``threshold``.
2. The centroid of each cluster is the mean of its members aligned (best shift and strand) to its medoid,
   the member with the largest mean similarity to the others.
3. Every other unassigned matrix joins the centroid it is most similar to when its distance to that
   centroid is at most ``threshold``; the rest stay unassigned.
4. Repeat from 1 with the unassigned matrices. Matrices left alone (clusters of one) keep their own label.
5. Finally, clusters whose centroids are within ``threshold`` of each other (average linkage on centroids)
   are merged, and every member is aligned to its final centroid.

Guarantees: the clusters of step 1 are exact agglomerative clusters of the sample; every matrix assigned in
step 3 is within ``threshold`` of its cluster's centroid; a matrix far (> ``threshold``) from every centroid
is never forced into a cluster. Cost: per round ``sample_size**2`` exact pairs plus ``n * k`` pairs against
``k`` centroids, each pair ``2 * (2 * max_shift + 1)`` dot products of length ``4 * width`` done as matrix
products; memory is linear in n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from drg.errors import InputError

Similarity = Literal["cosine", "pearson"]


@dataclass
class MotifClusters:
    """Result of :func:`cluster_motifs`.

    Attributes
    ----------
    labels
        ``(n,)`` int64 cluster of every input, 0..k-1, numbered by decreasing size.
    shift
        ``(n,)`` int64: frame column ``p`` of the input (after the strand flip) sits at column ``p + shift``
        of its centroid's frame.
    strand
        ``(n,)`` int8, 1 when the input aligns to its centroid as its reverse complement.
    similarity
        ``(n,)`` float32 cosine similarity to the final centroid.
    centroids
        ``(k, width, 4)`` float32 unit-norm centroid signal matrices.
    place
        ``(n,)`` int64 frame column of every input's first column (negative when a long matrix was cut).
    width
        Frame width.
    """

    labels: np.ndarray
    shift: np.ndarray
    strand: np.ndarray
    similarity: np.ndarray
    centroids: np.ndarray
    place: np.ndarray
    width: int

    @property
    def n_clusters(self) -> int:
        """Number of clusters k."""
        return int(self.centroids.shape[0])

    def frame_start(self, lengths: np.ndarray) -> np.ndarray:
        """Centroid-frame column of the first column of each input, in its aligned orientation.

        For an input of length ``l`` placed at ``place`` the reverse complement starts at
        ``width - place - l`` in the frame.
        """
        lengths = np.asarray(lengths)
        start = np.where(self.strand == 1, self.width - self.place - lengths, self.place)
        return start + self.shift


def _signal(m: Any) -> np.ndarray:
    from drg.motifs.motif import Motif

    if isinstance(m, Motif):
        if m.weights is not None:
            return np.asarray(m.weights, dtype=np.float32)
        return (m.ppm / m.ppm.sum(axis=1, keepdims=True) - m.background).astype(np.float32)
    a = np.asarray(m, dtype=np.float32)
    if a.ndim != 2 or a.shape[1] != 4 or a.shape[0] == 0:
        raise InputError(f"each matrix must have shape (L, 4) with L >= 1, got {a.shape}")
    return a


def _unit_columns(m: np.ndarray) -> np.ndarray:
    """Columns centred on their mean and scaled to unit length (zero where a column is constant)."""
    c = m.astype(np.float64) - m.mean(axis=1, keepdims=True)
    norm = np.sqrt((c ** 2).sum(axis=1, keepdims=True))
    return (c / np.where(norm > 1e-12, norm, np.inf)).astype(np.float32)


def frame_matrices(matrices: Any, width: int | None = None, similarity: Similarity = "cosine",
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Place signal matrices in a zero-padded, unit-norm ``(n, width, 4)`` frame (see the module notes).

    Parameters
    ----------
    matrices
        Sequence of ``(L, 4)`` arrays (signal as given) or :class:`~drg.motifs.Motif` (weights if set, else
        ppm minus background).
    width
        Frame width; default the longest matrix, at most 30.
    similarity
        ``"cosine"``: columns as given; ``"pearson"``: every column centred and scaled to unit length
        (constant columns become zero) before the frame is normalised.

    Returns
    -------
    frames : numpy.ndarray
        ``(n, width, 4)`` float32.
    place : numpy.ndarray
        ``(n,)`` int64 frame column of each matrix's first column.
    """
    if similarity not in ("cosine", "pearson"):
        raise InputError(f"similarity must be 'cosine' or 'pearson', got {similarity!r}")
    mats = [_signal(m) for m in matrices]
    if not mats:
        raise InputError("no matrices to cluster")
    if similarity == "pearson":
        mats = [_unit_columns(m) for m in mats]
    if width is None:
        width = min(max(m.shape[0] for m in mats), 30)
    frames = np.zeros((len(mats), width, 4), np.float32)
    place = np.zeros(len(mats), np.int64)
    for i, m in enumerate(mats):
        length = m.shape[0]
        if length <= width:
            p = (width - length) // 2
            frames[i, p:p + length] = m
        else:
            mass = np.convolve(np.abs(m).sum(axis=1), np.ones(width), mode="valid")
            cut = int(np.argmax(mass))
            frames[i] = m[cut:cut + width]
            p = -cut
        place[i] = p
    norms = np.sqrt((frames.astype(np.float64) ** 2).sum(axis=(1, 2)))
    frames /= np.where(norms > 0, norms, 1.0)[:, None, None].astype(np.float32)
    return frames, place


def _shifted_stack(A: np.ndarray, max_shift: int):
    """(na, 2S+1, W*4) torch tensor: A shifted by s = -S..S (column p of A moved to p + s)."""
    import torch

    na, w, _ = A.shape
    t = torch.from_numpy(A)
    padded = torch.nn.functional.pad(t, (0, 0, max_shift, max_shift))  # (na, W + 2S, 4)
    # window starting at S - s holds A shifted by +s
    windows = padded.unfold(1, w, 1)  # (na, 2S+1, 4, W) with window start 0..2S
    windows = windows.permute(0, 1, 3, 2).flip(1)  # start 2S..0 -> shift -S..S
    return windows.reshape(na, 2 * max_shift + 1, w * 4)


def best_alignment(A: np.ndarray, B: np.ndarray, max_shift: int, block: int = 256,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best shift and strand of every framed matrix of ``A`` against every one of ``B``.

    Parameters
    ----------
    A, B
        ``(na, W, 4)`` and ``(nb, W, 4)`` unit-norm frames from :func:`frame_matrices`.
    max_shift
        Largest shift in columns.
    block
        Rows of ``A`` per matrix product.

    Returns
    -------
    similarity : numpy.ndarray
        ``(na, nb)`` float32 best cosine.
    shift : numpy.ndarray
        ``(na, nb)`` int16 shift ``s``: column ``p`` of ``A`` faces column ``p + s`` of ``B`` (as aligned), that
        is column ``q`` of ``B`` sits at column ``q - s`` of ``A``.
    strand : numpy.ndarray
        ``(na, nb)`` int8, 1 when the reverse complement of ``B`` aligns best.
    """
    import torch

    na, w, _ = A.shape
    nb = B.shape[0]
    bb = torch.from_numpy(np.ascontiguousarray(np.concatenate([B, B[:, ::-1, ::-1]]).reshape(2 * nb, w * 4)))
    sim = np.empty((na, nb), np.float32)
    shift = np.empty((na, nb), np.int16)
    strand = np.empty((na, nb), np.int8)
    with torch.no_grad():
        for a0 in range(0, na, block):
            stack = _shifted_stack(np.ascontiguousarray(A[a0:a0 + block]), max_shift)
            m = stack.shape[0]
            prod = (stack.reshape(m * (2 * max_shift + 1), w * 4) @ bb.T).reshape(m, 2 * max_shift + 1, 2, nb)
            best_shift_val, best_shift = prod.max(dim=1)  # (m, 2, nb)
            val, st = best_shift_val.max(dim=1)  # (m, nb)
            sh = torch.gather(best_shift, 1, st[:, None, :])[:, 0]
            sim[a0:a0 + m] = val.numpy()
            strand[a0:a0 + m] = st.numpy()
            shift[a0:a0 + m] = sh.numpy() - max_shift
    return sim, shift, strand


def _agglomerate(sim: np.ndarray, threshold: float, linkage: str) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage as scipy_linkage
    from scipy.spatial.distance import squareform

    n = sim.shape[0]
    if n == 1:
        return np.zeros(1, np.int64)
    dist = 1.0 - np.maximum(sim, sim.T).astype(np.float64)
    np.fill_diagonal(dist, 0.0)
    z = scipy_linkage(squareform(np.clip(dist, 0, None), checks=False), method=linkage)
    return fcluster(z, t=threshold, criterion="distance").astype(np.int64) - 1


def _aligned_mean(frames: np.ndarray, shift: np.ndarray, strand: np.ndarray) -> np.ndarray:
    """Mean of frames moved into the reference frame (shift/strand relative to the reference)."""
    n, w, _ = frames.shape
    acc = np.zeros((w, 4), np.float64)
    for f, s, st in zip(frames, shift, strand):
        g = f[::-1, ::-1] if st else f
        lo, hi = max(0, s), min(w, w + s)
        acc[lo:hi] += g[lo - s:hi - s]
    norm = np.sqrt((acc ** 2).sum())
    return (acc / norm if norm > 0 else acc).astype(np.float32)


def _centroids(frames: np.ndarray, sim: np.ndarray, shift: np.ndarray, strand: np.ndarray,
               labels: np.ndarray, max_shift: int) -> np.ndarray:
    out = []
    for c in range(labels.max() + 1):
        idx = np.nonzero(labels == c)[0]
        medoid = idx[np.argmax(sim[np.ix_(idx, idx)].mean(axis=1))]
        # column q of a member (as aligned) sits at q - shift[medoid, member] of the medoid
        out.append(_aligned_mean(frames[idx], -shift[medoid, idx].astype(np.int64), strand[medoid, idx]))
    return np.stack(out)


def cluster_motifs(
    matrices: Any,
    threshold: float = 0.3,
    *,
    linkage: Literal["average", "complete", "single", "weighted"] = "average",
    min_overlap: int = 4,
    width: int | None = None,
    sample_size: int = 2000,
    merge_centroids: bool = True,
    similarity: Similarity = "cosine",
    seed: int = 0,
    verbose: bool = False,
) -> MotifClusters:
    """Cluster motifs or seqlet matrices by best-offset similarity (algorithm in the module notes).

    Parameters
    ----------
    matrices
        Sequence of ``(L, 4)`` signal arrays or :class:`~drg.motifs.Motif` objects.
    threshold
        Distance cut ``1 - similarity`` for the agglomerative clusters and the centroid assignment.
    linkage
        Linkage of the exact stage (scipy names).
    min_overlap
        Shifts leave at least this many columns of the frame overlapping (``max_shift = width - min_overlap``).
    width
        Frame width (see :func:`frame_matrices`).
    sample_size
        Matrices clustered exactly per round; bounds memory at ``sample_size**2`` floats.
    merge_centroids
        Merge clusters whose centroids lie within ``threshold`` (step 5).
    similarity
        Column weighting (module notes): ``"cosine"`` for contribution weight matrices, ``"pearson"``
        (Tomtom's column correlation) for probability matrices.
    seed
        Seed of the sample draws.
    verbose
        Show progress over rounds.

    Returns
    -------
    MotifClusters
    """
    if not 0 < threshold < 2:
        raise InputError(f"threshold must be a distance in (0, 2), got {threshold}")
    frames, place = frame_matrices(matrices, width, similarity)
    n, w, _ = frames.shape
    max_shift = max(0, w - min(min_overlap, w))
    rng = np.random.default_rng(seed)
    labels = np.full(n, -1, np.int64)
    centroid_list: list[np.ndarray] = []
    unassigned = np.arange(n)
    rounds = 0
    while unassigned.size:
        rounds += 1
        if unassigned.size <= sample_size:
            sample, rest = unassigned, unassigned[:0]
        else:
            pick = rng.choice(unassigned.size, sample_size, replace=False)
            mask = np.zeros(unassigned.size, bool)
            mask[pick] = True
            sample, rest = unassigned[mask], unassigned[~mask]
        sim, shift, strand = best_alignment(frames[sample], frames[sample], max_shift)
        local = _agglomerate(sim, threshold, linkage)
        cents = _centroids(frames[sample], sim, shift, strand, local, max_shift)
        base = len(centroid_list)
        labels[sample] = local + base
        centroid_list.extend(cents)
        if rest.size:
            s2, _, _ = best_alignment(frames[rest], cents, max_shift)
            best = s2.argmax(axis=1)
            ok = 1.0 - s2[np.arange(rest.size), best] <= threshold
            labels[rest[ok]] = best[ok] + base
            unassigned = rest[~ok]
        else:
            unassigned = rest
        if verbose:
            import sys

            print(f"clustering round {rounds}: {len(centroid_list)} clusters, {unassigned.size} unassigned",
                  file=sys.stderr)
    centroids = np.stack(centroid_list)
    if merge_centroids and len(centroids) > 1:
        csim, _, _ = best_alignment(centroids, centroids, max_shift)
        labels = _agglomerate(csim, threshold, linkage)[labels]
    # renumber by decreasing size, recompute centroids and align every member to its own
    sizes = np.bincount(labels)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    labels = rank[labels]
    k = int(labels.max()) + 1
    shift_out = np.zeros(n, np.int64)
    strand_out = np.zeros(n, np.int8)
    sim_out = np.zeros(n, np.float32)
    final = np.zeros((k, w, 4), np.float32)
    for c in range(k):
        idx = np.nonzero(labels == c)[0]
        anchor = idx[: min(idx.size, 200)]
        s_a, sh_a, st_a = best_alignment(frames[anchor], frames[anchor], max_shift)
        cent = _centroids(frames[anchor], s_a, sh_a, st_a, np.zeros(anchor.size, np.int64), max_shift)
        s, sh, st = best_alignment(cent, frames[idx], max_shift)
        final[c] = _aligned_mean(frames[idx], -sh[0].astype(np.int64), st[0])
        s, sh, st = best_alignment(final[c:c + 1], frames[idx], max_shift)
        shift_out[idx], strand_out[idx], sim_out[idx] = -sh[0].astype(np.int64), st[0], s[0]
    return MotifClusters(labels, shift_out, strand_out, sim_out, final, place, w)


def merge_aligned(
    clusters: MotifClusters,
    cwms: Any,
    onehots: Any = None,
    *,
    min_coverage: float = 0.5,
    min_ic: float = 0.2,
    trim_fraction: float = 0.1,
    prefix: str = "cluster",
) -> list:
    """Merge each cluster into one aligned motif.

    Members are placed on a common canvas by their frame start (:meth:`MotifClusters.frame_start`) and
    orientation. The CWM is the mean over members of their (reverse complemented when needed) matrices;
    the PPM counts the members' bases (``onehots``), or, without sequences, normalises the positive part of
    the CWM. Columns covered by fewer than ``min_coverage`` of the largest coverage are dropped from the
    ends, then end columns whose CWM magnitude is below ``trim_fraction`` of the largest column and whose
    information content is below ``min_ic`` bits.

    Parameters
    ----------
    clusters
        From :func:`cluster_motifs` run on ``cwms``.
    cwms
        The ``(L_i, 4)`` matrices that were clustered (signal values, e.g. seqlet CWMs).
    onehots
        Optional ``(L_i, 4)`` one-hot windows of the same members.
    min_coverage, min_ic, trim_fraction
        Trimming rules above.
    prefix
        Motif ids are ``{prefix}_{k}``.

    Returns
    -------
    list of Motif
        One per cluster, with ``weights`` (CWM), ``ppm``, ``nsites`` (members) and, with ``onehots``,
        ``counts``.
    """
    from drg.motifs.motif import Motif

    cwms = [np.asarray(c, np.float64) for c in cwms]
    lengths = np.array([c.shape[0] for c in cwms])
    starts = clusters.frame_start(lengths)
    out = []
    for c in range(clusters.n_clusters):
        idx = np.nonzero(clusters.labels == c)[0]
        lo = int(starts[idx].min())
        hi = int((starts[idx] + lengths[idx]).max())
        acc = np.zeros((hi - lo, 4))
        cnt = np.zeros((hi - lo, 4))
        cover = np.zeros(hi - lo)
        for i in idx:
            m = cwms[i][::-1, ::-1] if clusters.strand[i] else cwms[i]
            s = int(starts[i]) - lo
            acc[s:s + m.shape[0]] += m
            cover[s:s + m.shape[0]] += 1
            if onehots is not None:
                o = np.asarray(onehots[i], np.float64)
                cnt[s:s + m.shape[0]] += o[::-1, ::-1] if clusters.strand[i] else o
        cwm = acc / idx.size
        keep = np.nonzero(cover >= min_coverage * cover.max())[0]
        a, b = int(keep[0]), int(keep[-1]) + 1
        cwm, cnt = cwm[a:b], cnt[a:b]
        if onehots is not None:
            tot = cnt.sum(axis=1, keepdims=True)
            ppm = np.where(tot > 0, (cnt + 0.01) / (tot + 0.04), 0.25)
        else:
            pos = np.clip(cwm, 0, None)
            tot = pos.sum(axis=1, keepdims=True)
            ppm = np.where(tot > 0, pos / np.where(tot > 0, tot, 1), 0.25)
        mag = np.abs(cwm).sum(axis=1)
        ic = (ppm * np.log2(np.clip(ppm, 1e-12, None) / 0.25)).sum(axis=1)
        good = np.nonzero((mag >= trim_fraction * mag.max()) | (ic >= min_ic))[0]
        a, b = (int(good[0]), int(good[-1]) + 1) if good.size else (0, cwm.shape[0])
        out.append(Motif(
            name=f"{prefix}_{c}", id=f"{prefix}_{c}", ppm=ppm[a:b] / ppm[a:b].sum(axis=1, keepdims=True),
            weights=cwm[a:b], nsites=float(idx.size), counts=cnt[a:b] if onehots is not None else None,
        ))
    return out


def group_motifs(
    motifs: Any,
    threshold: float = 0.3,
    *,
    similarity: Similarity = "pearson",
    linkage: Literal["average", "complete", "single", "weighted"] = "average",
    min_overlap: int = 4,
    seed: int = 0,
) -> tuple[list, Any]:
    """Group a motif collection (a database, kernels, motifs of several runs) into merged motifs.

    The motifs' probability matrices are clustered by :func:`cluster_motifs` (``"pearson"``: Tomtom's column
    correlation, by default) and every cluster is merged into the mean of its members' aligned probability
    matrices (:func:`merge_aligned`), trimmed of end columns that few members cover.

    Parameters
    ----------
    motifs
        :class:`~drg.motifs.Motif` objects, ``(L, 4)`` probability matrices or a motif file (MEME or JASPAR).
    threshold, similarity, linkage, min_overlap, seed
        As in :func:`cluster_motifs`.

    Returns
    -------
    merged : list of Motif
        One per group, largest first, ids ``group_{k}``; ``nsites`` is the number of members.
    table : pandas.DataFrame
        One row per input motif: ``id``, ``name``, ``group``, ``strand`` (``-`` when it joined its group as
        its reverse complement), ``similarity`` (to the group's centroid), ``offset`` (column of the merged
        motif, before trimming, where the motif's first column lies in its group orientation).
    """
    import pandas as pd

    from drg.motifs.comparison import _as_motifs

    motifs = _as_motifs(motifs, "input")
    ppms = [np.asarray(m.ppm, np.float64) for m in motifs]
    signal = [p - np.asarray(m.background, np.float64) for p, m in zip(ppms, motifs)]
    clusters = cluster_motifs(signal, threshold, similarity=similarity, linkage=linkage,
                              min_overlap=min_overlap, seed=seed)
    merged = merge_aligned(clusters, ppms, prefix="group")
    for m in merged:
        m.weights = None
    lengths = np.array([p.shape[0] for p in ppms])
    starts = clusters.frame_start(lengths)
    first = np.array([starts[clusters.labels == c].min() for c in range(clusters.n_clusters)])
    table = pd.DataFrame({
        "id": [m.id for m in motifs],
        "name": [m.name for m in motifs],
        "group": clusters.labels,
        "strand": np.where(clusters.strand == 1, "-", "+"),
        "similarity": clusters.similarity.round(4),
        "offset": starts - first[clusters.labels],
    })
    return merged, table
