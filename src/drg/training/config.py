"""The run configuration of :func:`drg.training.fit`: one YAML file describes data, model, losses and training.

Example (``run.yaml``)::

    seed: 0
    out_dir: runs/atac
    data:
      onehot: data/sequences.npz        # or a memmap cache directory; or genome + regions (+ length);
                                        # or a list, one file per input of a multi-input model
      targets: [data/atac.tsv]          # one file per output modality
      folds: data/folds.txt             # DRG fold sets; validation = set[fold], test = set[fold + 1]
      fold: 0
      normalize: [log1p, standardize]   # fitted on the training rows, applied to all
    model:
      zoo: basset_small                 # or an inline model config, or a path to a model YAML
      overrides: {n_tracks: 8}
    losses:
      - {name: correlation_mse, weight: 1.0}
    optimizer: {name: adamw, lr: 0.001, weight_decay: 0.01, first_layer_lr: 0.0005}
    schedule: {name: plateau, warmup_epochs: 1, factor: 0.5, patience: 2}
    augmentation: {reverse_complement: true, shift: 3, predict_rc: true}
    stopping: {max_epochs: 50, patience: 5, rounds: 1, round_lr_factor: 0.1}
    trainer: {devices: 1, precision: "32", batch_size: 64, num_workers: 2}

Every section has defaults; unknown keys are an error naming the closest valid key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from drg.config import Config
from drg.errors import InputError
from drg.utils import PathLike

__all__ = [
    "DataConfig",
    "LossConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "AugmentationConfig",
    "StoppingConfig",
    "TrainerConfig",
    "FinetuneConfig",
    "TrainConfig",
    "resolve_paths",
]

NonNegative = Annotated[int, Field(ge=0)]
NormMethod = Literal["log1p", "log2", "cpm", "quantile", "median_of_ratios", "standardize", "none"]


class DataConfig(Config):
    """Where the sequences and targets come from and how they are split.

    Attributes
    ----------
    onehot
        DRG one-hot ``.npz`` (``seqfeatures`` ``(N, L, 4)`` + ``genenames``) or a memory-mapped cache
        directory (:func:`drg.data.write_onehot_memmap`). Exclusive with ``genome``. A list of such files
        gives a model several sequence inputs (``kind: multi_input``, e.g. promoter + enhancer): input ``i``
        is read from file ``i``, rows are matched by name across the files (each may have its own length
        and row order), and the model receives a tuple of ``(N, 4, L_i)`` tensors.
    genome, regions
        FASTA and region file (BED/narrowPeak/GTF/table, 0-based half-open as
        :func:`drg.genome.prepare_regions` reads them): sequences are cut on the fly with jitter.
    length
        Window length for genome data (regions are resized around their centre); default: their length.
    targets
        Target files, one per output modality (tsv/csv/npz, rows matched to sequences by name).
    modalities
        Names of the modalities (default: the file stems).
    folds, fold
        DRG fold-set file and fold index (validation = ``set[fold]``, test = ``set[fold + 1 mod K]``).
    train, val, test
        Explicit split instead of folds: files listing region names (whitespace separated) or lists.
    val_fraction, test_fraction
        Random split (seeded) when neither folds nor an explicit split is given.
    normalize
        Normalisation methods (chain) applied to every modality, or a mapping modality -> chain; fitted on
        the training rows only (:func:`drg.data.normalize` with ``reference``) and stored in provenance.
    missing
        Names present in sequences but not in a target file (or vice versa), or present in one input file
        but not in another: ``"error"`` or ``"drop"`` (keep the common names and warn).
    nonfinite
        NaN/inf target values: as :func:`drg.data.read_targets` (``"error"``, ``"drop"``, ``"zero"``).
    """

    onehot: str | list[str] | None = None
    genome: str | None = None
    regions: str | None = None
    length: int | None = Field(default=None, gt=0)
    targets: list[str] = Field(default_factory=list)
    modalities: list[str] | None = None
    folds: str | None = None
    fold: int = Field(default=0, ge=0)
    train: str | list[str] | None = None
    val: str | list[str] | None = None
    test: str | list[str] | None = None
    val_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    test_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    normalize: list[NormMethod] | dict[str, list[NormMethod]] | None = None
    missing: Literal["error", "drop"] = "error"
    nonfinite: Literal["error", "drop", "zero"] = "error"

    @field_validator("targets", mode="before")
    @classmethod
    def _one_target(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("onehot")
    @classmethod
    def _some_inputs(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("data.onehot lists no files; give one file per model input")
        return value

    @property
    def onehot_files(self) -> list[str]:
        """The one-hot files, one per model input (empty for genome data)."""
        if self.onehot is None:
            return []
        return list(self.onehot) if isinstance(self.onehot, list) else [self.onehot]

    @property
    def multi_input(self) -> bool:
        """True when ``onehot`` is a list: the model takes a tuple of inputs."""
        return isinstance(self.onehot, list)

    @model_validator(mode="after")
    def _check_source(self) -> DataConfig:
        if self.onehot is not None and self.genome is not None:
            raise ValueError("give either data.onehot or data.genome (+ regions), not both")
        if self.genome is not None and self.regions is None:
            raise ValueError("data.genome needs data.regions")
        if self.modalities is not None and self.targets and len(self.modalities) != len(self.targets):
            raise ValueError(f"{len(self.modalities)} modality names for {len(self.targets)} target files")
        return self


class LossConfig(Config):
    """Loss of one output modality.

    ``name`` is any loss of :func:`drg.training.losses.get_loss` (``mse``, ``poisson``, ``pearson_tracks``,
    ``pearson_regions``, ``correlation_mse``, ``cosine``, ``bce``, ``ce``, ``profile``); ``"none"`` trains
    nothing on the modality and leaves it out of validation and early stopping. ``weight`` multiplies the
    modality's loss in the total; ``params`` are passed to the loss.
    """

    name: str = "mse"
    weight: float = Field(default=1.0, ge=0.0)
    params: dict[str, Any] = Field(default_factory=dict)


class OptimizerConfig(Config):
    """Optimiser and its settings.

    ``first_layer_lr`` gives the parameters of the first convolution (the first ``Conv1d`` in module
    order) their own learning rate; ``momentum``/``nesterov`` apply to SGD, ``betas``/``eps`` to the Adam
    family.
    """

    name: Literal["sgd", "adam", "adamw", "nadam"] = "adamw"
    lr: float = Field(default=1e-3, gt=0.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    momentum: float = Field(default=0.9, ge=0.0, lt=1.0)
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(default=1e-8, gt=0.0)
    first_layer_lr: float | None = Field(default=None, gt=0.0)


class ScheduleConfig(Config):
    """Learning-rate schedule: a multiplier of every group's base learning rate.

    ``name``: ``"constant"``; ``"plateau"`` (multiply by ``factor`` when the validation loss has not improved
    by ``threshold`` (relative) for ``patience`` epochs, not below ``min_lr``); ``"cosine"`` (cosine decay to
    ``min_lr`` over the training steps after warm-up); ``"onecycle"`` (rise from ``1/div_factor`` to 1 over
    ``pct_start`` of the steps, then cosine decay to ``1/final_div_factor``). A linear warm-up over
    ``warmup_epochs`` epochs or ``warmup_steps`` steps precedes every schedule except one-cycle.
    """

    name: Literal["constant", "plateau", "cosine", "onecycle"] = "constant"
    warmup_epochs: int = Field(default=0, ge=0)
    warmup_steps: int = Field(default=0, ge=0)
    factor: float = Field(default=0.5, gt=0.0, lt=1.0)
    patience: int = Field(default=2, ge=0)
    threshold: float = Field(default=1e-4, ge=0.0)
    min_lr: float = Field(default=0.0, ge=0.0)
    pct_start: float = Field(default=0.3, gt=0.0, lt=1.0)
    div_factor: float = Field(default=25.0, ge=1.0)
    final_div_factor: float = Field(default=1e4, ge=1.0)


class AugmentationConfig(Config):
    """Training augmentation and test-time averaging.

    ``reverse_complement``: random strand flip (probability 0.5) during training; ``shift``: random shift
    in ``[-shift, shift]`` (array data: content shifted, zeros shifted in; genome data: the window jitters).
    ``predict_rc`` averages predictions of both strands and ``predict_shift`` over shifts ``-s, 0, s`` at
    validation, test and prediction time.

    For several inputs (``data.onehot`` a list) each setting is one value for every input or a list with
    one value per input (``reverse_complement: [true, false]`` flips the DNA input but not a transcript
    input); every input of an example draws its own flip and shift.
    """

    reverse_complement: bool | list[bool] = False
    shift: NonNegative | list[NonNegative] = 0
    predict_rc: bool | list[bool] = False
    predict_shift: NonNegative | list[NonNegative] = 0

    def per_input(self, name: str, n_inputs: int) -> list[Any]:
        """Setting ``name`` as one value per input (a single value repeated ``n_inputs`` times)."""
        value = getattr(self, name)
        if not isinstance(value, list):
            return [value] * n_inputs
        if len(value) != n_inputs:
            raise InputError(f"augmentation.{name} has {len(value)} values for {n_inputs} input(s); give one "
                             "value, or one per input")
        return list(value)


class StoppingConfig(Config):
    """When training stops, fine-tuning rounds and non-finite loss handling.

    Training stops after ``max_epochs`` or when the validation loss has not improved by ``min_delta`` for
    ``patience`` epochs. Then, for each of ``rounds`` DRG-style rounds, the best weights are reloaded, the
    learning rate is multiplied by ``round_lr_factor`` and training continues with fresh patience (still
    within ``max_epochs``). A non-finite loss rolls model and optimiser back to the state at the end of the
    last epoch, multiplies the learning rate by ``nan_lr_factor`` and warns; after ``max_nan_rollbacks``
    rollbacks training stops with an error.
    """

    max_epochs: int = Field(default=50, ge=1)
    patience: int = Field(default=5, ge=1)
    min_delta: float = Field(default=0.0, ge=0.0)
    rounds: int = Field(default=0, ge=0)
    round_lr_factor: float = Field(default=0.1, gt=0.0, le=1.0)
    nan_lr_factor: float = Field(default=0.5, gt=0.0, lt=1.0)
    max_nan_rollbacks: int = Field(default=5, ge=0)


class TrainerConfig(Config):
    """Hardware and loop settings passed to ``lightning.Trainer`` and the data loaders.

    ``precision``: ``"32"``, ``"bf16-mixed"`` or ``"16-mixed"`` (mixed precision needs a GPU for speed).
    ``pin_memory`` defaults to True on GPU. ``limit_train_batches`` (int) caps the batches per epoch.
    ``gradient_clip`` clips the global gradient norm.
    """

    accelerator: str = "auto"
    devices: int | str | list[int] = 1
    num_nodes: int = Field(default=1, ge=1)
    strategy: str = "auto"
    precision: Literal["32", "bf16-mixed", "16-mixed", "64"] = "32"
    batch_size: int = Field(default=64, ge=1)
    eval_batch_size: int | None = Field(default=None, ge=1)
    num_workers: int = Field(default=0, ge=0)
    pin_memory: bool | None = None
    persistent_workers: bool = False
    gradient_clip: float | None = Field(default=None, gt=0.0)
    limit_train_batches: int | None = Field(default=None, ge=1)
    log_every_n_steps: int = Field(default=50, ge=1)
    progress_bar: bool = True
    threads: int | None = Field(default=None, ge=1)

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class FinetuneConfig(Config):
    """Start from a checkpoint: which parameters to load, how to rename or subset them, what to freeze.

    Attributes
    ----------
    checkpoint
        Checkpoint directory (``weights.safetensors`` + ``config.yaml``) or a run directory holding
        ``checkpoints/best``.
    include, exclude
        ``fnmatch`` patterns on parameter names (after ``rename``); by default everything is loaded.
    rename
        Mapping of name prefixes, old -> new (``{"head.": "old_head."}``).
    keep_tracks
        Output tracks to keep from the checkpoint's head, by name or index (for the first head; a mapping
        modality index -> list for several heads). Parameters whose shapes still differ (a new head for
        new tracks) are left freshly initialised and reported.
    freeze
        ``fnmatch`` patterns of parameters that are not trained.
    """

    checkpoint: str
    include: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=list)
    rename: dict[str, str] = Field(default_factory=dict)
    keep_tracks: list[str | int] | dict[int, list[str | int]] | None = None
    freeze: list[str] = Field(default_factory=list)


class TrainConfig(Config):
    """Everything :func:`drg.training.fit` needs; read with :meth:`TrainConfig.from_yaml`.

    ``model`` is an inline model config mapping (for :func:`drg.models.build`), ``{zoo: name,
    overrides: {...}}``, or the path of a model YAML file; it may be omitted when ``finetune.checkpoint``
    is given (the checkpoint's model config is used). ``losses`` has one entry per modality (a single
    entry applies to all); the string shorthand ``loss: mse`` is accepted. Relative paths are resolved
    against the YAML file's directory by :meth:`from_yaml`.
    """

    seed: int = 0
    out_dir: str | None = None
    data: DataConfig = Field(default_factory=DataConfig)
    model: dict[str, Any] | str | None = None
    losses: list[LossConfig] = Field(default_factory=lambda: [LossConfig()])
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    augmentation: AugmentationConfig = Field(default_factory=AugmentationConfig)
    stopping: StoppingConfig = Field(default_factory=StoppingConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    finetune: FinetuneConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _loss_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "loss" in data:
            data = dict(data)
            loss = data.pop("loss")
            if "losses" in data:
                raise ValueError("give either 'loss' or 'losses', not both")
            items = loss if isinstance(loss, list) else [loss]
            data["losses"] = [{"name": x} if isinstance(x, str) else x for x in items]
        if isinstance(data, dict) and isinstance(data.get("losses"), list):
            data["losses"] = [{"name": x} if isinstance(x, str) else x for x in data["losses"]]
        return data

    @model_validator(mode="after")
    def _check_inputs(self) -> TrainConfig:
        n_inputs = len(self.data.onehot_files) if self.data.multi_input else 1
        for name in ("reverse_complement", "shift", "predict_rc", "predict_shift"):
            value = getattr(self.augmentation, name)
            if isinstance(value, list) and len(value) != n_inputs:
                raise ValueError(f"augmentation.{name} has {len(value)} values for {n_inputs} sequence input(s) "
                                 "(data.onehot); give one value, or one per input")
        return self

    @classmethod
    def from_yaml(cls, path: PathLike) -> TrainConfig:  # type: ignore[override]
        """Read a YAML run config; relative data/model/checkpoint paths are taken relative to its folder."""
        config = super().from_yaml(path)
        return resolve_paths(config, Path(path).resolve().parent)

    def loss_for(self, modality: int, n_modalities: int) -> LossConfig:
        """The loss settings of modality ``modality`` (0-based)."""
        if len(self.losses) == 1:
            return self.losses[0]
        if len(self.losses) != n_modalities:
            raise InputError(f"{len(self.losses)} losses configured for {n_modalities} output modalities; give "
                             "one loss, or one per modality")
        return self.losses[modality]


def _resolve(value: Any, base: Path) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_resolve(v, base) for v in value]
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path))


def resolve_paths(config: TrainConfig, base: PathLike) -> TrainConfig:
    """Return a copy of ``config`` whose relative file paths are made absolute against ``base``."""
    base = Path(base)
    data = config.data.to_dict()
    for key in ("onehot", "genome", "regions", "folds", "targets"):
        data[key] = _resolve(data[key], base)
    for key in ("train", "val", "test"):
        if isinstance(data[key], str):
            data[key] = _resolve(data[key], base)
    raw = config.to_dict()
    raw["data"] = data
    if isinstance(raw.get("model"), str):
        raw["model"] = _resolve(raw["model"], base)
    if raw.get("finetune"):
        raw["finetune"]["checkpoint"] = _resolve(raw["finetune"]["checkpoint"], base)
    if raw.get("out_dir"):
        raw["out_dir"] = _resolve(raw["out_dir"], base)
    return TrainConfig.from_dict(raw)
