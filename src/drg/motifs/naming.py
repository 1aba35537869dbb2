"""Naming motifs by their best database matches (Tomtom statistics)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from drg.errors import InputError


class MotifNames(NamedTuple):
    """Result of :func:`name_motifs`.

    Attributes
    ----------
    table
        One row per query motif: ``motif`` (id), ``name`` (the new name), ``matches`` (``;``-joined names of
        up to ``max_names`` database motifs passing the q-value cut, best first), ``best_id``, ``best_name``,
        ``p_value``, ``q_value``, ``offset``, ``orientation`` of the best match (NaN/empty without a match).
    motifs
        Copies of the query motifs renamed to ``name``.
    """

    table: pd.DataFrame
    motifs: list


def name_motifs(
    motifs: Any,
    database: Any = None,
    *,
    q_threshold: float = 0.05,
    max_names: int = 3,
    dist: str = "pearson",
    min_overlap: int = 5,
    keep_id: bool = True,
) -> MotifNames:
    """Name motifs after the database motifs Tomtom matches at ``q_value <= q_threshold``.

    Parameters
    ----------
    motifs
        Query motifs: a list of :class:`~drg.motifs.Motif`, a motif file or (L, 4) probability matrices (named
        ``query1``, ``query2``, ...); an empty list gives an empty table.
    database
        Target motifs (the same forms); default the bundled JASPAR 2024 CORE vertebrates set.
    q_threshold
        Largest q-value of a match used for naming.
    max_names
        At most this many distinct target names (best p-value first) go into a name.
    dist, min_overlap
        Tomtom column score and minimum overlap (:func:`drg.motifs.tomtom_matrices`).
    keep_id
        Prefix names with the query id (``cluster_3:CTCF/CTCFL``) so that names stay unique.

    Returns
    -------
    MotifNames
    """
    from dataclasses import replace

    from drg.motifs.comparison import _as_motifs, tomtom_matrices
    from drg.motifs.io import load_bundled_jaspar

    queries = [] if isinstance(motifs, (list, tuple)) and not motifs else _as_motifs(motifs, "query")
    if database is not None and isinstance(database, (list, tuple)) and not database:
        raise InputError("the motif database is empty")
    targets = load_bundled_jaspar() if database is None else _as_motifs(database, "target")
    if max_names < 1:
        raise InputError(f"max_names must be >= 1, got {max_names}")
    rows = []
    renamed = []
    if queries:
        res = tomtom_matrices(queries, targets, dist=dist, min_overlap=min_overlap)
    for i, q in enumerate(queries):
        order = np.lexsort((res.q_value[i], res.p_value[i]))
        passing = [j for j in order if res.q_value[i, j] <= q_threshold]
        names: list[str] = []
        for j in passing:
            if targets[j].name not in names:
                names.append(targets[j].name)
            if len(names) == max_names:
                break
        label = "/".join(names)
        new = (f"{q.id}:{label}" if keep_id else label) if label else q.id
        b = int(order[0])
        rows.append({
            "motif": q.id, "name": new, "matches": ";".join(names),
            "best_id": targets[b].id if passing else "", "best_name": targets[b].name if passing else "",
            "p_value": float(res.p_value[i, b]), "q_value": float(res.q_value[i, b]),
            "offset": int(res.offset[i, b]), "orientation": "-" if res.strand[i, b] else "+",
        })
        renamed.append(replace(q, name=new))
    columns = ["motif", "name", "matches", "best_id", "best_name", "p_value", "q_value", "offset", "orientation"]
    return MotifNames(pd.DataFrame(rows, columns=columns), renamed)
