"""Several sequence inputs (promoter + enhancer) through load_data, datasets, fit, predict and the CLI."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn
from typer.testing import CliRunner

from drg.data import Targets, read_targets, write_folds, write_onehot_npz, write_targets
from drg.errors import DRGWarning, InputError
from drg.genome import one_hot_encode
from drg.training import fit, load_data, predict
from drg.training.config import AugmentationConfig, DataConfig, TrainConfig
from drg.training.inputs import make_dataset, match_inputs
from drg.training.module import forward_averaged

N, L_PROM, L_ENH = 400, 40, 30


def _plant(rng: np.random.Generator, length: int, motif: str, k: int) -> str:
    s = list(rng.choice(list("ACGT"), size=length))
    for _ in range(k):
        pos = int(rng.integers(0, length - len(motif)))
        s[pos:pos + len(motif)] = list(motif)
    return "".join(s)


@pytest.fixture(scope="module")
def mdata(tmp_path_factory):
    """Promoters (GATA count) and enhancers (CACGTG count) of the same genes, enhancers stored shuffled."""
    root = tmp_path_factory.mktemp("multi_data")
    rng = np.random.default_rng(1)
    names = np.array([f"g{i}" for i in range(N)])
    prom = [_plant(rng, L_PROM, "GATA", int(rng.integers(0, 3))) for _ in range(N)]
    enh = [_plant(rng, L_ENH, "CACGTG", int(rng.integers(0, 3))) for _ in range(N)]
    order = rng.permutation(N)
    write_onehot_npz(root / "promoter.npz", one_hot_encode(prom), names)
    write_onehot_npz(root / "enhancer.npz", one_hot_encode([enh[i] for i in order]), names[order])
    y = np.array([[p.count("GATA") + e.count("CACGTG"), p.count("GATA")] for p, e in zip(prom, enh)],
                 dtype=np.float32)
    write_targets(Targets(y, names, ["expression", "promoter_only"], "rna"), root / "rna.tsv")
    fold_order = rng.permutation(N)
    write_folds([list(names[fold_order[i::4]]) for i in range(4)], root / "folds.txt")
    return {"root": root, "names": names, "prom": prom, "enh": enh, "order": order, "y": y}


def _trunk(length: int) -> dict:
    return {"input_length": length, "first_layer": {"n_kernels": 8, "kernel_size": 7}, "reduction": "max",
            "heads": [{"n_outputs": 4}]}


def _config(mdata, out, **updates) -> dict:
    root = mdata["root"]
    config = {
        "seed": 0, "out_dir": str(out),
        "data": {"onehot": [str(root / "promoter.npz"), str(root / "enhancer.npz")],
                 "targets": [str(root / "rna.tsv")], "folds": str(root / "folds.txt")},
        "model": {"kind": "multi_input", "n_inputs": 2,
                  "trunks": [{k: v for k, v in _trunk(L_PROM).items() if k != "input_length"}, _trunk(L_ENH)],
                  "outputs": [{"name": "rna", "inputs": [0, 1], "function": "network"}]},
        "losses": [{"name": "mse"}],
        "optimizer": {"name": "adam", "lr": 0.01},
        "stopping": {"max_epochs": 2, "patience": 5},
        "trainer": {"accelerator": "cpu", "batch_size": 32, "progress_bar": False, "threads": 1},
    }
    config.update(updates)
    return config


# ------------------------------------------------------------------------------------------ config


def test_config_accepts_lists_and_resolves_relative_paths(mdata, tmp_path):
    raw = _config(mdata, tmp_path / "run")
    raw["data"]["onehot"] = ["promoter.npz", "enhancer.npz"]
    raw["augmentation"] = {"reverse_complement": [True, False], "shift": [2, 0]}
    path = mdata["root"] / "run.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = TrainConfig.from_yaml(path)
    assert cfg.data.onehot == [str(mdata["root"] / "promoter.npz"), str(mdata["root"] / "enhancer.npz")]
    assert cfg.data.multi_input and cfg.data.onehot_files == cfg.data.onehot
    assert cfg.augmentation.per_input("reverse_complement", 2) == [True, False]
    assert AugmentationConfig(shift=3).per_input("shift", 2) == [3, 3]
    single = DataConfig(onehot="a.npz")
    assert not single.multi_input and single.onehot_files == ["a.npz"]


def test_config_rejects_wrong_augmentation_lengths_and_empty_lists(mdata, tmp_path):
    raw = _config(mdata, tmp_path, augmentation={"reverse_complement": [True, False, True]})
    with pytest.raises(InputError, match=r"reverse_complement has 3 values for 2"):
        TrainConfig.from_dict(raw)
    with pytest.raises(InputError, match="lists no files"):
        DataConfig.from_dict({"onehot": []})
    with pytest.raises(InputError, match=r"shift has 2 values for 1"):
        TrainConfig.from_dict({"data": {"onehot": "a.npz"}, "augmentation": {"shift": [1, 1]}})


# ------------------------------------------------------------------------------------------ load_data


def test_load_data_matches_rows_by_name(mdata):
    cfg = TrainConfig.from_dict(_config(mdata, "unused"))
    data = load_data(cfg.data, seed=0)
    assert data.multi_input and data.n_inputs == 2 and data.lengths == [L_PROM, L_ENH]
    assert data.X_inputs[0] is data.X
    np.testing.assert_array_equal(data.names, mdata["names"])
    np.testing.assert_array_equal(data.input_rows[0], data.rows)
    prom = one_hot_encode(mdata["prom"])
    enh = one_hot_encode(mdata["enh"])  # in gene order
    for j in range(N):
        np.testing.assert_array_equal(data.X_inputs[0][data.input_rows[0][j]], prom[j])
        np.testing.assert_array_equal(data.X_inputs[1][data.input_rows[1][j]], enh[j])
    # the enhancer file is shuffled, so its rows are not the identity
    assert not np.array_equal(data.input_rows[1], np.arange(N))
    assert any(str(p).endswith("enhancer.npz") for p in data.inputs)


def _write_enhancers(mdata, path, names):
    index = {n: i for i, n in enumerate(mdata["names"])}
    seqs = [mdata["enh"][index[n]] if n in index else "A" * L_ENH for n in names]
    write_onehot_npz(path, one_hot_encode(seqs), np.asarray(names))


def test_missing_and_extra_names_are_named(mdata, tmp_path):
    names = [n for n in mdata["names"] if n not in ("g3", "g7")] + ["stray"]
    bad = tmp_path / "enhancer_bad.npz"
    _write_enhancers(mdata, bad, names)
    raw = _config(mdata, tmp_path)
    raw["data"]["onehot"][1] = str(bad)
    cfg = TrainConfig.from_dict(raw)
    with pytest.raises(InputError) as err:
        load_data(cfg.data)
    text = str(err.value)
    assert "enhancer_bad.npz" in text and "'g3'" in text and "'g7'" in text and "'stray'" in text
    assert "2 name(s)" in text and "1 name(s)" in text
    raw["data"]["missing"] = "drop"
    with pytest.warns(DRGWarning, match=rf"2 of {N} examples .* dropped"):
        data = load_data(TrainConfig.from_dict(raw).data)
    assert len(data.names) == N - 2 and "g3" not in set(data.names)
    enh = one_hot_encode(mdata["enh"])
    gene = {n: i for i, n in enumerate(mdata["names"])}
    for j in (0, 5, 100):
        np.testing.assert_array_equal(data.X_inputs[1][data.input_rows[1][j]], enh[gene[data.names[j]]])


def test_duplicate_names_are_an_error(tmp_path):
    with pytest.raises(InputError, match=r"b\.npz.*1 sequence name\(s\) occur more than once.*'x'"):
        match_inputs([np.array(["x", "y"]), np.array(["x", "y", "x"])], ["a.npz", "b.npz"])


def test_match_inputs_brute_force():
    rng = np.random.default_rng(0)
    a = np.array([f"n{i}" for i in rng.permutation(30)])
    b = np.array([f"n{i}" for i in rng.permutation(30)])
    match = match_inputs([a, b], ["a", "b"])
    for name, ra, rb in zip(match.names, *match.rows):
        assert a[ra] == name and b[rb] == name
    np.testing.assert_array_equal(match.names, a)


# ------------------------------------------------------------------------------------------ datasets


def _variants(x: np.ndarray, shift: int) -> list[np.ndarray]:
    out = []
    for s in range(-shift, shift + 1):
        y = np.zeros_like(x)
        if s > 0:
            y[:, s:] = x[:, :-s]
        elif s < 0:
            y[:, :s] = x[:, -s:]
        else:
            y = x.copy()
        out += [y, y[::-1, ::-1]]
    return out


def test_dataset_items_and_per_input_augmentation(mdata):
    cfg = TrainConfig.from_dict(_config(mdata, "unused", augmentation={"reverse_complement": [True, False],
                                                                      "shift": [2, 0]}))
    data = load_data(cfg.data)
    prom = one_hot_encode(mdata["prom"]).astype(np.float32)
    enh = one_hot_encode(mdata["enh"]).astype(np.float32)
    idx = np.arange(40, 100)
    ds = make_dataset(data, idx, augmentation=cfg.augmentation, seed=0)
    assert len(ds) == len(idx) and ds.multi_input
    changed = 0
    for epoch in range(2):
        ds.set_epoch(epoch)
        for k, j in enumerate(idx):
            (xp, xe), ys = ds[k]
            assert xp.shape == (4, L_PROM) and xe.shape == (4, L_ENH)
            np.testing.assert_array_equal(xe.numpy(), enh[j])  # input 1: no augmentation
            assert any(np.array_equal(xp.numpy(), v) for v in _variants(prom[j], 2))
            changed += not np.array_equal(xp.numpy(), prom[j])
            np.testing.assert_allclose(ys[0].numpy(), mdata["y"][j])
    assert changed > len(idx)  # most promoter draws are flipped or shifted
    plain = make_dataset(data, idx, augmentation=None, seed=0, with_targets=False)
    xp, xe = plain[3]
    np.testing.assert_array_equal(xp.numpy(), prom[idx[3]])
    flipped = make_dataset(data, idx, augmentation=None, seed=0, with_targets=False,
                           reverse_complement=["always", False])
    xp, xe = flipped[3]
    np.testing.assert_array_equal(xp.numpy(), prom[idx[3]][::-1, ::-1])
    np.testing.assert_array_equal(xe.numpy(), enh[idx[3]])
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=8)))
    assert [tuple(t.shape) for t in batch[0]] == [(8, 4, L_PROM), (8, 4, L_ENH)]


# ------------------------------------------------------------------------------------------ test-time averaging


class _Probe(nn.Module):
    """Position-weighted sums of each input; asymmetric so that flips and shifts change the output."""

    def forward(self, xs):
        out = []
        for i, x in enumerate(xs):
            w = torch.arange(x.shape[-1], dtype=torch.float32) * (i + 1) + torch.arange(4.0)[:, None] * 0.1
            out.append((x * w).sum((1, 2)))
        return torch.stack(out, 1)


def _shifted(x: torch.Tensor, s: int) -> torch.Tensor:
    y = torch.zeros_like(x)
    if s > 0:
        y[..., s:] = x[..., :-s]
    elif s < 0:
        y[..., :s] = x[..., -s:]
    else:
        y = x.clone()
    return y


def test_forward_averaged_per_input_brute_force():
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(3, 4, 12, generator=gen)
    b = torch.rand(3, 4, 9, generator=gen)
    model = _Probe()
    got = forward_averaged(model, [a, b], rc=[True, False], shift=[2, 1])
    passes = []
    for sign in (-1, 0, 1):
        xa, xb = _shifted(a, 2 * sign), _shifted(b, sign)
        passes.append(model([xa, xb]))
        passes.append(model([xa.flip(1, 2), xb]))
    torch.testing.assert_close(got, torch.stack(passes).mean(0))
    torch.testing.assert_close(forward_averaged(model, (a, b)), model([a, b]))
    torch.testing.assert_close(forward_averaged(model, [a, b], rc=True),
                               (model([a, b]) + model([a.flip(1, 2), b.flip(1, 2)])) / 2)


# ------------------------------------------------------------------------------------------ fit / predict / CLI


@pytest.fixture(scope="module")
def trained(mdata, tmp_path_factory):
    out = tmp_path_factory.mktemp("multi_run")
    cfg = _config(mdata, out, stopping={"max_epochs": 8, "patience": 8},
                  augmentation={"reverse_complement": [True, False], "predict_rc": [True, False]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(cfg, verbose=False)
    return result, out


def test_fit_writes_run_and_learns(trained, mdata):
    result, out = trained
    from drg.models import MultiInputModel

    assert isinstance(result.model, MultiInputModel)
    assert result.model.config.trunks[0].input_length == L_PROM
    assert (out / "test_predictions" / "rna.npz").exists()
    outputs = json.loads((result.checkpoint_dir / "outputs.json").read_text())
    assert outputs["tracks"] == [["expression", "promoter_only"]]
    prov = json.loads((result.checkpoint_dir / "provenance.json").read_text())
    hashed = {k.split("/")[-1] for k in prov["inputs"]}
    assert {"promoter.npz", "enhancer.npz", "rna.tsv"} <= hashed
    assert result.metrics["n_test"] == N // 4
    history = result.history
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    per_track = pd.read_csv(out / "evaluation" / "rna" / "per_track.tsv", sep="\t", index_col=0)
    # the expression track sums a promoter and an enhancer motif count: learnable only from both inputs
    assert per_track.loc["expression", "pearson"] > 0.45


def test_test_predictions_equal_direct_model_calls(trained, mdata):
    result, out = trained
    pred = read_targets(out / "test_predictions" / "rna.npz")
    gene = {n: i for i, n in enumerate(mdata["names"])}
    rows = np.array([gene[n] for n in pred.names])
    a = torch.from_numpy(one_hot_encode([mdata["prom"][i] for i in rows]).astype(np.float32))
    b = torch.from_numpy(one_hot_encode([mdata["enh"][i] for i in rows]).astype(np.float32))
    with torch.no_grad():
        want = (result.model([a, b]) + result.model([a.flip(1, 2), b])) / 2
    np.testing.assert_allclose(pred.values, want.numpy(), rtol=1e-5, atol=1e-5)


def test_predict_files_match_rows_by_name(trained, mdata):
    result, out = trained
    root = mdata["root"]
    preds = predict(out, [root / "promoter.npz", root / "enhancer.npz"])
    assert len(preds) == 1 and list(preds[0].tracks) == ["expression", "promoter_only"]
    np.testing.assert_array_equal(preds[0].names, mdata["names"])
    a = one_hot_encode(mdata["prom"]).astype(np.float32)
    b = one_hot_encode(mdata["enh"]).astype(np.float32)
    with torch.no_grad():
        want = result.model([torch.from_numpy(a), torch.from_numpy(b)]).numpy()
    np.testing.assert_allclose(preds[0].values, want, rtol=1e-5, atol=1e-5)
    comma = predict(out, f"{root / 'promoter.npz'},{root / 'enhancer.npz'}")
    np.testing.assert_allclose(comma[0].values, preds[0].values)
    arrays = predict(result.model, [a, b], names=mdata["names"], batch_size=7)
    np.testing.assert_allclose(arrays[0].values, preds[0].values, rtol=1e-5, atol=1e-5)
    with pytest.raises(InputError, match="different numbers|sequences"):
        predict(result.model, [a, b[:-1]])


def test_cli_train_and_predict(mdata, tmp_path):
    from drg.cli.main import app

    raw = _config(mdata, tmp_path / "cli_run", stopping={"max_epochs": 1, "patience": 2})
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(raw))
    runner = CliRunner()
    res = runner.invoke(app, ["train", str(path), "--quiet"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    root = mdata["root"]
    out = tmp_path / "pred.tsv"
    res = runner.invoke(app, ["predict", "--model", str(tmp_path / "cli_run"), "--out", str(out),
                              "--npz", f"{root / 'promoter.npz'},{root / 'enhancer.npz'}", "--quiet"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    table = read_targets(out)
    assert table.values.shape == (N, 2)
    np.testing.assert_array_equal(table.names, mdata["names"])


def test_model_and_data_must_agree(mdata, tmp_path):
    single_model = {"input_length": L_PROM, "first_layer": {"n_kernels": 4, "kernel_size": 5}, "reduction": "max"}
    with pytest.raises(InputError, match="lists 2 file.*single sequence input"):
        fit(_config(mdata, tmp_path / "a", model=single_model), verbose=False)
    raw = _config(mdata, tmp_path / "b")
    raw["data"]["onehot"] = raw["data"]["onehot"][0]
    with pytest.raises(InputError, match="takes 2 sequence inputs"):
        fit(raw, verbose=False)
    raw = _config(mdata, tmp_path / "c")
    raw["model"]["trunks"][1]["input_length"] = 50
    with pytest.raises(InputError, match="input 1 has sequences of length 30"):
        fit(raw, verbose=False)
