"""Partial loading, track subsets, renaming, freezing and fine-tuning runs."""

from __future__ import annotations

import pytest
import torch

from drg.errors import DRGWarning, InputError
from drg.models import build
from drg.training import fit, finetune, load_partial, load_weights
from drg.training.finetuning import freeze
from tests.training import trainkit


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return trainkit.make_dataset(tmp_path_factory.mktemp("ft_data"), n=160)


@pytest.fixture(scope="module")
def source(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ft_source")
    fit(trainkit.run_config(data, out, stopping={"max_epochs": 2}), verbose=False)
    return out


def _model(n_outputs, names=None, seed=1):
    cfg = trainkit.tiny_model()
    cfg["seed"] = seed
    cfg["heads"] = [{"name": "targets", "n_outputs": n_outputs, "track_names": names}]
    return build(cfg)


def test_load_everything_matches_checkpoint(source):
    model = _model(2)
    report = load_partial(model, source)
    state = load_weights(source)
    assert sorted(report.loaded) == sorted(state) and report.missing == [] and report.skipped == {}
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key])


def test_keep_tracks_by_name_takes_the_rows(source):
    state = load_weights(source)
    model = _model(1)
    report = load_partial(model, source, keep_tracks=["ebox"])
    assert report.subset  # output layer weight and bias
    for name in report.subset:
        torch.testing.assert_close(model.state_dict()[name], state[name][[1]])
    model2 = _model(2)
    load_partial(model2, source, keep_tracks=[1, 0])  # reorder by index
    for name in report.subset:
        torch.testing.assert_close(model2.state_dict()[name], state[name][[1, 0]])
    with pytest.raises(InputError, match="not an output"):
        load_partial(_model(1), source, keep_tracks=["nope"])


def test_new_head_stays_initialised_include_exclude_rename(source):
    fresh = _model(3, seed=5)
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    with pytest.warns(DRGWarning, match="do not fit"):
        report = load_partial(fresh, source)
    state = load_weights(source)
    for name in report.missing:  # the 3-track head
        torch.testing.assert_close(fresh.state_dict()[name], before[name])
        assert state[name].shape[0] == 2
    assert report.loaded and all(not n.startswith("heads") for n in report.loaded)
    only_first = _model(2, seed=5)
    report = load_partial(only_first, source, include=["first_layer.*"])
    assert report.loaded and all(n.startswith("first_layer.") for n in report.loaded)
    excl = load_partial(_model(2, seed=5), source, exclude=["heads.*"])
    assert not any(n.startswith("heads") for n in excl.loaded)
    with pytest.raises(InputError, match="no checkpoint parameter matched"):
        load_partial(_model(2), source, rename={"": "zzz."})
    renamed = {("old." + k): v for k, v in state.items()}
    report = load_partial(_model(2), renamed, rename={"old.": ""})
    assert sorted(report.loaded) == sorted(state)


def test_freeze_patterns():
    model = _model(2)
    frozen = freeze(model, ["first_layer.*"])
    assert frozen and all(not p.requires_grad for n, p in model.named_parameters() if n in frozen)
    assert all(p.requires_grad for n, p in model.named_parameters() if n not in frozen)
    with pytest.raises(InputError, match="matches no parameter"):
        freeze(model, ["nothing.*"])


def test_finetune_run_on_one_track_with_frozen_first_layer(data, source, tmp_path):
    from drg.data import Targets, read_targets, write_targets

    t = read_targets(data["targets"])
    write_targets(Targets(t.values[:, [1]], t.names, ["ebox"], "ebox"), tmp_path / "ebox.tsv")
    cfg = trainkit.run_config(data, tmp_path / "run", stopping={"max_epochs": 2})
    cfg.pop("model")
    cfg["data"]["targets"] = [str(tmp_path / "ebox.tsv")]
    cfg["finetune"] = {"checkpoint": str(source), "keep_tracks": ["ebox"], "freeze": ["first_layer.*"]}
    result = finetune(cfg, verbose=False)
    src = load_weights(source)
    new = result.model.state_dict()
    for name in new:
        if name.startswith("first_layer."):
            torch.testing.assert_close(new[name], src[name])  # frozen: unchanged
    head = [n for n in new if n.startswith("heads.") and n.endswith("weight")]
    assert new[head[-1]].shape[0] == 1
    assert not torch.allclose(new[head[-1]], src[head[-1]][[1]])  # trained further
    assert result.model.n_outputs == [1]
    with pytest.raises(InputError, match="finetune"):
        finetune(trainkit.run_config(data, tmp_path / "x"), verbose=False)
