"""Model summaries: analytic receptive field, parameter counts, layer table and ``drg model show``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from drg.models import build, describe, receptive_field, receptive_window


@pytest.mark.parametrize(("config", "rf"), [
    ({"first_layer": {"kernel_size": 5}}, 5),
    ({"first_layer": {"kernel_size": 6, "reverse_complement": True}}, 7),  # both strands' windows
    ({"first_layer": {"kernel_size": 6}}, 6),
    ({"first_layer": {"kernel_size": 5}, "tower": {"n_layers": 1, "kernel_size": 3, "dilations": 2}}, 9),
    ({"first_layer": {"kernel_size": 5, "pooling": {"size": 2}},
      "tower": {"n_layers": 1, "kernel_size": 3, "dilations": 2}}, 14),
    ({"first_layer": {"kernel_size": 3, "pooling": {"size": 3}},
      "tower": {"n_layers": 2, "kernel_size": 3, "pooling": {"size": 2}}}, 3 + 2 + 2 * 3 + 1 * 3 + 2 * 6 + 1 * 6),
])
def test_receptive_field_arithmetic(config, rf):
    model = build({"input_length": 200, **config})
    assert receptive_field(model) == rf
    assert describe(model).receptive_field == rf


def test_receptive_window_of_same_padded_conv():
    model = build({"input_length": 50, "first_layer": {"kernel_size": 4}})
    assert receptive_window(model, 0) == (-1, 3)  # padding (1, 2)
    assert receptive_window(model, 10) == (9, 13)


def test_parameter_counts_and_shapes(tmp_path):
    from drg.motifs import Motif, write_meme

    motif = Motif.from_counts(np.eye(4)[[0, 1, 2]] * 10 + 1, name="M")
    write_meme([motif], tmp_path / "m.meme")
    model = build({"input_length": 40,
                   "first_layer": {"n_kernels": 4, "kernel_size": 5, "bias": True,
                                   "pwm_init": {"path": str(tmp_path / "m.meme"), "freeze": True},
                                   "pooling": {"size": 4}},
                   "tower": {"n_layers": 1, "channels": 6, "kernel_size": 3, "bias": False, "residual_every": 1},
                   "heads": [{"name": "a", "n_outputs": 3}, {"name": "b", "n_outputs": 2, "fc_layers": 1, "fc_size": 5}]})
    summary = describe(model)
    conv_params = 4 * 4 * 5 + 4
    tower_params = 4 * 6 * 3 + 4 * 6  # conv without bias + 1x1 projection shortcut
    flat = 6 * 10
    head_a = flat * 3 + 3
    head_b = flat * 5 + 5 + 5 * 2 + 2
    assert summary.n_params == conv_params + tower_params + head_a + head_b
    assert summary.n_frozen == 4 * 5 and summary.n_trainable == summary.n_params - 20
    assert summary.output_shapes == [(1, 3), (1, 2)]
    assert [row.name for row in summary.layers] == ["first_layer.conv", "first_layer.pool", "tower.0.conv", "reduce",
                                                    "heads.a", "heads.b"]
    assert sum(row.params for row in summary.layers) == summary.n_params
    assert summary.layers[1].out_length == 10 and summary.feature_shape == (6, 10)
    assert summary.global_context and summary.layers[-1].receptive_field is None
    assert json.loads(json.dumps(summary.to_dict()))["n_params"] == summary.n_params


def test_describe_other_length_for_pooled_models():
    model = build({"input_length": 40, "first_layer": {"kernel_size": 5, "pooling": {"size": 4}}, "reduction": "max"})
    summary = describe(model, input_length=101)
    assert summary.layers[1].out_length == 26 and summary.output_shapes == [(1, 1)]


def test_cli_show_config_and_directory(tmp_path):
    from drg.cli.model import app
    from drg.models import save_model

    config = tmp_path / "model.yaml"
    config.write_text("input_length: 64\nfirst_layer:\n  n_kernels: 8\n  kernel_size: 7\n  pooling: {size: 4}\n"
                      "tower: {n_layers: 2, dilations: [1, 2]}\nheads: [{n_outputs: 3}]\n")
    runner = CliRunner()
    result = runner.invoke(app, ["show", str(config)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "receptive field: 34 bp" in result.output  # 7, + 3 (pool 4), + 2 * 4, + 4 * 4
    save_model(build(config), tmp_path / "saved")
    result = runner.invoke(app, ["show", str(tmp_path / "saved"), "--json"], catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.output)["receptive_field"] == 34
    assert [row["name"] for row in json.loads(result.output)["layers"]][3] == "tower.1.conv"
