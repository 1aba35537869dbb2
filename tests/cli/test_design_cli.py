"""``drg design`` end to end: output files, agreement with the API, constraints, YAML config and errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from drg.cli.main import app
from drg.design.optimization import (
    DesignConstraints,
    DesignObjective,
    optimize_sequences,
)
from drg.genome import one_hot_encode, read_fasta

TRACKS = ["liver", "heart", "brain"]
runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A small untrained CNN with three named tracks saved as a model directory, and a FASTA of 3 sequences."""
    from drg.genome import write_fasta
    from drg.models import build, save_model

    root = tmp_path_factory.mktemp("design_cli")
    model = build({"input_length": 30, "first_layer": {"n_kernels": 6, "kernel_size": 5}, "reduction": "max",
                   "heads": [{"name": "atac", "n_outputs": 3, "track_names": TRACKS}], "seed": 3})
    save_model(model, root / "model")
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(3)]
    seqs[1] = seqs[1][:12] + "GAATTC" + seqs[1][18:]
    write_fasta(["a", "b", "c"], seqs, root / "start.fa")
    return {"root": root, "model": model.eval(), "dir": root / "model", "fasta": root / "start.fa", "seqs": seqs}


def invoke(*args):
    return runner.invoke(app, ["design", *[str(a) for a in args]], catch_exceptions=False)


def test_writes_the_files_and_matches_the_api(kit, tmp_path):
    out = tmp_path / "run"
    result = invoke("--model", kit["dir"], "--fasta", kit["fasta"], "--objective", "difference", "--tracks", "liver",
                    "--against", "heart,2", "--forbid", "GAATTC", "--gc", "0.2,0.8", "--fixed", "0-4,26-30",
                    "--max-edits", "5", "--plot", "2", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    for name in ("designed.fa", "start.fa", "trajectory.tsv", "summary.json", "config.yaml", "run.json",
                 "trajectory.png", "logos.a.png", "logos.b.png"):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "logos.c.png").exists()
    designed = read_fasta(out / "designed.fa")
    assert list(designed.names) == ["a", "b", "c"]
    api = optimize_sequences(kit["model"], one_hot_encode(kit["seqs"]),
                             DesignObjective.difference(["liver"], ["heart", 2]),
                             constraints=DesignConstraints(fixed=[(0, 4), (26, 30)], forbidden=["GAATTC"],
                                                           gc_range=(0.2, 0.8), max_edits=5), device="cpu")
    from drg.genome import one_hot_decode

    assert list(designed.sequences) == one_hot_decode(api.X)
    for start, seq in zip(kit["seqs"], designed.sequences):
        assert "GAATTC" not in seq and start[:4] == seq[:4] and start[26:] == seq[26:]
        assert sum(x != y for x, y in zip(start, seq)) <= 5
    table = pd.read_csv(out / "trajectory.tsv", sep="\t", keep_default_na=False)
    assert list(table.columns[:3]) == ["sequence", "name", "step"]
    assert {"pred:liver", "pred:heart", "pred:brain"} <= set(table.columns)
    assert (table.query("name == 'b'")["phase"] == "repair").any()
    np.testing.assert_allclose(table.groupby("sequence")["objective"].last(), api.final_objective, rtol=1e-5)
    summary = json.loads((out / "summary.json").read_text())["design"]
    assert summary["objective"] == "maximize mean(liver) - mean(heart, brain)"
    assert [s["name"] for s in summary["sequences"]] == ["a", "b", "c"]
    np.testing.assert_allclose([s["final_objective"] for s in summary["sequences"]], api.final_objective, rtol=1e-6)
    assert summary["constraints"]["forbidden"] == ["GAATTC"]


def test_yaml_config_gives_the_same_design(kit, tmp_path):
    cfg = tmp_path / "design.yaml"
    cfg.write_text(f"model: {kit['dir']}\nrandom: 2\nlength: 30\nobjective: target\ntracks: [brain]\n"
                   "targets: [0.5]\nmethod: anneal\nsteps: 40\nseed: 3\nplot: 0\n")
    first = invoke("--config", cfg, "--out", tmp_path / "a", "--quiet")
    assert first.exit_code == 0, first.output
    second = invoke("--model", kit["dir"], "--random", 2, "--length", 30, "--objective", "target", "--tracks",
                    "brain", "--targets", "0.5", "--method", "anneal", "--steps", 40, "--seed", 3, "--plot", 0,
                    "--out", tmp_path / "b", "--quiet")
    assert second.exit_code == 0, second.output
    assert (tmp_path / "a" / "designed.fa").read_text() == (tmp_path / "b" / "designed.fa").read_text()
    assert (tmp_path / "a" / "trajectory.tsv").read_text() == (tmp_path / "b" / "trajectory.tsv").read_text()
    assert not list((tmp_path / "a").glob("logos.*.png"))


def test_errors_are_one_readable_line(kit, tmp_path):
    from drg.errors import InputError

    with pytest.raises(InputError, match="exactly one sequence source"):
        invoke("--model", kit["dir"], "--fasta", kit["fasta"], "--random", 2, "--length", 30, "--out", tmp_path)
    with pytest.raises(InputError, match="did you mean 'forbid'"):
        cfg = tmp_path / "bad.yaml"
        cfg.write_text("forbidden: [GAATTC]\n")
        invoke("--config", cfg, "--model", kit["dir"], "--out", tmp_path)
    with pytest.raises(InputError, match="unknown track name"):
        invoke("--model", kit["dir"], "--random", 1, "--length", 30, "--tracks", "lung", "--out", tmp_path)
    with pytest.raises(InputError, match="START-END"):
        invoke("--model", kit["dir"], "--random", 1, "--length", 30, "--fixed", "5", "--out", tmp_path)
    with pytest.raises(InputError, match="GGATCC"):
        fa = tmp_path / "bam.fa"
        fa.write_text(">x\n" + "A" * 10 + "GGATCC" + "A" * 14 + "\n")
        invoke("--model", kit["dir"], "--fasta", fa, "--forbid", "GGATCC", "--no-repair", "--out", tmp_path / "o")
