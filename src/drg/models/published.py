"""Named published architectures, each built from a config.

>>> from drg.models import zoo, zoo_names
>>> zoo_names()                                                    # doctest: +SKIP
>>> model = zoo("basset", seed=1)                                  # doctest: +SKIP

Every entry is a function returning the model's config (``zoo_config(name)``): a
:class:`~drg.models._zoo_sequential.SequentialConfig` (explicit layer list, ``kind: sequential``) for the
classic published networks, a :class:`~drg.models.profile.ProfileConfig` for BPNet, and a
:class:`~drg.models.config.ModelConfig` for DRG's own published model. The docstring of each entry cites the
paper and gives the parameter count, which the tests check against the built module.

Overrides: keywords an entry understands (listed in its docstring, e.g. ``n_outputs``, ``activation``,
``output_activation``) change the architecture; any other keyword replaces a top-level field of the
resulting config (``seed``, ``output_names``, ``n_tracks``...). Unknown keywords raise
:class:`~drg.errors.InputError` naming the valid ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from drg.config import Config
from drg.errors import InputError

__all__ = ["ZOO_PARAMETERS", "load_beluga_state_dict", "zoo", "zoo_config", "zoo_names"]


def _conv(c: int, k: int, *, padding: Any = "valid", bias: bool = True) -> dict:
    return {"type": "conv", "out_channels": c, "kernel_size": k, "padding": padding, "bias": bias}


def _pool(size: int, *, mode: str = "max", padding: int = 0) -> dict:
    return {"type": "pool", "mode": mode, "size": size, "padding": padding}


def _act(name: str) -> dict:
    return {"type": "activation", "name": name}


def _drop(p: float) -> dict:
    return {"type": "dropout", "p": p}


def _bn(**kw: float) -> dict:
    return {"type": "batch_norm", **kw}


def _linear(n: int, *, bias: bool = True) -> dict:
    return {"type": "linear", "out_features": n, "bias": bias}


_FLATTEN = {"type": "flatten"}


def _output(name: str) -> list[dict]:
    return [] if name in ("linear", "none") else [_act(name)]


def _sequential(input_length: int, layers: list[dict]) -> Config:
    from drg.models._zoo_sequential import SequentialConfig

    return SequentialConfig.from_dict({"kind": "sequential", "input_length": input_length, "layers": layers})


# ----------------------------------------------------------------------------------------------- entries
def deepsea_beluga(n_outputs: int = 2002, output_activation: str = "sigmoid") -> Config:
    """DeepSEA "Beluga" (Zhou et al. 2018, Nat. Genet. 50:1171, ExPecto; Zhou et al. 2019 variant model).

    2000 bp -> 2002 chromatin profiles (sigmoid probabilities; ``output_activation="linear"`` gives the
    logits, as TISM's copy of the class does). Layers: 2 x [conv 320 x 8 valid, ReLU], dropout 0.2,
    max-pool 4; 2 x [conv 480 x 8, ReLU], dropout 0.2, max-pool 4; 2 x [conv 640 x 8, ReLU], dropout 0.5;
    flatten (640 x 106 = 67840); linear 2003, ReLU; linear 2002. Parameters: 149,536,251 (9,638,720 convolutional,
    135,887,523 + 4,012,008 dense: the tensor shapes of the published ``deepsea.beluga.pth``); load that file with :func:`load_beluga_state_dict`.
    """
    layers = [_conv(320, 8), _act("relu"), _conv(320, 8), _act("relu"), _drop(0.2), _pool(4),
              _conv(480, 8), _act("relu"), _conv(480, 8), _act("relu"), _drop(0.2), _pool(4),
              _conv(640, 8), _act("relu"), _conv(640, 8), _act("relu"), _drop(0.5),
              _FLATTEN, _linear(2003), _act("relu"), _linear(n_outputs), *_output(output_activation)]
    return _sequential(2000, layers)


def basset(n_outputs: int = 164, output_activation: str = "sigmoid") -> Config:
    """Basset (Kelley, Snoek & Rinn 2016, Genome Res. 26:990), as converted to PyTorch by Kipoi.

    600 bp -> 164 DNase-seq cell types. conv 300 x 19, BN, ReLU, max-pool 3; conv 200 x 11, BN, ReLU,
    max-pool 4; conv 200 x 7, BN, ReLU, max-pool 4 (unpadded: 600 -> 194 -> 46 -> 10); flatten (2000);
    2 x [linear 1000, BN, ReLU, dropout 0.3]; linear 164, sigmoid. Parameters: 4,135,064 (4,129,664 in
    convolutions and dense layers plus 5,400 batch-norm scales and shifts).
    """
    layers = [_conv(300, 19), _bn(), _act("relu"), _pool(3),
              _conv(200, 11), _bn(), _act("relu"), _pool(4),
              _conv(200, 7), _bn(), _act("relu"), _pool(4), _FLATTEN,
              _linear(1000), _bn(), _act("relu"), _drop(0.3),
              _linear(1000), _bn(), _act("relu"), _drop(0.3),
              _linear(n_outputs), *_output(output_activation)]
    return _sequential(600, layers)


def aitac(n_outputs: int = 81, output_activation: str = "linear") -> Config:
    """AI-TAC (Maslova et al. 2020, PNAS 117:25655): mouse immune ATAC-seq, 251 bp -> 81 cell types.

    conv 300 x 19 (zero padding 9), ReLU, max-pool 3 (padding 1), BN; conv 200 x 11 (padding 5), ReLU,
    max-pool 4 (padding 1), BN; conv 200 x 7 (padding 3), ReLU, max-pool 4 (padding 1), BN
    (251 -> 84 -> 21 -> 5); flatten (1000); 2 x [linear 1000, ReLU, dropout 0.03]; linear 81.
    Parameters: 3,047,981.
    """
    layers = [_conv(300, 19, padding=9), _act("relu"), _pool(3, padding=1), _bn(),
              _conv(200, 11, padding=5), _act("relu"), _pool(4, padding=1), _bn(),
              _conv(200, 7, padding=3), _act("relu"), _pool(4, padding=1), _bn(), _FLATTEN,
              _linear(1000), _act("relu"), _drop(0.03),
              _linear(1000), _act("relu"), _drop(0.03),
              _linear(n_outputs), *_output(output_activation)]
    return _sequential(251, layers)


def tism_baseline(n_outputs: int = 81, input_length: int = 251) -> Config:
    """Baseline CNN of TISM (Sasse, Chikina & Mostafavi 2023, bioRxiv 2023.11.10.566588), trained on AI-TAC data.

    251 bp -> 81 cell types. conv 200 x 15 without bias (zero padding 10), GELU; 3 x [conv 200 x 7 without
    bias (padding 4), GELU, mean-pool 3] (257 -> 86 -> 29 -> 10); flatten (2000); 3 x [linear 2000, GELU];
    linear 81. Parameters: 13,020,081.
    """
    layers = [_conv(200, 15, padding=10, bias=False), _act("gelu")]
    for _ in range(3):
        layers += [_conv(200, 7, padding=4, bias=False), _act("gelu"), _pool(3, mode="mean")]
    layers.append(_FLATTEN)
    from drg.models._zoo_sequential import SequentialConfig, layer_shapes

    probe = SequentialConfig.from_dict({"input_length": input_length, "layers": [*layers, _linear(1)]})
    width = layer_shapes(probe)[-2][0]
    for _ in range(3):
        layers += [_linear(width), _act("gelu")]
    layers.append(_linear(n_outputs))
    return _sequential(input_length, layers)


def cnn_shallow(activation: str = "relu", n_outputs: int = 12) -> Config:
    """CNN-shallow of Koo & Ploenzke 2021 (Nat. Mach. Intell. 3:258), synthetic benchmark: 200 bp -> 12 TFs.

    conv 32 x 19 (same, no bias), BN, ``activation`` (``relu`` or ``exponential``), dropout 0.1,
    max-pool 25; conv 124 x 5 (same, no bias), BN, ReLU, dropout 0.1, max-pool 4; flatten (248); linear 512
    (no bias), BN, ReLU, dropout 0.5; linear 12, sigmoid. Batch norm uses Keras' eps 1e-3 / momentum 0.99.
    Parameters: 156,740 trainable (Keras also counts the 1,336 running statistics: 158,076).
    """
    bn = {"eps": 1e-3, "momentum": 0.01}
    layers = [_conv(32, 19, padding="same", bias=False), _bn(**bn), _act(activation), _drop(0.1), _pool(25),
              _conv(124, 5, padding="same", bias=False), _bn(**bn), _act("relu"), _drop(0.1), _pool(4), _FLATTEN,
              _linear(512, bias=False), _bn(**bn), _act("relu"), _drop(0.5),
              _linear(n_outputs), _act("sigmoid")]
    return _sequential(200, layers)


def cnn_deep(activation: str = "relu", n_outputs: int = 12) -> Config:
    """CNN-deep of Koo & Ploenzke 2021 (Nat. Mach. Intell. 3:258), synthetic benchmark: 200 bp -> 12 TFs.

    conv 32 x 19 (same, no bias), BN, ``activation``, dropout 0.1; conv 48 x 7 (same), BN, ReLU, dropout 0.2,
    max-pool 4; conv 96 x 7 (valid), BN, ReLU, dropout 0.3, max-pool 4; conv 128 x 3 (valid), BN, ReLU,
    dropout 0.4, max-pool 3 (200 -> 50 -> 11 -> 3); flatten (384); linear 512 (no bias), BN, ReLU,
    dropout 0.5; linear 12, sigmoid. Parameters: 286,700 trainable (Keras total with running statistics:
    287,964).
    """
    bn = {"eps": 1e-3, "momentum": 0.01}
    layers = [_conv(32, 19, padding="same", bias=False), _bn(**bn), _act(activation), _drop(0.1),
              _conv(48, 7, padding="same", bias=False), _bn(**bn), _act("relu"), _drop(0.2), _pool(4),
              _conv(96, 7, bias=False), _bn(**bn), _act("relu"), _drop(0.3), _pool(4),
              _conv(128, 3, bias=False), _bn(**bn), _act("relu"), _drop(0.4), _pool(3), _FLATTEN,
              _linear(512, bias=False), _bn(**bn), _act("relu"), _drop(0.5),
              _linear(n_outputs), _act("sigmoid")]
    return _sequential(200, layers)


def bpnet() -> Config:
    """BPNet as in bpnet-lite / ChromBPNet (Avsec et al. 2021, Nat. Genet. 53:354; Schreiber's bpnet-lite).

    2114 bp -> 1000 bp profiles of 2 strands with 2 control tracks: conv 64 x 21, 8 residual dilated
    convs 64 x 3 (dilations 2..256), profile conv 75 (valid layout, trimming 1114), one total log count.
    Parameters: 114,224 -- equal to ``bpnetlite.BPNet()`` with its defaults (n_filters 64, n_layers 8,
    n_outputs 2, n_control_tracks 2).
    """
    from drg.models.profile import ProfileConfig

    return ProfileConfig(input_length=2114, n_tracks=2, n_filters=64, first_kernel=21, n_layers=8, kernel_size=3,
                         profile_kernel=75, padding="valid", n_control_tracks=2, count_head="total")


def bpnet_avsec2021() -> Config:
    """The original BPNet layout (Avsec et al. 2021, Nat. Genet. 53:354): 1000 bp -> 1000 bp, 'same' padding.

    conv 64 x 25; 9 residual dilated convs 64 x 3 (dilations 2..512); per-base profile conv 25 and per-track
    log counts for 4 TFs (Oct4, Sox2, Nanog, Klf4) x 2 strands = 8 tracks; no control tracks.
    Parameters: 130,960 (6,464 + 9 x 12,352 + 12,808 + 520).
    """
    from drg.models.profile import ProfileConfig

    return ProfileConfig(input_length=1000, n_tracks=8, n_filters=64, first_kernel=25, n_layers=9, kernel_size=3,
                         profile_kernel=25, padding="same", n_control_tracks=0, count_head="per_track")


CALDERON2019_PARAMS: dict[str, Any] = {
    "n_features": 4, "l_seqs": 401, "n_classes": 45, "reverse_complement": True, "complement_pool": "max",
    "num_kernels": 256, "l_kernels": 15, "kernel_bias": False, "kernel_function": "GELU", "net_function": "GELU",
    "max_pooling": False, "mean_pooling": False, "weighted_pooling": False, "pooling_size": None,
    "dilated_convolutions": 5, "dilations": [1, 2, 4, 8, 16], "strides": 1, "l_dilkernels": 7,
    "conv_increase": 1.0, "dilpooling_residual": 1, "dilpooling_steps": 1, "dilmax_pooling": 0,
    "dilmean_pooling": 0, "dilweighted_pooling": 0, "transformer_convolutions": 4, "trpooling_residual": 1,
    "trpooling_steps": 1, "trdilations": 1, "trstrides": 1, "trconv_dim": None, "l_trkernels": 7,
    "trmax_pooling": 0, "trmean_pooling": 0, "trweighted_pooling": 3, "fclayer_size": 512, "nfc_layers": 3,
    "nfc_residuals": 0, "fc_function": "GELU", "layer_widening": 1.1, "batch_norm": False,
    "conv_batch_norm": True, "attention_batch_norm": False, "fc_batch_norm": False, "dropout": 0.0,
    "conv_dropout": 0.0, "attention_dropout": 0.0, "fc_dropout": 0.1, "outclass": "Linear",
}
"""Architecture options of DRG's published Calderon et al. 2019 ATAC model (zenodo 10463521, model
``ATACcountsonPeak400rcomp-cv10-1_Cormsek256l15FfGELUrcTvlCotasft101_dc5i1d1-2-4-8-16s1l7r1_tc4dNoned1s1r1l7mw3nfc3s512cbnoTfdo0.1tr1e-05SGD0.9bs64-F``),
as written in its ``_model_params.dat``."""


def calderon2019() -> Config:
    """DRG's published ATAC-seq CNN for Calderon et al. 2019 (Nat. Genet. 51:1494) immune cell data.

    401 bp -> 45 immune cell states (the ``l_seqs`` and ``n_classes`` of the published
    ``*_model_params.dat``; the 175 measurements of GSE118189 averaged per cell state). 256 kernels x 15 bp
    without bias, scanning both strands (max over strands), GELU; 5 dilated residual convs 256 x 7 with
    dilations 1, 2, 4, 8, 16 and batch norm; 4 pooled residual convs 256 x 7 with softmax-weighted pooling 3
    (401 -> 134 -> 45 -> 15 -> 5); flatten (1280); projection to 512 and 3 fully connected GELU layers
    (563, 563, 512; dropout 0.1); linear 45. Built through :func:`drg.models.drg_compat.drg_params_to_config`
    from :data:`CALDERON2019_PARAMS`, so it is exactly what :func:`drg.models.load_drg` builds for the
    published checkpoint. Parameters: 5,723,836 (15,360 first layer, 5 x 459,264
    dilated, 4 x 459,520 pooled, 1,550,991 fully connected, 23,085 output).
    """
    from drg.models.drg_compat import drg_params_to_config

    return drg_params_to_config(dict(CALDERON2019_PARAMS))


_ZOO: dict[str, Callable[..., Config]] = {
    "deepsea_beluga": deepsea_beluga,
    "basset": basset,
    "aitac": aitac,
    "tism_baseline": tism_baseline,
    "cnn_shallow": cnn_shallow,
    "cnn_deep": cnn_deep,
    "bpnet": bpnet,
    "bpnet_avsec2021": bpnet_avsec2021,
    "calderon2019": calderon2019,
}

ZOO_PARAMETERS: Mapping[str, int] = {
    "deepsea_beluga": 149_536_251,
    "basset": 4_135_064,
    "aitac": 3_047_981,
    "tism_baseline": 13_020_081,
    "cnn_shallow": 156_740,
    "cnn_deep": 286_700,
    "bpnet": 114_224,
    "bpnet_avsec2021": 130_960,
    "calderon2019": 5_723_836,
}
"""Parameter count of each entry with its default settings (see the entries' docstrings)."""


def zoo_names() -> list[str]:
    """Names accepted by :func:`zoo`, sorted."""
    return sorted(_ZOO)


def zoo_config(name: str, **overrides: Any) -> Config:
    """The config of zoo entry ``name`` with ``overrides`` applied (see the module notes)."""
    if name not in _ZOO:
        import difflib

        close = difflib.get_close_matches(name, list(_ZOO), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"unknown zoo model {name!r}{hint} (available: {', '.join(zoo_names())})")
    entry = _ZOO[name]
    own = set(inspect.signature(entry).parameters)
    config = entry(**{k: v for k, v in overrides.items() if k in own})
    rest = {k: v for k, v in overrides.items() if k not in own}
    if rest:
        fields = set(type(config).model_fields)
        unknown = sorted(set(rest) - fields)
        if unknown:
            valid = ", ".join(sorted(own | fields))
            raise InputError(f"zoo model {name!r} does not take {', '.join(map(repr, unknown))}; valid overrides: "
                             f"{valid}")
        config = type(config).from_dict({**config.to_dict(), **rest})
    return config


def zoo(name: str, **overrides: Any) -> Any:
    """Build the published architecture ``name`` (randomly initialised, seeded by ``seed``).

    Parameters
    ----------
    name
        One of :func:`zoo_names`.
    **overrides
        Entry options (see each entry's docstring) or top-level config fields such as ``seed``.

    Returns
    -------
    torch.nn.Module
        With ``config``, ``output_names`` and ``n_outputs``; ``model(X)`` takes ``X: (N, 4, L)``.
    """
    from drg.models.cnn import build

    return build(zoo_config(name, **overrides))


# ----------------------------------------------------------------------------------------------- Beluga
_BELUGA_KEYS = {"model.0.0": 0, "model.0.2": 2, "model.0.6": 6, "model.0.8": 8, "model.0.12": 12,
                "model.0.14": 14, "model.1.2.1": 18, "model.1.4.1": 20}


def load_beluga_state_dict(model: Any, state_dict: Mapping[str, Any], *, source: str | None = None) -> Any:
    """Copy the weights of an original DeepSEA Beluga state_dict (``deepsea.beluga.pth``) into ``model``.

    The original class (ExPecto / TISM ``Beluga``) stores its convolutions as ``Conv2d`` with kernels
    ``(out, in, 1, 8)`` under ``model.0.{0,2,6,8,12,14}`` and its dense layers under ``model.1.2.1`` and
    ``model.1.4.1``; a leading ``module.`` (from ``DataParallel``) is ignored.

    Parameters
    ----------
    model
        A model built by ``zoo("deepsea_beluga")`` (any ``n_outputs`` matching the file).
    state_dict
        The loaded state_dict (``torch.load(path, weights_only=True)``).
    source
        File name for error messages.

    Returns
    -------
    torch.nn.Module
        ``model``, in eval mode.

    Raises
    ------
    InputError
        When keys are missing or unexpected, or a tensor has the wrong shape (naming the key).
    """
    import torch

    layers = model.layers
    cleaned = {k.removeprefix("module."): v for k, v in state_dict.items()}
    expected = {f"{prefix}.{p}" for prefix in _BELUGA_KEYS for p in ("weight", "bias")}
    missing = sorted(expected - set(cleaned))
    unexpected = sorted(set(cleaned) - expected)
    if missing or unexpected:
        raise InputError(f"not a Beluga state_dict: missing keys {missing[:5]}, unexpected keys {unexpected[:5]}",
                         path=source)
    with torch.no_grad():
        for prefix, index in _BELUGA_KEYS.items():
            for p in ("weight", "bias"):
                value = torch.as_tensor(cleaned[f"{prefix}.{p}"])
                if value.dim() == 4:
                    value = value.squeeze(2)
                target = getattr(layers[index], p)
                if tuple(value.shape) != tuple(target.shape):
                    raise InputError(f"{prefix}.{p} has shape {tuple(value.shape)}, the model expects "
                                     f"{tuple(target.shape)}", path=source, record=f"{prefix}.{p}")
                target.copy_(value.to(target.dtype))
    return model.eval()
