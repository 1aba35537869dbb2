"""Model configs: YAML round trips, unknown keys, validation messages, kind dispatch."""

from __future__ import annotations

import pytest
import torch
import yaml

from drg.errors import InputError
from drg.models import ModelConfig, build, load_config

FULL = {
    "input_length": 60,
    "seed": 7,
    "activation": "relu",
    "batch_norm": True,
    "dropout": 0.1,
    "first_layer": {"n_kernels": 8, "kernel_size": 6, "bias": False, "reverse_complement": True,
                    "strand_pool": "mean", "pooling": {"mode": "softmax", "size": 3}},
    "tower": {"n_layers": 2, "dilations": [1, 2], "growth": 1.25, "pooling": {"mode": "max", "size": 2},
              "residual_from": "conv"},
    "attention": {"n_heads": 2, "positional": "sinusoidal"},
    "pooled_tower": {"n_layers": 1, "channels": 6, "pooling": {"mode": "mean", "size": 2}},
    "shared_fc": {"n_layers": 1, "size": 12},
    "heads": [{"name": "atac", "n_outputs": 2, "track_names": ["t1", "t2"], "fc_layers": 1, "fc_size": 4},
              {"name": "class", "n_outputs": 3, "output_activation": "softmax"}],
}


def test_yaml_round_trip_config_and_model(tmp_path):
    cfg = ModelConfig.from_dict(FULL)
    path = tmp_path / "model.yaml"
    cfg.to_yaml(path)
    again = ModelConfig.from_yaml(path)
    assert again == cfg
    model = build(path).eval()
    assert model.config == cfg
    text = model.config.to_yaml()
    assert yaml.safe_load(text) == cfg.to_dict()
    rebuilt = build(yaml.safe_load(text)).eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 60)), 4).transpose(1, 2).float()
    for a, b in zip(model(x), rebuilt(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_defaults_are_inherited_by_blocks():
    model = build(FULL)
    assert model.first_layer.norm is not None  # global batch_norm
    assert isinstance(model.first_layer.act, torch.nn.ReLU)
    assert model.tower.layers[0].dropout.p == 0.1
    assert [layer.conv.out_channels for layer in model.tower.layers] == [10, 12]
    explicit = build({**FULL, "first_layer": {**FULL["first_layer"], "batch_norm": False, "activation": "exponential"}})
    assert explicit.first_layer.norm is None


@pytest.mark.parametrize(("data", "message"), [
    ({"input_length": 10, "first_layr": {}}, "unknown key 'first_layr'; did you mean 'first_layer'"),
    ({"input_length": 10, "tower": {"n_layer": 2}}, "unknown key 'tower.n_layer'; did you mean 'n_layers'"),
    ({"input_length": 10, "first_layer": {"pooling": {"sise": 2}}}, "'first_layer.pooling.sise'; did you mean 'size'"),
    ({"input_length": 10, "heads": [{"n_output": 2}]}, "'heads.0.n_output'; did you mean 'n_outputs'"),
    ({"input_length": 10, "shared_fc": {"widenning": 1.1}}, "did you mean 'widening'"),
])
def test_unknown_keys_name_the_closest(data, message):
    with pytest.raises(InputError, match=message):
        ModelConfig.from_dict(data)


@pytest.mark.parametrize(("data", "message"), [
    ({"input_length": 10, "heads": [{"name": "a"}, {"name": "a"}]}, "head names must be unique"),
    ({"input_length": 10, "heads": [{"n_outputs": 2, "track_names": ["x"]}]}, "1 track_names for 2 outputs"),
    ({"input_length": 10, "first_layer": {"pooling": {"mode": "softmax", "size": 3, "stride": 2}}},
     "softmax pooling needs stride == size"),
    ({"input_length": 10, "tower": {"n_layers": 3, "dilations": [1, 2]}}, "dilations lists 2 values for 3 layers"),
    ({"input_length": 10, "n_channels": 5, "first_layer": {"reverse_complement": True}}, "needs 4 channels"),
    ({"input_length": 10, "first_layer": {"activation": "rellu"}}, "first_layer.activation"),
    ({"input_length": 10, "attention": {"n_heads": 3}}, "not divisible by n_heads 3"),
    ({"input_length": 10, "tower": {"pooling": {"mode": "mean_max"}}}, "mean_max pooling doubles"),
    ({"input_length": 0}, "input_length"),
])
def test_validation_messages(data, message):
    with pytest.raises(InputError, match=message):
        ModelConfig.from_dict(data)


def test_yaml_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("input_length: 10\nfirst_layer:\n  kernel_sise: 3\n")
    with pytest.raises(InputError, match=r"bad\.yaml.*did you mean 'kernel_size'"):
        build(path)
    with pytest.raises(InputError, match="not found"):
        build(tmp_path / "missing.yaml")


def test_kind_dispatch():
    assert isinstance(load_config({"input_length": 5}), ModelConfig)
    with pytest.raises(InputError, match="unknown model kind 'rnn'"):
        load_config({"kind": "rnn"})
