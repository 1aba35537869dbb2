"""Tests of multi-input models."""

from __future__ import annotations

import math

import pytest
import torch

from drg.errors import InputError
from drg.models.multi import MultiInputConfig, MultiInputModel


def _trunk(length: int, n_out: int = 1, **kw) -> dict:
    """A linear trunk: one 1-bp kernel, no bias, no activation, mean over positions, linear head."""
    cfg = {"input_length": length, "activation": "none",
               "first_layer": {"n_kernels": 1, "kernel_size": 1, "bias": False}, "reduction": "mean",
               "heads": [{"n_outputs": n_out}]}
    cfg.update(kw)
    return cfg


def _onehot(seq: str) -> torch.Tensor:
    idx = torch.tensor(["ACGT".index(b) for b in seq])
    return torch.nn.functional.one_hot(idx, 4).T.float()[None]


def _set_trunk(trunk, base_values, head_weight=1.0, head_bias=0.0):
    with torch.no_grad():
        trunk.first_layer.conv.weight.copy_(torch.tensor(base_values, dtype=torch.float32).view(1, 4, 1))
        trunk.heads[0].linear.weight.fill_(head_weight)
        trunk.heads[0].linear.bias.fill_(head_bias)


def _hand(seq: str, values, w=1.0, b=0.0) -> float:
    """mean over positions of the base value, through the linear head."""
    return w * sum(values["ACGT".index(c)] for c in seq) / len(seq) + b


def test_difference_is_exactly_f_a_minus_f_b_with_hand_set_trunks():
    cfg = MultiInputConfig(n_inputs=2, trunks=[_trunk(6), _trunk(4)],
                           outputs=[{"inputs": [0, 1], "function": "difference"}])
    model = MultiInputModel(cfg).eval()
    va, vb = [1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 0.0]
    _set_trunk(model.trunks[0], va, 2.0, 0.25)
    _set_trunk(model.trunks[1], vb, -1.0, 1.0)
    a, b = "AACGTT", "GGCA"
    out = model([_onehot(a), _onehot(b)])
    expected = _hand(a, va, 2.0, 0.25) - _hand(b, vb, -1.0, 1.0)
    assert out.shape == (1, 1)
    assert out.item() == pytest.approx(expected, abs=1e-6)
    # the same with the trunks called directly
    fa, fb = model.trunk_for(0)(_onehot(a)), model.trunk_for(1)(_onehot(b))
    assert torch.equal(out, fa - fb)


def test_ratio_fraction_direct_and_log_transform():
    outputs = [{"name": "ratio", "inputs": [0, 1], "function": "ratio", "eps": 0.0},
               {"name": "fraction", "inputs": [0, 1], "function": "fraction", "eps": 0.0},
               {"name": "direct", "inputs": [1], "function": "direct", "log_offset": 2.0, "log_base": 2.0},
               {"name": "swapped", "inputs": [1, 0], "function": "difference"}]
    model = MultiInputModel(MultiInputConfig(n_inputs=2, trunks=[_trunk(3), _trunk(3)], outputs=outputs)).eval()
    _set_trunk(model.trunks[0], [3.0, 3.0, 3.0, 3.0])
    _set_trunk(model.trunks[1], [1.0, 1.0, 1.0, 1.0])
    ratio, fraction, direct, swapped = model([_onehot("ACG"), _onehot("TTT")])
    assert ratio.item() == pytest.approx(3.0)
    assert fraction.item() == pytest.approx(0.75)
    assert direct.item() == pytest.approx(math.log(2.0 + 1.0) / math.log(2.0))
    assert swapped.item() == pytest.approx(-2.0)
    assert model.n_outputs == [1, 1, 1, 1]
    # negative trunk outputs are clipped at zero before ratio and fraction (as DRG's ReLU pre-function)
    _set_trunk(model.trunks[1], [-1.0, -1.0, -1.0, -1.0])
    model.combiners[0].eps = 1e-3
    ratio, fraction, *_ = model([_onehot("ACG"), _onehot("TTT")])
    assert ratio.item() == pytest.approx(3.001 / 1e-3)
    assert fraction.item() == pytest.approx(3.0 / 3.0, abs=1e-6)


def test_shared_trunk_is_one_parameter_set():
    shared = MultiInputModel(MultiInputConfig(n_inputs=3, shared=True, trunks=[_trunk(5, n_out=2)],
                                              outputs=[{"inputs": [0, 1, 2], "n_outputs": 1}]))
    separate = MultiInputModel(MultiInputConfig(n_inputs=3, trunks=[_trunk(5, n_out=2)] * 3,
                                                outputs=[{"inputs": [0, 1, 2], "n_outputs": 1}]))
    n_trunk = sum(p.numel() for p in shared.trunks[0].parameters())
    n_comb = sum(p.numel() for p in shared.combiners.parameters())
    assert sum(p.numel() for p in shared.parameters()) == n_trunk + n_comb
    assert sum(p.numel() for p in separate.parameters()) == 3 * n_trunk + n_comb
    assert shared.trunk_for(0) is shared.trunk_for(2)
    assert not any(k.startswith("trunks.1.") for k in shared.state_dict())
    # separate trunks with the same config start from different weights (seed + i)
    assert not torch.equal(separate.trunks[0].first_layer.conv.weight, separate.trunks[1].first_layer.conv.weight)
    # a change of the one trunk changes the embedding of every input
    X = [_onehot("ACGTA"), _onehot("CCGTA"), _onehot("TTTTA")]
    before = [e.clone() for e in shared.embed(X)]
    with torch.no_grad():
        shared.trunks[0].heads[0].linear.bias.add_(1.0)
    after = shared.embed(X)
    for b, a in zip(before, after):
        torch.testing.assert_close(a, b + 1.0)


def test_network_combiner_reads_the_mapped_inputs():
    outputs = [{"name": "expr", "inputs": [0, 1], "n_outputs": 3, "fc_layers": 1, "fc_size": 5},
               {"name": "only_b", "inputs": [1], "n_outputs": 2}]
    model = MultiInputModel(MultiInputConfig(n_inputs=2, trunks=[_trunk(8, n_out=4), _trunk(6, n_out=2)],
                                             outputs=outputs)).eval()
    X = [torch.rand(3, 4, 8), torch.rand(3, 4, 6)]
    expr, only_b = model(X)
    assert expr.shape == (3, 3) and only_b.shape == (3, 2)
    fa, fb = model.trunks[0](X[0]), model.trunks[1](X[1])
    torch.testing.assert_close(expr, model.combiners[0].head(torch.cat([fa, fb], dim=-1)))
    torch.testing.assert_close(only_b, model.combiners[1].head(fb))
    # changing input 0 leaves the output that does not read it unchanged
    X2 = [torch.rand(3, 4, 8), X[1]]
    torch.testing.assert_close(model(X2)[1], only_b)
    assert model.n_outputs == [3, 2]


def test_multi_head_trunks_feed_outputs_by_index():
    trunk = _trunk(5, heads=[{"name": "kt", "n_outputs": 2}, {"name": "kd", "n_outputs": 3}])
    outputs = [{"name": "first", "inputs": [0, 1], "function": "difference"},
               {"name": "second", "inputs": [0, 1], "function": "difference"},
               {"name": "pick", "inputs": [0], "function": "direct", "trunk_head": 1}]
    model = MultiInputModel(MultiInputConfig(n_inputs=2, trunks=[trunk, trunk], outputs=outputs)).eval()
    X = [torch.rand(2, 4, 5), torch.rand(2, 4, 5)]
    first, second, pick = model(X)
    a, b = model.trunks[0](X[0]), model.trunks[1](X[1])
    torch.testing.assert_close(first, a[0] - b[0])
    torch.testing.assert_close(second, a[1] - b[1])
    torch.testing.assert_close(pick, a[1])
    assert model.n_outputs == [2, 3, 3]


def test_build_dispatch_yaml_roundtrip_and_save_load(tmp_path):
    from drg.models import build

    cfg = MultiInputConfig(n_inputs=2, trunks=[_trunk(6), _trunk(4)], seed=5,
                           outputs=[{"inputs": [0, 1], "function": "difference", "track_names": ["x"]},
                                    {"name": "net", "inputs": [0, 1], "n_outputs": 2, "fc_layers": 1}])
    path = tmp_path / "multi.yaml"
    cfg.to_yaml(path)
    a, b = build(cfg.to_dict()), build(path)
    assert isinstance(a, MultiInputModel)
    assert a.config == cfg and b.config == cfg
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    assert a.output_names is None
    X = [torch.rand(2, 4, 6), torch.rand(2, 4, 4)]
    try:
        from drg.models import load_model, save_model
    except ImportError:  # pragma: no cover - weights module absent
        return
    save_model(a, tmp_path / "ckpt")
    c = load_model(tmp_path / "ckpt")
    for x, y in zip(a.eval()(X), c.eval()(X)):
        torch.testing.assert_close(x, y)


def test_errors_name_the_problem():
    model = MultiInputModel(MultiInputConfig(n_inputs=2, trunks=[_trunk(4), _trunk(4)],
                                             outputs=[{"inputs": [0, 1], "function": "difference"}]))
    with pytest.raises(InputError, match="takes 2 input tensors .*got 1"):
        model(torch.rand(1, 4, 4))
    with pytest.raises(InputError, match="takes 2 input tensors .*got 1"):
        model([torch.rand(1, 4, 4)])
    # separate arguments and one list are the same call
    a, b = torch.rand(3, 4, 4), torch.rand(3, 4, 4)
    assert torch.equal(model(a, b), model([a, b]))
    with pytest.raises(InputError, match="batch size"):
        model([torch.rand(1, 4, 4), torch.rand(2, 4, 4)])
    bad = [
        ({"n_inputs": 2, "trunks": [_trunk(4)], "outputs": [{"inputs": [0], "function": "direct"}]}, "1 trunk configs"),
        ({"n_inputs": 2, "trunks": [_trunk(4)] * 2, "outputs": [{"inputs": [0, 1, 1], "function": "difference"}]},
         "takes 2 input"),
        ({"n_inputs": 2, "trunks": [_trunk(4)] * 2, "outputs": [{"inputs": [0, 2], "function": "difference"}]},
         "there are 2 inputs"),
        ({"n_inputs": 2, "trunks": [_trunk(4, n_out=2), _trunk(4, n_out=3)],
              "outputs": [{"inputs": [0, 1], "function": "difference"}]}, "equal width"),
        ({"n_inputs": 1, "trunks": [_trunk(4)], "outputs": [{"inputs": [0]}]}, "needs n_outputs"),
        ({"n_inputs": 1, "trunks": [_trunk(4)], "outputs": [{"inputs": [0], "n_output": 2}]}, "did you mean 'n_outputs'"),
    ]
    for data, message in bad:
        with pytest.raises(InputError, match=message):
            MultiInputConfig.from_dict({"kind": "multi_input", **data})
