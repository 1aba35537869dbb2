"""fit(): outputs, learning, early stopping, DRG rounds, NaN rollback, schedules, data sources."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from drg.data import read_targets
from drg.errors import DRGError, DRGWarning
from drg.training import fit, load, predict
from drg.training.config import OptimizerConfig, ScheduleConfig, StoppingConfig
from drg.training.module import DRGModule, build_optimizer
from tests.training import trainkit


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return trainkit.make_dataset(tmp_path_factory.mktemp("fit_data"), n=240)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit_run")
    result = fit(trainkit.run_config(data, out, stopping={"max_epochs": 8, "patience": 8}), verbose=False)
    return result, out


def test_run_directory_contents(trained):
    result, out = trained
    for name in ("config.yaml", "run.json", "summary.json", "metrics.json", "history.csv", "history.json"):
        assert (out / name).exists(), name
    for which in ("best", "last"):
        d = out / "checkpoints" / which
        for name in ("weights.safetensors", "config.yaml", "train_config.yaml", "outputs.json",
                     "provenance.json", "metrics.json"):
            assert (d / name).exists(), (which, name)
    assert (out / "checkpoints" / "last" / "state.ckpt").exists()
    assert not (out / "checkpoints" / "best" / "state.ckpt").exists()
    prov = json.loads((out / "checkpoints" / "best" / "provenance.json").read_text())
    assert prov["split"]["kind"] == "folds" and prov["split"]["folds"].endswith("folds.txt")
    assert (prov["split"]["fold"], prov["split"]["k"]) == (0, 4)
    hashed = {k.split("/")[-1] for k in prov["inputs"]}
    assert {"seqs.npz", "targets.tsv", "folds.txt"} <= hashed
    assert prov["n_examples"] == {"train": 120, "val": 60, "test": 60}
    outputs = json.loads((out / "checkpoints" / "best" / "outputs.json").read_text())
    assert outputs == {"modalities": ["targets"], "tracks": [["gata", "ebox"]]}
    summary = json.loads((out / "summary.json").read_text())["training"]
    assert summary["checkpoint"] == str(result.checkpoint_dir)
    assert summary["test_pearson_mean"] == pytest.approx(result.metrics["test_pearson_mean"])


def test_history_and_best_checkpoint_agree(trained):
    result, out = trained
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == list(range(8))
    best = int(history["val_loss"].idxmin())
    assert result.metrics["best_epoch"] == best
    assert result.metrics["best_loss"] == pytest.approx(history["val_loss"].min(), rel=1e-5)
    # the model returned is the best one, and load() gives the same network in eval mode
    loaded = load(out)
    assert not loaded.training
    X = torch.from_numpy(data_x := np.eye(4, dtype=np.float32)[np.arange(40) % 4].T[None].copy())
    assert data_x.shape == (1, 4, 40)
    torch.testing.assert_close(loaded(X), result.model(X))
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert history["val_loss"].min() < history["val_loss"].iloc[0]


def test_test_predictions_match_model_and_metrics(trained, data):
    result, out = trained
    pred = read_targets(out / "test_predictions" / "targets.npz")
    truth = read_targets(out / "test_targets" / "targets.npz")
    assert list(pred.names) == list(truth.names) and list(pred.tracks) == ["gata", "ebox"]
    again = predict(result.model, data["X"][np.isin(data["names"], pred.names)], names=pred.names)[0]
    np.testing.assert_allclose(again.values, pred.values, rtol=1e-5, atol=1e-6)
    r = [np.corrcoef(pred.values[:, j], truth.values[:, j])[0, 1] for j in range(2)]
    assert result.metrics["test_pearson_mean"] == pytest.approx(np.mean(r), abs=1e-5)
    assert result.metrics["test_pearson_mean"] > 0.2  # the motif counts are learnable


class NaNOnce(nn.Module):
    """Wraps a model; its ``bad_call``-th training forward returns NaN."""

    def __init__(self, inner: nn.Module, bad_call: int) -> None:
        super().__init__()
        self.inner, self.bad_call, self.calls = inner, bad_call, 0
        self.n_outputs = inner.n_outputs

    def forward(self, x):
        out = self.inner(x)
        if self.training:
            self.calls += 1
            if self.calls == self.bad_call:
                return out * float("nan")
        return out


def _tiny(n_outputs=2):
    from drg.models import build

    cfg = trainkit.tiny_model()
    cfg["heads"] = [{"name": "targets", "n_outputs": n_outputs}]
    return build(cfg)


def test_nan_loss_rolls_back_and_lowers_lr(data, tmp_path):
    model = NaNOnce(_tiny(), bad_call=6)  # epoch 1, second batch (4 batches per epoch)
    cfg = trainkit.run_config(data, tmp_path, stopping={"max_epochs": 3, "patience": 5, "nan_lr_factor": 0.5})
    with pytest.warns(DRGWarning, match="non-finite training loss at epoch 1"):
        result = fit(cfg, model=model, verbose=False)
    lrs = result.history["lr"].to_numpy()
    np.testing.assert_allclose(lrs, [0.01, 0.005, 0.005])
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
    assert np.isfinite(result.history["train_loss"]).all()


def test_repeated_nan_stops_with_an_error(data, tmp_path):
    class AlwaysNaN(NaNOnce):
        def forward(self, x):
            out = self.inner(x)
            return out * float("nan") if self.training else out

    cfg = trainkit.run_config(data, tmp_path, stopping={"max_epochs": 2, "max_nan_rollbacks": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DRGWarning)
        with pytest.raises(DRGError, match="stopping after 2 rollbacks"):
            fit(cfg, model=AlwaysNaN(_tiny(), 0), verbose=False)


def test_early_stopping_and_drg_rounds(data, tmp_path):
    # min_delta larger than any possible improvement: only epoch 0 counts as best
    stop = {"max_epochs": 20, "patience": 2, "min_delta": 100.0, "rounds": 1, "round_lr_factor": 0.1}
    result = fit(trainkit.run_config(data, tmp_path, stopping=stop), verbose=False)
    h = result.history
    assert len(h) == 1 + 2 + 2  # best epoch, patience, one round with fresh patience
    assert list(h["round"]) == [0, 0, 0, 1, 1]
    np.testing.assert_allclose(h["lr"], [0.01, 0.01, 0.01, 0.001, 0.001])
    assert result.metrics["best_epoch"] == 0 and result.metrics["rounds"] == 1
    assert "no improvement" in result.metrics["stopped"]


def test_lr_multiplier_schedules():
    model = nn.Sequential(nn.Conv1d(4, 2, 3), nn.Flatten(), nn.LazyLinear(1))
    opt = OptimizerConfig(lr=0.1)
    stop = StoppingConfig(max_epochs=10)

    def mult(schedule, step):
        module = DRGModule(model, [(nn.MSELoss(), 1.0)], optimizer=opt, schedule=schedule, stopping=stop)
        module._steps_per_epoch = lambda: 10  # 100 steps in all
        return module.lr_multiplier(step)

    warm = ScheduleConfig(name="constant", warmup_steps=4)
    assert [mult(warm, s) for s in (0, 1, 3, 4, 50)] == pytest.approx([0.25, 0.5, 1.0, 1.0, 1.0])
    cos = ScheduleConfig(name="cosine", warmup_epochs=1, min_lr=0.01)
    assert mult(cos, 10) == pytest.approx(1.0)
    assert mult(cos, 55) == pytest.approx(0.1 + 0.9 * 0.5)  # half way: midpoint between 1 and min_lr/lr
    assert mult(cos, 100) == pytest.approx(0.1)
    one = ScheduleConfig(name="onecycle", pct_start=0.3, div_factor=10, final_div_factor=100)
    assert mult(one, 0) == pytest.approx(0.1)
    assert mult(one, 30) == pytest.approx(1.0)
    assert mult(one, 100) == pytest.approx(0.01)
    plateau = ScheduleConfig(name="plateau", patience=1, factor=0.5)
    module = DRGModule(model, [(nn.MSELoss(), 1.0)], optimizer=opt, schedule=plateau, stopping=stop)
    module._steps_per_epoch = lambda: 10
    for loss in (1.0, 0.9, 0.95, 0.95):  # two epochs without improvement > patience 1
        module.plateau_update(loss)
    assert module.lr_multiplier(5) == pytest.approx(0.5)


def test_optimizer_groups_first_layer_lr():
    model = nn.Sequential(nn.Conv1d(4, 3, 5), nn.ReLU(), nn.Conv1d(3, 2, 3))
    for name, cls in (("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                      ("nadam", torch.optim.NAdam)):
        opt = build_optimizer(model, OptimizerConfig(name=name, lr=0.01, first_layer_lr=0.001, nesterov=True))
        assert isinstance(opt, cls)
        assert [g["lr"] for g in opt.param_groups] == [0.001, 0.01]
        assert {id(p) for p in opt.param_groups[0]["params"]} == {id(p) for p in model[0].parameters()}
    model[0].weight.requires_grad_(False)
    opt = build_optimizer(model, OptimizerConfig(lr=0.01))
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == 3 + 3 * 3 * 2 + 2


def test_two_modalities_with_none_loss(data, tmp_path):
    cfg = trainkit.run_config(data, tmp_path, stopping={"max_epochs": 2})
    cfg["data"]["targets"] = [str(data["targets"]), str(data["counts"])]
    cfg["losses"] = [{"name": "mse"}, {"name": "none"}]
    result = fit(cfg, verbose=False)
    h = result.history
    assert "val_loss_targets" in h and "val_loss_counts" not in h
    np.testing.assert_allclose(h["val_loss"], h["val_loss_targets"])
    assert result.model.n_outputs == [2, 1]
    assert (tmp_path / "test_predictions" / "counts.npz").exists()


def test_memmap_and_genome_sources(tmp_path, data):
    from drg.data import write_onehot_memmap
    from drg.genome import one_hot_decode, write_fasta

    write_onehot_memmap(tmp_path / "cache", data["X"], data["names"])
    cfg = trainkit.run_config(data, tmp_path / "mm", stopping={"max_epochs": 1})
    cfg["data"]["onehot"] = str(tmp_path / "cache")
    assert fit(cfg, verbose=False).metrics["epochs_run"] == 1
    # the same sequences as a genome: one chromosome with 10-bp spacers, regions in BED
    seqs = one_hot_decode(data["X"])
    chrom = "".join(s + "N" * 10 for s in seqs)
    write_fasta(["chrT"], [chrom], tmp_path / "g.fa")
    with open(tmp_path / "r.bed", "w") as handle:
        for i, name in enumerate(data["names"]):
            handle.write(f"chrT\t{i * 50}\t{i * 50 + 40}\t{name}\n")
    cfg = trainkit.run_config(data, tmp_path / "gen", stopping={"max_epochs": 1},
                              augmentation={"shift": 3, "reverse_complement": True})
    cfg["data"] = {**cfg["data"], "onehot": None, "genome": str(tmp_path / "g.fa"),
                   "regions": str(tmp_path / "r.bed")}
    result = fit(cfg, verbose=False)
    assert result.metrics["n_test"] == 60 and math.isfinite(result.history["train_loss"].iloc[0])


def test_classification_losses_are_evaluated_with_auroc(data, tmp_path):
    from drg.data import Targets, write_targets

    counts = read_targets(data["targets"])
    labels = Targets((counts.values[:, :1] > np.median(counts.values[:, 0])).astype(np.float32), counts.names,
                     ["gata_high"], "label")
    write_targets(labels, tmp_path / "label.tsv")
    cfg = trainkit.run_config(data, tmp_path / "run", losses=[{"name": "bce"}], stopping={"max_epochs": 2})
    cfg["data"]["targets"] = [str(tmp_path / "label.tsv")]
    result = fit(cfg, verbose=False)
    per_track = pd.read_csv(tmp_path / "run" / "evaluation" / "label" / "per_track.tsv", sep="\t", index_col=0)
    assert {"auroc", "auprc"} <= set(per_track.columns)
    assert 0.0 <= result.metrics["test_label"]["auroc_mean"] <= 1.0
