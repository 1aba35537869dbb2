"""From seqlets to motifs: seqlet matrices, seqlet clustering, effect matrices and model comparison."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from drg.errors import InputError


class SeqletMatrices(NamedTuple):
    """Matrices of seqlets from :func:`extract_seqlets`; lists of ``(l_i, 4)`` float32 arrays.

    Attributes
    ----------
    cwm
        Attribution values (times the seqlet's ``sign``, so that every CWM is positive).
    onehot
        One-hot sequence windows (zero columns outside the sequence).
    start, end
        ``(n,)`` window coordinates with the flanks (0-based half-open; may reach outside the sequence,
        where the matrices are zero).
    """

    cwm: list
    onehot: list
    start: np.ndarray
    end: np.ndarray


def extract_seqlets(
    seqlets: pd.DataFrame,
    attributions: Any,
    X: Any,
    *,
    hypothetical: Any = None,
    flank: int = 0,
    reference: bool = True,
) -> SeqletMatrices:
    """Cut the CWM and the sequence of every seqlet, with ``flank`` extra positions on both sides.

    Parameters
    ----------
    seqlets
        Table from :mod:`drg.motifs.seqlets` (``example_idx``, ``track_idx``, ``start``, ``end``, ``sign``).
    attributions
        ``(N, 4, L)`` or ``(N, T, 4, L)`` attributions.
    X
        ``(N, 4, L)`` one-hot sequences.
    hypothetical
        Optional hypothetical attributions of the same shape; used for the CWM when given.
    flank
        Positions added on each side.
    reference
        Without ``hypothetical``: keep only the reference base's value (``X * A``) in the CWM.

    Returns
    -------
    SeqletMatrices
    """
    from drg.motifs.seqlets import _as_4d

    a = _as_4d(hypothetical if hypothetical is not None else attributions)
    x = np.asarray(X)
    if x.shape != (a.shape[0], 4, a.shape[3]):
        raise InputError(f"X must have shape {(a.shape[0], 4, a.shape[3])}, got {x.shape}")
    length = a.shape[3]
    need = ("example_idx", "track_idx", "start", "end", "sign")
    missing = [c for c in need if c not in seqlets.columns]
    if missing:
        raise InputError(f"seqlet table lacks columns {', '.join(missing)}")
    ex = seqlets["example_idx"].to_numpy(np.int64)
    tr = seqlets["track_idx"].to_numpy(np.int64)
    if ex.size and (ex.max() >= a.shape[0] or tr.max() >= a.shape[1] or seqlets["end"].max() > length):
        raise InputError("seqlet table refers to examples, tracks or positions outside the attributions")
    starts = seqlets["start"].to_numpy(np.int64) - flank
    ends = seqlets["end"].to_numpy(np.int64) + flank
    signs = seqlets["sign"].to_numpy(np.float32)
    cwms, ones = [], []
    for i in range(ex.size):
        lo, hi = max(starts[i], 0), min(ends[i], length)
        w = np.zeros((ends[i] - starts[i], 4), np.float32)
        o = np.zeros_like(w)
        seq = x[ex[i], :, lo:hi].T.astype(np.float32)
        vals = a[ex[i], tr[i], :, lo:hi].T.astype(np.float32)
        if hypothetical is None and reference:
            vals = vals * seq
        w[lo - starts[i]:hi - starts[i]] = vals * signs[i]
        o[lo - starts[i]:hi - starts[i]] = seq
        cwms.append(w)
        ones.append(o)
    return SeqletMatrices(cwms, ones, starts, ends)


@dataclass
class SeqletClusters:
    """Result of :func:`cluster_seqlets`.

    Attributes
    ----------
    seqlets
        The input table with ``cluster`` (-1: not clustered), ``cluster_strand`` and ``similarity`` columns.
    motifs
        One merged :class:`~drg.motifs.Motif` per cluster (CWM in ``weights``), possibly renamed.
    table
        One row per cluster: ``cluster``, ``id``, ``name``, ``sign``, ``n_seqlets``, ``consensus`` (and naming
        columns when named).
    """

    seqlets: pd.DataFrame
    motifs: list
    table: pd.DataFrame


def cluster_seqlets(
    seqlets: pd.DataFrame,
    attributions: Any,
    X: Any,
    *,
    hypothetical: Any = None,
    threshold: float = 0.3,
    flank: int = 2,
    min_seqlets: int = 5,
    sample_size: int = 2000,
    name: bool = True,
    database: Any = None,
    q_threshold: float = 0.05,
    max_names: int = 3,
    seed: int = 0,
    verbose: bool = False,
) -> SeqletClusters:
    """Cluster seqlets into motifs: extract, cluster (per sign), merge, trim and name.

    Positive and negative seqlets are clustered separately (their CWMs are sign-corrected, see
    :func:`extract_seqlets`). Clusters with fewer than ``min_seqlets`` members are dropped from the motif
    list (their seqlets get ``cluster = -1``). See :func:`drg.motifs.cluster_motifs` for ``threshold`` and
    ``sample_size`` and :func:`drg.motifs.name_motifs` for naming.

    Returns
    -------
    SeqletClusters
    """
    mats = extract_seqlets(seqlets, attributions, X, hypothetical=hypothetical, flank=flank)
    return _cluster_matrices(seqlets, mats, threshold=threshold, min_seqlets=min_seqlets, sample_size=sample_size,
                             name=name, database=database, q_threshold=q_threshold, max_names=max_names, seed=seed,
                             verbose=verbose)


def cluster_seqlets_models(
    runs: Mapping[str, tuple[pd.DataFrame, Any, Any]],
    *,
    threshold: float = 0.3,
    flank: int = 2,
    min_seqlets: int = 5,
    sample_size: int = 2000,
    name: bool = True,
    database: Any = None,
    q_threshold: float = 0.05,
    max_names: int = 3,
    seed: int = 0,
    verbose: bool = False,
) -> SeqletClusters:
    """Cluster the seqlets of several models (replicates, CV folds, different data) together.

    Every model's seqlet matrices are cut from its own attributions, then all are clustered as one set
    (:func:`cluster_seqlets`), so that a cluster means the same motif in every model. The returned seqlet
    table gains a ``model`` column, ready for :func:`compare_models` and :func:`reproducibility`.

    Parameters
    ----------
    runs
        ``{model name: (seqlet table, attributions, X)}`` with at least one model; attributions and one-hot
        sequences as in :func:`extract_seqlets`.
    threshold, flank, min_seqlets, sample_size, name, database, q_threshold, max_names, seed, verbose
        As in :func:`cluster_seqlets`.

    Returns
    -------
    SeqletClusters
    """
    if not runs:
        raise InputError("no models given")
    tables, cwms, onehots, starts, ends = [], [], [], [], []
    for model, (seqlets, attributions, X) in runs.items():
        if "model" in seqlets.columns and (seqlets["model"].astype(str) != str(model)).any():
            raise InputError(f"seqlet table of {model!r} already has a different 'model' column")
        mats = extract_seqlets(seqlets, attributions, X, flank=flank)
        tables.append(seqlets.assign(model=str(model)))
        cwms += mats.cwm
        onehots += mats.onehot
        starts.append(mats.start)
        ends.append(mats.end)
    table = pd.concat(tables, ignore_index=True)
    mats = SeqletMatrices(cwms, onehots, np.concatenate(starts), np.concatenate(ends))
    return _cluster_matrices(table, mats, threshold=threshold, min_seqlets=min_seqlets, sample_size=sample_size,
                             name=name, database=database, q_threshold=q_threshold, max_names=max_names, seed=seed,
                             verbose=verbose)


def _cluster_matrices(seqlets: pd.DataFrame, mats: SeqletMatrices, *, threshold: float, min_seqlets: int,
                      sample_size: int, name: bool, database: Any, q_threshold: float, max_names: int, seed: int,
                      verbose: bool) -> SeqletClusters:
    from drg.motifs.clustering import cluster_motifs, merge_aligned
    from drg.motifs.naming import name_motifs

    out = seqlets.copy()
    out["cluster"] = -1
    out["cluster_strand"] = "+"
    out["similarity"] = np.nan
    motifs, rows = [], []
    signs = out["sign"].to_numpy()
    for s in (1, -1):
        idx = np.nonzero(signs == s)[0]
        if idx.size == 0:
            continue
        cl = cluster_motifs([mats.cwm[i] for i in idx], threshold, sample_size=sample_size, seed=seed,
                            verbose=verbose)
        merged = merge_aligned(cl, [mats.cwm[i] for i in idx], [mats.onehot[i] for i in idx])
        for c, m in enumerate(merged):
            members = idx[cl.labels == c]
            if members.size < min_seqlets:
                continue
            k = len(motifs)
            cid = f"motif_{k}"
            m.id = m.name = cid
            motifs.append(m)
            out.iloc[members, out.columns.get_loc("cluster")] = k
            out.iloc[members, out.columns.get_loc("cluster_strand")] = np.where(
                cl.strand[cl.labels == c] == 1, "-", "+")
            out.iloc[members, out.columns.get_loc("similarity")] = cl.similarity[cl.labels == c]
            rows.append({"cluster": k, "id": cid, "name": cid, "sign": s, "n_seqlets": int(members.size),
                         "consensus": m.consensus})
    table = pd.DataFrame(rows, columns=["cluster", "id", "name", "sign", "n_seqlets", "consensus"])
    if name and motifs:
        named = name_motifs(motifs, database, q_threshold=q_threshold, max_names=max_names)
        motifs = named.motifs
        extra = named.table.drop(columns=["motif"])
        table = pd.concat([table.drop(columns=["name"]), extra.reset_index(drop=True)], axis=1)
    return SeqletClusters(out, motifs, table)


Statistic = Literal["max", "mean", "sum", "count"]


def effect_matrix(
    seqlets: pd.DataFrame,
    by: str = "region",
    *,
    stat: Statistic = "max",
    value: str = "score",
    cluster: str = "cluster",
) -> pd.DataFrame:
    """Region x motif or track x motif matrix of seqlet effects.

    Parameters
    ----------
    seqlets
        Clustered seqlets (:attr:`SeqletClusters.seqlets`); rows with ``cluster < 0`` are ignored.
    by
        Row key: ``"region"``, ``"track"`` or any column.
    stat
        ``"max"`` (the value of largest magnitude, sign kept), ``"mean"``, ``"sum"`` or ``"count"``.
    value
        Column summarised (default the seqlet score).
    cluster
        Column holding the motif cluster.

    Returns
    -------
    pandas.DataFrame
        Rows are ``by`` values, columns cluster numbers; missing combinations are 0.
    """
    for col in (by, cluster, value):
        if col not in seqlets.columns:
            raise InputError(f"seqlet table lacks column {col!r}")
    df = seqlets[seqlets[cluster] >= 0]
    g = df.groupby([by, cluster])[value]
    if stat == "max":
        idx = df[value].abs().groupby([df[by], df[cluster]]).idxmax()
        res = df.loc[idx.to_numpy(), value]
        res.index = idx.index
    elif stat == "mean":
        res = g.mean()
    elif stat == "sum":
        res = g.sum()
    elif stat == "count":
        res = g.size()
    else:
        raise InputError(f"unknown stat {stat!r}; expected max, mean, sum or count")
    return res.unstack(fill_value=0).sort_index()


def compare_models(seqlets: pd.DataFrame, model_a: str, model_b: str, *, model: str = "model",
                   cluster: str = "cluster") -> pd.DataFrame:
    """Motif clusters enriched in one model's seqlets against another's (two-sided Fisher exact test).

    For each cluster the 2 x 2 table is (seqlets of the cluster, other clustered seqlets) x (model a,
    model b). The seqlets of both models must be clustered together.

    Returns
    -------
    pandas.DataFrame
        ``cluster``, ``count_a``, ``count_b``, ``odds_ratio`` (a over b), ``p_value``, ``q_value``
        (Benjamini-Hochberg), sorted by p-value.
    """
    from scipy.stats import fisher_exact

    df = seqlets[seqlets[cluster] >= 0]
    a = df[df[model] == model_a][cluster].value_counts()
    b = df[df[model] == model_b][cluster].value_counts()
    if a.sum() == 0 or b.sum() == 0:
        raise InputError(f"no clustered seqlets for model {model_a!r} or {model_b!r}")
    clusters = sorted(set(a.index) | set(b.index))
    rows = []
    for c in clusters:
        ca, cb = int(a.get(c, 0)), int(b.get(c, 0))
        odds, p = fisher_exact([[ca, int(a.sum()) - ca], [cb, int(b.sum()) - cb]])
        rows.append((c, ca, cb, odds, p))
    out = pd.DataFrame(rows, columns=["cluster", "count_a", "count_b", "odds_ratio", "p_value"])
    out["q_value"] = _bh(out["p_value"].to_numpy())
    return out.sort_values("p_value", kind="stable").reset_index(drop=True)


def _bh(p: np.ndarray) -> np.ndarray:
    n = p.size
    order = np.argsort(p)
    q = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(q[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def reproducibility(seqlets: pd.DataFrame, *, model: str = "model", cluster: str = "cluster",
                    min_seqlets: int = 1) -> pd.DataFrame:
    """Fraction of models (replicates, CV folds) in which each motif cluster appears.

    A cluster appears in a model when at least ``min_seqlets`` of that model's seqlets belong to it.

    Returns
    -------
    pandas.DataFrame
        ``cluster``, ``n_models`` (models in which it appears), ``fraction`` (of all models in the table),
        ``models`` (``;``-joined), sorted by decreasing fraction.
    """
    df = seqlets[seqlets[cluster] >= 0]
    models = sorted(seqlets[model].astype(str).unique())
    counts = df.groupby([cluster, df[model].astype(str)]).size().unstack(fill_value=0)
    present = counts >= min_seqlets
    out = pd.DataFrame({
        "cluster": counts.index, "n_models": present.sum(axis=1).to_numpy(),
        "fraction": present.sum(axis=1).to_numpy() / max(len(models), 1),
        "models": [";".join(present.columns[row]) for row in present.to_numpy()],
    })
    return out.sort_values(["fraction", "cluster"], ascending=[False, True], kind="stable").reset_index(drop=True)
