"""Model directories: safetensors + config round trips, frozen PWM kernels, state-dict export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from drg.errors import InputError
from drg.models import build, export_state_dict, load_model, save_model

CONFIG = {"input_length": 48, "seed": 3, "batch_norm": True,
          "first_layer": {"n_kernels": 6, "kernel_size": 5, "reverse_complement": True, "pooling": {"size": 3}},
          "tower": {"n_layers": 2, "dilations": [1, 2], "pooling": {"mode": "softmax", "size": 2}},
          "heads": [{"name": "a", "n_outputs": 2, "track_names": ["x", "y"], "fc_layers": 1, "fc_size": 8},
                    {"name": "b", "n_outputs": 1, "output_activation": "softplus"}]}


def _x(n=4, length=48):
    g = torch.Generator().manual_seed(0)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=g), 4).transpose(1, 2).float()


def _trained(config=CONFIG):
    model = build(config)
    model.train()
    with torch.no_grad():
        model(_x(8))  # move batch-norm running statistics away from their defaults
        for p in model.parameters():
            p.add_(0.01)
    return model.eval()


def test_save_load_round_trip(tmp_path):
    model = _trained()
    save_model(model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.yaml", "outputs.json", "weights.safetensors"]
    assert yaml.safe_load((tmp_path / "m" / "config.yaml").read_text()) == model.config.to_dict()
    assert json.loads((tmp_path / "m" / "outputs.json").read_text()) == {
        "heads": ["a", "b"], "n_outputs": [2, 1], "output_names": None}
    loaded = load_model(tmp_path / "m")
    assert not loaded.training
    for a, b in zip(model(_x()), loaded(_x())):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_safetensors_file_is_not_a_pickle(tmp_path):
    save_model(_trained(), tmp_path)
    head = (tmp_path / "weights.safetensors").read_bytes()[:16]
    assert not head.startswith(b"\x80")  # pickle protocol marker
    from safetensors import safe_open

    with safe_open(str(tmp_path / "weights.safetensors"), "pt") as handle:
        assert handle.metadata()["kind"] == "cnn"


def test_frozen_pwm_model_loads_without_the_motif_file(tmp_path):
    from drg.motifs import Motif, write_meme

    motif_file = tmp_path / "m.meme"
    write_meme([Motif.from_counts(np.eye(4) * 10 + 1, name="M")], motif_file)
    config = {"input_length": 30, "first_layer": {"n_kernels": 3, "kernel_size": 4,
                                                   "pwm_init": {"path": str(motif_file), "freeze": True}}}
    model = build(config).eval()
    save_model(model, tmp_path / "m")
    motif_file.unlink()
    loaded = load_model(tmp_path / "m")
    assert loaded.first_layer.conv.frozen_weight.shape == (1, 4, 4)
    assert not loaded.first_layer.conv.frozen_weight.requires_grad
    torch.testing.assert_close(model(_x(2, 30)), loaded(_x(2, 30)), rtol=0, atol=0)


def test_mismatched_weights_are_named(tmp_path):
    save_model(_trained(), tmp_path / "m")
    changed = {**CONFIG, "first_layer": {**CONFIG["first_layer"], "n_kernels": 7}}
    (tmp_path / "m" / "config.yaml").write_text(yaml.safe_dump(changed))
    with pytest.raises(InputError, match="shape mismatches.*first_layer.conv.weight"):
        load_model(tmp_path / "m")
    with pytest.raises(InputError, match="lacks config.yaml"):
        load_model(tmp_path)


@pytest.mark.parametrize("wrap", ["plain", "lightning"])
def test_export_state_dict(tmp_path, wrap):
    model = _trained()
    state = model.state_dict()
    if wrap == "lightning":
        state = {"state_dict": {f"model.{k}": v for k, v in state.items()}, "epoch": 3}
    torch.save(state, tmp_path / "w.pt")
    (tmp_path / "c.yaml").write_text(model.config.to_yaml())
    export_state_dict(tmp_path / "w.pt", tmp_path / "c.yaml", tmp_path / "out")
    loaded = load_model(tmp_path / "out")
    for a, b in zip(model(_x()), loaded(_x())):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_cli_export(tmp_path):
    from typer.testing import CliRunner

    from drg.cli.model import app

    model = _trained()
    torch.save(model.state_dict(), tmp_path / "w.pth")
    model.config.to_yaml(tmp_path / "c.yaml")
    result = CliRunner().invoke(app, ["export", str(tmp_path / "w.pth"), "--config", str(tmp_path / "c.yaml"),
                                      "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert result.exit_code == 0
    torch.testing.assert_close(load_model(tmp_path / "out")(_x())[1], model(_x())[1], rtol=0, atol=0)
