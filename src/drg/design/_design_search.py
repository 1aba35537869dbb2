"""Search loops of sequence design: scoring of single-base edits, greedy, beam search and simulated annealing.

Every objective value a loop records comes from a model prediction: exact ISM deltas added to a forward pass of
the current sequence, or a forward pass of the edited sequence. TISM values only rank candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drg.design._design_constraints import BASES, ConstraintChecker
from drg.utils import progress

# An edit must raise the objective by more than this (relative to 1 + |objective|) to count as a gain, so that
# float32 rounding can never make the search cycle.
_TOL = 1e-6


def one_hot(codes: np.ndarray) -> np.ndarray:
    """``(n, 4, L)`` float32 one-hot of ``(n, L)`` codes (code 4 gives an all-zero column)."""
    eye = np.concatenate([np.eye(4, dtype=np.float32), np.zeros((1, 4), dtype=np.float32)])
    return np.ascontiguousarray(eye[codes].transpose(0, 2, 1))


def threshold(current: np.ndarray) -> np.ndarray:
    """Value an edit must exceed to improve on ``current``."""
    return current + _TOL * (1.0 + np.abs(current))


@dataclass
class Predictor:
    """Model predictions of the selected output columns and edit scores.

    Attributes
    ----------
    model
        ``torch.nn.Module`` (already in eval mode on ``device``).
    columns
        Output columns (of head ``head``) that the objective reads, in order.
    objective
        Maps predictions ``(..., K)`` to objective values ``(...)``.
    """

    model: Any
    wrapped: Any
    columns: list[int]
    head: int | None
    objective: Callable[[np.ndarray], np.ndarray]
    device: Any
    batch_size: int
    window: tuple[int, int]
    verbose: bool = False
    n_forward: int = field(default=0)

    def forward(self, codes: np.ndarray) -> np.ndarray:
        """``(n, K)`` float64 predictions of the sequences ``codes`` ``(n, L)``."""
        import torch

        out = []
        with torch.no_grad():
            for s in range(0, len(codes), self.batch_size):
                x = torch.from_numpy(one_hot(codes[s : s + self.batch_size])).to(self.device)
                out.append(self.wrapped(x).double().cpu().numpy())
        self.n_forward += len(codes)
        if not out:
            return np.zeros((0, len(self.columns)))
        return np.concatenate(out)

    def ism(self, codes: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``(n, 4, L)`` exact objective values of every single-base edit (current value at the current base)."""
        from drg.attribution.mutagenesis import saturation_mutagenesis

        deltas = saturation_mutagenesis(
            self.model, one_hot(codes), self.columns, head=self.head, start=self.window[0], end=self.window[1],
            batch_size=self.batch_size, device=self.device, verbose=False,
        )
        preds = y[:, :, None, None] + deltas.astype(np.float64)
        return self.objective(np.moveaxis(preds, 1, -1))

    def tism(self, codes: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``(n, 4, L)`` first-order (TISM) estimates of the objective after every single-base edit."""
        from drg.attribution.api import attribute

        deltas = attribute(self.model, one_hot(codes), "tism", self.columns, "raw", None,
                           min(self.batch_size, 32), self.device, head=self.head)
        preds = y[:, :, None, None] + deltas.astype(np.float64)
        return self.objective(np.moveaxis(preds, 1, -1))


def edit_values(pred: Predictor, scorer: str, codes: np.ndarray, y: np.ndarray, allowed: np.ndarray,
                top_k: int) -> np.ndarray:
    """``(n, 4, L)`` model objective values of the allowed edits; ``-inf`` for edits not allowed or not evaluated.

    ``ism`` evaluates every edit exactly; ``tism`` ranks the allowed edits by their first-order estimate and
    evaluates the ``top_k`` best of each sequence with a forward pass.
    """
    n, _, length = allowed.shape
    out = np.full(allowed.shape, -np.inf)
    if n == 0 or not allowed.any():
        return out
    if scorer == "ism":
        values = pred.ism(codes, y)
        out[allowed] = values[allowed]
        return out
    est = np.where(allowed, pred.tism(codes, y), -np.inf).reshape(n, -1)
    k = min(top_k, est.shape[1])
    top = np.argsort(-est, axis=1, kind="stable")[:, :k]
    rows, flat = [], []
    for i in range(n):
        keep = top[i][np.isfinite(est[i, top[i]])]
        rows.extend([i] * len(keep))
        flat.extend(keep.tolist())
    if not rows:
        return out
    rows_a, flat_a = np.asarray(rows), np.asarray(flat)
    base, pos = np.divmod(flat_a, length)
    edited = codes[rows_a].copy()
    edited[np.arange(len(rows_a)), pos] = base
    out[rows_a, base, pos] = pred.objective(pred.forward(edited))
    return out


@dataclass
class Trace:
    """Rows of the trajectory table, collected as plain lists."""

    columns: dict[str, list[Any]] = field(default_factory=lambda: {
        "sequence": [], "step": [], "phase": [], "position": [], "from_base": [], "to_base": [],
        "accepted": [], "objective": []})
    preds: list[np.ndarray] = field(default_factory=list)

    def add(self, seq: int, step: int, phase: str, pos: int, ref: int, alt: int, accepted: bool,
            objective: float, preds: np.ndarray) -> None:
        c = self.columns
        c["sequence"].append(seq)
        c["step"].append(step)
        c["phase"].append(phase)
        c["position"].append(pos)
        c["from_base"].append(BASES[ref] if 0 <= ref < 4 else "")
        c["to_base"].append(BASES[alt] if 0 <= alt < 4 else "")
        c["accepted"].append(accepted)
        c["objective"].append(float(objective))
        self.preds.append(np.array(preds, dtype=np.float64, copy=True))

    def extend(self, other: Trace) -> None:
        for key, values in other.columns.items():
            self.columns[key].extend(values)
        self.preds.extend(other.preds)


@dataclass
class State:
    """Current sequences of a search: codes ``(n, L)``, predictions ``(n, K)`` and objective ``(n,)``."""

    codes: np.ndarray
    y: np.ndarray
    obj: np.ndarray
    steps: np.ndarray  # (n,) number of recorded steps per sequence


def _apply_greedy_edits(pred: Predictor, checker: ConstraintChecker, state: State, i: int, values: np.ndarray,
                        k: int) -> list[tuple[int, int, int]]:
    """Up to ``k`` improving edits at distinct positions of sequence ``i``, each allowed after the previous ones.

    Returns ``(position, old code, new code)`` of the edits applied to ``state.codes[i]``.
    """
    order = np.argsort(-values.ravel(), kind="stable")
    length = values.shape[1]
    chosen: list[tuple[int, int, int]] = []
    codes = state.codes[i].copy()
    rows = np.array([i])
    for flat in order:
        if len(chosen) == k or not np.isfinite(values.ravel()[flat]):
            break
        base, pos = divmod(int(flat), length)
        if any(p == pos for p, _, _ in chosen):
            continue
        if chosen and not checker.allowed(codes[None], rows)[0, base, pos]:
            continue
        chosen.append((pos, int(codes[pos]), base))
        codes[pos] = base
    return chosen


def greedy(pred: Predictor, checker: ConstraintChecker, state: State, trace: Trace, *, scorer: str,
           n_steps: int | None, edits_per_step: int, top_k: int, repair: bool, verbose: bool) -> None:
    """Greedy ascent in place on ``state``: each step applies the best allowed edit(s) until none improves.

    With ``repair``, sequences that violate a constraint first take the best edit that lowers their violation
    score, whether or not it improves the objective (phase ``repair``), until they are valid.
    """
    n = len(state.codes)
    rows_all = np.arange(n)
    active = np.ones(n, dtype=bool)
    if repair:
        active = checker.violation(state.codes, rows_all) > 0
    limit = n_steps if n_steps is not None and not repair else None
    step = 0
    bar = progress(iter(int, 1), total=limit, description="repair" if repair else "design",
                   verbose=verbose and not repair)
    for _ in bar:
        if not active.any() or (limit is not None and step >= limit):
            break
        step += 1
        rows = np.flatnonzero(active)
        allowed = checker.allowed(state.codes[rows], rows, repair=repair)
        values = edit_values(pred, scorer, state.codes[rows], state.y[rows], allowed, top_k)
        new_rows, edits = [], []
        for j, i in enumerate(rows):
            if repair:
                flat = int(np.argmax(values[j]))
                if not np.isfinite(values[j].ravel()[flat]):
                    raise_unrepairable(checker, state.codes[i], int(i))
                base, pos = divmod(flat, values.shape[2])
                chosen = [(pos, int(state.codes[i, pos]), base)]
                state.codes[i, pos] = base
            else:
                v = np.where(values[j] > threshold(state.obj[i]), values[j], -np.inf)
                if not np.isfinite(v).any():
                    active[i] = False
                    continue
                chosen = _apply_greedy_edits(pred, checker, state, int(i), v, edits_per_step)
                single = chosen[:1]
                for pos, _, base in chosen:
                    state.codes[i, pos] = base
                if len(chosen) > 1:
                    # keep a combination only if it beats the best single edit (checked after the forward pass)
                    edits.append((i, chosen, float(v.max()), single))
                    new_rows.append(i)
                    continue
            edits.append((i, chosen, None, None))
            new_rows.append(i)
        if not new_rows:
            continue
        idx = np.asarray(new_rows)
        y_new = pred.forward(state.codes[idx])
        obj_new = pred.objective(y_new)
        redo = []
        for r, (i, chosen, best_single, single) in enumerate(edits):
            if best_single is not None and obj_new[r] < best_single:
                for pos, old, _ in chosen[1:]:
                    state.codes[i, pos] = old
                edits[r] = (i, single, None, None)
                redo.append(r)
        if redo:
            fixed = pred.forward(state.codes[idx[redo]])
            y_new[redo] = fixed
            obj_new[redo] = pred.objective(fixed)
        for r, (i, chosen, _, _) in enumerate(edits):
            state.y[i], state.obj[i] = y_new[r], obj_new[r]
            state.steps[i] += 1
            for pos, old, base in chosen:
                trace.add(int(i), int(state.steps[i]), "repair" if repair else "optimize", pos, old, base, True,
                          obj_new[r], y_new[r])
            if repair and checker.violation(state.codes[i][None], np.array([i]))[0] == 0:
                active[i] = False


def raise_unrepairable(checker: ConstraintChecker, codes: np.ndarray, i: int) -> None:
    from drg.errors import InputError

    raise InputError(
        f"start sequence {i} (0-based) violates the constraints ({checker.describe(codes, i)}) and no allowed edit "
        "repairs it (the violation lies in fixed positions, or max_edits is too small)", record=str(i))


@dataclass
class _Member:
    codes: np.ndarray
    y: np.ndarray
    obj: float
    history: list[tuple[int, int, int, float, np.ndarray]]
    children: list[tuple[float, int, int]] | None = None


def beam(pred: Predictor, checker: ConstraintChecker, state: State, trace: Trace, *, scorer: str,
         n_steps: int | None, beam_width: int, top_k: int, verbose: bool) -> None:
    """Beam search in place on ``state``: keep the ``beam_width`` best distinct sequences per input.

    Each step expands the members not expanded before (every allowed single edit that improves the member),
    and the new beam is the best ``beam_width`` of the old members and all their improving children. A beam
    that does not change has converged. The best member ends in ``state``; its edits go to ``trace``.
    """
    n = len(state.codes)
    beams = [[_Member(state.codes[i].copy(), state.y[i].copy(), float(state.obj[i]), [])] for i in range(n)]
    done = np.zeros(n, dtype=bool)
    step = 0
    for _ in progress(iter(int, 1), total=n_steps, description="beam search", verbose=verbose):
        if done.all() or (n_steps is not None and step >= n_steps):
            break
        step += 1
        todo = [(i, m) for i in range(n) if not done[i] for m in beams[i] if m.children is None]
        if todo:
            codes = np.stack([m.codes for _, m in todo])
            rows = np.array([i for i, _ in todo])
            allowed = checker.allowed(codes, rows)
            ys = np.stack([m.y for _, m in todo])
            values = edit_values(pred, scorer, codes, ys, allowed, top_k)
            length = codes.shape[1]
            for j, (_, m) in enumerate(todo):
                v = values[j].ravel()
                ok = np.flatnonzero(v > threshold(np.array(m.obj)))
                ok = ok[np.argsort(-v[ok], kind="stable")][:beam_width]
                m.children = [(float(v[f]), int(f) % length, int(f) // length) for f in ok]
        realize = []
        for i in np.flatnonzero(~done):
            pool = [(m.obj, 0, k, None) for k, m in enumerate(beams[i])]
            seen = {m.codes.tobytes() for m in beams[i]}
            for k, m in enumerate(beams[i]):
                for value, pos, base in m.children or []:
                    child = m.codes.copy()
                    child[pos] = base
                    key = child.tobytes()
                    if key in seen:
                        continue
                    seen.add(key)
                    pool.append((value, 1, k, (pos, base, child)))
            pool.sort(key=lambda item: -item[0])  # stable: members before children on ties
            chosen = pool[:beam_width]
            if all(item[3] is None for item in chosen):
                done[i] = True
                continue
            realize.append((i, chosen))
        if not realize:
            continue
        new_children = [(i, k, edit) for i, chosen in realize for _, _, k, edit in chosen if edit is not None]
        y_new = pred.forward(np.stack([edit[2] for _, _, edit in new_children]))
        obj_new = pred.objective(y_new)
        made: dict[tuple[int, bytes], _Member] = {}
        for r, (i, k, (pos, base, child)) in enumerate(new_children):
            parent = beams[i][k]
            hist = [*parent.history, (pos, int(parent.codes[pos]), base, float(obj_new[r]), y_new[r])]
            made[(i, child.tobytes())] = _Member(child, y_new[r], float(obj_new[r]), hist)
        for i, chosen in realize:
            members = [beams[i][k] if edit is None else made[(i, edit[2].tobytes())] for _, _, k, edit in chosen]
            members.sort(key=lambda m: -m.obj)
            beams[i] = members
    for i in range(n):
        best = max(beams[i], key=lambda m: m.obj)
        state.codes[i], state.y[i], state.obj[i] = best.codes, best.y, best.obj
        for pos, old, base, obj, y in best.history:
            state.steps[i] += 1
            trace.add(i, int(state.steps[i]), "optimize", pos, old, base, True, obj, y)


def calibrate_temperature(pred: Predictor, checker: ConstraintChecker, state: State, rng: np.random.Generator,
                          n_samples: int = 16) -> float:
    """Start temperature at which a median-sized loss of a random allowed edit is accepted with probability 1/2.

    Up to ``n_samples`` random allowed edits of each sequence are predicted; 1.0 when no edit changes the
    objective.
    """
    n, length = state.codes.shape
    allowed = checker.allowed(state.codes, np.arange(n)).reshape(n, -1)
    rows, edited = [], []
    for i in range(n):
        choices = np.flatnonzero(allowed[i])
        if choices.size == 0:
            continue
        for flat in rng.choice(choices, size=min(n_samples, choices.size), replace=False):
            base, pos = divmod(int(flat), length)
            codes = state.codes[i].copy()
            codes[pos] = base
            rows.append(i)
            edited.append(codes)
    if not rows:
        return 1.0
    delta = np.abs(pred.objective(pred.forward(np.stack(edited))) - state.obj[np.asarray(rows)])
    delta = delta[delta > 0]
    return float(np.median(delta) / np.log(2.0)) if delta.size else 1.0


def anneal(pred: Predictor, checker: ConstraintChecker, state: State, trace: Trace, *, n_steps: int,
           edits_per_step: int, temperature: float, cooling: float, rng: np.random.Generator,
           verbose: bool) -> None:
    """Simulated annealing in place on ``state``; the best sequence visited by each chain ends in ``state``.

    Each step proposes ``edits_per_step`` random allowed edits (drawn uniformly among the allowed edits, one
    after the other) for every chain, predicts the proposals in one batch and accepts each with the Metropolis
    rule ``min(1, exp(delta / T))`` at temperature ``T = temperature * cooling ** (step - 1)``. Every proposal
    is recorded, accepted or not; ``objective`` is the value of the chain after the decision.
    """
    n, length = state.codes.shape
    rows = np.arange(n)
    cur = state.codes.copy()
    y, obj = state.y.copy(), state.obj.copy()
    best_codes, best_y, best_obj = cur.copy(), y.copy(), obj.copy()
    for step in progress(range(1, n_steps + 1), total=n_steps, description="annealing", verbose=verbose):
        prop = cur.copy()
        edits: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        for _ in range(edits_per_step):
            allowed = checker.allowed(prop, rows).reshape(n, -1)
            for i in range(n):
                choices = np.flatnonzero(allowed[i])
                if choices.size == 0:
                    continue
                base, pos = divmod(int(choices[rng.integers(choices.size)]), length)
                edits[i].append((pos, int(prop[i, pos]), base))
                prop[i, pos] = base
        u = rng.random(n)
        moved = np.array([bool(e) for e in edits])
        y_prop = y.copy()
        if moved.any():
            y_prop[moved] = pred.forward(prop[moved])
        obj_prop = pred.objective(y_prop)
        t = temperature * cooling ** (step - 1)
        delta = obj_prop - obj
        with np.errstate(over="ignore", divide="ignore"):
            accept = moved & ((delta >= 0) | (u < np.exp(np.minimum(delta, 0.0) / max(t, 1e-300))))
        cur[accept], y[accept], obj[accept] = prop[accept], y_prop[accept], obj_prop[accept]
        better = accept & (obj > best_obj)
        best_codes[better], best_y[better], best_obj[better] = cur[better], y[better], obj[better]
        for i in range(n):
            state.steps[i] += 1
            for pos, old, base in edits[i]:
                trace.add(i, int(state.steps[i]), "optimize", pos, old, base, bool(accept[i]), obj[i], y[i])
    state.codes[:], state.y[:], state.obj[:] = best_codes, best_y, best_obj
