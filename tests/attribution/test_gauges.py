from __future__ import annotations

import numpy as np
import pytest

from drg.attribution.gauges import apply_delta_gauge, apply_gauge, expand_baseline
from drg.errors import InputError

from ._toy import one_hot


@pytest.fixture
def mx():
    rng = np.random.default_rng(1)
    return rng.normal(size=(3, 2, 4, 7)).astype(np.float32), one_hot(3, 7, seed=2)


def test_hand_computed_position():
    m = np.array([1.0, 2.0, 3.0, 6.0], dtype=np.float32).reshape(1, 1, 4, 1)
    x = np.array([0, 0, 1, 0], dtype=np.float32).reshape(1, 4, 1)
    assert apply_gauge(m, x, "local").ravel().tolist() == [1, 2, 3, 6]
    assert apply_gauge(m, x, "corrected").ravel().tolist() == [-2, -1, 0, 3]
    assert apply_gauge(m, x, "tism").ravel().tolist() == [-2, -1, 0, 3]
    assert apply_gauge(m, x, "input").ravel().tolist() == [0, 0, 3, 0]
    b = np.array([0.5, 0.5, 0.0, 0.0], dtype=np.float32)
    assert apply_gauge(m, x, "hypothetical", b).ravel().tolist() == [-0.5, 0.5, 1.5, 4.5]
    np.testing.assert_allclose(apply_gauge(m, x, "global").ravel(), [-0.25, -0.5, 2.25, -1.5])
    np.testing.assert_allclose(apply_gauge(m, x, "global", b).ravel(), [-0.5, -1.0, 3.0, 0.0])


def test_corrected_equals_hypothetical_uniform(mx):
    m, x = mx
    np.testing.assert_allclose(apply_gauge(m, x, "corrected"), apply_gauge(m, x, "hypothetical", np.full(4, 0.25)),
                               atol=1e-6)
    np.testing.assert_allclose(apply_gauge(m, x, "corrected"), apply_gauge(m, x, "hypothetical"), atol=1e-6)


@pytest.mark.parametrize("gauge", ["hypothetical", "corrected", "tism"])
def test_invariant_to_constant_across_bases(mx, gauge):
    m, x = mx
    shift = np.random.default_rng(3).normal(size=(3, 2, 1, 7)).astype(np.float32)
    b = np.random.default_rng(4).dirichlet(np.ones(4), size=7).T.astype(np.float32)  # (4, L), columns sum to 1
    np.testing.assert_allclose(apply_gauge(m + shift, x, gauge, b), apply_gauge(m, x, gauge, b), atol=1e-5)


def test_local_is_not_invariant(mx):
    m, x = mx
    assert not np.allclose(apply_gauge(m + 1.0, x, "local"), apply_gauge(m, x, "local"))


def test_baseline_shapes_agree(mx):
    m, x = mx
    b = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
    ref = apply_gauge(m, x, "hypothetical", b)
    np.testing.assert_allclose(apply_gauge(m, x, "hypothetical", np.repeat(b[:, None], 7, 1)), ref, atol=1e-6)
    np.testing.assert_allclose(
        apply_gauge(m, x, "hypothetical", np.broadcast_to(b[None, :, None], (3, 4, 7))), ref, atol=1e-6
    )
    per_seq = np.random.default_rng(5).dirichlet(np.ones(4), size=(3, 7)).transpose(0, 2, 1)
    got = apply_gauge(m, x, "hypothetical", per_seq)
    np.testing.assert_allclose(got[1, 0, :, 3], m[1, 0, :, 3] - (m[1, 0, :, 3] * per_seq[1, :, 3]).sum(), atol=1e-6)


def test_bad_inputs(mx):
    m, x = mx
    with pytest.raises(InputError):
        expand_baseline(np.ones(5), x)
    with pytest.raises(InputError):
        apply_gauge(m, x, "nonsense")
    with pytest.raises(InputError):
        apply_gauge(m[:, :, :, :5], x, "local")


def test_delta_gauges(mx):
    m, x = mx
    d = apply_gauge(m, x, "tism")
    assert np.all((d * x[:, None]).sum(2) == 0)
    np.testing.assert_array_equal(apply_delta_gauge(d, x, "raw"), d)
    np.testing.assert_allclose(apply_delta_gauge(d, x, "corrected"), apply_gauge(m, x, "corrected"), atol=1e-6)
