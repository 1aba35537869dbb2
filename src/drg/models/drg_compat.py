"""Import of checkpoints written by the original DRG code (``drg_tools.cnn_model.cnn``).

An original checkpoint is a pair of files: ``<name>_model_params.dat`` (one ``key : value`` line per option of
the model object) and ``<name>_parameter.pth`` (its ``state_dict``). :func:`load_drg` reads both, builds the
equivalent :class:`~drg.models.config.ModelConfig` network with :func:`drg.models.build` and copies every
weight into it, so that the imported model gives the original's predictions (eval mode) for the same input.

Covered options: the first convolution layer (kernel bias on/off, reverse-complement scanning with max, mean
or softmax-weighted strand pooling), its activation (ReLU, GELU, Sigmoid, Tanh, identity, EXP) and pooling (max,
mean, max+mean, softmax-weighted), the dilated residual tower (dilations, channel growth, batch norm, dropout,
residual and pooling periods, pooling kinds), the second ("transformer_convolutions") tower, the fully
connected tower(s) with DRG's projection and widening, and one or several output heads (``n_classes`` as a
list, with one tower each when ``nfc_layers`` is a list). Any other option that changes the network (attention
blocks, gapped convolutions, fixed PWM kernels, non-linear convolutions, ...) raises :class:`InputError` naming
the option and its value. Training-only options (loss, learning rate, optimiser, ...) are ignored.

Two behaviours of the original are kept on purpose and one differs:

* softmax-weighted pooling on a length that needs padding fills the padding with the minimum of the whole
  batch, as the original does (``softmax_padding: batch_min``); predictions then depend slightly on the batch;
* residual shortcuts carry the previous residual point's convolution output (``residual_from: conv``) and
  max-pool with zero padding, as the original towers do;
* the original ``EXP`` activation saturates at ``exp(log(2**32))`` for inputs above 22.18; ours does not.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drg.errors import InputError
from drg.models._drg_params import (
    DRGPlan,
    DRGTower,
    plan_drg_architecture,
    read_drg_params,
)
from drg.utils import PathLike

if TYPE_CHECKING:
    import torch
    from torch import nn

    from drg.models.config import ModelConfig

__all__ = ["drg_params_to_config", "load_drg", "read_drg_params", "read_drg_state_dict"]


def _tower_config(tower: DRGTower) -> dict[str, Any]:
    pooling = None
    if tower.pool is not None:
        pooling = {"mode": tower.pool, "size": tower.pool_size}
        if tower.pool == "softmax":
            pooling["softmax_padding"] = "batch_min"
    return {
        "n_layers": len(tower.channels),
        "channels": list(tower.channels),
        "kernel_size": tower.kernel_size,
        "dilations": list(tower.dilations),
        "bias": tower.bias,
        "activation": tower.activation,
        "preactivation": True,
        "batch_norm": tower.batch_norm,
        "dropout": tower.dropout,
        "residual_every": tower.residual_every,
        "residual_from": "conv",
        "pool_every": tower.pool_every,
        "pooling": pooling,
    }


def plan_to_config(plan: DRGPlan, *, seed: int = 0, track_names: list[list[str]] | None = None) -> ModelConfig:
    """The :class:`ModelConfig` that reproduces a checked DRG architecture ``plan``."""
    from drg.models.config import ModelConfig

    first_pooling = None
    if plan.pool is not None:
        first_pooling = {"mode": plan.pool, "size": plan.pool_size}
        if plan.pool == "softmax":
            first_pooling["softmax_padding"] = "batch_min"
    towers = {t.prefix: t for t in plan.towers if t.channels}
    data: dict[str, Any] = {
        "kind": "cnn",
        "input_length": plan.seq_len,
        "n_channels": 4,
        "seed": seed,
        "activation": plan.activation,
        "batch_norm": False,
        "dropout": 0.0,
        "first_layer": {
            "n_kernels": plan.n_kernels,
            "kernel_size": plan.kernel_size,
            "bias": plan.kernel_bias,
            "activation": plan.kernel_activation,
            "batch_norm": False,
            "dropout": 0.0,
            "reverse_complement": plan.reverse_complement,
            "strand_pool": plan.strand_pool,
            "padding": "same",
            "pooling": first_pooling,
        },
        "tower": _tower_config(towers["convolution_layers"]) if "convolution_layers" in towers else None,
        "pooled_tower": _tower_config(towers["trconvolution_layers"]) if "trconvolution_layers" in towers else None,
        "reduction": "flatten",
        "shared_fc": None,
        "heads": [],
    }
    multi = len(plan.heads) > 1
    if plan.shared_fc:
        first = plan.heads[0]
        data["shared_fc"] = {
            "n_layers": len(first.widths),
            "size": first.embedding,
            "projection": first.embedding is not None,
            "widening": plan.widening,
            "activation": plan.fc_activation,
            "batch_norm": plan.fc_batch_norm,
            "dropout": plan.fc_dropout,
        }
    for i, head in enumerate(plan.heads):
        own_fc = not plan.shared_fc and head.widths
        data["heads"].append({
            "name": f"output{i}" if multi else "output",
            "n_outputs": head.n_outputs,
            "track_names": None if track_names is None else list(track_names[i]),
            "fc_layers": len(head.widths) if own_fc else 0,
            "fc_size": head.embedding if own_fc else None,
            "fc_projection": bool(own_fc and head.embedding is not None),
            "fc_widening": plan.widening if own_fc else 1.0,
            "activation": plan.fc_activation,
            "batch_norm": plan.fc_batch_norm,
            "dropout": plan.fc_dropout,
            "output_activation": head.output_activation,
        })
    return ModelConfig.from_dict(data)


def drg_params_to_config(params: dict[str, Any] | PathLike, *, seed: int | None = None) -> ModelConfig:
    """Our :class:`ModelConfig` for the network an original-DRG option set describes.

    Parameters
    ----------
    params
        Options as returned by :func:`read_drg_params`, or the path of a ``*_model_params.dat`` file.
    seed
        Seed stored in the config (initialisation only; imported weights replace it); default: the original
        ``seed`` option, or 0.

    Raises
    ------
    InputError
        For options the import does not reproduce, naming the option and its value.
    """
    path = None
    if not isinstance(params, dict):
        path = params
        params = read_drg_params(params)
    return plan_to_config(plan_drg_architecture(params, path), seed=_seed(params) if seed is None else seed)


def _seed(params: dict[str, Any]) -> int:
    seed = params.get("seed", 0)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0


def read_drg_state_dict(path: PathLike) -> dict[str, torch.Tensor]:
    """Load an original-DRG ``*_parameter.pth`` state_dict without executing pickled code.

    Uses ``torch.load(..., weights_only=True)``: a file that needs arbitrary Python objects to unpickle is
    refused with :class:`InputError` instead of being run.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError("parameter file not found", path=path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        message = str(exc)
        match = re.search(r"Unsupported global: GLOBAL (\S+)", message)
        if match:
            raise InputError(f"refusing to load: the file needs the Python object {match.group(1)} to unpickle, "
                             "and loading it could run code; only plain tensors are accepted", path=path) from None
        detail = re.search(r"WeightsUnpickler error:\s*(.+)", message)
        raise InputError("not a readable torch state_dict"
                         + (f" ({detail.group(1).strip()})" if detail else ""), path=path) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise InputError(f"not a readable torch state_dict: {exc}", path=path) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError("expected a state_dict (a mapping of names to tensors)", path=path)
    return {str(k).removeprefix("module."): v for k, v in state.items()}


_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _key_pairs(plan: DRGPlan, names: dict[str, str]) -> list[tuple[str, str]]:
    """(original key, our key) for every tensor of the planned network.

    ``names`` gives our module paths: ``first``, ``tower``, ``pooled_tower``, ``shared_fc`` and ``head`` (a
    format string with ``{i}``).
    """
    pairs: list[tuple[str, str]] = [("convolutions.conv1d.weight", f"{names['first']}.weight")]
    if plan.kernel_bias:
        pairs.append(("convolutions.conv1d.bias", f"{names['first']}.bias"))
    for tower in plan.towers:
        ours = names["tower"] if tower.prefix == "convolution_layers" else names["pooled_tower"]
        res_dim = tower.in_channels
        for n, out in enumerate(tower.channels):
            drg = f"{tower.prefix}.convlayers."
            if tower.batch_norm:
                pairs += [(f"{drg}Bnorm{n}.{s}", f"{ours}.layers.{n}.norm.{s}") for s in _BN]
            pairs.append((f"{drg}Conv{n}.conv1d.weight", f"{ours}.layers.{n}.conv.weight"))
            if tower.bias:
                pairs.append((f"{drg}Conv{n}.conv1d.bias", f"{ours}.layers.{n}.conv.bias"))
            if tower.residual_every and (n + 1) % tower.residual_every == 0:
                if res_dim != out:
                    pairs.append((f"{drg}ResiduallayerConv{n}.rconv.conv.weight",
                                  f"{ours}.layers.{n}.shortcut.project.weight"))
                res_dim = out

    def fc_pairs(drg: str, ours: str, embedding: int | None, n_layers: int) -> None:
        if embedding is not None:
            pairs.extend((f"{drg}EmbeddtoFully.{s}", f"{ours}.projection.{s}") for s in ("weight", "bias"))
        for j in range(n_layers):
            if plan.fc_batch_norm:
                pairs.extend((f"{drg}Bnorm_fullyconnected{j}.{s}", f"{ours}.layers.{j}.norm.{s}") for s in _BN)
            pairs.extend((f"{drg}Fullyconnected{j}.{s}", f"{ours}.layers.{j}.linear.{s}") for s in ("weight", "bias"))

    if plan.shared_fc:
        head = plan.heads[0]
        fc_pairs(head.fc_prefix or "", names["shared_fc"], head.embedding, len(head.widths))
    for i, head in enumerate(plan.heads):
        ours = names["head"].format(i=i)
        if not plan.shared_fc and head.widths:
            fc_pairs(head.fc_prefix or "", f"{ours}.tower", head.embedding, len(head.widths))
        if plan.fc_batch_norm:
            pairs.extend((f"{head.head_prefix}ClassBnorm.{s}", f"{ours}.norm.{s}") for s in _BN)
        pairs.extend((f"{head.head_prefix}Linear.{s}", f"{ours}.linear.{s}") for s in ("weight", "bias"))
    return pairs


#: Module paths of our CNN that the original layers map onto.
_OUR_NAMES = {
    "first": "first_layer.conv",
    "tower": "tower",
    "pooled_tower": "pooled_tower",
    "shared_fc": "shared_fc",
    "head": "heads.{i}",
}


def _copy_weights(model: nn.Module, plan: DRGPlan, state: dict[str, torch.Tensor], path: PathLike) -> None:
    """Copy the original ``state`` into ``model`` by the planned key pairs, checking names and shapes."""
    import torch

    ours = model.state_dict()
    pairs = _key_pairs(plan, _OUR_NAMES)
    used = {drg for drg, _ in pairs}
    missing = [drg for drg, _ in pairs if drg not in state and not drg.endswith("num_batches_tracked")]
    unexpected = sorted(set(state) - used)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s) the options describe: {', '.join(missing[:6])}")
        if unexpected:
            parts.append(f"{len(unexpected)} tensor(s) the options do not describe: {', '.join(unexpected[:6])}")
        raise InputError("weights do not match the model options (" + "; ".join(parts)
                         + "); is this the parameter file that belongs to the .dat file?", path=path)
    new_state = dict(ours)
    for drg, our in pairs:
        if drg not in state:
            continue
        if our not in ours:
            raise InputError(f"cannot place tensor {drg!r}: the rebuilt model has no {our!r}", path=path)
        value = state[drg]
        if tuple(value.shape) != tuple(ours[our].shape):
            raise InputError(f"tensor {drg!r} has shape {tuple(value.shape)}, the options imply "
                             f"{tuple(ours[our].shape)}", path=path)
        new_state[our] = value.detach().to(dtype=ours[our].dtype).clone()
    filled = {our for drg, our in pairs if drg in state}
    left = [k for k in ours if k not in filled and not k.endswith("num_batches_tracked")]
    if left:
        raise InputError(f"the original weights leave {len(left)} of our tensors unset: {', '.join(left[:6])}",
                         path=path)
    with torch.no_grad():
        model.load_state_dict(new_state, strict=True)


def load_drg(params_dat: PathLike, parameter_pth: PathLike) -> nn.Module:
    """Build our equivalent of an original-DRG model and load its weights.

    Parameters
    ----------
    params_dat
        The original ``*_model_params.dat`` (options of the model).
    parameter_pth
        The original ``*_parameter.pth`` (its state_dict), loaded with ``weights_only=True``.

    Returns
    -------
    torch.nn.Module
        The model (built by :func:`drg.models.build` from :func:`drg_params_to_config`), in eval mode.
        ``model(X)`` with ``X`` float32 ``(N, 4, L)`` (``L`` = the original ``l_seqs``) returns ``(N, T)``, or
        a list with one ``(N, T_i)`` tensor per output modality when ``n_classes`` is a list (the original
        concatenates those side by side).

    Raises
    ------
    InputError
        For an unsupported option (named with its value), a malformed ``.dat`` line (with its line number), a
        parameter file that is not a plain state_dict, or weights whose names or shapes do not fit the options.

    Examples
    --------
    >>> model = load_drg("run_model_params.dat", "run_parameter.pth")  # doctest: +SKIP
    >>> y = model(torch.from_numpy(onehot).float())                    # doctest: +SKIP
    """
    from drg.models import build

    params = read_drg_params(params_dat)
    plan = plan_drg_architecture(params, params_dat)
    config = plan_to_config(plan, seed=_seed(params))
    state = read_drg_state_dict(parameter_pth)
    model = build(config)
    _copy_weights(model, plan, state, parameter_pth)
    model.eval()
    return model
