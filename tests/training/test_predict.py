"""predict(): every input source, test-time averaging, names and track names, files and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from drg.data import read_targets, write_onehot_memmap
from drg.errors import InputError
from drg.genome import one_hot_decode, write_fasta
from drg.training import fit, load, predict, write_predictions
from tests.training import trainkit


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pred")
    data = trainkit.make_dataset(root / "data", n=120)
    cfg = trainkit.run_config(data, root / "run", stopping={"max_epochs": 1})
    cfg["data"]["targets"] = [str(data["targets"]), str(data["counts"])]
    fit(cfg, verbose=False)
    return data, root / "run"


def test_array_prediction_equals_model_and_names(run):
    data, out = run
    model = load(out)
    X = data["X"][:10]
    preds = predict(out, X, names=data["names"][:10])
    assert [p.modality for p in preds] == ["targets", "counts"]
    assert [list(p.tracks) for p in preds] == [["gata", "ebox"], ["total"]]
    with torch.no_grad():
        direct = model(torch.from_numpy(X.astype(np.float32)))
    for p, d in zip(preds, direct):
        np.testing.assert_allclose(p.values, d.numpy(), rtol=1e-5, atol=1e-6)
        assert list(p.names) == list(data["names"][:10])


def test_rc_and_shift_averaging(run):
    data, out = run
    model = load(out)
    X = torch.from_numpy(data["X"][:6].astype(np.float32))
    with torch.no_grad():
        fwd, rev = model(X)[0], model(X.flip(1, 2))[0]
        left = torch.zeros_like(X)
        left[..., :-2] = X[..., 2:]
        right = torch.zeros_like(X)
        right[..., 2:] = X[..., :-2]
        shifted = (model(left)[0] + fwd + model(right)[0]) / 3
    rc = predict(model, data["X"][:6], rc_average=True)[0].values
    np.testing.assert_allclose(rc, ((fwd + rev) / 2).numpy(), rtol=1e-5, atol=1e-6)
    sh = predict(model, data["X"][:6], shift_average=2)[0].values
    np.testing.assert_allclose(sh, shifted.numpy(), rtol=1e-5, atol=1e-6)


def test_file_sources_agree(run, tmp_path):
    data, out = run
    X, names = data["X"][:12], data["names"][:12]
    reference = predict(out, X, names=names)[0].values
    from drg.data import write_onehot_npz

    write_onehot_npz(tmp_path / "x.npz", X, names)
    from_npz = predict(out, tmp_path / "x.npz")[0]
    assert list(from_npz.names) == list(names)
    np.testing.assert_allclose(from_npz.values, reference, rtol=1e-5, atol=1e-6)
    write_onehot_memmap(tmp_path / "cache", X, names)
    np.testing.assert_allclose(predict(out, tmp_path / "cache")[0].values, reference, rtol=1e-5, atol=1e-6)
    seqs = one_hot_decode(X)
    write_fasta(list(names), seqs, tmp_path / "x.fa")
    np.testing.assert_allclose(predict(out, tmp_path / "x.fa")[0].values, reference, rtol=1e-5, atol=1e-6)
    # genome + regions: the sequences laid out on one chromosome
    write_fasta(["chrQ"], ["".join(s + "AC" for s in seqs)], tmp_path / "g.fa")
    with open(tmp_path / "r.bed", "w") as handle:
        for i, name in enumerate(names):
            handle.write(f"chrQ\t{i * 42}\t{i * 42 + 40}\t{name}\n")
    gen = predict(out, genome=tmp_path / "g.fa", regions=tmp_path / "r.bed")[0]
    assert list(gen.names) == list(names)
    np.testing.assert_allclose(gen.values, reference, rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="different lengths"):
        write_fasta(["a", "b"], ["ACGT" * 10, "ACG"], tmp_path / "bad.fa")
        predict(out, tmp_path / "bad.fa")


def test_write_predictions_round_trip(run, tmp_path):
    data, out = run
    preds = predict(out, data["X"][:5], names=data["names"][:5])
    paths = write_predictions(preds, tmp_path / "p.tsv")
    assert [p.name for p in paths] == ["p.targets.tsv", "p.counts.tsv"]
    back = read_targets(paths[0])
    np.testing.assert_allclose(back.values, preds[0].values)
    assert list(back.tracks) == ["gata", "ebox"] and list(back.names) == list(data["names"][:5])
    single = write_predictions(preds[:1], tmp_path / "one.npz")
    assert read_targets(single[0]).modality == "targets"


def test_cli_predict(run, tmp_path):
    from drg.cli.train import app

    data, out = run
    from drg.data import write_onehot_npz

    write_onehot_npz(tmp_path / "x.npz", data["X"][:7], data["names"][:7])
    result = CliRunner().invoke(app, ["predict", "--model", str(out), "--npz", str(tmp_path / "x.npz"),
                                      "--out", str(tmp_path / "pred.npz"), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    back = read_targets(tmp_path / "pred.targets.npz")
    np.testing.assert_allclose(back.values, predict(out, data["X"][:7])[0].values, rtol=1e-6)
    bad = CliRunner().invoke(app, ["predict", "--model", str(out), "--out", str(tmp_path / "p.npz")])
    assert bad.exit_code != 0
