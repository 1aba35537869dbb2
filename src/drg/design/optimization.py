"""Sequence design: edit sequences so that a trained model predicts what you want.

An objective (:class:`DesignObjective`) turns the model's predictions for some tracks into one number to
maximise; constraints (:class:`DesignConstraints`) say which edits are allowed; :func:`optimize_sequences` runs
greedy ascent, beam search or simulated annealing over single-base substitutions and returns a
:class:`DesignResult` with the designed sequences and the full trajectory of edits.

Every objective value that is recorded is a model prediction: ISM deltas are exact, and TISM (first-order)
estimates only choose which candidate edits are predicted with a forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from drg.errors import InputError

__all__ = ["DesignConstraints", "DesignObjective", "DesignResult", "optimize_sequences"]

ObjectiveKind = Literal["maximize", "minimize", "difference", "target"]
Method = Literal["greedy", "beam", "anneal"]
Scorer = Literal["ism", "tism"]
_KINDS = ("maximize", "minimize", "difference", "target")
_ANNEAL_STEPS = 500


def _track_list(tracks: Any) -> Any:
    if tracks is None or (isinstance(tracks, str) and tracks == "all"):
        return "all"
    if isinstance(tracks, (str, int, np.integer)):
        return [tracks]
    return list(tracks)


@dataclass(frozen=True)
class ResolvedObjective:
    """An objective bound to a model's output columns.

    Attributes
    ----------
    kind
        The objective kind.
    columns
        ``(K,)`` model output columns that the objective reads (the tracks, then the ``against`` tracks).
    names
        ``(K,)`` names of those columns.
    weights
        ``(K,)`` weight of each column.
    targets
        ``(K,)`` target values (``target`` objectives only).
    """

    kind: str
    columns: list[int]
    names: list[str]
    weights: np.ndarray
    targets: np.ndarray | None = None

    def __call__(self, predictions: np.ndarray) -> np.ndarray:
        """Objective values ``(...)`` of predictions ``(..., K)`` of the columns."""
        p = np.asarray(predictions, dtype=np.float64)
        if self.targets is not None:
            return -((p - self.targets) ** 2) @ self.weights
        return p @ self.weights


@dataclass(frozen=True)
class DesignObjective:
    """What to optimise, always as a value to **maximise**.

    Parameters
    ----------
    kind
        - ``maximize``: ``sum_t w_t * pred_t`` over ``tracks`` (default weights ``1 / n_tracks``: the mean);
        - ``minimize``: ``-sum_t w_t * pred_t`` (the objective column of a trajectory is this negated value);
        - ``difference``: ``mean(pred[tracks]) - mean(pred[against])``;
        - ``target``: ``-sum_t w_t * (pred_t - target_t) ** 2`` (default weights ``1 / n_tracks``: minus the
          mean squared error to ``targets``).
    tracks
        Output tracks: an index, a name (``model.output_names``), a list of them, or None / ``"all"``.
    against
        ``difference`` only: the second group of tracks.
    weights
        ``maximize``, ``minimize`` and ``target``: one weight per track.
    targets
        ``target`` only: one target value per track (in the model's output units).
    head
        Output head of a multi-head model (None: the heads' outputs concatenated).

    Examples
    --------
    >>> DesignObjective.maximize("liver")                                     # doctest: +SKIP
    >>> DesignObjective.difference(["liver"], against=["heart", "brain"])     # doctest: +SKIP
    >>> DesignObjective.target([0, 1], targets=[2.0, -1.0])                   # doctest: +SKIP
    """

    kind: ObjectiveKind = "maximize"
    tracks: Any = None
    against: Any = None
    weights: Sequence[float] | None = None
    targets: Sequence[float] | None = None
    head: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InputError(f"unknown objective {self.kind!r}; expected one of {', '.join(_KINDS)}")
        if self.kind == "difference":
            if self.against is None:
                raise InputError("a difference objective needs 'against' tracks (mean(tracks) - mean(against))")
            if self.weights is not None:
                raise InputError("a difference objective takes no weights; it compares group means")
        elif self.against is not None:
            raise InputError(f"'against' tracks are only used by difference objectives, not {self.kind}")
        if self.kind == "target" and self.targets is None:
            raise InputError("a target objective needs one target value per track")
        if self.kind != "target" and self.targets is not None:
            raise InputError(f"target values are only used by target objectives, not {self.kind}")
        for name in ("weights", "targets"):
            values = getattr(self, name)
            if values is not None:
                arr = np.asarray(values, dtype=float).ravel()
                if not np.all(np.isfinite(arr)):
                    raise InputError(f"objective {name} must be finite numbers; got {list(values)}")

    @classmethod
    def maximize(cls, tracks: Any = None, weights: Sequence[float] | None = None,
                 head: int | None = None) -> DesignObjective:
        """Maximise the (weighted) mean prediction of ``tracks``."""
        return cls("maximize", tracks, weights=weights, head=head)

    @classmethod
    def minimize(cls, tracks: Any = None, weights: Sequence[float] | None = None,
                 head: int | None = None) -> DesignObjective:
        """Minimise the (weighted) mean prediction of ``tracks``."""
        return cls("minimize", tracks, weights=weights, head=head)

    @classmethod
    def difference(cls, tracks: Any, against: Any, head: int | None = None) -> DesignObjective:
        """Maximise ``mean(tracks) - mean(against)``."""
        return cls("difference", tracks, against=against, head=head)

    @classmethod
    def target(cls, tracks: Any, targets: Sequence[float], weights: Sequence[float] | None = None,
               head: int | None = None) -> DesignObjective:
        """Bring the predictions of ``tracks`` to ``targets`` (maximise minus the weighted squared error)."""
        return cls("target", tracks, targets=targets, weights=weights, head=head)

    def resolve(self, n_outputs: int, output_names: Sequence[str] | None = None) -> ResolvedObjective:
        """Bind the objective to a model with ``n_outputs`` outputs (named ``output_names``)."""
        from drg.attribution.tracks import resolve_tracks

        first = resolve_tracks(_track_list(self.tracks), n_outputs, output_names)
        cols, names = first.indices, list(first.names)
        if len(set(cols)) != len(cols):
            raise InputError(f"tracks {names} list a track twice")
        k = len(cols)
        if self.kind == "difference":
            second = resolve_tracks(_track_list(self.against), n_outputs, output_names)
            shared = sorted(set(cols) & set(second.indices))
            if shared:
                raise InputError(f"tracks {[names[cols.index(c)] for c in shared]} are in both groups of the "
                                 "difference objective")
            if len(set(second.indices)) != len(second.indices):
                raise InputError(f"against tracks {second.names} list a track twice")
            weights = np.concatenate([np.full(k, 1.0 / k), np.full(len(second.indices), -1.0 / len(second.indices))])
            return ResolvedObjective(self.kind, cols + second.indices, names + list(second.names), weights)
        weights = np.full(k, 1.0 / k) if self.weights is None else np.asarray(self.weights, dtype=float).ravel()
        if len(weights) != k:
            raise InputError(f"{len(weights)} objective weights for {k} tracks ({names})")
        if self.kind == "minimize":
            weights = -weights
        targets = None
        if self.kind == "target":
            targets = np.asarray(self.targets, dtype=float).ravel()
            if len(targets) != k:
                raise InputError(f"{len(targets)} target values for {k} tracks ({names})")
        return ResolvedObjective(self.kind, cols, names, weights, targets)

    def describe(self, names: Sequence[str] | None = None) -> str:
        """One line saying what is optimised (track names from ``names`` when given)."""
        shown = ", ".join(names) if names else str(self.tracks)
        if self.kind == "difference" and names:
            k = len(_track_list(self.tracks)) if _track_list(self.tracks) != "all" else len(names)
            return f"maximize mean({', '.join(names[:k])}) - mean({', '.join(names[k:])})"
        if self.kind == "target":
            return f"bring ({shown}) to {list(self.targets or [])}"
        return f"{self.kind} {'weighted ' if self.weights is not None else ''}mean({shown})"


@dataclass(frozen=True)
class DesignConstraints:
    """Which edits are allowed.

    Parameters
    ----------
    fixed
        Positions never edited: ``(start, end)`` intervals (0-based, half-open), a bool mask ``(L,)`` or ``(N, L)``
        (True = fixed), or None. Columns that are not a base (``N``, padding) are never edited either.
    forbidden
        IUPAC motifs (e.g. ``"GAATTC"``, EcoRI) that must not occur on either strand of a designed sequence; no
        accepted edit creates one.
    gc_range
        ``(low, high)`` inclusive range of the GC fraction (over the positions that are bases).
    max_edits
        Maximum Hamming distance from the start sequence.
    repair
        What happens to start sequences that contain a forbidden motif or lie outside the GC range. True (default):
        they are repaired first, by the edits (outside fixed positions, within ``max_edits``) that lower the
        violation and give the best objective, one at a time (phase ``repair`` of the trajectory); a sequence that
        cannot be repaired raises :class:`~drg.errors.InputError`. False: such a start sequence is an InputError.
    """

    fixed: Any = None
    forbidden: Sequence[str] = ()
    gc_range: tuple[float, float] | None = None
    max_edits: int | None = None
    repair: bool = True

    def __post_init__(self) -> None:
        from drg.design._design_constraints import check_motif

        forbidden = [self.forbidden] if isinstance(self.forbidden, str) else list(self.forbidden or ())
        object.__setattr__(self, "forbidden", tuple(check_motif(m) for m in forbidden))
        if self.gc_range is not None:
            try:
                lo, hi = (float(v) for v in self.gc_range)
            except (TypeError, ValueError):
                raise InputError(f"gc_range must be (low, high) fractions; got {self.gc_range!r}") from None
            if not 0.0 <= lo <= hi <= 1.0:
                raise InputError(f"gc_range must satisfy 0 <= low <= high <= 1; got {self.gc_range!r}")
            object.__setattr__(self, "gc_range", (lo, hi))
        if self.max_edits is not None and (isinstance(self.max_edits, bool) or int(self.max_edits) < 0):
            raise InputError(f"max_edits must be a non-negative integer; got {self.max_edits!r}")

    def fixed_mask(self, n: int, length: int) -> np.ndarray:
        """``(n, length)`` bool mask of the fixed positions."""
        if self.fixed is None:
            return np.zeros((n, length), dtype=bool)
        arr = np.asarray(self.fixed)
        if arr.dtype == bool:
            if arr.shape == (length,):
                return np.broadcast_to(arr, (n, length)).copy()
            if arr.shape == (n, length):
                return arr.copy()
            raise InputError(f"fixed mask has shape {arr.shape}; expected ({length},) or ({n}, {length})")
        mask = np.zeros(length, dtype=bool)
        for item in self.fixed:
            try:
                start, end = (int(v) for v in item)
            except (TypeError, ValueError):
                raise InputError(f"fixed positions must be (start, end) intervals or a bool mask; got {item!r}") \
                    from None
            if not 0 <= start < end <= length:
                raise InputError(f"fixed interval [{start}, {end}) is not inside a sequence of length {length} "
                                 "(0-based, half-open)")
            mask[start:end] = True
        return np.broadcast_to(mask, (n, length)).copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description."""
        fixed = self.fixed
        if fixed is not None:
            arr = np.asarray(fixed)
            fixed = f"mask of {int(arr.sum())} positions" if arr.dtype == bool else [list(map(int, f)) for f in fixed]
        return {"fixed": fixed, "forbidden": list(self.forbidden), "gc_range": self.gc_range,
                "max_edits": self.max_edits, "repair": self.repair}


@dataclass
class DesignResult:
    """Designed sequences and how they were reached.

    Attributes
    ----------
    X
        ``(N, 4, L)`` int8 designed sequences (the best sequence each search visited).
    X_start
        ``(N, 4, L)`` int8 start sequences.
    track_names
        ``(K,)`` names of the tracks the objective reads (its tracks, then its ``against`` tracks).
    start_predictions, final_predictions
        ``(N, K)`` float64 model predictions of those tracks.
    start_objective, final_objective
        ``(N,)`` float64 objective values (always to be maximised; see :class:`DesignObjective`).
    trajectory
        One row per edit (and one ``start`` row per sequence at step 0): ``sequence`` (0-based index), ``step``,
        ``phase`` (``start``, ``repair`` or ``optimize``), ``position`` (0-based; -1 on start rows),
        ``from_base``, ``to_base``, ``accepted`` (annealing records rejected proposals too), ``objective`` (of the
        sequence after the step) and one ``pred:<track>`` column per track. Several edits applied in one step
        share the step's objective and predictions.
    sequences
        ``(N, S + 1, 4, L)`` int8 sequence after each step (step 0 = start; sequences that stopped early repeat
        their last state), when ``return_sequences`` was set; else None.
    objective, constraints
        What was optimised under which constraints.
    settings
        Method, scorer and search parameters actually used (e.g. the calibrated annealing temperature), and
        ``track_columns``: the model output columns of ``track_names``.
    """

    X: np.ndarray
    X_start: np.ndarray
    track_names: list[str]
    start_predictions: np.ndarray
    final_predictions: np.ndarray
    start_objective: np.ndarray
    final_objective: np.ndarray
    trajectory: pd.DataFrame
    objective: DesignObjective
    constraints: DesignConstraints
    settings: dict[str, Any] = field(default_factory=dict)
    sequences: np.ndarray | None = None

    @property
    def edited(self) -> np.ndarray:
        """``(N, L)`` bool: positions where the designed sequence differs from the start."""
        return np.any(self.X != self.X_start, axis=1)

    @property
    def n_edits(self) -> np.ndarray:
        """``(N,)`` Hamming distance between designed and start sequences."""
        return self.edited.sum(1)

    def summary(self) -> pd.DataFrame:
        """One row per sequence: start/final objective, gain, number of edits and start/final predictions."""
        table = pd.DataFrame({"start_objective": self.start_objective, "final_objective": self.final_objective,
                              "gain": self.final_objective - self.start_objective, "n_edits": self.n_edits})
        for k, name in enumerate(self.track_names):
            table[f"start:{name}"] = self.start_predictions[:, k]
            table[f"final:{name}"] = self.final_predictions[:, k]
        return table


def _codes_of(X: Any) -> np.ndarray:
    from drg.genome.onehot import _one_hot_codes

    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    arr = np.asarray(X)
    if arr.ndim != 3 or arr.shape[1] != 4 or arr.shape[0] == 0 or arr.shape[2] == 0:
        raise InputError(f"X has shape {arr.shape}; expected one-hot sequences (N, 4, L) with N, L > 0")
    return _one_hot_codes(arr).astype(np.uint8)


def _load_model(model: Any) -> Any:
    if isinstance(model, (str, Path)):
        from drg.training import load

        return load(model)
    return model


def _replay(start: np.ndarray, trajectory: pd.DataFrame) -> np.ndarray:
    """``(N, S + 1, L)`` codes after every step, replaying the accepted edits of the trajectory."""
    _n, _length = start.shape
    edits = trajectory[(trajectory["step"] > 0) & trajectory["accepted"]]
    n_steps = int(trajectory["step"].max()) if len(trajectory) else 0
    out = np.repeat(start[:, None, :], n_steps + 1, axis=1)
    for seq, step, pos, base in zip(edits["sequence"], edits["step"], edits["position"], edits["to_base"]):
        out[seq, step:, pos] = "ACGT".index(base)
    return out


def optimize_sequences(
    model: Any,
    X: Any,
    objective: DesignObjective | int | str | Sequence[int | str],
    *,
    method: Method = "greedy",
    scorer: Scorer = "ism",
    n_steps: int | None = None,
    beam_width: int = 4,
    top_k: int = 8,
    edits_per_step: int = 1,
    temperature: float | None = None,
    cooling: float = 0.99,
    constraints: DesignConstraints | None = None,
    return_sequences: bool = False,
    seed: int = 0,
    batch_size: int = 128,
    device: Any = None,
    verbose: bool = False,
) -> DesignResult:
    """Edit sequences by single-base substitutions to maximise a model objective under constraints.

    Parameters
    ----------
    model
        ``torch.nn.Module`` mapping float32 ``(N, 4, L)`` to ``(N, T)`` (or a list of heads), or a checkpoint / run
        directory (loaded with :func:`drg.training.load`).
    X
        ``(N, 4, L)`` one-hot start sequences (numpy or torch; all-zero columns are ``N`` and never edited).
    objective
        A :class:`DesignObjective`; a track index, name or list of them means ``DesignObjective.maximize(...)``.
    method
        - ``greedy``: each step scores every allowed edit and applies the best one; stops when no edit improves
          the objective (by more than 1e-6 relative) or after ``n_steps`` steps.
        - ``beam``: keeps the ``beam_width`` best distinct sequences per input; each step adds the improving
          children of new members; stops when the beam no longer changes or after ``n_steps`` steps. With
          ``beam_width=1`` it is greedy.
        - ``anneal``: simulated annealing with random allowed edits and Metropolis acceptance (seeded); returns
          the best sequence each chain visited.
    scorer
        How greedy and beam score edits: ``ism`` predicts every single-base edit exactly (receptive-field fast path
        for convolutional models); ``tism`` ranks the allowed edits by their first-order TISM estimate (one
        gradient pass) and predicts only the ``top_k`` best of each sequence exactly.
    n_steps
        Maximum number of steps (None: greedy and beam run until converged; annealing runs 500 steps).
    beam_width
        Sequences kept per input by beam search.
    top_k
        Candidate edits per sequence and step that the ``tism`` scorer predicts exactly.
    edits_per_step
        Greedy: apply up to this many improving edits at distinct positions per step (each checked against the
        constraints after the previous ones; the combination is kept only if its prediction beats the best
        single edit). Annealing: random edits per proposal. Beam search: must be 1.
    temperature, cooling
        Annealing temperature at step 1 and its factor per step (``T_s = temperature * cooling ** (s - 1)``).
        None calibrates the start temperature so that a median-sized loss of a random edit at the start
        sequences is accepted with probability 1/2.
    constraints
        Fixed positions, forbidden motifs, GC range, maximum number of edits (see :class:`DesignConstraints`).
    return_sequences
        Also return the sequence after every step (:attr:`DesignResult.sequences`).
    seed
        Seed of the annealing proposals and acceptances (greedy and beam search are deterministic).
    batch_size
        Sequences per model call.
    device
        Torch device (None: CUDA when available, else CPU).
    verbose
        Show a progress bar.

    Returns
    -------
    DesignResult

    Raises
    ------
    InputError
        Bad arguments, tracks that the model does not have, or a start sequence that violates the constraints and
        cannot (or, with ``repair=False``, may not) be repaired.

    See Also
    --------
    drg.attribution.saturation_mutagenesis : exact single-edit effects.
    drg.attribution.attribute : TISM estimates (``method="tism"``).
    """
    from drg.attribution.gradients import inference_state, resolve_device
    from drg.attribution.tracks import model_output_names, select_outputs
    from drg.design import _design_search as search
    from drg.design._design_constraints import (
        ConstraintChecker,
        gc_bounds,
        strand_patterns,
    )

    if method not in ("greedy", "beam", "anneal"):
        raise InputError(f"unknown method {method!r}; expected greedy, beam or anneal")
    if scorer not in ("ism", "tism"):
        raise InputError(f"unknown scorer {scorer!r}; expected ism or tism")
    for name, value in (("beam_width", beam_width), ("top_k", top_k), ("edits_per_step", edits_per_step),
                        ("batch_size", batch_size)):
        if int(value) < 1:
            raise InputError(f"{name} must be at least 1; got {value}")
    if n_steps is not None and n_steps < 0:
        raise InputError(f"n_steps must be non-negative; got {n_steps}")
    if method == "beam" and edits_per_step != 1:
        raise InputError("beam search takes one edit per step; use edits_per_step=1")
    if temperature is not None and not temperature > 0:
        raise InputError(f"temperature must be positive; got {temperature}")
    if not 0 < cooling <= 1:
        raise InputError(f"cooling must be in (0, 1]; got {cooling}")
    if not isinstance(objective, DesignObjective):
        objective = DesignObjective.maximize(objective)
    constraints = constraints if constraints is not None else DesignConstraints()
    model = _load_model(model)
    start = _codes_of(X)
    n, length = start.shape
    dev = resolve_device(device)
    import torch

    with inference_state(model, dev):
        example = torch.from_numpy(search.one_hot(start[:1])).to(dev)
        _, everything = select_outputs(model, None, example, objective.head)
        resolved = objective.resolve(everything.n_outputs, model_output_names(model, objective.head))
        wrapped, _ = select_outputs(model, resolved.columns, example, objective.head)
        editable = ~constraints.fixed_mask(n, length) & (start < 4)
        cols = np.flatnonzero(editable.any(0))
        window = (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, length)
        pred = search.Predictor(model, wrapped, resolved.columns, objective.head, resolved, dev, int(batch_size),
                                window, verbose)
        low, high = gc_bounds(start, constraints.gc_range)
        if np.any(low > high):
            i = int(np.flatnonzero(low > high)[0])
            raise InputError(f"no G/C count of sequence {i} (0-based, {int((start[i] < 4).sum())} bases) lies in "
                             f"the GC range {constraints.gc_range}", record=str(i))
        checker = ConstraintChecker(start, editable, strand_patterns(constraints.forbidden), low, high,
                                    constraints.max_edits)
        y0 = pred.forward(start)
        state = search.State(start.copy(), y0.copy(), resolved(y0), np.zeros(n, dtype=np.int64))
        trace = search.Trace()
        bad = np.flatnonzero(checker.violation(start, np.arange(n)) > 0)
        if bad.size and not constraints.repair:
            shown = "; ".join(f"sequence {i}: {checker.describe(start[i], int(i))}" for i in bad[:3])
            raise InputError(f"{bad.size} start sequence(s) violate the constraints ({shown}); fix them or allow "
                             "repair (DesignConstraints(repair=True), drg design --repair)", record=str(bad[0]))
        if bad.size:
            search.greedy(pred, checker, state, trace, scorer=scorer, n_steps=None, edits_per_step=1,
                          top_k=top_k, repair=True, verbose=False)
        settings: dict[str, Any] = {"method": method, "scorer": scorer, "n_steps": n_steps, "seed": seed,
                                    "device": str(dev), "track_columns": list(resolved.columns)}
        if method == "greedy":
            settings.update(edits_per_step=edits_per_step, top_k=top_k if scorer == "tism" else None)
            search.greedy(pred, checker, state, trace, scorer=scorer, n_steps=n_steps, edits_per_step=edits_per_step,
                          top_k=top_k, repair=False, verbose=verbose)
        elif method == "beam":
            settings.update(beam_width=beam_width, top_k=top_k if scorer == "tism" else None)
            search.beam(pred, checker, state, trace, scorer=scorer, n_steps=n_steps, beam_width=beam_width,
                        top_k=top_k, verbose=verbose)
        else:
            rng = np.random.default_rng(seed)
            steps = _ANNEAL_STEPS if n_steps is None else int(n_steps)
            t0 = temperature if temperature is not None else search.calibrate_temperature(pred, checker, state, rng)
            settings.update(n_steps=steps, edits_per_step=edits_per_step, temperature=t0, cooling=cooling,
                            scorer=None)
            search.anneal(pred, checker, state, trace, n_steps=steps, edits_per_step=edits_per_step,
                          temperature=t0, cooling=cooling, rng=rng, verbose=verbose)
    trajectory = _trajectory(trace, y0, resolved, n)
    x_final = search.one_hot(state.codes).astype(np.int8)
    x_start = search.one_hot(start).astype(np.int8)
    sequences = None
    if return_sequences:
        sequences = search.one_hot(_replay(start, trajectory).reshape(-1, length)).reshape(n, -1, 4, length)
        sequences = sequences.astype(np.int8)
    return DesignResult(X=x_final, X_start=x_start, track_names=resolved.names, start_predictions=y0,
                        final_predictions=state.y.copy(), start_objective=resolved(y0),
                        final_objective=state.obj.copy(), trajectory=trajectory, objective=objective,
                        constraints=constraints, settings=settings, sequences=sequences)


def _trajectory(trace: Any, y0: np.ndarray, resolved: ResolvedObjective, n: int) -> pd.DataFrame:
    """The trajectory table: start rows first, then the recorded edits, ordered by sequence and step."""
    from drg.design._design_search import Trace

    full = Trace()
    obj0 = resolved(y0)
    for i in range(n):
        full.add(i, 0, "start", -1, -1, -1, True, obj0[i], y0[i])
    full.extend(trace)
    table = pd.DataFrame(full.columns)
    table["position"] = table["position"].astype(np.int64)
    preds = np.stack(full.preds) if full.preds else np.zeros((0, len(resolved.names)))
    for k, name in enumerate(resolved.names):
        table[f"pred:{name}"] = preds[:, k]
    return table.sort_values(["sequence", "step"], kind="stable").reset_index(drop=True)
