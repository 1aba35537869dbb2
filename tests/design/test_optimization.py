"""Sequence design: analytic optima of linear models, constraint invariants, brute-force twins and plots."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from drg.design._design_constraints import (
    ConstraintChecker,
    check_motif,
    gc_bounds,
    reverse_complement_motif,
    strand_patterns,
)
from drg.design.optimization import (
    DesignConstraints,
    DesignObjective,
    DesignResult,
    optimize_sequences,
)
from drg.errors import InputError
from drg.genome import one_hot_decode
from tests.attribution._toy import Linear, SmallCNN, make, one_hot

L = 16


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: the many tiny forward passes of a search are much faster without thread contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def linear():
    return Linear(L, n_tracks=3, seed=0).eval()


def weights(model, track):
    return model.weight.detach().double().numpy()[track]


def bias(model, track):
    return float(model.bias.detach().double()[track])


def codes(X):
    return np.asarray(X).argmax(1)


def run(model, X, objective, **kwargs):
    kwargs.setdefault("device", "cpu")
    return optimize_sequences(model, X, objective, **kwargs)


def forward_objective(model, X, objective_fn):
    with torch.no_grad():
        return objective_fn(model(torch.as_tensor(np.asarray(X, dtype=np.float32))).double().numpy())


def optimum(model, w):
    """Best sequence and value of sum_t w_t f_t for a Linear model: argmax of the combined weight per position."""
    W = np.tensordot(w, model.weight.detach().double().numpy(), axes=1)
    return W.argmax(0), W.max(0).sum() + float(w @ model.bias.detach().double().numpy())


def steps_of(result, i=0):
    t = result.trajectory
    return t[(t["sequence"] == i) & (t["step"] > 0)]


# ---------------------------------------------------------------- greedy on a linear model: analytic oracle


def test_greedy_reaches_the_analytic_optimum_with_weight_gains(linear):
    X = one_hot(3, L, seed=1)
    result = run(linear, X, DesignObjective.maximize(1))
    W = weights(linear, 1)
    best, value = optimum(linear, np.array([0.0, 1.0, 0.0]))
    assert isinstance(result, DesignResult)
    assert np.all(codes(result.X) == best)
    np.testing.assert_allclose(result.final_objective, value, rtol=1e-5)
    for i in range(3):
        rows = steps_of(result, i)
        assert len(rows) == int((codes(X)[i] != best).sum())  # one edit per non-optimal position
        prev = result.start_objective[i]
        gains = []
        for _, r in rows.iterrows():
            gain = W["ACGT".index(r["to_base"]), r["position"]] - W["ACGT".index(r["from_base"]), r["position"]]
            np.testing.assert_allclose(r["objective"] - prev, gain, rtol=1e-4, atol=1e-5)
            gains.append(gain)
            prev = r["objective"]
        assert gains == sorted(gains, reverse=True)  # the biggest gain first
    np.testing.assert_allclose(result.start_objective, codes_value(W, codes(X)) + bias(linear, 1), rtol=1e-5)


def codes_value(W, c):
    return W[c, np.arange(W.shape[1])].sum(-1)


def test_tism_scorer_takes_the_same_path_on_a_linear_model(linear):
    X = one_hot(2, L, seed=2)
    ism = run(linear, X, DesignObjective.maximize([0, 2], weights=[1.0, -0.5]))
    tism = run(linear, X, DesignObjective.maximize([0, 2], weights=[1.0, -0.5]), scorer="tism", top_k=3)
    cols = ["sequence", "step", "position", "from_base", "to_base"]
    assert ism.trajectory[cols].equals(tism.trajectory[cols])
    np.testing.assert_array_equal(ism.X, tism.X)
    np.testing.assert_allclose(ism.trajectory["objective"], tism.trajectory["objective"], rtol=1e-6)


@pytest.mark.parametrize("objective, w", [
    (DesignObjective.maximize([0, 2], weights=[2.0, -1.0]), np.array([2.0, 0.0, -1.0])),
    (DesignObjective.minimize(0), np.array([-1.0, 0.0, 0.0])),
    (DesignObjective.maximize("all"), np.array([1.0, 1.0, 1.0]) / 3),
    (DesignObjective.difference([0], against=[1, 2]), np.array([1.0, -0.5, -0.5])),
])
def test_linear_objectives_reach_their_optimum(linear, objective, w):
    X = one_hot(2, L, seed=3)
    result = run(linear, X, objective)
    best, value = optimum(linear, w)
    assert np.all(codes(result.X) == best)
    np.testing.assert_allclose(result.final_objective, value, rtol=1e-5, atol=1e-5)
    # the objective is the documented function of the predictions
    preds = result.final_predictions
    order = list(np.flatnonzero(w)) if objective.kind != "maximize" or objective.tracks != "all" else [0, 1, 2]
    assert result.track_names == [f"track_{c}" for c in order]
    np.testing.assert_allclose(result.final_objective, preds @ w[order], rtol=1e-6)


def test_target_objective_hits_a_reachable_target():
    model = Linear(40, n_tracks=2, seed=4).eval()
    X = one_hot(2, 40, seed=5)
    with torch.no_grad():
        goal = model(torch.from_numpy(one_hot(1, 40, seed=6))).double().numpy()[0]
    result = run(model, X, DesignObjective.target([0, 1], targets=goal))
    start_err = ((result.start_predictions - goal) ** 2).sum(1)
    final_err = ((result.final_predictions - goal) ** 2).sum(1)
    assert np.all(start_err > 1.0)
    assert np.all(final_err < 1e-2 * start_err)
    np.testing.assert_allclose(result.final_objective, -final_err / 2, rtol=1e-6)
    # one track: the many small weight differences let greedy come very close
    one = run(model, X, DesignObjective.target(1, targets=[goal[1]]))
    assert np.all(np.abs(one.final_predictions[:, 0] - goal[1]) < 0.05)
    assert np.all(np.abs(one.start_predictions[:, 0] - goal[1]) > 1.0)


def test_edits_per_step_reaches_the_same_optimum_in_fewer_steps(linear):
    X = one_hot(2, L, seed=7)
    one = run(linear, X, 0)
    many = run(linear, X, 0, edits_per_step=4)
    np.testing.assert_array_equal(one.X, many.X)
    assert many.trajectory["step"].max() < one.trajectory["step"].max()
    assert len(steps_of(many)) == len(steps_of(one))


def test_n_steps_limits_greedy_to_the_best_k_gains(linear):
    X = one_hot(1, L, seed=8)
    W = weights(linear, 0)
    result = run(linear, X, 0, n_steps=3)
    gains = np.sort(W.max(0) - W[codes(X)[0], np.arange(L)])[::-1]
    np.testing.assert_allclose(result.final_objective - result.start_objective, gains[:3].sum(), rtol=1e-5)


# ---------------------------------------------------------------- beam and annealing


def test_beam_is_at_least_greedy_and_width_one_is_greedy(linear):
    X = one_hot(3, L, seed=9)
    greedy = run(linear, X, 2, n_steps=4)
    wide = run(linear, X, 2, method="beam", beam_width=4, n_steps=4)
    assert np.all(wide.final_objective >= greedy.final_objective - 1e-5)
    narrow = run(linear, X, 2, method="beam", beam_width=1, n_steps=4)
    cols = ["sequence", "step", "position", "to_base"]
    assert narrow.trajectory[cols].equals(greedy.trajectory[cols])
    full = run(linear, X, 2, method="beam", beam_width=3)
    best, _value = optimum(linear, np.array([0.0, 0.0, 1.0]))
    assert np.all(codes(full.X) == best)


def test_beam_beats_greedy_on_a_nonlinear_model():
    model = make(SmallCNN, 3, seed=1)
    X = one_hot(3, 30, seed=10)
    greedy = run(model, X, DesignObjective.difference([0], [1, 2]), n_steps=3)
    beam = run(model, X, DesignObjective.difference([0], [1, 2]), method="beam", beam_width=3, n_steps=3)
    assert np.all(beam.final_objective >= greedy.final_objective - 1e-6)


def test_annealing_is_reproducible_and_improves(linear):
    X = one_hot(3, L, seed=11)
    a = run(linear, X, 1, method="anneal", n_steps=150, seed=5)
    b = run(linear, X, 1, method="anneal", n_steps=150, seed=5)
    c = run(linear, X, 1, method="anneal", n_steps=150, seed=6)
    assert a.trajectory.equals(b.trajectory) and np.array_equal(a.X, b.X)
    assert not a.trajectory.equals(c.trajectory)
    assert np.all(a.final_objective > a.start_objective)
    assert not a.trajectory["accepted"].all()  # some proposals were rejected
    # the result is the best visited sequence
    best = a.trajectory.groupby("sequence")["objective"].max().to_numpy()
    np.testing.assert_allclose(a.final_objective, best)
    np.testing.assert_allclose(a.final_objective, forward_objective(linear, a.X, lambda p: p[:, 1]), rtol=1e-5)
    assert a.settings["temperature"] > 0


# ---------------------------------------------------------------- trajectory = independent forward passes


@pytest.mark.parametrize("method", ["greedy", "beam", "anneal"])
def test_trajectory_values_equal_forward_passes(method):
    model = make(SmallCNN, 3, seed=2)
    X = one_hot(2, 24, seed=12)
    objective = DesignObjective.target(["cell2", "cell0"], targets=[0.5, -0.2])
    result = run(model, X, objective, method=method, n_steps=4 if method != "anneal" else 20, beam_width=2,
                 return_sequences=True, scorer="ism")
    t = result.trajectory
    last = t.groupby(["sequence", "step"]).tail(1)
    seqs = result.sequences
    assert seqs.shape[:2] == (2, t["step"].max() + 1)
    for _, r in last.iterrows():
        x = seqs[r["sequence"], r["step"]][None].astype(np.float32)
        with torch.no_grad():
            p = model(torch.from_numpy(x)).double().numpy()[0]
        np.testing.assert_allclose([r["pred:cell2"], r["pred:cell0"]], p[[2, 0]], rtol=1e-5, atol=1e-6)
        expected = -(((p[[2, 0]] - [0.5, -0.2]) ** 2).mean())
        np.testing.assert_allclose(r["objective"], expected, rtol=1e-5, atol=1e-7)
    if method != "anneal":
        np.testing.assert_array_equal(seqs[:, -1], result.X)
    with torch.no_grad():
        p = model(torch.from_numpy(result.X.astype(np.float32))).double().numpy()
    np.testing.assert_allclose(result.final_predictions, p[:, [2, 0]], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- constraints


def contains(seq, motif):
    pattern = "".join(f"[{''.join(sorted(set(check_iupac(ch))))}]" for ch in motif)
    return re.search(f"(?=({pattern}))", seq) is not None


def check_iupac(ch):
    from drg.design._design_constraints import IUPAC

    return IUPAC[ch]


def planted_linear(length, motifs_at):
    """Linear model whose best sequence spells the given motifs at the given positions (and A elsewhere)."""
    model = Linear(length, n_tracks=1, seed=0).eval()
    W = np.zeros((1, 4, length), dtype=np.float32)
    W[0, 0] = 0.1
    for start, motif in motifs_at:
        for j, ch in enumerate(motif):
            W[0, :, start + j] = 0.0
            W[0, "ACGT".index(ch), start + j] = 1.0 + 0.01 * j
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(W))
    return model


def test_forbidden_motifs_never_appear_on_either_strand():
    model = planted_linear(30, [(3, "GAATTC"), (14, "CAGGT"), (22, "ACCTG")])
    X = one_hot(3, 30, seed=13)
    forbidden = ["GAATTC", "CAGG"]
    # start sequences free of the motifs so that every step must avoid creating them
    for i, s in enumerate(one_hot_decode(X)):
        assert not any(contains(s, m) or contains(s, reverse_complement_motif(m)) for m in forbidden), i
    result = run(model, X, 0, constraints=DesignConstraints(forbidden=forbidden), return_sequences=True)
    for i in range(3):
        for step in one_hot_decode(result.sequences[i]):
            for m in forbidden:
                assert not contains(step, m) and not contains(step, reverse_complement_motif(m))
    free = run(model, X, 0)
    assert all("GAATTC" in s and "CAGG" in s for s in one_hot_decode(free.X))  # the constraint binds
    assert np.all(result.final_objective < free.final_objective)


def test_start_sequences_with_a_forbidden_motif_are_repaired_or_rejected():
    model = planted_linear(24, [(2, "GAATTC")])
    X = one_hot(2, 24, seed=14)
    seqs = one_hot_decode(X)
    seqs[0] = seqs[0][:10] + "GGATCC" + seqs[0][16:]  # BamHI site
    from drg.genome import one_hot_encode

    X = one_hot_encode(seqs)
    result = run(model, X, 0, constraints=DesignConstraints(forbidden=["GGATCC"]))
    assert all("GGATCC" not in s for s in one_hot_decode(result.X))
    t = result.trajectory
    assert (t[t["sequence"] == 0]["phase"] == "repair").sum() >= 1
    assert (t[t["sequence"] == 1]["phase"] == "repair").sum() == 0
    with pytest.raises(InputError, match="GGATCC"):
        run(model, X, 0, constraints=DesignConstraints(forbidden=["GGATCC"], repair=False))
    with pytest.raises(InputError, match="no allowed edit repairs"):
        run(model, X, 0, constraints=DesignConstraints(forbidden=["GGATCC"], fixed=[(8, 18)]))


def test_fixed_positions_are_never_edited(linear):
    X = one_hot(3, L, seed=15)
    mask = np.zeros(L, dtype=bool)
    mask[[0, 5, 6, 7, 15]] = True
    for fixed in (mask, [(0, 1), (5, 8), (15, 16)], np.broadcast_to(mask, (3, L))):
        result = run(linear, X, 0, constraints=DesignConstraints(fixed=fixed))
        assert not result.edited[:, mask].any()
        best, _ = optimum(linear, np.array([1.0, 0.0, 0.0]))
        free = ~mask
        assert np.all(codes(result.X)[:, free] == best[free])
        np.testing.assert_array_equal(codes(result.X)[:, mask], codes(X)[:, mask])


def test_gc_range_and_max_edits_hold_at_every_step(linear):
    X = one_hot(4, L, seed=16)
    gc = (0.25, 0.5)
    result = run(linear, X, 2, constraints=DesignConstraints(gc_range=gc, max_edits=4), return_sequences=True)
    start = codes(X)
    for i in range(4):
        for k, s in enumerate(one_hot_decode(result.sequences[i])):
            frac = (s.count("G") + s.count("C")) / L
            if k >= int((result.trajectory.query("sequence == @i")["phase"] == "repair").sum()):
                assert gc[0] - 1e-9 <= frac <= gc[1] + 1e-9
            assert (result.sequences[i, k].argmax(0) != start[i]).sum() <= 4
    assert np.all(result.n_edits <= 4)


def test_max_edits_takes_the_best_k_gains(linear):
    X = one_hot(2, L, seed=17)
    W = weights(linear, 0)
    result = run(linear, X, 0, constraints=DesignConstraints(max_edits=2))
    for i in range(2):
        gains = np.sort(W.max(0) - W[codes(X)[i], np.arange(L)])[::-1]
        np.testing.assert_allclose(result.final_objective[i] - result.start_objective[i], gains[:2].sum(),
                                   rtol=1e-5)
    assert np.all(result.n_edits == 2)
    unchanged = run(linear, X, 0, constraints=DesignConstraints(max_edits=0))
    np.testing.assert_array_equal(unchanged.X, X.astype(np.int8))


def test_unknown_columns_are_not_edited(linear):
    X = one_hot(1, L, seed=18)
    X[0, :, 4] = 0
    result = run(linear, X, 0)
    assert result.X[0, :, 4].sum() == 0 and not result.edited[0, 4]


def test_hits_after_equals_recounting_every_edited_sequence():
    rng = np.random.default_rng(0)
    length = 25
    c = rng.integers(0, 4, size=(3, length)).astype(np.uint8)
    c[1, 7] = 4
    patterns = strand_patterns([check_motif("GCW"), check_motif("TTAN"), check_motif("AC")])
    low, high = gc_bounds(c, (0.3, 0.6))
    checker = ConstraintChecker(c.copy(), np.ones_like(c, dtype=bool), patterns, low, high, None)
    fast = checker.hits_after(c)
    v_fast = checker.violation_after(c, np.arange(3))
    for i in range(3):
        for b in range(4):
            for pos in range(length):
                e = c[i].copy()
                e[pos] = b
                assert fast[i, b, pos] == checker.hits(e[None])[0]
                assert v_fast[i, b, pos] == checker.violation(e[None], np.array([i]))[0]
    # hits count regex matches of the motifs on both strands
    s = one_hot_decode(np.eye(5, 4, dtype=np.int8)[c].transpose(0, 2, 1))
    for i in range(3):
        expected = sum(len(re.findall(f"(?={p})", s[i])) for p in ("GC[AT]", "[AT]GC", "TTA[ACGT]", "[ACGT]TAA",
                                                                  "AC", "GT"))
        assert checker.hits(c[i][None])[0] == expected


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("make_objective, match", [
    (lambda: DesignObjective("maximise", 0), "unknown objective"),
    (lambda: DesignObjective.difference([0], against=None), "against"),
    (lambda: DesignObjective("maximize", 0, targets=[1.0]), "target values"),
    (lambda: DesignObjective("target", 0), "target value"),
])
def test_bad_objectives(make_objective, match):
    with pytest.raises(InputError, match=match):
        make_objective()


def test_bad_arguments(linear):
    X = one_hot(1, L)
    with pytest.raises(InputError, match="both groups"):
        run(linear, X, DesignObjective.difference([0, 1], against=[1]))
    with pytest.raises(InputError, match="target values for 2 tracks"):
        run(linear, X, DesignObjective.target([0, 1], targets=[1.0]))
    with pytest.raises(InputError, match="weights for 1 tracks"):
        run(linear, X, DesignObjective.maximize(0, weights=[1.0, 2.0]))
    with pytest.raises(InputError, match="out of range"):
        run(linear, X, 7)
    with pytest.raises(InputError, match="unknown track name"):
        run(make(SmallCNN, 3), one_hot(1, 20), "cell9")
    with pytest.raises(InputError, match="IUPAC"):
        DesignConstraints(forbidden=["GAXTC"])
    with pytest.raises(InputError, match="gc_range"):
        DesignConstraints(gc_range=(0.7, 0.3))
    with pytest.raises(InputError, match="GC range"):
        run(linear, X, 0, constraints=DesignConstraints(gc_range=(0.51, 0.55)))
    with pytest.raises(InputError, match="not inside"):
        run(linear, X, 0, constraints=DesignConstraints(fixed=[(10, 30)]))
    with pytest.raises(InputError, match="one edit per step"):
        run(linear, X, 0, method="beam", edits_per_step=2)
    with pytest.raises(InputError, match="unknown method"):
        run(linear, X, 0, method="random")
    with pytest.raises(InputError, match="not one-hot"):
        run(linear, X * 2, 0)


# ---------------------------------------------------------------- plots


def test_plots(linear, tmp_path):
    from drg.plotting.design import plot_design_logos, plot_design_trajectory

    X = one_hot(2, L, seed=19)
    result = run(linear, X, DesignObjective.difference([0], [1]), method="anneal", n_steps=30)
    fig = plot_design_trajectory(result, path=tmp_path / "t.png")
    assert len(fig.axes) == 3 and (tmp_path / "t.png").stat().st_size > 0
    assert len(fig.axes[0].lines) == 4  # current and best-so-far for each sequence
    with pytest.raises(InputError, match="not in the trajectory"):
        plot_design_trajectory(result, tracks=["nope"])
    values = np.random.default_rng(0).normal(size=(2, 2, 4, L))
    fig = plot_design_logos(values[0], values[1], result.X_start[0], result.X[0], track_names=result.track_names,
                            predicted_start=result.start_predictions[0], predicted_final=result.final_predictions[0],
                            path=tmp_path / "logo.png")
    n_edited = int(result.edited[0].sum())
    boxes = [p for ax in fig.axes for p in ax.patches if p.get_gid() == "motif_box"]
    assert len(boxes) == 2 * n_edited and n_edited > 0
    assert (tmp_path / "logo.png").stat().st_size > 0
