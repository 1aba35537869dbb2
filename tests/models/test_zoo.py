"""Tests of the model zoo: output shapes and parameter counts against published / hand-derived numbers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from drg.errors import InputError
from drg.models.published import (
    ZOO_PARAMETERS,
    load_beluga_state_dict,
    zoo,
    zoo_config,
    zoo_names,
)


def _conv(cin, cout, k, bias=True):
    return cin * cout * k + (cout if bias else 0)


def _lin(fin, fout, bias=True):
    return fin * fout + (fout if bias else 0)


# Parameter counts written out layer by layer from the papers' / reference code's layer shapes.
EXPECTED = {
    # (input length, output shape after the batch axis, parameters)
    "deepsea_beluga": (2000, (2002,), _conv(4, 320, 8) + _conv(320, 320, 8) + _conv(320, 480, 8)
                       + _conv(480, 480, 8) + _conv(480, 640, 8) + _conv(640, 640, 8)
                       + _lin(640 * 106, 2003) + _lin(2003, 2002)),
    "basset": (600, (164,), _conv(4, 300, 19) + 600 + _conv(300, 200, 11) + 400 + _conv(200, 200, 7) + 400
               + _lin(2000, 1000) + 2000 + _lin(1000, 1000) + 2000 + _lin(1000, 164)),
    "aitac": (251, (81,), _conv(4, 300, 19) + 600 + _conv(300, 200, 11) + 400 + _conv(200, 200, 7) + 400
              + 2 * _lin(1000, 1000) + _lin(1000, 81)),
    "tism_baseline": (251, (81,), _conv(4, 200, 15, False) + 3 * _conv(200, 200, 7, False)
                      + 3 * _lin(2000, 2000) + _lin(2000, 81)),
    "cnn_shallow": (200, (12,), _conv(4, 32, 19, False) + 64 + _conv(32, 124, 5, False) + 248
                    + _lin(124 * 2, 512, False) + 1024 + _lin(512, 12)),
    "cnn_deep": (200, (12,), _conv(4, 32, 19, False) + 64 + _conv(32, 48, 7, False) + 96 + _conv(48, 96, 7, False)
                 + 192 + _conv(96, 128, 3, False) + 256 + _lin(128 * 3, 512, False) + 1024 + _lin(512, 12)),
    # bpnet-lite BPNet() defaults: iconv, 8 rconvs, fconv over 64 + 2 control channels, linear(64 + 1, 1)
    "bpnet": (2114, ((2, 1000), (1,)), _conv(4, 64, 21) + 8 * _conv(64, 64, 3) + _conv(66, 2, 75) + _lin(65, 1)),
    "bpnet_avsec2021": (1000, ((8, 1000), (8,)), _conv(4, 64, 25) + 9 * _conv(64, 64, 3) + _conv(64, 8, 25)
                        + _lin(64, 8)),
    # DRG Calderon: first layer without bias, 5 x [BN, conv no bias], 4 x [BN, conv + bias],
    # projection 1280 -> 512, FC 512 -> 563 -> 563 -> 512, output 45
    "calderon2019": (401, (45,), _conv(4, 256, 15, False) + 5 * (512 + _conv(256, 256, 7, False))
                     + 4 * (512 + _conv(256, 256, 7)) + _lin(1280, 512) + _lin(512, 563) + _lin(563, 563)
                     + _lin(563, 512) + _lin(512, 45)),
}

# forward passes on real tensors that take well under a second on a laptop CPU
FAST = ["basset", "aitac", "tism_baseline", "cnn_shallow", "cnn_deep", "bpnet", "bpnet_avsec2021", "calderon2019"]


def _shape(out):
    if isinstance(out, (tuple, list)):
        return tuple(tuple(o.shape[1:]) for o in out)
    return tuple(out.shape[1:])


def test_every_entry_is_covered_and_documented():
    assert set(zoo_names()) == set(EXPECTED) == set(ZOO_PARAMETERS)
    import importlib

    zoo_module = importlib.import_module("drg.models.published")

    for name in zoo_names():
        doc = getattr(zoo_module, name).__doc__
        assert doc and f"{ZOO_PARAMETERS[name]:,}" in doc, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parameter_count_and_output_shape_without_allocating(name):
    length, out_shape, n_params = EXPECTED[name]
    assert ZOO_PARAMETERS[name] == n_params
    with torch.device("meta"):
        model = zoo(name)
        if name not in FAST:  # the others run for real in the next test
            assert _shape(model(torch.empty(2, 4, length))) == out_shape
    assert sum(p.numel() for p in model.parameters()) == n_params
    assert hasattr(model, "config") and hasattr(model, "n_outputs") and hasattr(model, "output_names")


@pytest.mark.parametrize("name", FAST)
def test_real_forward_is_finite_and_deterministic(name):
    length, out_shape, _ = EXPECTED[name]
    X = F.one_hot(torch.randint(0, 4, (2, length), generator=torch.Generator().manual_seed(0)), 4)
    X = X.permute(0, 2, 1).float()
    a = zoo(name, seed=3).eval()
    with torch.no_grad():
        out = a(X)
    assert _shape(out) == out_shape
    outs = out if isinstance(out, (tuple, list)) else [out]
    assert all(torch.isfinite(o).all() for o in outs)
    b = zoo(name, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _random_beluga_state_dict(length: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Original DeepSEA Beluga key names and Conv2d/Linear shapes (ExPecto / TISM class layout)."""
    g = torch.Generator().manual_seed(seed)
    convs = [("model.0.0", 4, 320), ("model.0.2", 320, 320), ("model.0.6", 320, 480), ("model.0.8", 480, 480),
             ("model.0.12", 480, 640), ("model.0.14", 640, 640)]
    sd = {}
    for key, cin, cout in convs:
        sd[f"{key}.weight"] = torch.randn(cout, cin, 1, 8, generator=g) / (cin * 8) ** 0.5
        sd[f"{key}.bias"] = torch.randn(cout, generator=g) * 0.1
    final = ((((length - 14) // 4) - 14) // 4) - 14
    sd["model.1.2.1.weight"] = torch.randn(2003, 640 * final, generator=g) / (640 * final) ** 0.5
    sd["model.1.2.1.bias"] = torch.randn(2003, generator=g) * 0.1
    sd["model.1.4.1.weight"] = torch.randn(2002, 2003, generator=g) / 2003 ** 0.5
    sd["model.1.4.1.bias"] = torch.randn(2002, generator=g) * 0.1
    return sd


def _original_beluga_forward(sd: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """The original class's computation, written with Conv2d on (N, 4, 1, L) as it does."""
    x = X.unsqueeze(2)
    for i, key in enumerate(["model.0.0", "model.0.2", "model.0.6", "model.0.8", "model.0.12", "model.0.14"]):
        x = torch.relu(F.conv2d(x, sd[f"{key}.weight"], sd[f"{key}.bias"]))
        if i in (1, 3):
            x = F.max_pool2d(x, (1, 4), (1, 4))
    x = x.reshape(x.shape[0], -1)
    x = torch.relu(F.linear(x, sd["model.1.2.1.weight"], sd["model.1.2.1.bias"]))
    return torch.sigmoid(F.linear(x, sd["model.1.4.1.weight"], sd["model.1.4.1.bias"]))


def test_beluga_state_dict_with_original_key_names_loads_and_predicts_identically():
    length = 310  # shortest input the Beluga layers accept: the dense layer then reads 640 x 1 features
    sd = _random_beluga_state_dict(length)
    model = zoo("deepsea_beluga", input_length=length)
    load_beluga_state_dict(model, {f"module.{k}": v for k, v in sd.items()})
    X = F.one_hot(torch.randint(0, 4, (3, length), generator=torch.Generator().manual_seed(1)), 4)
    X = X.permute(0, 2, 1).float()
    with torch.no_grad():
        torch.testing.assert_close(model(X), _original_beluga_forward(sd, X), rtol=1e-5, atol=1e-6)
    logits = zoo("deepsea_beluga", input_length=length, output_activation="linear")
    load_beluga_state_dict(logits, sd)
    with torch.no_grad():
        torch.testing.assert_close(torch.sigmoid(logits(X)), model(X), rtol=1e-5, atol=1e-6)


def test_beluga_loader_reports_bad_files():
    model = zoo("deepsea_beluga", input_length=310)
    sd = _random_beluga_state_dict(310)
    with pytest.raises(InputError, match="missing keys"):
        load_beluga_state_dict(model, {k: v for k, v in sd.items() if k != "model.0.0.bias"}, source="x.pth")
    sd["model.1.4.1.weight"] = torch.zeros(10, 2003)
    with pytest.raises(InputError, match=r"model\.1\.4\.1\.weight has shape"):
        load_beluga_state_dict(model, sd)


@pytest.mark.slow
def test_full_size_beluga_loads_original_layout():
    sd = _random_beluga_state_dict(2000, seed=2)
    model = load_beluga_state_dict(zoo("deepsea_beluga"), sd)
    X = F.one_hot(torch.randint(0, 4, (1, 2000)), 4).permute(0, 2, 1).float()
    with torch.no_grad():
        torch.testing.assert_close(model(X), _original_beluga_forward(sd, X), rtol=1e-4, atol=1e-6)


def test_zoo_is_the_function_even_after_its_module_was_imported():
    import drg.models
    import drg.models.published  # noqa: F401

    model = drg.models.zoo("cnn_shallow", seed=1)
    assert model.config.seed == 1
    assert "basset" in drg.models.zoo_names()


def test_overrides():
    exp = zoo_config("cnn_shallow", activation="exponential", n_outputs=3)
    assert exp.layers[2].name == "exponential" and exp.layers[-2].out_features == 3
    assert zoo_config("basset", seed=7).seed == 7
    assert zoo_config("bpnet", n_tracks=1).n_tracks == 1
    with pytest.raises(InputError, match="does not take 'bogus'"):
        zoo("basset", bogus=1)
    with pytest.raises(InputError, match="did you mean 'basset'"):
        zoo("baset")


def test_calderon2019_is_what_the_drg_import_builds():
    from drg.models.drg_compat import drg_params_to_config
    from drg.models.published import CALDERON2019_PARAMS

    cfg = zoo_config("calderon2019")
    assert cfg == drg_params_to_config(dict(CALDERON2019_PARAMS))
    assert cfg.input_length == 401 and cfg.heads[0].n_outputs == 45
    assert cfg.first_layer.reverse_complement and cfg.first_layer.n_kernels == 256
    assert cfg.first_layer.kernel_size == 15 and not cfg.first_layer.bias
    assert cfg.tower.per_layer("dilations") == [1, 2, 4, 8, 16]
    assert cfg.pooled_tower.n_layers == 4 and cfg.pooled_tower.pooling.size == 3
