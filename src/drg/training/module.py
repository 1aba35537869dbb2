"""The Lightning module that trains a DRG model: weighted per-modality losses, optimiser groups, the learning-rate
schedule, non-finite loss rollback and validation with optional test-time averaging.

Optimisation is manual (``automatic_optimization = False``) so that a step whose loss or gradient is not
finite can be refused on every DDP rank alike, the model and optimiser rolled back to the state at the start
of the epoch and the learning rate lowered, instead of silently training on NaN.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import nn

from drg.errors import DRGError, DRGWarning
from drg.training.config import OptimizerConfig, ScheduleConfig, StoppingConfig

__all__ = ["DRGModule", "forward_averaged", "batch_size_of", "first_conv", "build_optimizer"]


def first_conv(model: nn.Module) -> nn.Module | None:
    """The first ``Conv1d`` in module order (the layer scanning the sequence), or None."""
    for module in model.modules():
        if isinstance(module, nn.Conv1d):
            return module
    return None


def build_optimizer(model: nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    """Optimiser over the trainable parameters; the first convolution gets ``first_layer_lr`` if set."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise DRGError("the model has no trainable parameters (everything is frozen)")
    groups: list[dict[str, Any]] = []
    if config.first_layer_lr is not None and (conv := first_conv(model)) is not None:
        ids = {id(p) for p in conv.parameters()}
        first = [p for _, p in trainable if id(p) in ids]
        rest = [p for _, p in trainable if id(p) not in ids]
        if first:
            groups.append({"params": first, "lr": config.first_layer_lr, "base_lr": config.first_layer_lr})
        if rest:
            groups.append({"params": rest, "lr": config.lr, "base_lr": config.lr})
    else:
        groups.append({"params": [p for _, p in trainable], "lr": config.lr, "base_lr": config.lr})
    kw: dict[str, Any] = {"weight_decay": config.weight_decay}
    if config.name == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov, **kw)
    if config.name in ("adam", "adamw", "nadam"):
        kw.update(betas=tuple(config.betas), eps=config.eps)
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "nadam": torch.optim.NAdam}[config.name]
        return cls(groups, lr=config.lr, **kw)
    raise DRGError(f"unknown optimizer {config.name!r}")  # pragma: no cover (validated by the config)


def _as_list(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _flip_output(y: Any) -> Any:
    """Strand flip of an output: positional outputs ``(N, T, L)`` are reversed along the length."""
    if isinstance(y, (list, tuple)):
        return type(y)(_flip_output(v) for v in y)
    return y.flip(-1) if y.ndim == 3 else y


def _shift(x: torch.Tensor, s: int) -> torch.Tensor:
    if s == 0:
        return x
    out = torch.zeros_like(x)
    if s > 0:
        out[..., s:] = x[..., :-s]
    else:
        out[..., :s] = x[..., -s:]
    return out


def _mean_outputs(outs: list[Any]) -> Any:
    first = outs[0]
    if isinstance(first, (list, tuple)):
        return type(first)(_mean_outputs([o[i] for o in outs]) for i in range(len(first)))
    return torch.stack(outs).mean(0)


def _per_input(value: Any, n: int, name: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        return [value] * n
    if len(value) != n:
        raise DRGError(f"{name} has {len(value)} values for {n} inputs; give one value, or one per input")
    return list(value)


def batch_size_of(x: Any) -> int:
    """Number of examples in a batch of one input tensor or a list/tuple of input tensors."""
    return int((x[0] if isinstance(x, (list, tuple)) else x).shape[0])


def forward_averaged(model: nn.Module, x: Any, *, rc: bool | Sequence[bool] = False,
                     shift: int | Sequence[int] = 0) -> Any:
    """``model(x)`` averaged over both strands (``rc``) and over shifts ``-shift, 0, shift``.

    ``x`` is ``(N, 4, L)`` one-hot in A, C, G, T order; the reverse complement is ``x.flip(1, 2)``.
    Outputs with a length axis ``(N, T, L)`` of the reverse strand are flipped back before averaging.

    For a multi-input model ``x`` is a list or tuple of ``(N, 4, L_i)`` tensors and ``rc`` / ``shift`` may
    give one value per input: the strand-flipped pass flips the inputs whose ``rc`` is true, and the shifted
    passes move input ``i`` by ``-shift[i]`` and ``+shift[i]`` together (the number of passes is that of a
    single input).
    """
    if isinstance(x, (list, tuple)):
        n = len(x)
        rcs = [bool(v) for v in _per_input(rc, n, "rc")]
        shifts_i = [int(v) for v in _per_input(shift, n, "shift")]
        signs = [0] if not any(shifts_i) else [-1, 0, 1]
        outs = []
        for sign in signs:
            xs = [_shift(xi, sign * si) for xi, si in zip(x, shifts_i)]
            outs.append(model(xs))
            if any(rcs):
                outs.append(_flip_output(model([xi.flip(1, 2) if r else xi for xi, r in zip(xs, rcs)])))
        return outs[0] if len(outs) == 1 else _mean_outputs(outs)
    if isinstance(rc, (list, tuple)) or isinstance(shift, (list, tuple)):
        rc = bool(_per_input(rc, 1, "rc")[0])
        shift = int(_per_input(shift, 1, "shift")[0])
    shifts = [0] if shift == 0 else [-shift, 0, shift]
    outs = []
    for s in shifts:
        xs = _shift(x, s)
        outs.append(model(xs))
        if rc:
            outs.append(_flip_output(model(xs.flip(1, 2))))
    return outs[0] if len(outs) == 1 else _mean_outputs(outs)


class DRGModule(pl.LightningModule):
    """Trains ``model`` with one loss per output modality.

    Parameters
    ----------
    model
        The network; ``model(X)`` returns ``(N, T)`` or a list of outputs, one per modality.
    losses
        One ``(loss, weight)`` pair per modality; ``loss`` is a callable ``(pred, target) -> scalar`` or
        None to exclude the modality from the total and from validation (DRG's ``none``).
    optimizer, schedule, stopping
        Settings (see :mod:`drg.training.config`).
    gradient_clip
        Maximum global gradient norm, or None.
    seed
        Seeds the global RNGs at the start of every epoch from ``(seed, epoch, rank)``, so dropout does not
        depend on what happened before (a resumed run continues exactly).
    predict_rc, predict_shift
        Test-time averaging used in validation (one value per input, or a list of them for a multi-input
        model; see :func:`forward_averaged`).
    modalities
        Names of the modalities (for logged metric names).
    """

    def __init__(
        self,
        model: nn.Module,
        losses: Sequence[tuple[Callable[..., torch.Tensor] | None, float]],
        *,
        optimizer: OptimizerConfig | None = None,
        schedule: ScheduleConfig | None = None,
        stopping: StoppingConfig | None = None,
        gradient_clip: float | None = None,
        seed: int = 0,
        predict_rc: bool | Sequence[bool] = False,
        predict_shift: int | Sequence[int] = 0,
        modalities: Sequence[str] | None = None,
        collect_validation: bool = True,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.model = model
        self.loss_fns = [fn for fn, _ in losses]
        self.loss_weights = [float(w) for _, w in losses]
        for i, fn in enumerate(self.loss_fns):
            if fn is not None and getattr(fn, "excluded", False):
                self.loss_fns[i] = None
        if all(fn is None for fn in self.loss_fns):
            raise DRGError("every modality has loss 'none'; at least one loss is needed to train")
        self.optimizer_config = optimizer or OptimizerConfig()
        self.schedule = schedule or ScheduleConfig()
        self.stopping = stopping or StoppingConfig()
        self.gradient_clip = gradient_clip
        self.seed = int(seed)
        self.predict_rc: bool | list[bool] = ([bool(v) for v in predict_rc] if isinstance(predict_rc, (list, tuple))
                                              else bool(predict_rc))
        self.predict_shift: int | list[int] = ([int(v) for v in predict_shift]
                                               if isinstance(predict_shift, (list, tuple)) else int(predict_shift))
        self.modalities = list(modalities) if modalities else [f"output{i}" for i in range(len(losses))]
        self.collect_validation = collect_validation
        # state saved in checkpoints (plain numbers only)
        self.lr_state: dict[str, float] = {"step": 0, "round_scale": 1.0, "nan_scale": 1.0, "plateau_scale": 1.0,
                                           "plateau_best": math.inf, "plateau_bad": 0, "nan_rollbacks": 0}
        self._good_state: tuple[dict[str, Any], dict[str, Any]] | None = None
        self._train_sum = 0.0
        self._train_n = 0
        self._train_seqs = 0
        self._train_time = 0.0
        self._val_sums: torch.Tensor | None = None
        self._val_n = 0
        self._val_preds: list[list[np.ndarray]] = []
        self._val_targets: list[list[np.ndarray]] = []
        self.val_result: dict[str, Any] = {}

    # ------------------------------------------------------------------ forward and losses
    def forward(self, x: Any) -> Any:
        return self.model(x)

    def compute_loss(self, out: Any, y: Any) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """Weighted total and per-modality losses of outputs ``out`` against targets ``y``."""
        outs = _as_list(out)
        ys = _as_list(y)
        if len(self.loss_fns) == 1 and len(ys) == 1 and len(outs) > 1:
            outs = [out]  # one modality whose loss takes the whole output (e.g. profile + counts)
        if len(outs) != len(ys) or len(ys) != len(self.loss_fns):
            raise DRGError(f"the model returns {len(outs)} output(s) for {len(ys)} target modalities and "
                           f"{len(self.loss_fns)} losses; they must match")
        parts: list[torch.Tensor | None] = []
        total: torch.Tensor | None = None
        for fn, w, o, t in zip(self.loss_fns, self.loss_weights, outs, ys):
            if fn is None:
                parts.append(None)
                continue
            value = fn(o.float() if isinstance(o, torch.Tensor) else o, t)
            parts.append(value)
            total = value * w if total is None else total + value * w
        assert total is not None
        return total, parts

    # ------------------------------------------------------------------ optimiser and schedule
    def configure_optimizers(self) -> Any:
        return build_optimizer(self.model, self.optimizer_config)

    def _steps_per_epoch(self) -> int:
        n = self.trainer.num_training_batches if self._trainer is not None else 1
        return max(1, int(n)) if math.isfinite(n) else 1

    def lr_multiplier(self, step: int | None = None) -> float:
        """Factor applied to every group's base learning rate at optimiser step ``step``."""
        s = self.schedule
        step = int(self.lr_state["step"] if step is None else step)
        per_epoch = self._steps_per_epoch()
        max_epochs = self.trainer.max_epochs if self._trainer is not None else self.stopping.max_epochs
        total = max(1, per_epoch * int(max_epochs or self.stopping.max_epochs))
        warm = s.warmup_steps or s.warmup_epochs * per_epoch
        mult = 1.0
        if s.name == "onecycle":
            up = max(1, int(s.pct_start * total))
            if step < up:
                t = step / up
                lo = 1.0 / s.div_factor
                mult = lo + (1.0 - lo) * 0.5 * (1.0 - math.cos(math.pi * t))
            else:
                t = min(1.0, (step - up) / max(1, total - up))
                lo = 1.0 / s.final_div_factor
                mult = lo + (1.0 - lo) * 0.5 * (1.0 + math.cos(math.pi * t))
        else:
            if warm and step < warm:
                mult *= (step + 1) / warm
            if s.name == "cosine":
                t = min(1.0, max(0, step - warm) / max(1, total - warm))
                lo = s.min_lr / self.optimizer_config.lr
                mult *= lo + (1.0 - lo) * 0.5 * (1.0 + math.cos(math.pi * t))
            elif s.name == "plateau":
                mult *= self.lr_state["plateau_scale"]
        return mult * self.lr_state["round_scale"] * self.lr_state["nan_scale"]

    def _apply_lr(self, optimizer: Any) -> float:
        mult = self.lr_multiplier()
        lr0 = 0.0
        for i, group in enumerate(optimizer.param_groups):
            lr = group.get("base_lr", group["lr"]) * mult
            if self.schedule.name == "plateau":
                lr = max(lr, min(self.schedule.min_lr, group.get("base_lr", lr)))
            group["lr"] = lr
            if i == len(optimizer.param_groups) - 1:
                lr0 = lr
        return lr0

    def plateau_update(self, monitored: float) -> None:
        """Reduce-on-plateau bookkeeping after an epoch with validation loss ``monitored``."""
        st = self.lr_state
        if monitored < st["plateau_best"] * (1.0 - self.schedule.threshold) or not math.isfinite(st["plateau_best"]):
            st["plateau_best"], st["plateau_bad"] = monitored, 0
        else:
            st["plateau_bad"] += 1
            if st["plateau_bad"] > self.schedule.patience:
                st["plateau_scale"] *= self.schedule.factor
                st["plateau_bad"] = 0

    # ------------------------------------------------------------------ training
    def _reseed(self) -> None:
        from drg.utils import seed_everything

        rank = self.global_rank if self._trainer is not None else 0
        seed_everything(int(np.random.SeedSequence([self.seed, self.current_epoch, rank]).generate_state(1)[0]))

    def _snapshot(self) -> None:
        model_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        opt = self.optimizers()
        opt = getattr(opt, "optimizer", opt)
        self._good_state = (model_state, copy.deepcopy(opt.state_dict()))

    def on_train_epoch_start(self) -> None:
        self._train_sum, self._train_n, self._train_seqs, self._train_time = 0.0, 0, 0, 0.0
        self._snapshot()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if batch_idx == 0:
            self._reseed()
        self._t0 = time.perf_counter()

    def _rollback(self, what: str) -> None:
        st = self.lr_state
        st["nan_rollbacks"] += 1
        if st["nan_rollbacks"] > self.stopping.max_nan_rollbacks:
            raise DRGError(f"{what} {int(st['nan_rollbacks'])} times; stopping after "
                           f"{self.stopping.max_nan_rollbacks} rollbacks (lower the learning rate, clip "
                           "gradients or check the targets for NaN/inf)")
        assert self._good_state is not None
        model_state, opt_state = self._good_state
        self.model.load_state_dict(model_state)
        opt = self.optimizers()
        opt = getattr(opt, "optimizer", opt)
        opt.load_state_dict(copy.deepcopy(opt_state))
        opt.zero_grad(set_to_none=True)
        st["nan_scale"] *= self.stopping.nan_lr_factor
        warnings.warn(f"{what} at epoch {self.current_epoch}, step {int(st['step'])}: rolled the model and "
                      f"optimizer back to the start of the epoch and multiplied the learning rate by "
                      f"{self.stopping.nan_lr_factor} (rollback {int(st['nan_rollbacks'])} of at most "
                      f"{self.stopping.max_nan_rollbacks})", DRGWarning, stacklevel=2)

    def _all_finite(self, value: torch.Tensor) -> bool:
        flag = torch.isfinite(value).all().float().reshape(1)
        if self._trainer is not None and self.trainer.world_size > 1:
            flag = self.trainer.strategy.reduce(flag, reduce_op="min")
        return bool(flag.item() > 0)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        opt = self.optimizers()
        x, y = batch
        lr = self._apply_lr(opt)
        out = self.model(x)
        loss, _ = self.compute_loss(out, y)
        if not self._all_finite(loss.detach()):
            self._rollback("non-finite training loss")
            return None
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        precision = str(self.trainer.precision) if self._trainer is not None else "32"
        if precision.startswith("16"):
            if self.gradient_clip is not None:
                self.clip_gradients(opt, gradient_clip_val=self.gradient_clip, gradient_clip_algorithm="norm")
        else:
            params = [p for p in self.model.parameters() if p.grad is not None]
            norm = torch.nn.utils.clip_grad_norm_(params, self.gradient_clip or math.inf)
            if not self._all_finite(norm):
                self._rollback("non-finite gradient")
                return None
        opt.step()
        self.lr_state["step"] += 1
        value = float(loss.detach())
        n = batch_size_of(x)
        self._train_sum += value * n
        self._train_n += n
        elapsed = time.perf_counter() - self._t0
        self._train_time += elapsed
        self._train_seqs += n
        self.log("loss", value, prog_bar=True, on_step=True, on_epoch=False, batch_size=n)
        self.log("lr", lr, prog_bar=False, on_step=True, on_epoch=False, batch_size=n)
        if elapsed > 0:
            self.log("seq_per_s", n / elapsed * self.trainer.world_size, prog_bar=True, on_step=True,
                     on_epoch=False, batch_size=n)
        return None

    def epoch_train_summary(self) -> dict[str, float]:
        """Mean training loss, throughput and learning rate of the current epoch (summed over DDP ranks)."""
        totals = torch.tensor([self._train_sum, float(self._train_n), float(self._train_seqs)], dtype=torch.float64)
        if self.trainer.world_size > 1:
            totals = self.trainer.strategy.reduce(totals.to(self.device), reduce_op="sum").cpu()
        n = float(totals[1])
        return {
            "train_loss": float(totals[0] / n) if n else math.nan,
            "train_seq_per_s": float(totals[2]) / self._train_time if self._train_time > 0 else math.nan,
            "lr": float(self.optimizers().param_groups[-1]["lr"]),
        }

    # ------------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        self._val_sums = None
        self._val_n = 0
        self._val_preds, self._val_targets = [], []

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        out = forward_averaged(self.model, x, rc=self.predict_rc, shift=self.predict_shift)
        _, parts = self.compute_loss(out, y)
        n = batch_size_of(x)
        values = torch.stack([(p.detach().float() if p is not None else torch.zeros((), device=self.device)) * n
                              for p in parts]).double()
        self._val_sums = values if self._val_sums is None else self._val_sums + values
        self._val_n += n
        if self.collect_validation and self.trainer.world_size == 1:
            outs, ys = _as_list(out), _as_list(y)
            if len(outs) == len(ys) and all(isinstance(o, torch.Tensor) and o.ndim == 2 for o in outs):
                self._val_preds.append([o.detach().float().cpu().numpy() for o in outs])
                self._val_targets.append([t.detach().float().cpu().numpy() for t in ys])

    def on_validation_epoch_end(self) -> None:
        if self._val_sums is None:
            return
        sums = torch.cat([self._val_sums, torch.tensor([float(self._val_n)], dtype=torch.float64,
                                                       device=self._val_sums.device)])
        if self.trainer.world_size > 1:
            sums = self.trainer.strategy.reduce(sums, reduce_op="sum")
        sums = sums.cpu()
        n = float(sums[-1])
        result: dict[str, Any] = {}
        total = 0.0
        for i, (fn, w, name) in enumerate(zip(self.loss_fns, self.loss_weights, self.modalities)):
            if fn is None:
                continue
            value = float(sums[i] / n)
            result[f"val_loss_{name}"] = value
            total += w * value
        result["val_loss"] = total
        if self._val_preds:
            result.update(self._val_pearson())
        self.val_result = result
        if not self.trainer.sanity_checking:
            self.log("val_loss", total, prog_bar=True, sync_dist=False)

    def _val_pearson(self) -> dict[str, float]:
        from drg.training.metrics import per_track_metrics

        out: dict[str, float] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for m, name in enumerate(self.modalities):
                pred = np.concatenate([b[m] for b in self._val_preds])
                target = np.concatenate([b[m] for b in self._val_targets])
                if pred.shape != target.shape or len(pred) < 3:
                    continue
                if not (np.isfinite(pred).all() and np.isfinite(target).all()):
                    continue
                table = per_track_metrics(pred, target, warn=False)
                out[f"val_pearson_{name}"] = float(np.nanmean(table["pearson"].to_numpy(dtype=float)))
        return out

    # ------------------------------------------------------------------ checkpoint state
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["drg_lr_state"] = {k: float(v) for k, v in self.lr_state.items()}
        checkpoint["drg_rng"] = _rng_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "drg_lr_state" in checkpoint:
            self.lr_state.update(checkpoint["drg_lr_state"])
        if "drg_rng" in checkpoint:
            _set_rng_state(checkpoint["drg_rng"])


def _rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states as tensors and plain values (loadable with weights_only=True)."""
    import random

    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": int(version), "state": torch.tensor(internal, dtype=torch.int64),
                   "gauss": gauss},
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import random

    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    nps = state["numpy"]
    np.random.set_state((nps["kind"], nps["keys"].numpy().astype(np.uint32), nps["pos"], nps["has_gauss"],
                         nps["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
