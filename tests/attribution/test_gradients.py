from __future__ import annotations

import numpy as np
import pytest
import torch

from drg.attribution.gradients import input_gradients

from ._toy import Linear, SmallCNN, TwoHeads, TwoInputs, make, one_hot


def test_linear_model_gradient_is_weight():
    model = make(Linear, 20)
    x = one_hot(5, 20)
    g = input_gradients(model, x, device="cpu")
    assert g.shape == (5, 3, 4, 20) and g.dtype == np.float32
    np.testing.assert_allclose(g, np.broadcast_to(model.weight.detach().numpy()[None], g.shape), atol=1e-6)


def _autograd_loop(model, x, track):
    xt = torch.from_numpy(x).requires_grad_(True)
    model(xt)[:, track].sum().backward()
    return xt.grad.numpy()


def test_multi_track_equals_single_track_and_loop():
    model = make(SmallCNN)
    x = one_hot(6, 40, seed=3)
    allg = input_gradients(model, x, device="cpu")
    for t in range(4):
        single = input_gradients(model, x, t, device="cpu")[:, 0]
        np.testing.assert_allclose(allg[:, t], single, atol=1e-6)
        np.testing.assert_allclose(allg[:, t], _autograd_loop(model, x, t), atol=1e-6)


def test_batch_size_and_track_chunks_do_not_change_results():
    model = make(SmallCNN)
    x = one_hot(7, 30, seed=4)
    a = input_gradients(model, x, batch_size=32, device="cpu")
    b = input_gradients(model, x, batch_size=3, device="cpu")
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_model_state_restored():
    model = make(SmallCNN).train()
    input_gradients(model, one_hot(2, 30), device="cpu")
    assert model.training
    assert all(p.requires_grad for p in model.parameters())


def test_heads_and_multi_input():
    model = make(TwoHeads)
    x = one_hot(3, 30)
    full = input_gradients(model.body, x, device="cpu")
    np.testing.assert_allclose(input_gradients(model, x, head=1, device="cpu"), full[:, 2:], atol=1e-6)
    np.testing.assert_allclose(input_gradients(model, x, device="cpu"), full, atol=1e-6)

    two = make(TwoInputs)
    x2 = one_hot(3, 24, seed=9)
    g1, g2 = input_gradients(two, [x, x2], tracks=[0, 2], device="cpu")
    assert g1.shape == (3, 2, 4, 30) and g2.shape == (3, 2, 4, 24)
    xt1, xt2 = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(x2).requires_grad_(True)
    two(xt1, xt2)[:, 2].sum().backward()
    np.testing.assert_allclose(g1[:, 1], xt1.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(g2[:, 1], xt2.grad.numpy(), atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    model = make(SmallCNN)
    x = one_hot(4, 30)
    np.testing.assert_allclose(input_gradients(model, x, device="cuda"), input_gradients(model, x, device="cpu"),
                               atol=1e-4)


def test_vectorized_backward_equals_loop():
    from drg.attribution.gradients import selected_gradients
    from drg.attribution.tracks import select_outputs

    model = make(SmallCNN)
    x = torch.from_numpy(one_hot(5, 30, seed=6))
    wrapped, _ = select_outputs(model, None, x[:1])
    a = selected_gradients(wrapped, [x], 4, batch_size=2, device="cpu", vectorize=True, track_chunk=3)[0]
    b = selected_gradients(wrapped, [x], 4, batch_size=5, device="cpu", vectorize=False)[0]
    np.testing.assert_allclose(a, b, atol=1e-6)
