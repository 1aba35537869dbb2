"""Exact resumption and crash-safe checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from drg.training import fit, load_weights
from drg.training.checkpoint import read_state, write_checkpoint
from tests.training import trainkit


class Crash(RuntimeError):
    pass


class CrashAtEpoch(pl.Callback):
    """Raises at the start of epoch ``epoch``, like a killed process (the last checkpoint is from epoch - 1)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            raise Crash(f"simulated crash at epoch {self.epoch}")


def _config(paths, out):
    model = trainkit.tiny_model()
    model["dropout"] = 0.2  # dropout draws from the RNG: resuming must restore it
    model["first_layer"]["dropout"] = 0.2
    return trainkit.run_config(
        paths, out,
        model=model,
        augmentation={"reverse_complement": True, "shift": 2},
        schedule={"name": "cosine", "warmup_epochs": 1},
        optimizer={"name": "adamw", "lr": 0.01, "weight_decay": 0.01},
        stopping={"max_epochs": 4, "patience": 10},
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return trainkit.make_dataset(tmp_path_factory.mktemp("resume_data"), n=160)


def test_resume_after_crash_equals_uninterrupted(data, tmp_path):
    full = fit(_config(data, tmp_path / "full"), verbose=False)
    with pytest.raises(Crash):
        fit(_config(data, tmp_path / "cut"), callbacks=[CrashAtEpoch(2)], verbose=False)
    last = read_state(tmp_path / "cut")
    assert last["epoch"] == 1  # epochs 0 and 1 finished before the crash
    resumed = fit(_config(data, tmp_path / "cut"), resume=True, verbose=False)
    a = load_weights(tmp_path / "full" / "checkpoints" / "last")
    b = load_weights(tmp_path / "cut" / "checkpoints" / "last")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    # the history continues: 4 epochs, same losses as the uninterrupted run
    assert list(resumed.history["epoch"]) == [0, 1, 2, 3]
    np.testing.assert_allclose(resumed.history["train_loss"], full.history["train_loss"], rtol=1e-6)
    np.testing.assert_allclose(resumed.history["val_loss"], full.history["val_loss"], rtol=1e-6)


def test_state_loads_weights_only_and_has_resume_parts(data, tmp_path):
    fit(trainkit.run_config(data, tmp_path, stopping={"max_epochs": 1}), verbose=False)
    state = torch.load(tmp_path / "checkpoints" / "last" / "state.ckpt", weights_only=True)
    assert {"optimizer_states", "loops", "callbacks", "drg_lr_state", "drg_rng", "state_dict"} <= set(state)
    assert state["callbacks"]["RunController"]["best_epoch"] == 0
    assert isinstance(state["drg_rng"]["torch"], torch.Tensor)


def test_crash_while_writing_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model = torch.nn.Linear(3, 2)
    target = tmp_path / "last"
    write_checkpoint(target, model, metrics={"epoch": 0}, state={"x": torch.ones(2)})
    before = load_weights(target)

    def broken_save(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"partial")  # half a file, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with torch.no_grad():
        model.weight.add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint(target, model, metrics={"epoch": 1}, state={"x": torch.zeros(2)})
    monkeypatch.undo()
    after = load_weights(target)
    torch.testing.assert_close(after["weight"], before["weight"])
    assert torch.load(target / "state.ckpt", weights_only=True)["x"].tolist() == [1.0, 1.0]
    assert sorted(os.listdir(tmp_path)) == ["last"]  # no temporary directory left behind


def test_resume_without_checkpoint_is_an_error(data, tmp_path):
    from drg.errors import InputError

    with pytest.raises(InputError, match="nothing to resume"):
        fit(trainkit.run_config(data, tmp_path), resume=True, verbose=False)
