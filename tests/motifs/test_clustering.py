"""Clustering seqlets and motif sets: purity on planted data, alignment, merging, effects and model comparison."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from drg.errors import InputError
from drg.motifs.clustering import best_alignment, cluster_motifs, frame_matrices, merge_aligned
from drg.motifs.discovery import cluster_seqlets, compare_models, effect_matrix, extract_seqlets, reproducibility
from drg.motifs.seqlets import call_seqlets_zscore

CONSENSUS = ["TGACTCAT", "CCACGTGGA", "GGGGCGGGGC", "ATTTGCATAA"]


def _planted_attributions(seed=0, n=120, length=100):
    """Each sequence carries one planted motif (known class) whose bases get attribution 1 + noise."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length))
    classes = rng.integers(0, len(CONSENSUS), n)
    starts = rng.integers(10, length - 25, n)
    attr = rng.normal(0, 0.02, (n, length))
    for i, (c, s) in enumerate(zip(classes, starts)):
        motif = np.array(["ACGT".index(b) for b in CONSENSUS[c]])
        if rng.random() < 0.5:
            motif = 3 - motif[::-1]
        codes[i, s:s + motif.size] = motif
        attr[i, s:s + motif.size] += rng.uniform(0.7, 1.3, motif.size)
    X = np.zeros((n, 4, length), np.int8)
    X[np.arange(n)[:, None], codes, np.arange(length)[None, :]] = 1
    A = (X * attr[:, None, :]).astype(np.float32)
    return X, A, classes, starts


def test_best_alignment_brute_force():
    rng = np.random.default_rng(0)
    mats = [rng.normal(size=(rng.integers(4, 9), 4)) for _ in range(6)]
    frames, _ = frame_matrices(mats, width=8)
    sim, shift, strand = best_alignment(frames, frames, max_shift=4)
    for a in range(6):
        for b in range(6):
            best = (-np.inf, 0, 0)
            for st, g in enumerate((frames[b], frames[b][::-1, ::-1])):
                for s in range(-4, 5):
                    # column p of A faces column p + s of B
                    v = sum(float(frames[a][p] @ g[p + s]) for p in range(8) if 0 <= p + s < 8)
                    if v > best[0] + 1e-6:
                        best = (v, s, st)
            assert sim[a, b] == pytest.approx(best[0], abs=1e-5)
            assert (shift[a, b], strand[a, b]) == (best[1], best[2])
    assert np.allclose(np.diag(sim), 1, atol=1e-5)


def test_seqlet_clusters_pure_and_merged_cwm_matches():
    X, A, classes, starts = _planted_attributions()
    seqlets = call_seqlets_zscore(A, X, cut=3.0, max_gap=1, min_size=4, normalization="std", std=0.1)
    assert len(seqlets) == len(classes)
    result = cluster_seqlets(seqlets, A, X, threshold=0.4, min_seqlets=3, name=False)
    clustered = result.seqlets
    labels = clustered.cluster.to_numpy()
    truth = classes[clustered.example_idx.to_numpy()]
    table = pd.crosstab(labels, truth)
    assert (table.gt(0).sum(axis=1) == 1).all(), table  # every cluster holds one planted motif
    assert (table.gt(0).sum(axis=0) == 1).all(), table  # every planted motif lands in one cluster
    for motif in result.motifs:
        members = clustered[clustered.cluster == int(motif.id.split("_")[1])]
        cons = CONSENSUS[classes[members.example_idx.iloc[0]]]
        target = np.eye(4)[["ACGT".index(b) for b in cons]]
        best = 0.0
        for cand in (target, target[::-1, ::-1]):
            for o in range(motif.weights.shape[0] - len(cons) + 1):
                best = max(best, np.corrcoef(motif.weights[o:o + len(cons)].ravel(), cand.ravel())[0, 1])
        assert best > 0.9
        assert cons in motif.consensus or _rc(cons) in motif.consensus


def _rc(s):
    return s[::-1].translate(str.maketrans("ACGT", "TGCA"))


def test_extract_seqlets_windows():
    X, A, _, _ = _planted_attributions(n=3, length=40)
    table = pd.DataFrame({"example_idx": [0, 1], "track_idx": [0, 0], "start": [0, 10], "end": [4, 15],
                          "sign": [1, -1]})
    mats = extract_seqlets(table, A, X, flank=2)
    assert mats.cwm[0].shape == (8, 4) and (mats.cwm[0][:2] == 0).all()
    np.testing.assert_array_equal(mats.onehot[1], X[1, :, 8:17].T)
    np.testing.assert_allclose(mats.cwm[1], -(A[1, :, 8:17] * X[1, :, 8:17]).T)


def test_sampling_stage_assigns_within_threshold():
    rng = np.random.default_rng(2)
    base = [np.eye(4)[rng.integers(0, 4, 10)] for _ in range(6)]
    mats, truth = [], []
    for i in range(3000):
        c = i % 6
        mats.append(base[c] + rng.normal(0, 0.15, (10, 4)))
        truth.append(c)
    cl = cluster_motifs(mats, 0.4, sample_size=300, seed=1)
    assert cl.n_clusters == 6
    assert (pd.crosstab(cl.labels, np.array(truth)).gt(0).sum(axis=1) == 1).all()
    assert (1 - cl.similarity <= 0.4 + 1e-6).all()
    merged = merge_aligned(cl, mats)
    assert sum(m.nsites for m in merged) == 3000


@pytest.mark.slow
def test_scale_20k_under_60s():
    rng = np.random.default_rng(3)
    pool = [np.eye(4)[rng.integers(0, 4, 12)] for _ in range(300)]
    frames, _ = frame_matrices(pool, 12)
    sim = best_alignment(frames, frames, 8)[0]
    keep: list[int] = []
    for i in range(300):  # distinct motifs: best-offset similarity below 0.5 to every one kept
        if all(sim[i, j] < 0.5 for j in keep):
            keep.append(i)
    assert len(keep) >= 10
    base = [pool[i] for i in keep[:20]]
    k = len(base)
    mats = []
    for i in range(20000):
        m = base[i % k] * rng.uniform(0.5, 1.5)
        mats.append(np.concatenate([rng.normal(0, 0.05, (rng.integers(0, 4), 4)),
                                    m + rng.normal(0, 0.1, m.shape)]))
    t0 = time.perf_counter()
    cl = cluster_motifs(mats, 0.4)
    assert time.perf_counter() - t0 < 60
    assert (pd.crosstab(cl.labels, np.arange(20000) % k).gt(0).sum(axis=1) == 1).all()


def test_effect_matrices_and_model_comparison():
    df = pd.DataFrame({
        "region": ["r1", "r1", "r2", "r2", "r3"], "track": ["t1", "t2", "t1", "t1", "t2"],
        "cluster": [0, 0, 1, 0, -1], "score": [1.0, -3.0, 2.0, 0.5, 9.0],
        "model": ["a", "b", "a", "b", "a"],
    })
    mx = effect_matrix(df, "region", stat="max")
    assert mx.loc["r1", 0] == -3.0 and mx.loc["r2", 1] == 2.0 and "r3" not in mx.index
    assert effect_matrix(df, "region", stat="count").loc["r1", 0] == 2
    assert effect_matrix(df, "track", stat="sum").loc["t1", 0] == 1.5
    assert effect_matrix(df, "track", stat="mean").loc["t2", 0] == -3.0
    rep = reproducibility(df)
    assert dict(zip(rep.cluster, rep.fraction)) == {0: 1.0, 1: 0.5}
    big = pd.DataFrame({"cluster": [0] * 40 + [1] * 40, "model": ["a"] * 35 + ["b"] * 5 + ["a"] * 5 + ["b"] * 35})
    comp = compare_models(big, "a", "b")
    from scipy.stats import fisher_exact

    assert comp.p_value.iloc[0] == pytest.approx(fisher_exact([[35, 5], [5, 35]])[1])
    assert comp.set_index("cluster").loc[0, "odds_ratio"] > 1


def test_cli_seqlets_and_cluster(tmp_path):
    import typer
    from typer.testing import CliRunner

    from drg.attribution.storage import write_attributions
    from drg.cli.motifs_seqlets import cluster, seqlets
    from drg.motifs.io import read_meme

    X, A, classes, _ = _planted_attributions(n=80)
    att = tmp_path / "att.npz"
    write_attributions(att, A[:, None], [f"r{i}" for i in range(80)], ["t0"], method="grad", gauge="none", X=X)
    app = typer.Typer()
    app.command("seqlets")(seqlets)
    app.command("cluster")(cluster)
    runner = CliRunner()
    res = runner.invoke(app, ["seqlets", str(att), "--out", str(tmp_path / "s.tsv"), "--method", "zscore",
                              "--norm", "std", "--std", "0.1", "--cut", "3"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert len(table) == 80 and set(table.region) == {f"r{i}" for i in range(80)}
    res = runner.invoke(app, ["cluster", str(tmp_path / "s.tsv"), str(att), "--out", str(tmp_path / "out"),
                              "--threshold", "0.4", "--min-seqlets", "3"])
    assert res.exit_code == 0, res.output
    motifs = read_meme(tmp_path / "out" / "clusters.meme")
    assert len(motifs) == len(set(classes))
    counts = pd.read_csv(tmp_path / "out" / "effects_track_count.tsv", sep="\t", index_col=0)
    assert counts.to_numpy().sum() == 80


def test_pearson_similarity_is_tomtom_column_correlation():
    """Pearson frames: best alignment = sum of aligned column correlations / sqrt(n_a n_b), both strands."""
    rng = np.random.default_rng(3)
    a = rng.dirichlet(np.ones(4), 9)
    b = rng.dirichlet(np.ones(4), 6)
    part = a[2:7]  # five columns of a
    frames, _ = frame_matrices([a, part[::-1, ::-1].copy(), b], width=9, similarity="pearson")
    sim, _, strand = best_alignment(frames, frames, max_shift=5)
    assert sim[0, 1] == pytest.approx(5 / np.sqrt(9 * 5), abs=1e-5)
    assert strand[0, 1] == 1
    # brute force over every offset of a and b (forward and reverse complement), Pearson of each column pair
    best = -np.inf
    for g in (b, b[::-1, ::-1]):
        for off in range(-5, 9):
            total = sum(np.corrcoef(a[i], g[i - off])[0, 1] for i in range(9) if 0 <= i - off < 6)
            if min(9, off + 6) - max(0, off) >= 4:  # the frame shifts keep at least 4 columns aligned
                best = max(best, total / np.sqrt(9 * 6))
    assert sim[0, 2] == pytest.approx(best, abs=1e-5)
    with pytest.raises(InputError, match="similarity"):
        frame_matrices([a], similarity="euclid")


def test_group_motifs_joins_families_and_reverse_complements(tmp_path):
    from typer.testing import CliRunner

    from drg.cli.main import app
    from drg.motifs import Motif, group_motifs, load_bundled_jaspar, read_meme, write_meme

    db = {m.name: m for m in load_bundled_jaspar()}
    chosen = [db[n] for n in ("FOXA1", "FOXA2", "ELK1", "ELK4", "CTCF", "GATA1")]
    flipped = Motif(name="FOXA1_rc", id="FOXA1_rc", ppm=db["FOXA1"].ppm[::-1, ::-1].copy())
    merged, table = group_motifs([*chosen, flipped], 0.3)
    group = dict(zip(table["name"], table["group"]))
    assert group["FOXA1"] == group["FOXA2"] == group["FOXA1_rc"]
    assert group["ELK1"] == group["ELK4"] != group["FOXA1"]
    assert len({group["CTCF"], group["GATA1"], group["FOXA1"], group["ELK1"]}) == 4
    strands = dict(zip(table["name"], table["strand"]))
    assert strands["FOXA1_rc"] != strands["FOXA1"]
    # a group of one is its motif again
    alone = merged[group["CTCF"]]
    np.testing.assert_allclose(alone.ppm, db["CTCF"].ppm / db["CTCF"].ppm.sum(axis=1, keepdims=True), atol=1e-9)
    assert alone.nsites == 1

    path = tmp_path / "set.meme"
    write_meme([*chosen, flipped], path)
    result = CliRunner().invoke(app, ["motifs", "group", str(path), "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    groups = pd.read_csv(tmp_path / "g" / "groups.tsv", sep="\t")
    assert list(groups["id"]) == [m.id for m in [*chosen, flipped]]
    named = read_meme(tmp_path / "g" / "merged.meme")
    assert len(named) == groups["group"].nunique()
    assert any("FOXA" in m.name for m in named) and any("CTCF" in m.name for m in named)


def test_models_clustered_together_and_compared(tmp_path):
    """Two models' seqlets in one clustering: shared motifs get one cluster; a motif only model a uses is
    found in half the models and enriched in a by Fisher's test, through the API and `drg motifs compare-models`."""
    from typer.testing import CliRunner

    from drg.attribution.storage import write_attributions
    from drg.cli.main import app
    from drg.motifs import cluster_seqlets_models

    runs, truth = {}, {}
    for model, seed in (("a", 0), ("b", 1)):
        X, A, classes, _ = _planted_attributions(seed=seed, n=160)
        if model == "b":  # model b never uses motif 3
            keep = classes != 3
            X, A, classes = X[keep], A[keep], classes[keep]
        table = call_seqlets_zscore(A, X, cut=3.0, max_gap=1, min_size=4, normalization="std", std=0.1)
        assert len(table) == len(classes)
        runs[model] = (table, A, X)
        truth[model] = classes[table["example_idx"].to_numpy()]
        names = [f"{model}{i}" for i in range(len(classes))]
        write_attributions(tmp_path / f"{model}.npz", A[:, None], names, ["t0"], method="grad", gauge="none", X=X)
        table.to_csv(tmp_path / f"{model}.tsv", sep="\t", index=False)
    result = cluster_seqlets_models(runs, threshold=0.4, min_seqlets=3, name=False)
    seq = result.seqlets
    assert list(seq["model"]) == ["a"] * len(runs["a"][0]) + ["b"] * len(runs["b"][0])
    planted = np.concatenate([truth["a"], truth["b"]])
    # one cluster per planted motif, shared across models
    assert (pd.crosstab(seq["cluster"], planted).gt(0).sum(axis=1) == 1).all()
    assert seq["cluster"].nunique() == 4
    only_a = int(seq.loc[planted == 3, "cluster"].iloc[0])
    rep = reproducibility(seq).set_index("cluster")
    assert rep.loc[only_a, "n_models"] == 1 and (rep.drop(index=only_a)["n_models"] == 2).all()
    comp = compare_models(seq, "a", "b").set_index("cluster")
    assert comp.loc[only_a, "count_b"] == 0 and comp.loc[only_a, "q_value"] < 1e-3
    assert comp.p_value.idxmin() == only_a

    res = CliRunner().invoke(app, ["motifs", "compare-models", "--run", f"a={tmp_path / 'a.tsv'},{tmp_path / 'a.npz'}",
                                   "--run", f"b={tmp_path / 'b.tsv'},{tmp_path / 'b.npz'}", "--threshold", "0.4",
                                   "--min-seqlets", "3", "--out", str(tmp_path / "cmp")])
    assert res.exit_code == 0, res.output
    counts = pd.read_csv(tmp_path / "cmp" / "counts.tsv", sep="\t", index_col=0)
    assert counts.to_numpy().sum() == len(seq) and list(counts.columns) == ["a", "b"]
    assert (counts["b"] == 0).sum() == 1
    enrichment = pd.read_csv(tmp_path / "cmp" / "enrichment.tsv", sep="\t")
    assert set(enrichment[["model_a", "model_b"]].itertuples(index=False, name=None)) == {("a", "b")}
    assert (tmp_path / "cmp" / "models.png").stat().st_size > 10_000
    bad = CliRunner().invoke(app, ["motifs", "compare-models", "--run", f"a={tmp_path / 'a.tsv'}",
                                   "--out", str(tmp_path / "x")])
    assert isinstance(bad.exception, InputError) and "NAME=SEQLETS.tsv,ATTRIBUTIONS.npz" in str(bad.exception)
