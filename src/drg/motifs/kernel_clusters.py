"""Kernels of replicate models: cluster them by Tomtom similarity, split by effects, merge and name.

Replicate models (seeds, cross-validation folds) learn overlapping kernel sets. :func:`combine_kernels` pools
the kernel motifs of all models, clusters them by agglomerative clustering of Tomtom p-values, splits
clusters whose members act differently (their kernel x track effect vectors disagree), merges each cluster
into one aligned motif, counts in how many models it was found and names it by database matches.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from drg.errors import DRGWarning, InputError
from drg.motifs.motif import Motif


@dataclass
class KernelClusters:
    """Result of :func:`combine_kernels`.

    Attributes
    ----------
    motifs
        One merged motif per cluster (id ``cluster_{i}``, name from the database or the id).
    table
        One row per cluster: ``cluster``, ``id``, ``name``, ``n_kernels``, ``n_models``, ``reproducibility``
        (``n_models`` / number of models), ``consensus``, ``best_match``, ``best_q_value``, ``matches``
        (up to ``n_names`` database ids), ``members`` (``model:kernel`` ids).
    assignments
        One row per input kernel: ``model``, ``kernel``, ``cluster`` (-1 for kernels left out by ``min_ic``).
    effects
        (n_clusters, T) mean effect vector of each cluster's members as a DataFrame, or ``None``.
    """

    motifs: list[Motif]
    table: pd.DataFrame
    assignments: pd.DataFrame
    effects: pd.DataFrame | None


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two effect vectors (cosine when fewer than 3 tracks or a constant vector)."""
    if a.size >= 3 and a.std() > 0 and b.std() > 0:
        return float(np.corrcoef(a, b)[0, 1])
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else 1.0


def _split_by_effects(members: np.ndarray, effects: np.ndarray, min_corr: float) -> list[np.ndarray]:
    if members.size < 2:
        return [members]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    m = members.size
    dist = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            dist[i, j] = dist[j, i] = 1.0 - _similarity(effects[members[i]], effects[members[j]])
    labels = fcluster(linkage(squareform(np.clip(dist, 0, None), checks=False), "average"),
                      t=1.0 - min_corr, criterion="distance")
    return [members[labels == lab] for lab in np.unique(labels)]


def _merge_aligned(motifs: Sequence[Motif], reference: int, offsets: np.ndarray, strands: np.ndarray,
                  *, name: str, min_ic: float = 0.3) -> Motif:
    """Average motifs aligned to one of them.

    Parameters
    ----------
    motifs
        Motifs to merge.
    reference
        Index of the motif the others were aligned to.
    offsets, strands
        Tomtom ``offset`` and strand (1: reverse complement) of each motif as target with the reference as
        query: reference column ``i`` faces column ``i + offset`` of the (oriented) motif.
    name
        Id and name of the result.
    min_ic
        Low-information flanks below this many bits are trimmed (kept when no position reaches it).

    Returns
    -------
    Motif
        Columns covered by fewer motifs are mixed with the uniform distribution in proportion to the
        missing motifs; ``nsites`` is the sum of the members' ``nsites`` (1 each when unknown).
    """
    strands = np.array(strands, dtype=np.int64)
    strands[reference] = 0
    oriented = [m.reverse_complement() if s else m for m, s in zip(motifs, strands)]
    starts = -np.asarray(offsets, dtype=np.int64)  # first column of each motif in reference coordinates
    starts[reference] = 0
    lo = int(min(starts.min(), 0))
    hi = int(max((starts + np.array([m.length for m in oriented])).max(), motifs[reference].length))
    total = np.zeros((hi - lo, 4))
    for m, start in zip(oriented, starts):
        ppm = m.ppm / m.ppm.sum(axis=1, keepdims=True)
        total[start - lo:start - lo + m.length] += ppm
    coverage = total.sum(axis=1, keepdims=True)
    ppm = (total + (len(motifs) - coverage) * 0.25) / len(motifs)
    nsites = float(sum(m.nsites if m.nsites else 1.0 for m in motifs))
    merged = Motif(name=name, id=name, ppm=ppm, nsites=nsites)
    try:
        return merged.trim(min_ic)
    except InputError:
        return merged


def _database_names(motifs: Sequence[Motif], database: Any = "jaspar", *, q_value: float = 0.05,
                n_names: int = 3) -> pd.DataFrame:
    """Best database matches of each motif by Tomtom (Pearson column scores).

    Parameters
    ----------
    motifs
        Query motifs.
    database
        ``"jaspar"`` (the bundled JASPAR 2024 CORE vertebrates file), a motif file path or a list of motifs.
    q_value
        Matches with a larger q-value are ignored.
    n_names
        Largest number of (distinct) names kept per motif, best first.

    Returns
    -------
    pandas.DataFrame
        One row per motif: ``id``, ``name`` (matched names joined by ``/``, or the motif id when nothing
        matches), ``best_match`` (database id or empty), ``best_q_value`` (NaN without a match), ``matches``
        (comma-separated database ids).
    """
    from drg.motifs.comparison import tomtom
    from drg.motifs.io import load_bundled_jaspar, read_motifs

    if isinstance(database, str) and database == "jaspar":
        db = load_bundled_jaspar()
    elif isinstance(database, (str, bytes)) or hasattr(database, "__fspath__"):
        db = read_motifs(database)
    else:
        db = list(database)
    hits = tomtom(list(motifs), db, thresh=q_value)
    db_names = [m.name for m in db]
    rows = []
    for index, motif in enumerate(motifs):
        own = hits[hits["query_index"] == index]
        names: list[str] = []
        ids: list[str] = []
        for t in own["target_index"]:
            if db_names[t] not in names and len(names) < n_names:
                names.append(db_names[t])
                ids.append(db[t].id)
        rows.append({
            "id": motif.id,
            "name": "/".join(n.replace(" ", "_") for n in names) if names else motif.id,
            "best_match": ids[0] if ids else "",
            "best_q_value": float(own["q_value"].iloc[0]) if len(own) else float("nan"),
            "matches": ",".join(ids),
        })
    return pd.DataFrame(rows, columns=["id", "name", "best_match", "best_q_value", "matches"])


def combine_kernels(
    motif_sets: Sequence[Sequence[Motif]],
    effects: Sequence[np.ndarray | pd.DataFrame | None] | None = None,
    *,
    model_names: Sequence[str] | None = None,
    p_value: float = 0.01,
    linkage: Literal["average", "complete", "single"] = "average",
    min_effect_corr: float = 0.3,
    min_ic: float | None = None,
    trim_ic: float = 0.3,
    database: Any = "jaspar",
    q_value: float = 0.05,
    n_names: int = 3,
) -> KernelClusters:
    """Cluster the kernel motifs of replicate models into reproducible, named motifs.

    Parameters
    ----------
    motif_sets
        One list of kernel motifs per model (:func:`~drg.motifs.kernels.kernel_pwms_from_activations`).
    effects
        Per model, a (K_m, T) effect matrix with rows in kernel order (e.g. ``KernelEffects.mean``), or
        ``None`` to cluster by sequence similarity only. Tracks must agree between models.
    model_names
        Labels of the models (default ``model_0 ...``).
    p_value
        Clustering cut: agglomerative clustering (``linkage``) of the distance ``max(p_ij, p_ji)`` of the
        Tomtom p-values of every kernel pair (Pearson column scores, both strands), cut at this distance.
    linkage
        Scipy linkage method.
    min_effect_corr
        Within a cluster, members are re-clustered (average linkage on ``1 - r``) by the correlation ``r``
        of their effect vectors (cosine similarity when there are fewer than 3 tracks) and split where it
        falls below this value.
    min_ic
        Leave out kernels whose total information content (bits) is below this (with a warning); ``None``
        keeps all.
    trim_ic
        Merged motifs are trimmed to positions of at least this information content.
    database
        ``"jaspar"`` (bundled JASPAR 2024), a motif file, a list of motifs, or ``None`` to skip naming.
    q_value, n_names
        Naming: database matches with Tomtom q-value below ``q_value``, up to ``n_names`` names.

    Returns
    -------
    KernelClusters
        Merged motifs (largest clusters first), the cluster table, kernel assignments and cluster effects.
    """
    from scipy.cluster.hierarchy import fcluster
    from scipy.cluster.hierarchy import linkage as scipy_linkage
    from scipy.spatial.distance import squareform

    from drg.motifs.comparison import tomtom_matrices

    n_models = len(motif_sets)
    if n_models == 0:
        raise InputError("no kernel sets to combine")
    labels = list(model_names) if model_names is not None else [f"model_{i}" for i in range(n_models)]
    if len(labels) != n_models:
        raise InputError(f"{len(labels)} model names for {n_models} kernel sets")
    if effects is not None and len(effects) != n_models:
        raise InputError(f"{len(effects)} effect matrices for {n_models} kernel sets")
    motifs, owner, kernel_ids, vectors = [], [], [], []
    tracks = None
    for m, kernels in enumerate(motif_sets):
        eff = None
        if effects is not None and effects[m] is not None:
            eff = effects[m]
            if isinstance(eff, pd.DataFrame):
                if tracks is not None and list(eff.columns) != tracks:
                    raise InputError(f"effect tracks of {labels[m]} differ from those of the first model")
                tracks = list(map(str, eff.columns))
            eff = np.asarray(eff, dtype=np.float64)
            if eff.ndim != 2 or eff.shape[0] != len(kernels):
                raise InputError(f"effects of {labels[m]} have shape {eff.shape}; expected ({len(kernels)}, T)")
        for k, motif in enumerate(kernels):
            motifs.append(motif)
            owner.append(m)
            kernel_ids.append(motif.id)
            vectors.append(None if eff is None else eff[k])
    use_effects = all(v is not None for v in vectors)
    if use_effects and len({v.shape for v in vectors}) > 1:
        raise InputError("effect matrices of the models have different numbers of tracks")
    keep = np.ones(len(motifs), dtype=bool)
    if min_ic is not None:
        keep = np.array([m.total_ic >= min_ic for m in motifs])
        dropped = np.flatnonzero(~keep)
        if dropped.size:
            warnings.warn(f"{dropped.size} of {len(motifs)} kernels have less than {min_ic} bits and are left "
                          f"out: {', '.join(f'{labels[owner[i]]}:{kernel_ids[i]}' for i in dropped[:5])}",
                          DRGWarning, stacklevel=2)
    index = np.flatnonzero(keep)
    if index.size == 0:
        raise InputError(f"no kernel has at least {min_ic} bits of information")
    pool = [motifs[i] for i in index]
    res = tomtom_matrices(pool, pool)
    dist = np.maximum(res.p_value, res.p_value.T)
    np.fill_diagonal(dist, 0.0)
    if index.size > 1:
        cut = fcluster(scipy_linkage(squareform(dist, checks=False), linkage), t=p_value, criterion="distance")
    else:
        cut = np.ones(1, dtype=int)
    effect_matrix = np.array([vectors[i] for i in index]) if use_effects else None
    groups: list[np.ndarray] = []
    for lab in np.unique(cut):
        members = np.flatnonzero(cut == lab)
        groups.extend(_split_by_effects(members, effect_matrix, min_effect_corr) if use_effects else [members])
    groups.sort(key=lambda g: (-len({owner[index[i]] for i in g}), -g.size, int(g[0])))
    cluster_motifs, rows = [], []
    assignment = np.full(len(motifs), -1, dtype=np.int64)
    cluster_effects = []
    for c, members in enumerate(groups):
        ref = members[int(np.argmin(dist[np.ix_(members, members)].sum(axis=1)))]
        merged = _merge_aligned([pool[i] for i in members], int(np.flatnonzero(members == ref)[0]),
                               res.offset[ref, members], res.strand[ref, members], name=f"cluster_{c}",
                               min_ic=trim_ic)
        cluster_motifs.append(merged)
        assignment[index[members]] = c
        found_in = {owner[index[i]] for i in members}
        rows.append({"cluster": c, "id": merged.id, "n_kernels": int(members.size), "n_models": len(found_in),
                     "reproducibility": len(found_in) / n_models, "consensus": merged.consensus,
                     "members": ",".join(f"{labels[owner[index[i]]]}:{kernel_ids[index[i]]}" for i in members)})
        if use_effects:
            cluster_effects.append(effect_matrix[members].mean(axis=0))
    table = pd.DataFrame(rows)
    if database is not None:
        named = _database_names(cluster_motifs, database, q_value=q_value, n_names=n_names)
        for motif, label in zip(cluster_motifs, named["name"]):
            motif.name = label
        table = table.join(named[["name", "best_match", "best_q_value", "matches"]])
    else:
        table["name"] = table["id"]
        table["best_match"], table["best_q_value"], table["matches"] = "", np.nan, ""
    table = table[["cluster", "id", "name", "n_kernels", "n_models", "reproducibility", "consensus",
                   "best_match", "best_q_value", "matches", "members"]]
    assignments = pd.DataFrame({"model": [labels[o] for o in owner], "kernel": kernel_ids, "cluster": assignment})
    effect_frame = None
    if use_effects:
        columns = tracks if tracks is not None else [f"track_{t}" for t in range(len(vectors[0]))]
        effect_frame = pd.DataFrame(np.array(cluster_effects), index=pd.Index([m.id for m in cluster_motifs],
                                    name="cluster"), columns=columns)
    return KernelClusters(cluster_motifs, table, assignments, effect_frame)
