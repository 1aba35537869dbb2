"""Reading original-DRG ``*_model_params.dat`` files and turning them into an architecture plan.

The original code writes one ``key : value`` line per attribute of its model object, the value being Python's
``str()`` of that attribute (``True``, ``None``, ``[3, 2]``, ``1e-05``, ``GELU``, numpy arrays as ``[1 2 4]``,
``OrderedDict()``...). :func:`read_drg_params` parses those lines into typed values; :func:`plan_drg_architecture`
checks every option against what the import can reproduce and computes the layer shapes the weight file must have.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from typing import Any

from drg.errors import InputError
from drg.utils import PathLike, open_text

_SEPARATOR = " : "
_NUMPY_SCALAR = re.compile(r"^np\.(?:float|int|uint|bool_)\w*\((.*)\)$")
_NUMPY_ARRAY_BODY = re.compile(r"^[\s\[\]0-9eE+\-.,]*$")


def _bracket_balance(text: str) -> int:
    return sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}")


def _parse_value(text: str) -> Any:
    """Typed value of one ``str()``-written attribute (strings stay strings)."""
    text = text.strip()
    if text == "":
        return ""
    if text in ("set()", "OrderedDict()", "{}"):
        return {} if text != "set()" else set()
    match = _NUMPY_SCALAR.match(text)
    if match:
        return _parse_value(match.group(1))
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if text.startswith("[") and text.endswith("]") and _NUMPY_ARRAY_BODY.match(text):
        # numpy array repr: whitespace-separated numbers, possibly nested
        try:
            return ast.literal_eval(re.sub(r"(?<=[0-9.\]])\s+(?=[\-0-9.\[])", ", ", text.replace("[ ", "[")))
        except (ValueError, SyntaxError):
            pass
    return text


def read_drg_params(path: PathLike) -> dict[str, Any]:
    """Read an original-DRG ``*_model_params.dat`` file into a dictionary of typed values.

    Every line is ``key : value``; the value is parsed as a Python literal (``True``, ``None``, ``101010``,
    ``1e-05``, ``[3, 2]``), numpy reprs (``[1 2 4]``, ``np.float64(1.1)``) become lists and numbers, empty
    containers (``OrderedDict()``, ``set()``) become empty containers, and anything else (``GELU``, ``MSE``, the
    model name) stays a string. A value whose brackets are still open continues on the following lines (long
    numpy arrays are written wrapped). Blank lines are skipped.

    Parameters
    ----------
    path
        The ``.dat`` file (plain or gzipped text).

    Returns
    -------
    dict
        Option name -> value, in file order.

    Raises
    ------
    InputError
        When a line has no ``" : "`` separator, a key is empty or repeated, or a bracket is never closed; the
        message names the file and the 1-based line.
    """
    params: dict[str, Any] = {}
    pending_key: str | None = None
    pending_text = ""
    pending_line = 0
    with open_text(path) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if pending_key is not None:
                pending_text += " " + line.strip()
                if _bracket_balance(pending_text) <= 0:
                    params[pending_key] = _parse_value(pending_text)
                    pending_key = None
                continue
            if not line.strip():
                continue
            if _SEPARATOR not in line:
                raise InputError(
                    f"expected 'key : value', found {line.strip()[:60]!r}", path=path, line=number
                )
            key, value = line.split(_SEPARATOR, 1)
            key = key.strip()
            if not key:
                raise InputError("empty option name before ' : '", path=path, line=number)
            if key in params:
                raise InputError(f"option {key!r} appears twice", path=path, line=number)
            if value.strip().startswith(("[", "(", "{")) and _bracket_balance(value) > 0:
                pending_key, pending_text, pending_line = key, value, number
                continue
            params[key] = _parse_value(value)
    if pending_key is not None:
        raise InputError(
            f"value of {pending_key!r} opens a bracket that is never closed", path=path, line=pending_line
        )
    return params


# --------------------------------------------------------------------------------------------------------------
# option checking and shape planning
# --------------------------------------------------------------------------------------------------------------

#: Activations DRG names in ``kernel_function`` / ``net_function`` / ``fc_function`` that the import maps.
DRG_ACTIVATIONS: dict[str, str] = {
    "ReLU": "relu",
    "GELU": "gelu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Id0": "none",
    "EXP": "exponential",
}
#: DRG ``outclass`` values the import maps to an output activation.
DRG_OUTCLASSES: dict[str, str] = {
    "Linear": "linear",
    "Id0": "linear",
    "Class": "sigmoid",
    "Sigmoid": "sigmoid",
    "Multi_class": "softmax",
    "ReLU": "relu",
}
#: DRG pooling and strand-pooling names -> ours.
_POOL_NAMES = {"max": "max", "mean": "mean", "weighted": "softmax", "maxmean": "mean_max"}

# Options that change the network but that the import does not reproduce, with the value that means "off".
_MUST_BE_OFF: dict[str, Any] = {
    "nlconv": False,
    "kernel_thresholding": 0,
    "fixed_kernels": None,
    "embedding_convs": 0,
    "n_transformer": 0,
    "n_attention": 0,
    "n_interpolated_conv": 0,
    "n_hyenaconv": 0,
    "gapped_convs": None,
    "interaction_layer": False,
    "neuralnetout": 0,
    "nfc_residuals": 0,
    "dilresidual_entire": False,
    "dilresidual_concat": False,
    "trresidual_entire": False,
    "shift_sequence": None,
}

# Defaults of the original ``cnn`` constructor, used for options an older ``.dat`` file does not list.
_DEFAULTS: dict[str, Any] = {
    "n_features": 4, "reverse_complement": False, "complement_pool": "max", "n_classes": 1,
    "num_kernels": 0, "kernel_bias": True, "l_kernels": 7, "kernel_function": "GELU",
    "max_pooling": True, "mean_pooling": False, "weighted_pooling": False, "pooling_size": None,
    "pooling_steps": None, "net_function": "GELU", "dilated_convolutions": 0, "strides": 1,
    "conv_increase": 1.0, "dilations": 1, "l_dilkernels": None, "dilmax_pooling": 0, "dilmean_pooling": 0,
    "dilweighted_pooling": 0, "dilpooling_steps": 1, "dilpooling_residual": 1, "transformer_convolutions": 0,
    "trdilations": 1, "trstrides": 1, "l_trkernels": None, "trconv_dim": None, "trmax_pooling": 0,
    "trmean_pooling": 0, "trweighted_pooling": 0, "trpooling_residual": 1, "trpooling_steps": 1,
    "fclayer_size": None, "nfc_layers": 0, "fc_function": None, "layer_widening": 1.1, "dropout": 0.0,
    "conv_dropout": 0.0, "fc_dropout": 0.0, "batch_norm": False, "conv_batch_norm": False,
    "fc_batch_norm": False, "outclass": "Linear",
}


@dataclass
class DRGTower:
    """One residual convolution tower of a DRG model, with the shapes the original code gives it."""

    prefix: str
    in_channels: int
    in_length: int
    channels: list[int]
    kernel_size: int
    dilations: list[int]
    bias: bool
    batch_norm: bool
    dropout: float
    activation: str
    residual_every: int
    pool: str | None
    pool_size: int
    pool_every: int
    out_channels: int = 0
    out_length: int = 0


@dataclass
class DRGHead:
    """Fully connected tower and output layer of one output modality."""

    fc_prefix: str | None
    head_prefix: str
    embedding: int | None
    widths: list[int]
    n_outputs: int
    output_activation: str


@dataclass
class DRGPlan:
    """Everything needed to rebuild an original-DRG ``cnn`` and to check its weight file."""

    seq_len: int
    n_kernels: int
    kernel_size: int
    kernel_bias: bool
    reverse_complement: bool
    strand_pool: str
    kernel_activation: str
    pool: str | None
    pool_size: int
    pool_length: int
    pool_channels: int
    towers: list[DRGTower] = field(default_factory=list)
    flat_dim: int = 0
    activation: str = "gelu"
    fc_activation: str = "gelu"
    fc_batch_norm: bool = False
    fc_dropout: float = 0.0
    conv_dropout: float = 0.0
    shared_fc: bool = False
    widening: float = 1.1
    heads: list[DRGHead] = field(default_factory=list)


def _unsupported(path: PathLike | None, key: str, value: Any, why: str) -> InputError:
    return InputError(f"DRG option {key} = {value!r} cannot be imported: {why}", path=path)


def _as_int(path: PathLike | None, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise InputError(f"DRG option {key} = {value!r}: expected an integer", path=path)
    return int(value)


def _per_layer(path: PathLike | None, key: str, value: Any, n: int) -> list[int]:
    if value is None:
        return [1] * n
    if isinstance(value, (list, tuple)):
        if len(value) < n:
            raise InputError(f"DRG option {key} = {value!r}: expected {n} values", path=path)
        return [_as_int(path, key, v) for v in value[:n]]
    return [_as_int(path, key, value)] * n


def _pool_kind(path: PathLike | None, prefix: str, params: dict[str, Any]) -> tuple[str | None, int]:
    sizes = {kind: params[f"{prefix}{kind}_pooling"] or 0 for kind in ("max", "mean", "weighted")}
    if prefix == "dil" and (sizes["max"] > 0 or sizes["mean"] > 0):
        sizes["weighted"] = 0  # the original constructor ignores weighted pooling then
    active = [k for k, v in sizes.items() if v > 0]
    if not active:
        return None, 0
    size = int(max(sizes.values()))
    if len(active) > 1:
        if set(active) == {"max", "mean"}:
            return "maxmean", size
        raise _unsupported(path, f"{prefix}*_pooling", sizes, "only one pooling kind per tower is supported")
    return active[0], size


def _pool_padding(length: int, size: int) -> int:
    """Symmetric padding DRG adds before pooling with window = stride = ``size``."""
    return math.ceil((size - length % size) / 2) * int(length % size > 0)


def _activation(path: PathLike | None, key: str, value: Any) -> str:
    if value not in DRG_ACTIVATIONS:
        raise _unsupported(path, key, value, f"supported activations are {', '.join(DRG_ACTIVATIONS)}")
    return DRG_ACTIVATIONS[value]


def _plan_tower(
    path: PathLike | None,
    params: dict[str, Any],
    *,
    prefix: str,
    in_channels: int,
    in_length: int,
    n_layers: int,
    width: int,
    kernel_size: int,
    dilations: list[int],
    strides: list[int],
    residual_every: int,
    pool: str | None,
    pool_size: int,
    pool_every: int,
    bias: bool,
) -> DRGTower:
    """Shapes of one tower as the original constructor computes them (including its early stops)."""
    increase = [float(params["conv_increase"])] * n_layers
    if n_layers and width != in_channels:
        increase[0] = width / in_channels
    if any(s != 1 for s in strides):
        key = "strides" if prefix == "convolution_layers" else "trstrides"
        raise _unsupported(path, key, params.get(key), "only stride 1 is supported in convolution towers")
    if pool == "maxmean":
        raise _unsupported(path, "pooling", "max+mean", "combined max and mean pooling inside a tower")
    if residual_every is None or residual_every <= 0:
        residual_every = 0
    channels: list[int] = []
    dim, length = in_channels, in_length
    pads: list[int] = []  # paddings of the poolings since the last residual point
    for n in range(n_layers):
        if length < kernel_size:
            break
        dim = int(dim * increase[n])
        channels.append(dim)
        if residual_every and (n + 1) % residual_every == 0:
            if pool == "max" and len(pads) > 1 and any(pads):
                key = "dilpooling_residual" if prefix == "convolution_layers" else "trpooling_residual"
                raise _unsupported(path, key, residual_every,
                                   "several padded max poolings between two residual points")
            pads = []
        if pool is not None and pool_size > 0 and (n + 1) % pool_every == 0:
            if pool_size > length:
                break
            pads.append(_pool_padding(length, pool_size))
            length = math.ceil(length / pool_size)
    return DRGTower(
        prefix=prefix,
        in_channels=in_channels,
        in_length=in_length,
        channels=channels,
        kernel_size=kernel_size,
        dilations=dilations[: len(channels)],
        bias=bias,
        batch_norm=bool(params["conv_batch_norm"]),
        dropout=float(params["conv_dropout"] or 0.0),
        activation=_activation(path, "net_function", params["net_function"]),
        residual_every=residual_every,
        pool=_POOL_NAMES[pool] if pool else None,
        pool_size=pool_size,
        pool_every=max(1, pool_every),
        out_channels=dim,
        out_length=length,
    )


def plan_drg_architecture(params: dict[str, Any], path: PathLike | None = None) -> DRGPlan:
    """Check DRG options and compute the architecture (layer sizes) the original ``cnn`` builds from them.

    Parameters
    ----------
    params
        Options as returned by :func:`read_drg_params` (missing options take the original defaults).
    path
        The ``.dat`` file, named in error messages.

    Raises
    ------
    InputError
        For every option the import cannot reproduce (the message names the option and its value).
    """
    p = {**_DEFAULTS, **params}
    # derived values, in case an older file lists only the user-facing options
    if ("conv_batch_norm" not in params or "fc_batch_norm" not in params) and p["batch_norm"]:
        p["conv_batch_norm"] = p["fc_batch_norm"] = True
    if ("conv_dropout" not in params or "fc_dropout" not in params) and (p["dropout"] or 0) > 0:
        p["conv_dropout"] = p["fc_dropout"] = p["dropout"]
    if p["fc_function"] is None:
        p["fc_function"] = p["net_function"]
    if p["l_dilkernels"] is None:
        p["l_dilkernels"] = p["l_kernels"]
    if p["l_trkernels"] is None:
        p["l_trkernels"] = p["l_kernels"]

    for key, off in _MUST_BE_OFF.items():
        value = p.get(key, off)
        if not (value is None or value is False or value == 0 or value == [] or value == ()):
            raise _unsupported(path, key, value, "this option is not part of the importable DRG architecture")
    if _as_int(path, "n_features", p["n_features"]) != 4:
        raise _unsupported(path, "n_features", p["n_features"], "only one-hot DNA input (4 channels) is supported")
    if isinstance(p.get("l_seqs"), (list, tuple)):
        raise _unsupported(path, "l_seqs", p["l_seqs"], "multi-input DRG models are not supported")
    if "l_seqs" not in params:
        raise InputError("DRG option l_seqs (input length) is missing", path=path)
    seq_len = _as_int(path, "l_seqs", p["l_seqs"])
    n_kernels = _as_int(path, "num_kernels", p["num_kernels"])
    if n_kernels <= 0:
        raise _unsupported(path, "num_kernels", p["num_kernels"], "a first convolution layer is required")
    kernel_size = _as_int(path, "l_kernels", p["l_kernels"])
    if p["complement_pool"] not in ("max", "mean", "weighted"):
        raise _unsupported(path, "complement_pool", p["complement_pool"], "expected max, mean or weighted")

    plan = DRGPlan(
        seq_len=seq_len,
        n_kernels=n_kernels,
        kernel_size=kernel_size,
        kernel_bias=bool(p["kernel_bias"]),
        reverse_complement=bool(p["reverse_complement"]),
        strand_pool=_POOL_NAMES[str(p["complement_pool"])],
        kernel_activation=_activation(path, "kernel_function", p["kernel_function"]),
        pool=None,
        pool_size=0,
        pool_length=seq_len,
        pool_channels=n_kernels,
        activation=_activation(path, "net_function", p["net_function"]),
        fc_activation=_activation(path, "fc_function", p["fc_function"]),
        fc_batch_norm=bool(p["fc_batch_norm"]),
        fc_dropout=float(p["fc_dropout"] or 0.0),
        conv_dropout=float(p["conv_dropout"] or 0.0),
    )

    # pooling after the first layer
    kinds = [k for k in ("max", "mean", "weighted") if p[f"{k}_pooling"]]
    if kinds:
        size = p["pooling_size"] if p["pooling_size"] is not None else p["pooling_steps"]
        steps = p["pooling_steps"] if p["pooling_steps"] is not None else size
        if size is None:
            size = steps = seq_len
        size, steps = _as_int(path, "pooling_size", size), _as_int(path, "pooling_steps", steps)
        if size != steps:
            raise _unsupported(path, "pooling_steps", steps, f"pooling stride must equal pooling_size ({size})")
        if kinds in (["max", "mean"], ["max", "mean", "weighted"]):
            plan.pool = "maxmean"
        elif len(kinds) == 1 or (kinds[0] in ("max", "mean") and "weighted" in kinds):
            plan.pool = kinds[0]  # the original pooling layer gives max/mean precedence over weighted
        plan.pool_size = size
        plan.pool_length = math.ceil(seq_len / size)
        plan.pool = _POOL_NAMES[plan.pool] if plan.pool else None
        plan.pool_channels = n_kernels * (2 if plan.pool == "mean_max" else 1)
    dim, length = plan.pool_channels, plan.pool_length

    n_dil = _as_int(path, "dilated_convolutions", p["dilated_convolutions"] or 0)
    if n_dil > 0:
        pool, size = _pool_kind(path, "dil", p)
        tower = _plan_tower(
            path, p, prefix="convolution_layers", in_channels=dim, in_length=length, n_layers=n_dil, width=dim,
            kernel_size=_as_int(path, "l_dilkernels", p["l_dilkernels"]),
            dilations=_per_layer(path, "dilations", p["dilations"], n_dil),
            strides=_per_layer(path, "strides", p["strides"], n_dil),
            residual_every=p["dilpooling_residual"], pool=pool, pool_size=size,
            pool_every=_as_int(path, "dilpooling_steps", p["dilpooling_steps"]), bias=False,
        )
        plan.towers.append(tower)
        dim, length = tower.out_channels, tower.out_length

    n_tr = _as_int(path, "transformer_convolutions", p["transformer_convolutions"] or 0)
    if n_tr > 0:
        pool, size = _pool_kind(path, "tr", p)
        width = dim if p["trconv_dim"] is None else _as_int(path, "trconv_dim", p["trconv_dim"])
        tower = _plan_tower(
            path, p, prefix="trconvolution_layers", in_channels=dim, in_length=length, n_layers=n_tr, width=width,
            kernel_size=_as_int(path, "l_trkernels", p["l_trkernels"]),
            dilations=_per_layer(path, "trdilations", p["trdilations"], n_tr),
            strides=_per_layer(path, "trstrides", p["trstrides"], n_tr),
            residual_every=p["trpooling_residual"], pool=pool, pool_size=size,
            pool_every=_as_int(path, "trpooling_steps", p["trpooling_steps"]), bias=True,
        )
        plan.towers.append(tower)
        dim, length = tower.out_channels, tower.out_length
    elif any((p[f"tr{k}_pooling"] or 0) > 0 for k in ("max", "mean", "weighted")):
        raise _unsupported(
            path, "trmax_pooling/trmean_pooling/trweighted_pooling",
            [p["trmax_pooling"], p["trmean_pooling"], p["trweighted_pooling"]],
            "pooling without transformer_convolutions is not supported",
        )
    plan.flat_dim = dim * length

    # fully connected towers and heads
    n_classes = p["n_classes"]
    nfc = p["nfc_layers"]
    widening = float(p["layer_widening"])
    plan.widening = widening
    emb = None if p["fclayer_size"] is None else _as_int(path, "fclayer_size", p["fclayer_size"])
    outclass = p["outclass"]
    classes = list(n_classes) if isinstance(n_classes, (list, tuple)) else [n_classes]
    outclasses = list(outclass) if isinstance(outclass, (list, tuple)) else [outclass] * len(classes)
    if len(outclasses) != len(classes):
        raise InputError(f"DRG option outclass = {outclass!r}: expected one per output modality", path=path)
    for oc in outclasses:
        if oc not in DRG_OUTCLASSES:
            raise _unsupported(path, "outclass", oc, f"supported output classes are {', '.join(DRG_OUTCLASSES)}")
    multi = isinstance(n_classes, (list, tuple))
    if isinstance(nfc, (list, tuple)):
        if not multi or len(nfc) != len(classes):
            raise _unsupported(path, "nfc_layers", nfc, "a list needs a list n_classes of the same length")
        towers = [_as_int(path, "nfc_layers", n) for n in nfc]
        fc_prefixes = [f"nfcs.{i}.nfcs." for i in range(len(towers))]
    else:
        n = _as_int(path, "nfc_layers", nfc or 0)
        towers = [n] * len(classes)
        fc_prefixes = ["nfcs.nfcs."] * len(classes)
        plan.shared_fc = multi and n > 0
    for i, (n_out, oc, n_fc, fc_prefix) in enumerate(zip(classes, outclasses, towers, fc_prefixes)):
        widths: list[int] = []
        start = emb if emb is not None else plan.flat_dim
        cur = start
        if n_fc > 0:
            for j in range(n_fc):
                if j < n_fc // 2:
                    cur = int(widening * cur)
                elif j < n_fc // 2 + (n_fc % 2):
                    pass
                elif j == n_fc - 1:
                    cur = start
                else:
                    cur = int(cur / widening)
                widths.append(cur)
        plan.heads.append(
            DRGHead(
                fc_prefix=fc_prefix if n_fc > 0 else None,
                head_prefix=f"classifier.{i}.classifier." if multi else "classifier.classifier.",
                embedding=emb if n_fc > 0 else None,
                widths=widths,
                n_outputs=_as_int(path, "n_classes", n_out),
                output_activation=DRG_OUTCLASSES[oc],
            )
        )
    return plan
