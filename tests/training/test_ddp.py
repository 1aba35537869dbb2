"""Two-process DDP on CPU (gloo) through the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from drg.training import load, load_weights
from tests.training import trainkit


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(tmp_path):
    data = trainkit.make_dataset(tmp_path / "data", n=128)
    cfg = trainkit.run_config(data, tmp_path / "run", stopping={"max_epochs": 2})
    cfg["data"].update({"onehot": str(data["onehot"])})
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "drg.cli.train", "train", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "run"),
         "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu", "--quiet"],
        capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["world_size"] == 2  # two ranks joined the gloo process group
    history = json.loads((tmp_path / "run" / "history.json").read_text())["epochs"]
    assert [row["epoch"] for row in history] == [0, 1]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and metrics["n_test"] == 32
    model = load(tmp_path / "run")
    state = load_weights(tmp_path / "run" / "checkpoints" / "last")
    assert all(np.isfinite(v.numpy()).all() for v in state.values())
    assert model.n_outputs == [2]
