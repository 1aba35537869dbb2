"""Naming motifs by their best JASPAR matches."""

from __future__ import annotations

import numpy as np

from drg.motifs import Motif, load_bundled_jaspar
from drg.motifs.naming import name_motifs


def test_cwm_from_jaspar_ppm_is_named_after_it():
    db = load_bundled_jaspar()
    picks = [m for m in db if m.name.upper() in ("CTCF", "GATA1", "SPI1")]
    assert len(picks) >= 2
    queries = [Motif(name=f"q{i}", id=f"q{i}", weights=m.ppm * m.information_content[:, None])
               for i, m in enumerate(picks)]
    res = name_motifs(queries, q_threshold=0.05, max_names=2)
    for (_, row), m in zip(res.table.iterrows(), picks):
        assert m.name in row["matches"].split(";")
        assert row["q_value"] <= 0.05
        assert res.motifs[int(row["motif"][1:])].name.startswith(row["motif"] + ":")
        assert len(row["matches"].split(";")) <= 2


def test_random_motif_is_left_unnamed():
    rng = np.random.default_rng(0)
    db = load_bundled_jaspar()[:60]
    ppm = np.full((6, 4), 0.25) + rng.uniform(-0.02, 0.02, (6, 4))
    ppm /= ppm.sum(axis=1, keepdims=True)
    res = name_motifs([Motif(name="flat", id="flat", ppm=ppm)], db, q_threshold=0.01)
    assert res.table.loc[0, "matches"] == "" and res.motifs[0].name == "flat"


def test_matrices_and_empty_inputs():
    """Bare (L, 4) matrices are named like Motifs; no queries give an empty table; an empty database is an
    error that says so."""
    import pytest

    from drg.errors import InputError

    db = load_bundled_jaspar()
    ctcf = next(m for m in db if m.name.upper() == "CTCF")
    res = name_motifs([ctcf.ppm], db, q_threshold=0.05)
    assert res.table.loc[0, "motif"] == "query1"
    assert "CTCF" in res.table.loc[0, "matches"].split(";")
    assert res.motifs[0].name.startswith("query1:")
    empty = name_motifs([], db)
    assert empty.table.empty and empty.motifs == []
    with pytest.raises(InputError, match="database is empty"):
        name_motifs([ctcf], [])
