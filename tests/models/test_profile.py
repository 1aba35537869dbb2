"""Tests of the BPNet-like profile model."""

from __future__ import annotations

import pytest
import torch

from drg.errors import InputError
from drg.models.profile import (
    ProfileConfig,
    ProfileModel,
    count_parameters,
    receptive_field,
)


def _small(**kw) -> ProfileConfig:
    base = {"input_length": 120, "n_tracks": 2, "n_filters": 6, "first_kernel": 5, "n_layers": 3, "kernel_size": 3,
                "profile_kernel": 7, "seed": 3}
    base.update(kw)
    return ProfileConfig(**base)


def _onehot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, 4, (n, length), generator=g)
    return torch.nn.functional.one_hot(idx, 4).permute(0, 2, 1).float()


def _reference_same_then_crop(model: ProfileModel, X: torch.Tensor, X_ctl: torch.Tensor | None,
                              out_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """bpnet-lite's forward written out: 'same'-padded layers on the full input, then cropping."""
    cfg = model.config
    F = torch.nn.functional
    k0 = cfg.first_kernel
    h = torch.relu(F.conv1d(F.pad(X, ((k0 - 1) // 2, k0 - 1 - (k0 - 1) // 2)), model.first_conv.weight,
                            model.first_conv.bias))
    for layer, d in zip(model.layers, cfg.layer_dilations):
        p = (cfg.kernel_size - 1) * d // 2
        h = h + torch.relu(F.conv1d(F.pad(h, (p, p)), layer.conv.weight, layer.conv.bias, dilation=d))
    trim = (X.shape[-1] - out_len) // 2
    start, end = trim, X.shape[-1] - trim
    half = (cfg.profile_kernel - 1) // 2
    inp = h if X_ctl is None else torch.cat([h, X_ctl], dim=1)
    prof = F.conv1d(F.pad(inp, (half, half)), model.profile_conv.weight, model.profile_conv.bias)[:, :, start:end]
    feats = h[:, :, start - half:end + half].mean(-1)
    if X_ctl is not None:
        tot = X_ctl[:, :, start - half:end + half].sum(dim=(1, 2))
        feats = torch.cat([feats, torch.log1p(tot)[:, None]], dim=-1)
    return prof, model.count_linear(feats)


def test_default_is_bpnet_lite_layout_and_parameter_count():
    cfg = ProfileConfig(n_control_tracks=2, count_head="total")
    # bpnet-lite BPNet(n_filters=64, n_layers=8, n_outputs=2, n_control_tracks=2):
    # iconv 4*64*21+64, 8 x (64*64*3+64), fconv (64+2)*2*75+2, linear (64+1)*1+1
    expected = (4 * 64 * 21 + 64) + 8 * (64 * 64 * 3 + 64) + ((64 + 2) * 2 * 75 + 2) + (65 + 1)
    assert expected == 114224
    model = ProfileModel(cfg)
    assert sum(p.numel() for p in model.parameters()) == expected == count_parameters(cfg)
    assert cfg.trimming == 1114 and cfg.out_length() == 1000
    assert receptive_field(cfg) == 1115
    assert model.n_outputs == [2, 1]


@pytest.mark.parametrize("length", [120, 121, 64, 65])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_output_lengths_odd_and_even_inputs(length, padding):
    cfg = _small(padding=padding, input_length=120)
    model = ProfileModel(cfg)
    out = model(_onehot(3, length))
    expected = length - (4 + 2 * (2 + 4 + 8) + 6) if padding == "valid" else length
    assert expected == cfg.out_length(length)
    assert out.profile_logits.shape == (3, 2, expected)
    assert out.log_counts.shape == (3, 2)


def test_even_kernels_same_padding_keep_length():
    cfg = _small(padding="same", first_kernel=4, kernel_size=2, profile_kernel=6, dilations=[1, 2, 3])
    out = ProfileModel(cfg)(_onehot(2, 51))
    assert out.profile_logits.shape == (2, 2, 51)


@pytest.mark.parametrize("with_control", [False, True])
def test_valid_layout_equals_same_padding_plus_cropping(with_control):
    """The valid-convolution layout reproduces bpnet-lite's padded-then-cropped computation exactly."""
    n_ctl = 2 if with_control else 0
    cfg = _small(n_control_tracks=n_ctl, count_head="total", input_length=100)
    model = ProfileModel(cfg)
    X = _onehot(4, 100, seed=1)
    ctl = torch.rand(4, 2, 100) * 5 if with_control else None
    ours = model(X, ctl)
    out_len = cfg.out_length()
    ref_prof, ref_counts = _reference_same_then_crop(model, X, ctl, out_len)
    torch.testing.assert_close(ours.profile_logits, ref_prof, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.log_counts, ref_counts, rtol=1e-5, atol=1e-5)
    # same padding + explicit output_length gives the same numbers with the same weights
    same = ProfileModel(_small(n_control_tracks=n_ctl, count_head="total", input_length=100, padding="same",
                               output_length=out_len))
    same.load_state_dict(model.state_dict())
    torch.testing.assert_close(same(X, ctl).profile_logits, ref_prof, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(same(X, ctl).log_counts, ref_counts, rtol=1e-5, atol=1e-5)


def test_control_enters_only_through_documented_path():
    cfg = _small(n_control_tracks=2, input_length=90)
    model = ProfileModel(cfg)
    X = _onehot(3, 90, seed=2)
    ctl = torch.rand(3, 2, 90) * 3
    base = model(X, torch.zeros_like(ctl))
    with_ctl = model(X, ctl)
    # profile: the difference is the control channels of the profile convolution applied to the cropped control
    offset = (cfg.first_kernel - 1) // 2 + sum((cfg.kernel_size - 1) * d // 2 for d in cfg.layer_dilations)
    tower_len = 90 - (cfg.first_kernel - 1) - sum((cfg.kernel_size - 1) * d for d in cfg.layer_dilations)
    ctl_crop = ctl[:, :, offset:offset + tower_len]
    w_ctl = model.profile_conv.weight[:, cfg.n_filters:, :]
    expected = torch.nn.functional.conv1d(ctl_crop, w_ctl)
    torch.testing.assert_close(with_ctl.profile_logits - base.profile_logits, expected, rtol=1e-5, atol=1e-5)
    # counts: the difference is the last count weight times log(1 + total control reads in the window)
    total = ctl_crop.sum(dim=(1, 2))
    expected_counts = model.count_linear.weight[:, -1][None, :] * torch.log1p(total)[:, None]
    torch.testing.assert_close(with_ctl.log_counts - base.log_counts, expected_counts, rtol=1e-5, atol=1e-5)
    # omitted control means zeros
    torch.testing.assert_close(model(X).profile_logits, base.profile_logits)
    # control positions outside the window the model reads change nothing
    ctl2 = ctl.clone()
    ctl2[:, :, :offset] += 100.0
    ctl2[:, :, offset + tower_len:] += 100.0
    torch.testing.assert_close(model(X, ctl2).profile_logits, with_ctl.profile_logits)
    torch.testing.assert_close(model(X, ctl2).log_counts, with_ctl.log_counts)


def test_receptive_field_by_perturbation():
    cfg = _small(input_length=80)
    model = ProfileModel(cfg).eval()
    X = _onehot(1, 80, seed=5)
    base = model(X).profile_logits[0, 0, 0]
    changed = []
    for pos in range(80):
        Y = X.clone()
        Y[0, :, pos] = Y[0, :, pos].roll(1)
        changed.append(bool((model(Y).profile_logits[0, 0, 0] - base).abs() > 1e-7))
    first, last = changed.index(True), 79 - changed[::-1].index(True)
    assert first == 0
    assert last - first + 1 == receptive_field(cfg)


def test_seed_determinism_and_config_roundtrip():
    cfg = _small()
    a, b = ProfileModel(cfg), ProfileModel(ProfileConfig.from_dict(cfg.to_dict()))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    c = ProfileModel(_small(seed=4))
    assert not torch.equal(a.first_conv.weight, c.first_conv.weight)


def test_bad_inputs_are_reported():
    model = ProfileModel(_small(input_length=60))
    with pytest.raises(InputError, match="too short"):
        model(_onehot(1, 20))
    with pytest.raises(InputError, match="no control tracks"):
        model(_onehot(1, 60), torch.zeros(1, 1, 60))
    with pytest.raises(InputError, match=r"\(N, 4, L\)"):
        model(torch.zeros(1, 5, 60))
    ctl_model = ProfileModel(_small(input_length=60, n_control_tracks=2))
    with pytest.raises(InputError, match="X_ctl"):
        ctl_model(_onehot(1, 60), torch.zeros(1, 2, 59))
    with pytest.raises(InputError, match="dilations"):
        ProfileConfig.from_dict({"n_layers": 2, "dilations": [1, 2, 4]})
    with pytest.raises(InputError, match="did you mean 'n_filters'"):
        ProfileConfig.from_dict({"n_filter": 2})
    with pytest.raises(InputError, match="trimming"):
        ProfileConfig.from_dict({"input_length": 500})
