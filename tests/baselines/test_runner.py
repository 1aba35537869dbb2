"""run_baseline: same rows as a training run, files and reports written, configs validated."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from drg.baselines import BaselineConfig, BaselineResult, run_baseline
from drg.baselines.runner import build_features, kmer_baseline, run_sequences
from drg.errors import InputError
from drg.motifs import Motif
from drg.motifs.io import write_meme
from drg.training.config import DataConfig
from drg.training.inputs import load_data
from tests.training.trainkit import make_dataset


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("baseline_data")
    paths = make_dataset(root / "data")
    gata = Motif.from_counts(np.array([[0, 0, 10, 0], [10, 0, 0, 0], [0, 0, 0, 10], [10, 0, 0, 0]]),
                             name="gata", id="M1")
    ebox = Motif.from_counts(np.array([[0, 10, 0, 0], [10, 0, 0, 0], [0, 10, 0, 0], [0, 0, 10, 0],
                                       [0, 0, 0, 10], [0, 0, 10, 0]]), name="ebox", id="M2")
    write_meme([gata, ebox], root / "data" / "motifs.meme")
    paths["motifs"] = root / "data" / "motifs.meme"
    return paths


def config(paths, **updates):
    raw = {"seed": 0,
           "data": {"onehot": str(paths["onehot"]), "targets": [str(paths["targets"])],
                    "folds": str(paths["folds"]), "fold": 0},
           "features": [{"kind": "kmer", "k": 4}, {"kind": "pwm", "motifs": str(paths["motifs"]),
                                                   "threshold": 0.01}],
           "model": {"kind": "ridge", "alpha": "cv"}}
    raw.update(updates)
    return raw


@pytest.fixture(scope="module")
def run(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline_run")
    return run_baseline(config(tiny), out, verbose=False)


def test_run_writes_every_file_and_the_cnn_report(run):
    out = run.out_dir
    assert isinstance(run, BaselineResult)
    for rel in ("config.yaml", "run.json", "summary.json", "metrics.json", "test_predictions/targets.tsv",
                "test_targets/targets.tsv", "val_predictions/targets.tsv", "coefficients/targets.tsv",
                "top_features/targets.tsv", "alpha_scores/targets.tsv", "evaluation/targets/report.html",
                "evaluation/targets/per_track.tsv", "evaluation/targets/per_region.tsv",
                "evaluation/targets/summary.json"):
        assert (out / rel).is_file(), rel
    record = json.loads((out / "run.json").read_text())
    assert {"load_data", "features", "fit_targets", "evaluate_targets"} <= set(record["timings_s"])
    assert any(path.endswith("seqs.npz") for path in record["inputs"])
    summary = json.loads((out / "summary.json").read_text())["baseline"]
    assert summary["test_pearson_mean"] == pytest.approx(run.metrics["test_pearson_mean"])
    again = BaselineConfig.from_yaml(out / "config.yaml")
    assert again.features[0].k == 4 and again.model.kind == "ridge"


def test_test_rows_are_those_of_the_training_data_section(tiny, run):
    from drg.data import read_targets

    data = load_data(DataConfig.from_dict(config(tiny)["data"]), seed=0)
    pred = read_targets(run.out_dir / "test_predictions" / "targets.tsv")
    np.testing.assert_array_equal(pred.names, data.names[data.split.test])
    np.testing.assert_array_equal(run.split.test, data.split.test)
    np.testing.assert_array_equal(run.split.val, data.split.val)
    truth = read_targets(run.out_dir / "test_targets" / "targets.tsv")
    np.testing.assert_allclose(truth.values, data.targets[0].values[data.split.test])


def test_predictions_and_metrics_recomputed_independently(tiny, run):
    from drg.training.metrics import per_track_metrics

    data = load_data(DataConfig.from_dict(config(tiny)["data"]), seed=0)
    fm = build_features(run_sequences(data)[0], config(tiny)["features"])
    model = run.models["targets"]
    pred = model.predict(fm.rows(data.split.test))
    np.testing.assert_allclose(run.predictions["targets"].values, pred, rtol=1e-6)
    y = data.targets[0].values
    expected = per_track_metrics(pred, y[data.split.test], ["gata", "ebox"])["pearson"].to_numpy()
    np.testing.assert_allclose(run.evaluations["targets"].per_track["pearson"].to_numpy(), expected, rtol=1e-6)
    assert run.metrics["test_pearson_mean"] == pytest.approx(expected.mean())
    assert expected.min() > 0.8  # the targets count GATA and CACGTG
    scores = run.models["targets"].alpha_scores
    assert list(model.alpha) == list(scores.index[scores.to_numpy().argmin(axis=0)])
    top = (run.out_dir / "top_features" / "targets.tsv").read_text().splitlines()
    assert top[0].split("\t") == ["track", "rank", "feature", "coefficient"]
    assert top[1].split("\t")[2] in ("M1:gata:count", "M1:gata:max", "GATA", "ATCT", "TATC")


@pytest.mark.slow
def test_same_test_rows_as_a_training_run(tiny, tmp_path):
    pytest.importorskip("lightning")
    from drg.data import read_targets
    from drg.training import fit
    from tests.training.trainkit import run_config

    cnn = fit(run_config(tiny, tmp_path / "cnn", stopping={"max_epochs": 1, "patience": 1}), verbose=False)
    base = run_baseline(config(tiny, features=[{"kind": "kmer", "k": 3}]), tmp_path / "base", verbose=False)
    cnn_pred = read_targets(cnn.out_dir / "test_predictions" / "targets.npz")
    base_pred = read_targets(base.out_dir / "test_predictions" / "targets.tsv")
    np.testing.assert_array_equal(cnn_pred.names, base_pred.names)
    cnn_truth = read_targets(cnn.out_dir / "test_targets" / "targets.npz")
    base_truth = read_targets(base.out_dir / "test_targets" / "targets.tsv")
    np.testing.assert_allclose(cnn_truth.values, base_truth.values)


def test_two_modalities_normalisation_and_fixed_alpha(tiny, tmp_path):
    raw = config(tiny, features=[{"kind": "kmer", "k": 3, "gaps": 1}], model={"kind": "lasso", "alpha": 0.01})
    raw["data"]["targets"] = [str(tiny["targets"]), str(tiny["counts"])]
    raw["data"]["normalize"] = ["standardize"]
    result = run_baseline(raw, tmp_path / "two", verbose=False)
    assert set(result.models) == {"targets", "counts"}
    assert (tmp_path / "two" / "evaluation" / "counts" / "report.html").is_file()
    assert not (tmp_path / "two" / "alpha_scores").exists()
    assert result.metrics["baseline_counts"]["alpha"] == {"total": 0.01}
    data = load_data(DataConfig.from_dict(raw["data"]), seed=0)
    assert result.evaluations["counts"].per_track.shape[0] == 1
    np.testing.assert_array_equal(result.predictions["counts"].names, data.names[data.split.test])
    train = data.targets[1].values[data.split.train]
    assert abs(train.mean()) < 1e-5 and train.std() == pytest.approx(1.0, abs=1e-3)  # standardised on training rows
    from drg.data import read_targets

    truth = read_targets(tmp_path / "two" / "test_targets" / "counts.tsv")
    np.testing.assert_allclose(truth.values, data.targets[1].values[data.split.test], rtol=1e-6)


def test_genome_data_uses_the_training_windows(tmp_path):
    from drg.data import Targets, write_targets
    from drg.genome import one_hot_encode

    rng = np.random.default_rng(0)
    chrom = "".join(rng.choice(list("ACGT"), size=5000))
    (tmp_path / "g.fa").write_text(">chr1\n" + "\n".join(chrom[i:i + 60] for i in range(0, 5000, 60)) + "\n")
    starts = np.arange(100, 4700, 50)
    names = [f"p{i}" for i in range(len(starts))]
    strands = np.where(np.arange(len(starts)) % 3 == 0, "-", "+")
    (tmp_path / "r.bed").write_text("".join(f"chr1\t{s}\t{s + 40}\t{n}\t0\t{st}\n"
                                            for s, n, st in zip(starts, names, strands)))
    from drg.genome import reverse_complement_sequence

    seqs = [chrom[s:s + 40] for s in starts]
    expected = [s if st == "+" else reverse_complement_sequence(s) for s, st in zip(seqs, strands)]
    y = np.array([[s.count("A")] for s in expected], dtype=np.float32)
    write_targets(Targets(y, np.array(names), ["a"]), tmp_path / "y.tsv")
    data_cfg = {"genome": str(tmp_path / "g.fa"), "regions": str(tmp_path / "r.bed"),
                "targets": [str(tmp_path / "y.tsv")], "val_fraction": 0.2, "test_fraction": 0.2}
    data = load_data(DataConfig.from_dict(data_cfg), seed=0)
    codes = run_sequences(data)[0]
    np.testing.assert_array_equal(codes, np.argmax(one_hot_encode(expected), axis=1))
    result = run_baseline({"data": data_cfg, "features": [{"kind": "kmer", "k": 1, "canonical": False}]},
                          tmp_path / "out", verbose=False)
    assert result.metrics["test_pearson_mean"] > 0.99  # the target is the count of A on the read strand


def test_relative_paths_and_training_config(tiny, tmp_path):
    import shutil

    for key in ("onehot", "targets", "folds"):
        shutil.copy(tiny[key], tmp_path / tiny[key].name)
    raw = config(tiny)
    raw["data"] = {"onehot": "seqs.npz", "targets": ["targets.tsv"], "folds": "folds.txt"}
    raw["features"] = [{"kind": "kmer", "k": 2}]
    raw["out_dir"] = "runs/b"
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(raw))
    cfg = BaselineConfig.from_yaml(tmp_path / "b.yaml")
    assert cfg.data.onehot == str(tmp_path / "seqs.npz") and cfg.out_dir == str(tmp_path / "runs" / "b")
    train = {"seed": 3, "data": raw["data"], "model": {"zoo": "basset_small"}}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(train))
    from_train = BaselineConfig.from_training(tmp_path / "train.yaml", features=[{"kind": "kmer", "k": 2}])
    assert from_train.seed == 3 and from_train.data == cfg.data


@pytest.mark.parametrize("raw,key", [
    ({"features": [{"kind": "kmer", "kk": 3}]}, "unknown key 'features.0.kk' of a kmer feature block; did you mean 'k'"),
    ({"features": [{"kind": "pwm", "thresh": 3}]}, "'features.0.thresh' of a pwm feature block; did you mean 'threshold'"),
    ({"features": [{"k": 3}]}, "features.0 has no 'kind'"),
    ({"features": [{"kind": "kmer", "k": 30}]}, "features.0.kmer.k"),
    ({"features": [{"kind": "motif"}]}, "features.0"),
    ({"model": {"kind": "ridgee"}}, "model.kind"),
    ({"modle": {"kind": "ridge"}}, "did you mean 'model'"),
    ({"data": {"onehot": "x.npz", "fold": -1}}, "data.fold"),
])
def test_bad_config_names_the_key(raw, key):
    with pytest.raises(InputError) as info:
        BaselineConfig.from_dict(raw)
    assert key in str(info.value)


def test_bad_config_file_names_the_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("model:\n  kind: ridge\n  alfa: 3\n")
    with pytest.raises(InputError, match="bad.yaml.*model.alfa.*alpha"):
        BaselineConfig.from_yaml(tmp_path / "bad.yaml")
    with pytest.raises(InputError, match="output directory"):
        run_baseline({"data": {"onehot": "x.npz"}})


def test_kmer_baseline_on_simulated_multitask_data():
    from drg.data import fold_split, random_folds
    from drg.simulate import multitask_regression

    sim = multitask_regression(n=1500, length=100, n_tracks=3, noise=0.3, seed=0)
    names = list(sim.names)
    split = fold_split(names, random_folds(names, 5, seed=0), 0)
    result = kmer_baseline(sim.X, sim.targets, split, k=4)
    assert result.predictions.shape == (len(split.test), 3)
    np.testing.assert_array_equal(result.test, split.test)
    assert 0.2 < result.pearson_mean < 1.0
    with pytest.raises(InputError, match="split"):
        kmer_baseline(sim.X, sim.targets, "fold0")
    with pytest.raises(InputError, match="outside"):
        kmer_baseline(sim.X, sim.targets, {"train": [0, 1, 2], "val": [], "test": [5000]})
