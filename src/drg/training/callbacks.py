"""The callback that runs the end of every epoch: early stopping with patience, DRG-style fine-tuning rounds,
reduce-on-plateau, best/last checkpoints and the per-epoch history (``history.csv`` / ``history.json``)."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from drg.training.checkpoint import load_weights, write_checkpoint

__all__ = ["RunController"]


class RunController(pl.Callback):
    """Monitors the validation loss (training loss when there is no validation set) once per epoch.

    Parameters
    ----------
    out_dir
        Run directory; checkpoints go to ``out_dir/checkpoints/{best,last}``.
    has_validation
        Whether a validation loader exists.
    checkpoint_info
        ``train_config``, ``outputs`` and ``provenance`` written into every checkpoint.
    """

    def __init__(self, out_dir: Path, *, has_validation: bool, checkpoint_info: dict[str, Any]) -> None:
        super().__init__()
        self.out_dir = Path(out_dir)
        self.has_validation = has_validation
        self.info = checkpoint_info
        self.best = math.inf
        self.best_epoch = -1
        self.bad_epochs = 0
        self.round = 0
        self.history: list[dict[str, Any]] = []
        self.stopped_reason = ""
        self._best_state: dict[str, Any] | None = None
        self._epoch_start = time.perf_counter()

    @property
    def state_key(self) -> str:
        return "RunController"

    def state_dict(self) -> dict[str, Any]:
        return {"best": float(self.best), "best_epoch": int(self.best_epoch), "bad_epochs": int(self.bad_epochs),
                "round": int(self.round), "history": [dict(row) for row in self.history],
                "stopped_reason": self.stopped_reason}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = float(state_dict["best"])
        self.best_epoch = int(state_dict["best_epoch"])
        self.bad_epochs = int(state_dict["bad_epochs"])
        self.round = int(state_dict["round"])
        self.history = [dict(row) for row in state_dict["history"]]
        self.stopped_reason = str(state_dict.get("stopped_reason", ""))

    # ------------------------------------------------------------------ hooks
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._epoch_start = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if self.has_validation and not trainer.sanity_checking:
            self._end_of_epoch(trainer, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if not self.has_validation:
            self._end_of_epoch(trainer, pl_module)

    # ------------------------------------------------------------------ logic
    def _end_of_epoch(self, trainer: pl.Trainer, module: Any) -> None:
        epoch = int(trainer.current_epoch)
        train = module.epoch_train_summary()
        val = dict(module.val_result) if self.has_validation else {}
        monitored = val.get("val_loss", train.get("train_loss", math.nan))
        stop = module.stopping
        row: dict[str, Any] = {"epoch": epoch, "round": self.round, **train, **val,
                               "time_s": round(time.perf_counter() - self._epoch_start, 3)}
        if module.schedule.name == "plateau" and math.isfinite(monitored):
            module.plateau_update(monitored)
        improved = math.isfinite(monitored) and monitored < self.best - stop.min_delta
        row["best"] = bool(improved)
        if improved:
            self.best, self.best_epoch, self.bad_epochs = float(monitored), epoch, 0
            self._best_state = {k: v.detach().to("cpu", copy=True) for k, v in module.model.state_dict().items()}
        else:
            self.bad_epochs += 1
        self.history.append(row)
        metrics = {"epoch": epoch, "monitored": "val_loss" if self.has_validation else "train_loss",
                   "best_epoch": self.best_epoch, "best_loss": self.best, **{k: v for k, v in row.items()
                                                                               if k != "best"}}
        if improved and trainer.is_global_zero:
            write_checkpoint(self.out_dir / "checkpoints" / "best", module.model, metrics=metrics, **self.info)
        if self.bad_epochs >= stop.patience:
            if self.round < stop.rounds:
                self._next_round(trainer, module)
            else:
                self.stopped_reason = f"no improvement for {self.bad_epochs} epochs"
                trainer.should_stop = True
        if epoch + 1 >= int(trainer.max_epochs or 0) and not self.stopped_reason:
            self.stopped_reason = "max_epochs reached"
        state = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
        if trainer.is_global_zero:
            write_checkpoint(self.out_dir / "checkpoints" / "last", module.model, metrics=metrics, state=state,
                             **self.info)
            self._write_history()
        trainer.strategy.barrier("drg_checkpoint")

    def _next_round(self, trainer: pl.Trainer, module: Any) -> None:
        """Reload the best weights, lower the learning rate, reset the optimiser and the patience."""
        if self._best_state is None:
            self._best_state = load_weights(self.out_dir / "checkpoints" / "best")
        module.model.load_state_dict(self._best_state)
        module.lr_state["round_scale"] *= module.stopping.round_lr_factor
        for optimizer in trainer.optimizers:
            optimizer.state = defaultdict(dict)
        self.round += 1
        self.bad_epochs = 0

    def _write_history(self) -> None:
        import pandas as pd

        from drg.provenance import write_json
        from drg.utils import atomic_write

        frame = pd.DataFrame(self.history)
        with atomic_write(self.out_dir / "history.csv") as handle:
            frame.to_csv(handle, index=False, float_format="%.6g")
        rows = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
                for row in self.history]
        write_json(self.out_dir / "history.json", {"epochs": rows})
