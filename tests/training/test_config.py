"""TrainConfig: YAML round trip, path resolution, shorthands and helpful errors."""

from __future__ import annotations

import pytest
import yaml

from drg.errors import InputError
from drg.training.config import TrainConfig


def test_yaml_round_trip_and_relative_paths(tmp_path):
    (tmp_path / "cfg").mkdir()
    raw = {
        "seed": 3,
        "data": {"onehot": "../data/x.npz", "targets": "../data/t.tsv", "folds": "/abs/folds.txt", "fold": 2},
        "model": {"zoo": "basset", "overrides": {"n_tracks": 4}},
        "loss": "correlation_mse",
        "optimizer": {"name": "sgd", "lr": 0.1, "nesterov": True, "first_layer_lr": 0.01},
        "schedule": {"name": "onecycle"},
        "trainer": {"precision": 32, "devices": 2, "strategy": "ddp"},
        "finetune": {"checkpoint": "ckpt", "keep_tracks": ["a", 3], "freeze": ["first_layer.*"]},
    }
    path = tmp_path / "cfg" / "run.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = TrainConfig.from_yaml(path)
    assert cfg.data.onehot == str(tmp_path / "cfg" / "../data/x.npz")
    assert cfg.data.targets == [str(tmp_path / "cfg" / "../data/t.tsv")]
    assert cfg.data.folds == "/abs/folds.txt"
    assert cfg.finetune.checkpoint == str(tmp_path / "cfg" / "ckpt")
    assert [loss.name for loss in cfg.losses] == ["correlation_mse"]
    assert cfg.trainer.precision == "32"
    back = TrainConfig.from_dict(yaml.safe_load(cfg.to_yaml()))
    assert back == cfg
    assert cfg.loss_for(1, 3).name == "correlation_mse"


def test_defaults_are_valid():
    cfg = TrainConfig()
    assert cfg.stopping.patience == 5 and cfg.optimizer.name == "adamw" and cfg.trainer.batch_size == 64


def test_errors_name_the_key(tmp_path):
    with pytest.raises(InputError, match="did you mean 'patience'"):
        TrainConfig.from_dict({"stopping": {"patiense": 3}})
    with pytest.raises(InputError, match="not both"):
        TrainConfig.from_dict({"data": {"onehot": "x.npz", "genome": "g.fa", "regions": "r.bed"}})
    with pytest.raises(InputError, match="needs data.regions"):
        TrainConfig.from_dict({"data": {"genome": "g.fa"}})
    with pytest.raises(InputError, match="lr"):
        TrainConfig.from_dict({"optimizer": {"lr": -1}})
    with pytest.raises(InputError, match="either 'loss' or 'losses'"):
        TrainConfig.from_dict({"loss": "mse", "losses": ["mse"]})
    cfg = TrainConfig.from_dict({"losses": ["mse", "poisson"]})
    with pytest.raises(InputError, match="2 losses configured for 3"):
        cfg.loss_for(0, 3)
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(InputError, match="line"):
        TrainConfig.from_yaml(bad)


def test_cli_train_overrides_and_resume(tmp_path):
    from typer.testing import CliRunner

    from drg.cli.train import app
    from tests.training import trainkit

    data = trainkit.make_dataset(tmp_path / "data", n=80)
    cfg = trainkit.run_config(data, tmp_path / "ignored", stopping={"max_epochs": 5})
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", str(tmp_path / "run.yaml"), "--out", str(out), "--max-epochs", "1",
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    assert TrainConfig.from_yaml(out / "config.yaml").stopping.max_epochs == 1
    result = CliRunner().invoke(app, ["train", "--resume", str(out), "--max-epochs", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    assert list(pd.read_csv(out / "history.csv")["epoch"]) == [0, 1]
