"""Attributions over two DDP processes on CPU (gloo) equal the single-device ones, in the original order."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from drg.attribution import read_attributions
from drg.attribution._distributed import shard
from drg.cli.attribute import _distributed_devices
from drg.errors import InputError


@pytest.mark.parametrize("n,world", [(12, 2), (13, 2), (5, 3), (2, 4), (0, 2), (7, 1)])
def test_shards_cover_every_index_once_in_order(n, world):
    parts = [list(shard(n, r, world)) for r in range(world)]
    assert sum(parts, []) == list(range(n))
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1 if n else sizes == [0] * world


def test_shard_rejects_a_rank_outside_the_world():
    with pytest.raises(InputError, match="rank 2"):
        shard(10, 2, 2)


def test_devices_option():
    assert _distributed_devices(None, None) is None
    assert _distributed_devices("1", "cpu") is None  # one device keeps the single-device path
    assert _distributed_devices("2", None) == 2
    assert _distributed_devices("0,1", None) == [0, 1]
    assert _distributed_devices("auto", None) == "auto"
    with pytest.raises(InputError, match="not both"):
        _distributed_devices("2", "cpu")
    with pytest.raises(InputError, match="--devices must be"):
        _distributed_devices("two", None)
    with pytest.raises(InputError, match="at least 1"):
        _distributed_devices("0", None)


def _run(args, env):
    proc = subprocess.run([sys.executable, "-m", "drg.cli.attribute", *map(str, args)], capture_output=True,
                          text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["npz", "h5"])
def test_two_processes_match_one_device(tmp_path, suffix):
    from drg.data import write_onehot_npz
    from drg.models import build, save_model

    model = build({"input_length": 40, "first_layer": {"n_kernels": 8, "kernel_size": 7}, "reduction": "max",
                   "heads": [{"name": "atac", "n_outputs": 3, "track_names": ["liver", "heart", "brain"]}],
                   "seed": 5})
    save_model(model, tmp_path / "model")
    rng = np.random.default_rng(1)
    X = np.eye(4, dtype=np.int8)[rng.integers(0, 4, (13, 40))].transpose(0, 2, 1).copy()
    names = np.array([f"seq{i}" for i in range(13)])
    write_onehot_npz(tmp_path / "seqs.npz", X, names)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    common = ["--model", tmp_path / "model", "--npz", tmp_path / "seqs.npz", "--method", "tism", "--quiet",
              "--tracks", "liver,brain"]
    one, two = tmp_path / f"one.{suffix}", tmp_path / f"two.{suffix}"
    _run([*common, "--out", one, "--device", "cpu"], env)
    # chunks of 4 over 13 sequences: each rank gets 7 or 6 and several predict steps
    _run([*common, "--out", two, "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu", "--chunk-size", "4"],
         env)
    a, b = read_attributions(one), read_attributions(two)
    assert list(b.names) == list(names)
    assert list(b.tracks) == ["liver", "brain"]
    assert np.asarray(b.values).shape == (13, 2, 4, 40)
    assert np.abs(np.asarray(a.values)).max() > 0
    assert np.allclose(np.asarray(b.values), np.asarray(a.values), atol=1e-6)
    assert np.array_equal(np.asarray(b.X), X)
    assert b.model_info["world_size"] == 2  # both ranks joined the gloo process group
    assert "world_size" not in a.model_info
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model", "seqs.npz", one.name, two.name])
