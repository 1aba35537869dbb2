"""``drg baseline`` on tiny data: options and config files give the API's results."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from drg.baselines import run_baseline
from drg.cli.baseline import parse_features
from drg.cli.main import app
from drg.errors import InputError
from tests.training.trainkit import make_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("cli_baseline") / "data")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_parse_features():
    assert parse_features("kmer:6") == [{"kind": "kmer", "k": 6}]
    assert parse_features("kmer:k=4:gaps=2, pwm") == [{"kind": "kmer", "k": 4, "gaps": 2}, {"kind": "pwm"}]
    assert parse_features("kmer:8:canonical=false,pwm:max:threshold=1e-5") == [
        {"kind": "kmer", "k": 8, "canonical": False}, {"kind": "pwm", "statistic": "max", "threshold": 1e-5}]
    assert parse_features("pwm:motifs=my.meme") == [{"kind": "pwm", "motifs": "my.meme"}]
    with pytest.raises(InputError, match="kmer' or 'pwm"):
        parse_features("gkm:6")
    with pytest.raises(InputError, match="empty"):
        parse_features(",")


def test_options_give_the_api_result(tiny, tmp_path):
    result = invoke("baseline", "--onehot", tiny["onehot"], "--targets", tiny["targets"], "--folds", tiny["folds"],
                    "--fold", 1, "--features", "kmer:3,kmer:k=2:gaps=1", "--model", "ridge", "--alpha", "cv",
                    "--out", tmp_path / "cli", "--quiet")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert (tmp_path / "cli" / "evaluation" / "targets" / "report.html").is_file()
    config = yaml.safe_load((tmp_path / "cli" / "config.yaml").read_text())
    assert config["data"]["fold"] == 1 and config["features"][1]["gaps"] == 1
    api = run_baseline({"data": {"onehot": str(tiny["onehot"]), "targets": [str(tiny["targets"])],
                                 "folds": str(tiny["folds"]), "fold": 1},
                        "features": [{"kind": "kmer", "k": 3}, {"kind": "kmer", "k": 2, "gaps": 1}]},
                       tmp_path / "api", verbose=False)
    assert metrics["test_pearson_mean"] == pytest.approx(api.metrics["test_pearson_mean"], rel=1e-9)
    assert metrics["n_features"] == api.metrics["n_features"] == 32 + 10  # canonical 3-mers and canonical "N.N" patterns


def test_config_file_with_overrides_and_training_config(tiny, tmp_path):
    cfg = {"data": {"onehot": str(tiny["onehot"]), "targets": [str(tiny["targets"])], "folds": str(tiny["folds"])},
           "features": [{"kind": "kmer", "k": 2}], "model": {"kind": "ridge", "alpha": 1.0}}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(cfg))
    result = invoke("baseline", tmp_path / "b.yaml", "--out", tmp_path / "a", "--model", "lasso", "--alpha", "0.01",
                    "--quiet")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["model"] == "lasso" and metrics["alpha_selection"] == "fixed"
    assert metrics["baseline_targets"]["alpha"] == {"gata": 0.01, "ebox": 0.01}
    train = {"seed": 0, "data": cfg["data"], "model": {"zoo": "basset_small"}}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(train))
    result = invoke("baseline", "--train-config", tmp_path / "train.yaml", "--features", "kmer:2", "--out",
                    tmp_path / "t", "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "t" / "metrics.json").read_text())["n_features"] == 10


def test_bad_input_is_an_input_error(tiny, tmp_path):
    (tmp_path / "bad.yaml").write_text("features:\n  - {kind: kmer, k: 3, gapz: 1}\n")
    with pytest.raises(InputError, match="bad.yaml.*features.0.gapz.*'gaps'"):
        invoke("baseline", tmp_path / "bad.yaml", "--out", tmp_path / "x")
    with pytest.raises(InputError, match="--out"):
        invoke("baseline", "--onehot", tiny["onehot"], "--targets", tiny["targets"])
    with pytest.raises(InputError, match="model.kind"):
        invoke("baseline", "--onehot", tiny["onehot"], "--targets", tiny["targets"], "--model", "svm",
               "--out", tmp_path / "y")


def test_help_lists_the_options():
    result = invoke("baseline", "--help")
    assert result.exit_code == 0
    for option in ("--onehot", "--genome", "--regions", "--targets", "--folds", "--fold", "--features", "--model",
                   "--alpha", "--train-config", "--out"):
        assert option in result.output
