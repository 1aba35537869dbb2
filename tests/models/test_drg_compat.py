"""Import of original-DRG checkpoints: fixtures written by DRG itself, the .dat parser, option errors, safety."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from drg.errors import InputError
from drg.models.drg_compat import (
    drg_params_to_config,
    load_drg,
    read_drg_params,
    read_drg_state_dict,
)

STEMS = {"singleinput": 3, "rcmean": 4, "multihead": [3, 2]}


def _fixture(shared, stem: str) -> tuple[Path, Path, np.lib.npyio.NpzFile]:
    folder = shared("drg_compat/README.md").parent
    dat = next(folder.glob(f"{stem}_*_model_params.dat"), None)
    pth = next(folder.glob(f"{stem}_*_parameter.pth"), None)
    if dat is None or pth is None:
        pytest.skip(f"DRG fixture {stem} not available")
    return dat, pth, np.load(shared(f"drg_compat/{stem}_io.npz"))


def _predict(model: torch.nn.Module, X: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        out = model(X)
    if isinstance(out, (list, tuple)):
        out = torch.cat(list(out), dim=1)
    return out.numpy()


def _write_dat(path: Path, options: dict) -> Path:
    """Write options the way the original code does: ``key : str(value)`` per line."""
    path.write_text("".join(f"{key} : {value}\n" for key, value in options.items()))
    return path


# ---------------------------------------------------------------------------------------------------------
# An independent functional re-implementation of DRG's forward pass, reading the original tensor names.
# It is checked against DRG's own predictions below and then serves as the oracle for option combinations
# that no fixture covers.
# ---------------------------------------------------------------------------------------------------------
_ACT = {"GELU": F.gelu, "ReLU": F.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh,
        "EXP": lambda x: torch.exp(torch.clamp(x, max=32 * math.log(2.0)))}
_OUT = {"Linear": lambda x: x, "Class": torch.sigmoid}


def _ref_pool(x, kind, k, zero_pad=False):
    length = x.shape[-1]
    pad = math.ceil((k - length % k) / 2) if length % k else 0
    if kind == "max":
        if zero_pad:
            return F.max_pool1d(F.pad(x, (pad, pad)), k, k)
        return F.max_pool1d(x, k, k, pad)
    if kind == "mean":
        return F.avg_pool1d(x, k, k, pad, count_include_pad=False)
    x = F.pad(x, (pad, pad), value=float(x.min())) if pad else x
    n = x.shape[-1] // k
    windows = x[..., : n * k].reshape(*x.shape[:-1], n, k)
    return (windows * windows.softmax(-1)).sum(-1)


def _ref_bn(x, sd, prefix):
    return F.batch_norm(x, sd[prefix + "running_mean"], sd[prefix + "running_var"], sd[prefix + "weight"],
                        sd[prefix + "bias"], False, 0.0, 1e-5)


def _ref_tower(x, p, sd, prefix, n_layers, kernel, dilations, residual_every, pool_every, pool):
    res, pending = x, []
    for n in range(n_layers):
        if p.get("conv_batch_norm"):
            x = _ref_bn(x, sd, f"{prefix}.convlayers.Bnorm{n}.")
        x = _ACT[p["net_function"]](x)
        e = dilations[n] * (kernel - 1) + 1
        x = F.conv1d(F.pad(x, (e // 2 - (e % 2 == 0), e // 2)), sd[f"{prefix}.convlayers.Conv{n}.conv1d.weight"],
                     sd.get(f"{prefix}.convlayers.Conv{n}.conv1d.bias"), dilation=dilations[n])
        if residual_every and (n + 1) % residual_every == 0:
            r = res
            proj = sd.get(f"{prefix}.convlayers.ResiduallayerConv{n}.rconv.conv.weight")
            if proj is not None:
                r = F.conv1d(r, proj)
            for kind, k in pending:
                r = _ref_pool(r, kind, k, zero_pad=True)
            res, x, pending = x, x + r, []
        if pool is not None and (n + 1) % pool_every == 0:
            x = _ref_pool(x, *pool)
            pending.append(pool)
    return x


def _ref_fc(x, p, sd, prefix, n_layers):
    if prefix + "EmbeddtoFully.weight" in sd:
        x = F.linear(x, sd[prefix + "EmbeddtoFully.weight"], sd[prefix + "EmbeddtoFully.bias"])
    for j in range(n_layers):
        if p.get("fc_batch_norm"):
            x = _ref_bn(x, sd, f"{prefix}Bnorm_fullyconnected{j}.")
        x = _ACT[p["fc_function"]](F.linear(x, sd[f"{prefix}Fullyconnected{j}.weight"],
                                            sd[f"{prefix}Fullyconnected{j}.bias"]))
    return x


def _ref_head(x, p, sd, prefix):
    if p.get("fc_batch_norm"):
        x = _ref_bn(x, sd, prefix + "ClassBnorm.")
    return F.linear(x, sd[prefix + "Linear.weight"], sd[prefix + "Linear.bias"])


def drg_reference(p: dict, sd: dict, X: torch.Tensor) -> torch.Tensor:
    """DRG's ``cnn.forward`` (eval mode) for the options the fixtures and the published models use."""
    k = p["l_kernels"]
    padding = (k // 2 - (k % 2 == 0), k // 2)
    w, b = sd["convolutions.conv1d.weight"], sd.get("convolutions.conv1d.bias")
    x = F.conv1d(F.pad(X, padding), w, b)
    if p["reverse_complement"]:
        xr = F.conv1d(F.pad(torch.flip(X, [1, 2]), padding), w, b).flip(-1)
        both = torch.stack([x, xr])
        x = {"max": both.amax(0), "mean": both.mean(0), "weighted": (both * both.softmax(0)).sum(0)}[
            p["complement_pool"]]
    x = _ACT[p["kernel_function"]](x)
    kinds = [kind for kind in ("max", "mean", "weighted") if p[f"{kind}_pooling"]]
    if kinds[:2] == ["max", "mean"]:
        x = torch.cat([_ref_pool(x, "mean", p["pooling_size"]), _ref_pool(x, "max", p["pooling_size"])], dim=1)
    elif kinds:
        x = _ref_pool(x, kinds[0], p["pooling_size"])
    if p["dilated_convolutions"]:
        n = p["dilated_convolutions"]
        dil = p["dilations"] if isinstance(p["dilations"], list) else [p["dilations"]] * n
        size = max(p["dilmax_pooling"], p["dilmean_pooling"], p["dilweighted_pooling"])
        kind = "max" if p["dilmax_pooling"] else "mean" if p["dilmean_pooling"] else "weighted"
        x = _ref_tower(x, p, sd, "convolution_layers", n, p["l_dilkernels"], dil, p["dilpooling_residual"],
                       p["dilpooling_steps"], (kind, size) if size else None)
    if p.get("transformer_convolutions"):
        n = p["transformer_convolutions"]
        size = max(p["trmax_pooling"], p["trmean_pooling"], p["trweighted_pooling"])
        kind = "max" if p["trmax_pooling"] else "mean" if p["trmean_pooling"] else "weighted"
        x = _ref_tower(x, p, sd, "trconvolution_layers", n, p["l_trkernels"], [p["trdilations"]] * n,
                       p["trpooling_residual"], p["trpooling_steps"], (kind, size) if size else None)
    x = x.flatten(1)
    out = _OUT[p.get("outclass", "Linear")]
    if isinstance(p["nfc_layers"], list):
        return torch.cat([out(_ref_head(_ref_fc(x, p, sd, f"nfcs.{i}.nfcs.", n), p, sd, f"classifier.{i}.classifier."))
                          for i, n in enumerate(p["nfc_layers"])], dim=1)
    x = _ref_fc(x, p, sd, "nfcs.nfcs.", p["nfc_layers"])
    if isinstance(p["n_classes"], list):
        return torch.cat([out(_ref_head(x, p, sd, f"classifier.{i}.classifier."))
                          for i in range(len(p["n_classes"]))], dim=1)
    return out(_ref_head(x, p, sd, "classifier.classifier."))


# ---------------------------------------------------------------------------------------------------------
# DRG's own predictions
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stem", sorted(STEMS))
def test_fixture_predictions_match_drg(shared, stem):
    dat, pth, io = _fixture(shared, stem)
    model = load_drg(dat, pth)
    assert not model.training
    X = torch.from_numpy(io["seqfeatures"].transpose(0, 2, 1).astype(np.float32))
    with torch.no_grad():
        raw = model(X)
    expected = STEMS[stem]
    if isinstance(expected, list):
        assert isinstance(raw, (list, tuple)) and [tuple(t.shape) for t in raw] == [(16, n) for n in expected]
    else:
        assert isinstance(raw, torch.Tensor) and tuple(raw.shape) == (16, expected)
    ref = io["predictions"]
    np.testing.assert_allclose(_predict(model, X), ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    # the oracle used below for uncovered options reproduces DRG too
    params = read_drg_params(dat)
    state = torch.load(pth, weights_only=True)
    np.testing.assert_allclose(drg_reference(params, state, X).numpy(), ref, rtol=1e-5,
                               atol=1e-5 * np.abs(ref).max())


def test_fixture_config_mirrors_options(shared):
    dat, _, _ = _fixture(shared, "rcmean")
    config = drg_params_to_config(dat)
    assert config.input_length == 200
    assert config.first_layer.reverse_complement and config.first_layer.strand_pool == "mean"
    assert config.first_layer.pooling.mode == "softmax" and config.first_layer.pooling.size == 4
    assert config.tower.dilations == [1, 2, 4] and config.tower.pool_every == 2 and config.tower.batch_norm
    assert config.tower.residual_from == "conv" and config.tower.bias is False
    assert config.heads[0].fc_size == 32 and config.heads[0].fc_layers == 2 and config.heads[0].n_outputs == 4


def test_saved_checkpoint_reloads_with_identical_predictions(shared, tmp_path):
    from drg.models import load_model

    dat, pth, io = _fixture(shared, "multihead")
    model = load_drg(dat, pth)
    X = torch.from_numpy(io["seqfeatures"].transpose(0, 2, 1).astype(np.float32))

    from typer.testing import CliRunner

    from drg.cli.main import app

    result = CliRunner().invoke(app, ["model", "import-drg", str(dat), str(pth), "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "config.yaml").exists() and (tmp_path / "m" / "run.json").exists()
    reloaded = load_model(tmp_path / "m")
    reloaded.eval()
    np.testing.assert_array_equal(_predict(reloaded, X), _predict(model, X))


def test_mismatched_weight_file_is_reported(shared):
    dat, _, _ = _fixture(shared, "singleinput")
    _, other, _ = _fixture(shared, "rcmean")
    with pytest.raises(InputError, match="do not match the model options|has shape"):
        load_drg(dat, other)


# ---------------------------------------------------------------------------------------------------------
# the .dat parser
# ---------------------------------------------------------------------------------------------------------
def test_read_drg_params_types(tmp_path):
    text = (
        "training : True\n"
        "_parameters : {}\n"
        "_non_persistent_buffers_set : set()\n"
        "_forward_hooks : OrderedDict()\n"
        "seed : 101010\n"
        "lr : 1e-05\n"
        "layer_widening : np.float64(1.1)\n"
        "validation_loss : None\n"
        "n_classes : [3, 2]\n"
        "dilations : [ 1  2  4  8 16]\n"
        "kernel_function : GELU\n"
        "optim_params : (0.9, 0.999)\n"
        "\n"
        "trdilations : [ 1  2  4  8 16 32  1  2  4  8 16 32  1  2\n"
        "  4  8]\n"
        "outname : run_MSEk24l7TfGELUmax5_dc2\n"
    )
    path = tmp_path / "a_model_params.dat"
    path.write_text(text)
    params = read_drg_params(path)
    assert params["training"] is True and params["validation_loss"] is None
    assert params["_parameters"] == {} and params["_non_persistent_buffers_set"] == set()
    assert params["_forward_hooks"] == {}
    assert params["seed"] == 101010 and isinstance(params["seed"], int)
    assert params["lr"] == 1e-05 and params["layer_widening"] == 1.1
    assert params["n_classes"] == [3, 2] and params["dilations"] == [1, 2, 4, 8, 16]
    assert params["kernel_function"] == "GELU" and params["optim_params"] == (0.9, 0.999)
    assert params["trdilations"] == [1, 2, 4, 8, 16, 32, 1, 2, 4, 8, 16, 32, 1, 2, 4, 8]
    assert params["outname"] == "run_MSEk24l7TfGELUmax5_dc2"
    assert list(params)[-1] == "outname"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("seed : 1\nlr : 0.1\nthis line has no separator\n", 3, "expected 'key : value'"),
        ("seed : 1\n\nseed : 2\n", 3, "appears twice"),
        ("seed : 1\ndilations : [1 2\n4 8\n", 2, "never closed"),
        (" : 5\n", 1, "empty option name"),
    ],
)
def test_read_drg_params_errors_name_the_line(tmp_path, text, line, what):
    path = tmp_path / "bad_model_params.dat"
    path.write_text(text)
    with pytest.raises(InputError, match=what) as info:
        read_drg_params(path)
    assert info.value.line == line and f"line {line}" in str(info.value)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------------------
# options we do not reproduce
# ---------------------------------------------------------------------------------------------------------
_BASE = {"n_features": 4, "l_seqs": 100, "n_classes": 2, "num_kernels": 8, "l_kernels": 5, "max_pooling": True,
         "pooling_size": 5, "pooling_steps": 5, "nfc_layers": 1, "fclayer_size": 16}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("n_attention", 2),
        ("n_transformer", 1),
        ("gapped_convs", [[5, 10, 8, 1]]),
        ("nlconv", True),
        ("fixed_kernels", 12),
        ("kernel_function", "Sin"),
        ("outclass", "Complex"),
        ("interaction_layer", True),
        ("nfc_residuals", 1),
        ("pooling_steps", 3),
        ("n_features", 5),
    ],
)
def test_unmapped_option_is_named(tmp_path, option, value):
    dat = _write_dat(tmp_path / "x_model_params.dat", {**_BASE, option: value})
    with pytest.raises(InputError) as info:
        drg_params_to_config(dat)
    assert option in str(info.value) and repr(value) in str(info.value)


def test_tower_stride_and_multi_input_are_refused():
    with pytest.raises(InputError, match=r"strides = \[2, 1\]"):
        drg_params_to_config({**_BASE, "dilated_convolutions": 2, "strides": [2, 1]})
    with pytest.raises(InputError, match="l_seqs"):
        drg_params_to_config({**_BASE, "l_seqs": [100, 200]})


# ---------------------------------------------------------------------------------------------------------
# loading never runs pickled code
# ---------------------------------------------------------------------------------------------------------
class _Payload:
    """Unpickling this object would create a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_code_is_refused(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil_parameter.pth"
    torch.save({"convolutions.conv1d.weight": torch.zeros(2, 4, 3), "extra": _Payload(marker)}, path)
    with pytest.raises(InputError, match="refusing to load"):
        read_drg_state_dict(path)
    assert not marker.exists()
    # the same file unpickled without protection would have run the code: the test's payload is real
    with open(path, "rb") as handle:
        torch.load(handle, weights_only=False)
    assert marker.exists()


def test_non_state_dict_files_are_reported(tmp_path):
    bad = tmp_path / "notes_parameter.pth"
    bad.write_text("not a torch file")
    with pytest.raises(InputError, match="not a readable torch state_dict"):
        read_drg_state_dict(bad)
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    with pytest.raises(InputError, match="expected a state_dict"):
        read_drg_state_dict(tmp_path / "list.pth")


# ---------------------------------------------------------------------------------------------------------
# the published Calderon et al. (2019) ATAC model's options, beyond the fixtures
# ---------------------------------------------------------------------------------------------------------
# No DRG-written checkpoint with these options is available here, so the expected numbers come from the
# functional oracle above (validated on DRG's own fixtures) and the shapes from hand arithmetic.
CALDERON = {
    "n_features": 4, "reverse_complement": True, "complement_pool": "max", "l_seqs": 401, "n_classes": 45,
    "num_kernels": 256, "l_kernels": 15, "kernel_bias": False, "kernel_function": "GELU", "net_function": "GELU",
    "max_pooling": False, "mean_pooling": False, "weighted_pooling": False, "pooling_size": None,
    "pooling_steps": None, "dilated_convolutions": 5, "strides": 1, "dilations": "[ 1  2  4  8 16]",
    "conv_increase": 1.0, "dilpooling_residual": 1, "dilpooling_steps": 1, "l_dilkernels": 7,
    "dilmax_pooling": 0, "dilmean_pooling": 0, "dilweighted_pooling": 0, "transformer_convolutions": 4,
    "trpooling_residual": 1, "trpooling_steps": 1, "trstrides": 1, "trdilations": 1, "trconv_dim": None,
    "l_trkernels": 7, "trmax_pooling": 0, "trmean_pooling": 0, "trweighted_pooling": 3, "fclayer_size": 512,
    "nfc_layers": 3, "nfc_residuals": 0, "fc_function": "GELU", "layer_widening": 1.1, "batch_norm": False,
    "conv_batch_norm": True, "fc_batch_norm": False, "dropout": 0.0, "conv_dropout": 0.0, "fc_dropout": 0.1,
    "outclass": "Linear", "loss_function": "Correlationmse", "lr": 1e-05, "optimizer": "SGD",
}


def _calderon_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A DRG-named state_dict with the shapes the original code gives the Calderon options."""
    g = torch.Generator().manual_seed(seed)

    def w(*shape):
        fan_in = int(np.prod(shape[1:]))
        return torch.randn(*shape, generator=g) * 1.5 / math.sqrt(fan_in)

    def bn(prefix, c):
        return {prefix + "weight": 1 + 0.1 * torch.randn(c, generator=g),
                prefix + "bias": 0.1 * torch.randn(c, generator=g),
                prefix + "running_mean": 0.1 * torch.randn(c, generator=g),
                prefix + "running_var": 0.5 + torch.rand(c, generator=g),
                prefix + "num_batches_tracked": torch.tensor(100)}

    sd = {"convolutions.conv1d.weight": w(256, 4, 15)}
    for n in range(5):
        sd |= bn(f"convolution_layers.convlayers.Bnorm{n}.", 256)
        sd[f"convolution_layers.convlayers.Conv{n}.conv1d.weight"] = w(256, 256, 7)
    for n in range(4):
        sd |= bn(f"trconvolution_layers.convlayers.Bnorm{n}.", 256)
        sd[f"trconvolution_layers.convlayers.Conv{n}.conv1d.weight"] = w(256, 256, 7)
        sd[f"trconvolution_layers.convlayers.Conv{n}.conv1d.bias"] = 0.1 * torch.randn(256, generator=g)
    # 401 -> 134 -> 45 -> 15 -> 5 positions after four weighted poolings of 3; 256 * 5 = 1280 features
    widths = [(512, 1280, "EmbeddtoFully"), (563, 512, "Fullyconnected0"), (563, 563, "Fullyconnected1"),
              (512, 563, "Fullyconnected2")]
    for out, inp, name in widths:
        sd[f"nfcs.nfcs.{name}.weight"] = w(out, inp)
        sd[f"nfcs.nfcs.{name}.bias"] = 0.1 * torch.randn(out, generator=g)
    sd["classifier.classifier.Linear.weight"] = w(45, 512)
    sd["classifier.classifier.Linear.bias"] = 0.1 * torch.randn(45, generator=g)
    return sd


def test_calderon_options_import(tmp_path):
    dat = _write_dat(tmp_path / "calderon_model_params.dat", CALDERON)
    state = _calderon_state()
    pth = tmp_path / "calderon_parameter.pth"
    torch.save(state, pth)
    model = load_drg(dat, pth)
    config = model.config
    assert config.first_layer.bias is False and config.first_layer.strand_pool == "max"
    assert config.first_layer.pooling is None
    assert config.tower.dilations == [1, 2, 4, 8, 16] and config.tower.pooling is None
    pooled = config.pooled_tower
    assert pooled.n_layers == 4 and pooled.bias is True and pooled.pooling.mode == "softmax"
    assert pooled.pooling.size == 3 and pooled.pooling.softmax_padding == "batch_min"
    assert config.heads[0].dropout == 0.1 and config.heads[0].fc_layers == 3 and config.heads[0].fc_size == 512
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    n_drg = sum(v.numel() for k, v in state.items() if not k.endswith(buffers))
    assert sum(p.numel() for p in model.parameters()) == n_drg
    params = read_drg_params(dat)
    X = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 401), generator=torch.Generator().manual_seed(1)),
                                    4).transpose(1, 2).float()
    ours = _predict(model, X)
    assert ours.shape == (3, 45)
    ref = drg_reference(params, state, X).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    # eval mode: dropout is off, so predictions are repeatable
    np.testing.assert_array_equal(_predict(model, X), ours)


# A small model combining the remaining mapped options: even kernel with softmax-weighted strand pooling, no
# kernel bias, EXP activation, max+mean pooling, channel growth (1x1 shortcut projection), a residual every
# two layers whose shortcut max-pools with zero padding, fully connected batch norm, one shared FC tower
# feeding two sigmoid heads.
MIXED = {
    "n_features": 4, "l_seqs": 50, "n_classes": [2, 3], "reverse_complement": True, "complement_pool": "weighted",
    "num_kernels": 6, "l_kernels": 4, "kernel_bias": False, "kernel_function": "EXP", "net_function": "ReLU",
    "max_pooling": True, "mean_pooling": True, "weighted_pooling": False, "pooling_size": 3, "pooling_steps": 3,
    "dilated_convolutions": 3, "dilations": [1, 2, 3], "conv_increase": 1.5, "l_dilkernels": 3,
    "dilmax_pooling": 2, "dilmean_pooling": 0, "dilweighted_pooling": 0, "dilpooling_steps": 1,
    "dilpooling_residual": 2, "fclayer_size": None, "nfc_layers": 1, "fc_function": "Tanh",
    "fc_batch_norm": True, "conv_batch_norm": False, "outclass": "Class",
}


def _mixed_state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)

    def w(*shape):
        return torch.randn(*shape, generator=g) * 1.5 / math.sqrt(int(np.prod(shape[1:])))

    def bn(prefix, c):
        return {prefix + "weight": 1 + 0.1 * torch.randn(c, generator=g), prefix + "bias": 0.1 * torch.randn(c, generator=g),
                prefix + "running_mean": 0.1 * torch.randn(c, generator=g),
                prefix + "running_var": 0.5 + torch.rand(c, generator=g), prefix + "num_batches_tracked": torch.tensor(7)}

    # channels 6 -> 12 (max+mean) -> 18 -> 27 -> 40; length 50 -> 17 -> 9 -> 5 -> 3; 40 * 3 = 120 features
    sd = {"convolutions.conv1d.weight": w(6, 4, 4),
          "convolution_layers.convlayers.Conv0.conv1d.weight": w(18, 12, 3),
          "convolution_layers.convlayers.Conv1.conv1d.weight": w(27, 18, 3),
          "convolution_layers.convlayers.ResiduallayerConv1.rconv.conv.weight": w(27, 12, 1),
          "convolution_layers.convlayers.Conv2.conv1d.weight": w(40, 27, 3),
          "nfcs.nfcs.Fullyconnected0.weight": w(120, 120), "nfcs.nfcs.Fullyconnected0.bias": w(120, 1)[:, 0]}
    sd |= bn("nfcs.nfcs.Bnorm_fullyconnected0.", 120)
    for i, n in enumerate([2, 3]):
        sd |= bn(f"classifier.{i}.classifier.ClassBnorm.", 120)
        sd[f"classifier.{i}.classifier.Linear.weight"] = w(n, 120)
        sd[f"classifier.{i}.classifier.Linear.bias"] = w(n, 1)[:, 0]
    return sd


def test_mixed_options_import(tmp_path):
    dat = _write_dat(tmp_path / "mixed_model_params.dat", MIXED)
    state = _mixed_state()
    torch.save(state, tmp_path / "mixed_parameter.pth")
    model = load_drg(dat, tmp_path / "mixed_parameter.pth")
    config = model.config
    assert config.first_layer.strand_pool == "softmax" and config.first_layer.pooling.mode == "mean_max"
    assert config.tower.channels == [18, 27, 40] and config.shared_fc is not None and len(config.heads) == 2
    X = torch.nn.functional.one_hot(torch.randint(0, 4, (5, 50), generator=torch.Generator().manual_seed(2)),
                                    4).transpose(1, 2).float()
    ours = _predict(model, X)
    assert ours.shape == (5, 5) and np.all((ours > 0) & (ours < 1))
    ref = drg_reference(read_drg_params(dat), state, X).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_padded_max_poolings_between_residual_points_are_refused():
    with pytest.raises(InputError, match="dilpooling_residual = 3"):
        drg_params_to_config({**MIXED, "dilpooling_residual": 3})
