"""``drg run``: the whole path on user-style files (FASTA + BED + target table), and its config."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from drg.cli.main import app
from drg.errors import InputError
from drg.pipeline import PipelineConfig, choose, prepare_training


def _user_files(tmp_path, n=1200, length=200, n_chroms=4):
    """Simulated sequences laid out on ``n_chroms`` pseudo-chromosomes, as a user's genome, BED and table."""
    from drg.simulate import multitask_regression

    sim = multitask_regression(n=n, length=length, n_tracks=4, noise=0.3, seed=0)
    from drg.genome import one_hot_decode

    seqs = one_hot_decode(sim.X)
    gap = "N" * 50
    per = n // n_chroms
    rows, fasta = [], []
    for c in range(n_chroms):
        chrom, pos, parts = f"chr{c + 1}", 0, []
        for i in range(c * per, (c + 1) * per):
            parts.append(gap)
            pos += len(gap)
            rows.append((chrom, pos, pos + length, f"peak{i}"))
            parts.append(seqs[i])
            pos += length
        fasta.append(f">{chrom}\n" + "".join(parts) + gap + "\n")
    (tmp_path / "genome.fa").write_text("".join(fasta))
    pd.DataFrame(rows).to_csv(tmp_path / "peaks.bed", sep="\t", header=False, index=False)
    table = pd.DataFrame(sim.targets[: per * n_chroms], columns=[f"cell{t}" for t in range(4)],
                         index=[r[3] for r in rows])
    table.to_csv(tmp_path / "signal.tsv", sep="\t", index_label="name")
    return sim


def _config(tmp_path, **stages):
    text = """
title: pipeline test
train:
  data:
    genome: genome.fa
    regions: peaks.bed
    targets: [signal.tsv]
  stopping: {max_epochs: 2}
  trainer: {batch_size: 64}
folds: {k: 4, exclude: []}
attribution: {n_sequences: 40, n_logos: 1}
design: {tracks: [cell0], steps: 2}
"""
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def test_config_rejects_unknown_stage_key_with_suggestion(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("train: {data: {onehot: x.npz, targets: [t.tsv]}}\nattribution: {n_sequence: 3}\n")
    with pytest.raises(InputError, match="n_sequences"):
        PipelineConfig.from_yaml(path)


def test_relative_paths_resolve_against_the_yaml_folder(tmp_path):
    _user_files(tmp_path, n=400)
    config = PipelineConfig.from_yaml(_config(tmp_path))
    assert config.train.data.genome == str(tmp_path / "genome.fa")
    assert config.train.data.targets == [str(tmp_path / "signal.tsv")]


def test_prepare_training_makes_chromosome_folds_and_default_model(tmp_path):
    _user_files(tmp_path, n=400)
    config = PipelineConfig.from_yaml(_config(tmp_path))
    out = tmp_path / "run"
    out.mkdir()
    train = prepare_training(config, out)
    from drg.data import read_folds

    sets = read_folds(train.data.folds)
    assert len(sets) == 4
    # every fold holds exactly the peaks of one pseudo-chromosome (100 each)
    chrom_of = {f"peak{i}": i // 100 for i in range(400)}
    assert sorted(len({chrom_of[name] for name in s}) for s in sets) == [1, 1, 1, 1]
    assert train.model["input_length"] == 200
    assert train.out_dir == str(out / "training")


def test_too_few_chromosomes_for_folds_is_a_clear_error(tmp_path):
    _user_files(tmp_path, n=400, n_chroms=2)
    config = PipelineConfig.from_yaml(_config(tmp_path))
    with pytest.raises(InputError, match="too few for folds.k = 4"):
        prepare_training(config, tmp_path)


def test_choose_is_seeded_sorted_and_bounded():
    index = np.arange(100, 200)
    a, b = choose(index, 10, 3), choose(index, 10, 3)
    assert np.array_equal(a, b) and np.all(np.diff(a) > 0) and set(a) <= set(index)
    assert np.array_equal(choose(index[:5], 10, 3), index[:5])


@pytest.mark.slow
def test_drg_run_writes_every_stage_and_a_report(tmp_path):
    _user_files(tmp_path)
    result = CliRunner().invoke(app, ["run", str(_config(tmp_path)), "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "run"
    summary = json.loads((out / "summary.json").read_text())
    for section in ("training", "baseline", "attribution", "motifs", "kernels", "design", "embeddings", "report"):
        assert section in summary, section
    # two epochs on 900 sequences: the CNN is barely trained, the k-mer ridge baseline already fits
    assert -1 <= summary["training"]["test_pearson_mean"] <= 1
    assert summary["baseline"]["test_pearson_mean"] > 0.3
    assert summary["baseline"]["cnn_test_pearson_mean"] == pytest.approx(summary["training"]["test_pearson_mean"], abs=1e-6)
    assert summary["attribution"]["n_sequences"] == 40
    assert summary["design"]["final_objective_mean"] >= summary["design"]["start_objective_mean"]
    for key in ("designed", "start", "trajectory"):
        assert (out / summary["design"]["files"][key]).is_file()
    html = (out / "report" / "index.html").read_text()
    for heading in ("CNN vs k-mer baseline", "Attributions", "Motifs from attributions", "First-layer kernels",
                    "Designed sequences", "Embeddings"):
        assert heading in html
    assert html.count("<img") >= 6
    run = json.loads((out / "run.json").read_text())
    assert {"train", "baseline", "attribution", "motifs", "kernels", "design"} <= set(run["timings_s"])
    # the report can be rebuilt from the summary alone
    (out / "report" / "index.html").unlink()
    rebuilt = CliRunner().invoke(app, ["report", str(out)])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert (out / "report" / "index.html").read_text().count("<img") == html.count("<img")


def test_report_of_a_directory_without_summary_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code != 0
    assert "summary.json" in str(result.exception) or "summary.json" in result.output


def test_held_out_sequences_are_the_training_windows(tmp_path):
    """Genome data: the windows training reads (centred, reverse-complemented on the minus strand)."""
    from drg.genome import one_hot_encode, reverse_complement_sequence
    from drg.pipeline import held_out_sequences
    from drg.training import load_data
    from drg.training.config import DataConfig

    rng = np.random.default_rng(0)
    chrom = "".join(rng.choice(list("ACGT"), size=300))
    (tmp_path / "g.fa").write_text(f">chr1\n{chrom}\n")
    (tmp_path / "r.bed").write_text("chr1\t10\t50\tp\t0\t+\nchr1\t100\t140\tm\t0\t-\n")
    (tmp_path / "t.tsv").write_text("name\tx\np\t1\nm\t2\n")
    data = load_data(DataConfig(genome=str(tmp_path / "g.fa"), regions=str(tmp_path / "r.bed"), length=20,
                                targets=[str(tmp_path / "t.tsv")], train=["p", "m"]))
    X = held_out_sequences(data, np.array([0, 1]))
    expected = one_hot_encode([chrom[20:40], reverse_complement_sequence(chrom[110:130])], dtype=np.float32)
    np.testing.assert_array_equal(X, expected)
