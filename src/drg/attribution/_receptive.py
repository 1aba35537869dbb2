"""Exact single-base-substitution predictions that recompute only the receptive field of each edit.

The model is traced with ``torch.fx``. Its *trunk* is the part of the graph, starting at the input, built from
position-local operations on ``(N, C, L)`` tensors: ``Conv1d`` (stride 1), parameter-free elementwise activations,
``BatchNorm1d`` in eval mode, dropout/identity, ``MaxPool1d``/``AvgPool1d`` (dilation 1, ``stride <= kernel``,
no ``ceil_mode``), sums/differences of trunk tensors (residual connections) and scaling by constants. The rest of
the graph (the *head*) must read only one trunk tensor.

For each edit the change of every trunk tensor is carried as a short window ``delta`` of shape ``(B, W, C)``
 starting at a per-edit position:

- a convolution is linear, so ``conv(x + d) - conv(x) = conv_without_bias(d)``, computed as a transposed
  convolution of the non-zero window of ``d`` into a window ``(K - 1) * dilation`` longer: the cost is that of
  the changed inputs, not of the changed outputs;
- activations and pooling are recomputed on the window from the cached reference values plus ``delta``;
- positions outside ``[0, L)`` of a tensor carry no change (zero padding), which is enforced after every step.

When the head starts with a mean or sum over length, that reduction is updated from the window alone; otherwise
the trunk output is rebuilt by adding the window into the cached reference and the head runs in full. Results
equal full forward passes up to float32 rounding (verified at run time against brute force by the caller).
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class Unsupported(Exception):
    """The model does not have a trunk this module can handle."""


_ELEMENTWISE_MODULES = (
    nn.ReLU, nn.GELU, nn.ELU, nn.SELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.LeakyReLU, nn.Mish,
    nn.Hardtanh, nn.CELU, nn.Softsign, nn.Tanhshrink, nn.LogSigmoid, nn.ReLU6, nn.Hardsigmoid, nn.Hardswish,
)
_IDENTITY_MODULES = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.AlphaDropout)
_ELEMENTWISE_FUNCTIONS = {
    F.relu, F.gelu, F.elu, F.selu, F.silu, F.softplus, F.leaky_relu, F.mish, F.hardtanh, F.relu6,
    torch.relu, torch.sigmoid, torch.tanh, torch.exp, F.sigmoid, F.tanh, torch.abs, torch.square,
}
_ELEMENTWISE_METHODS = {"relu", "sigmoid", "tanh", "exp", "abs", "square"}
_IDENTITY_FUNCTIONS = {F.dropout}
_ADD = {operator.add, torch.add, operator.iadd}
_SUB = {operator.sub, torch.sub, operator.isub}
_MUL = {operator.mul, torch.mul, operator.imul}
_DIV = {operator.truediv, torch.div, operator.itruediv}


def _scalar(a: Any) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool)


class _Op:
    """One trunk operation: how a window of change propagates through it."""

    def __init__(self, kind: str, inputs: list[Any], **params: Any) -> None:
        self.kind = kind
        self.inputs = inputs
        self.params = params


class ReceptiveFieldISM:
    """Fast exact predictions for single-base edits of one-input convolutional models.

    Parameters
    ----------
    model
        ``torch.nn.Module`` in eval mode, one input ``(N, 4, L)``.

    Raises
    ------
    Unsupported
        The model cannot be traced or its trunk uses an operation listed as unsupported in the module docs.
    """

    def __init__(self, model: nn.Module) -> None:
        from torch import fx

        try:
            self.gm = fx.symbolic_trace(model)
        except Exception as err:  # noqa: BLE001 - tracing failures come in many types
            raise Unsupported(f"model cannot be traced with torch.fx ({type(err).__name__})") from None
        self.modules = dict(self.gm.named_modules())
        nodes = list(self.gm.graph.nodes)
        graph_inputs = [n for n in nodes if n.op == "placeholder"]
        if len(graph_inputs) != 1:
            raise Unsupported("model takes more than one input")
        self.input = graph_inputs[0]
        self.ops: dict[Any, _Op] = {}
        for node in nodes:
            if node.op == "placeholder":
                continue
            op = self._classify(node)
            if op is not None:
                self.ops[node] = op
        local = set(self.ops) | {self.input}
        boundary = {n for n in local for u in n.users if u not in self.ops}
        if len(boundary) != 1:
            raise Unsupported(f"the head reads {len(boundary)} trunk tensors; exactly one is supported")
        self.trunk = boundary.pop()
        if self.trunk is self.input:
            raise Unsupported("the model has no convolutional trunk")
        if any(u.op == "output" for u in self.trunk.users):
            raise Unsupported("the trunk output is returned directly")
        self.order = [n for n in nodes if n in self.ops]
        self.reduce = self._reduction()
        self.cache: dict[Any, torch.Tensor] = {}
        self.reduced: torch.Tensor | None = None

    # ------------------------------------------------------------------ graph analysis
    def _is_local(self, a: Any) -> bool:
        return a is self.input or a in self.ops

    def _classify(self, node: Any) -> _Op | None:
        from torch import fx

        args = [a for a in node.args if isinstance(a, fx.Node)] + [
            a for a in node.kwargs.values() if isinstance(a, fx.Node)
        ]
        if not args or not all(self._is_local(a) for a in args):
            return None
        src = args[0]
        if node.op == "call_module":
            mod = self.modules[node.target]
            if len(node.args) != 1 or node.kwargs:
                return None
            if isinstance(mod, nn.Conv1d):
                if mod.stride != (1,) or mod.groups != 1 or mod.padding_mode != "zeros":
                    raise Unsupported(f"{node.target}: only stride-1, groups-1, zero-padded Conv1d is supported")
                k, d = mod.kernel_size[0], mod.dilation[0]
                if mod.padding == "same":
                    pad = d * (k - 1) // 2
                elif mod.padding == "valid":
                    pad = 0
                else:
                    pad = mod.padding[0]
                wt = mod.weight.detach().permute(1, 0, 2).flip(2).contiguous()
                return _Op("conv", [src], k=k, d=d, pad=pad, wt=wt)
            if isinstance(mod, _ELEMENTWISE_MODULES):
                if any(True for _ in mod.parameters()):
                    return None
                return _Op("act", [src], fn=mod)
            if isinstance(mod, _IDENTITY_MODULES):
                return _Op("scale", [src], scale=None)
            if isinstance(mod, nn.BatchNorm1d):
                if mod.training or mod.running_var is None:
                    raise Unsupported(f"{node.target}: BatchNorm1d must be in eval mode with running stats")
                scale = torch.rsqrt(mod.running_var.detach() + mod.eps)
                if mod.weight is not None:
                    scale = scale * mod.weight.detach()
                return _Op("scale", [src], scale=scale)
            if isinstance(mod, (nn.MaxPool1d, nn.AvgPool1d)):
                k = _one(mod.kernel_size)
                s = _one(mod.stride) if mod.stride is not None else k
                p = _one(mod.padding)
                if mod.ceil_mode or s > k or (isinstance(mod, nn.MaxPool1d) and _one(mod.dilation) != 1):
                    raise Unsupported(f"{node.target}: pooling with ceil_mode, dilation or stride > kernel")
                if isinstance(mod, nn.AvgPool1d) and p and not mod.count_include_pad:
                    raise Unsupported(f"{node.target}: AvgPool1d with count_include_pad=False and padding")
                if isinstance(mod, nn.MaxPool1d) and mod.return_indices:
                    raise Unsupported(f"{node.target}: MaxPool1d with return_indices")
                return _Op("pool", [src], k=k, s=s, p=p, max=isinstance(mod, nn.MaxPool1d))
            return None
        if node.op == "call_function":
            target = node.target
            rest = node.args[1:]
            if target in _ELEMENTWISE_FUNCTIONS and not any(isinstance(a, fx.Node) for a in rest):
                return _Op("act", [src], fn=lambda v, _t=target, _r=rest, _k=dict(node.kwargs): _t(v, *_r, **_k))
            if target in _IDENTITY_FUNCTIONS:
                return _Op("scale", [src], scale=None)
            return self._binary(node, target)
        if node.op == "call_method":
            name = node.target
            rest = node.args[1:]
            if name in _ELEMENTWISE_METHODS and not any(isinstance(a, fx.Node) for a in rest):
                return _Op("act", [src], fn=lambda v, _n=name, _r=rest: getattr(v, _n)(*_r))
            if name in ("add", "sub", "mul", "div"):
                table = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}
                return self._binary(node, table[name])
            if name == "contiguous":
                return _Op("scale", [src], scale=None)
        return None

    def _binary(self, node: Any, target: Any) -> _Op | None:
        if len(node.args) != 2 or node.kwargs:
            return None
        a, b = node.args
        la, lb = self._is_local(a), self._is_local(b)
        if target in _ADD | _SUB:
            if la and lb:
                return _Op("sum", [a, b], sign=-1.0 if target in _SUB else 1.0)
            if la and _scalar(b):
                return _Op("scale", [a], scale=None)
            if lb and _scalar(a):
                return _Op("scale", [b], scale=-1.0 if target in _SUB else None)
            return None
        if target in _MUL:
            if la and _scalar(b):
                return _Op("scale", [a], scale=float(b))
            if lb and _scalar(a):
                return _Op("scale", [b], scale=float(a))
            return None
        if target in _DIV and la and _scalar(b):
            return _Op("scale", [a], scale=1.0 / float(b))
        return None

    def _reduction(self) -> tuple[Any, str] | None:
        users = list(self.trunk.users)
        if len(users) != 1:
            return None
        u = users[0]
        dim = keep = None
        if u.op == "call_method" and u.target in ("mean", "sum"):
            name = u.target
            dim = u.args[1] if len(u.args) > 1 else u.kwargs.get("dim")
            keep = u.kwargs.get("keepdim", u.args[2] if len(u.args) > 2 else False)
        elif u.op == "call_function" and u.target in (torch.mean, torch.sum):
            name = "mean" if u.target is torch.mean else "sum"
            dim = u.args[1] if len(u.args) > 1 else u.kwargs.get("dim")
            keep = u.kwargs.get("keepdim", u.args[2] if len(u.args) > 2 else False)
        else:
            return None
        if isinstance(dim, (tuple, list)) and len(dim) == 1:
            dim = dim[0]
        if dim not in (-1, 2) or keep or u.kwargs.get("dtype") is not None:
            return None
        return u, name

    # ------------------------------------------------------------------ reference pass
    def _run(self, env: dict[Any, Any], skip: set[Any]) -> Any:
        from torch.fx.node import map_arg

        for node in self.gm.graph.nodes:
            if node in env or node in skip:
                continue
            args = map_arg(node.args, lambda n: env[n])
            kwargs = map_arg(node.kwargs, lambda n: env[n])
            if node.op == "get_attr":
                value: Any = self.gm
                for part in node.target.split("."):
                    value = getattr(value, part)
            elif node.op == "call_module":
                value = self.modules[node.target](*args, **kwargs)
            elif node.op == "call_function":
                value = node.target(*args, **kwargs)
            elif node.op == "call_method":
                value = getattr(args[0], node.target)(*args[1:], **kwargs)
            elif node.op == "output":
                return args[0]
            else:
                raise Unsupported(f"unexpected graph node {node.op}")
            env[node] = value
        raise Unsupported("graph has no output")

    @torch.no_grad()
    def prepare(self, X: torch.Tensor) -> Any:
        """Cache every trunk tensor for the reference sequences ``X`` ``(n, 4, L)``; returns the model outputs."""
        env: dict[Any, Any] = {self.input: X}
        out = self._run(env, set())
        self.cache = {}
        for node in [self.input, *self.order]:
            v = env[node]
            if not isinstance(v, torch.Tensor) or v.ndim != 3:
                raise Unsupported("a trunk tensor is not (N, C, L)")
            self.cache[node] = (v.contiguous(), 0, v.shape[2])
        if self.reduce is not None:
            self.reduced = env[self.reduce[0]]
        return out

    # ------------------------------------------------------------------ edits
    def _gather(self, node: Any, seq: torch.Tensor, start: torch.Tensor, width: int) -> torch.Tensor:
        """Cached values ``(B, C, width)`` of ``node`` from ``start`` (zeros outside ``[0, L)``)."""
        values, margin, length = self.cache[node]
        need = max(0, int(-start.min()), int(start.max()) + width - length)
        if need > margin:
            core = values[:, :, margin : margin + length]
            margin = need + 64
            values = F.pad(core, (margin, margin))
            self.cache[node] = (values, margin, length)
        windows = values.unfold(2, width, 1)  # (n, C, L + 2m - width + 1, width)
        return windows[seq, :, start + margin]

    def _length(self, node: Any) -> int:
        return self.cache[node][2]

    @staticmethod
    def _outside(start: torch.Tensor, width: int, length: int) -> bool:
        return bool((start < 0).any()) or bool((start + width > length).any())

    @staticmethod
    def _valid(start: torch.Tensor, width: int, length: int) -> torch.Tensor:
        pos = start[:, None] + torch.arange(width, device=start.device)
        return ((pos >= 0) & (pos < length))[:, None, :]

    def _mask(self, delta: torch.Tensor, start: torch.Tensor, length: int) -> torch.Tensor:
        if not self._outside(start, delta.shape[2], length):
            return delta
        valid = self._valid(start, delta.shape[2], length)
        return torch.where(valid, delta, torch.zeros((), dtype=delta.dtype, device=delta.device))

    @staticmethod
    def _place(delta: torch.Tensor, offset: torch.Tensor, width: int) -> torch.Tensor:
        b, c, w = delta.shape
        first = int(offset[0])
        if bool((offset == first).all()):
            return F.pad(delta, (first, width - w - first))
        out = delta.new_zeros(b, c, width)
        index = (offset[:, None] + torch.arange(w, device=delta.device))[:, None, :].expand(b, c, w)
        return out.scatter_add_(2, index, delta)

    @torch.no_grad()
    def predict_edits(self, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor) -> Any:
        """Model outputs for edited sequences: sequence ``seq[i]`` (index into the prepared batch) with base
        ``base[i]`` (0..3) at position ``pos[i]``. Returns what the model returns, batched over edits."""
        ref = self._gather(self.input, seq, pos, 1)  # (B, 4, 1)
        new = F.one_hot(base, ref.shape[1]).to(ref.dtype)[:, :, None]
        state: dict[Any, tuple[torch.Tensor, torch.Tensor]] = {self.input: (new - ref, pos)}
        for node in self.order:
            op = self.ops[node]
            length = self._length(node)
            if op.kind == "conv":
                d, st = state[op.inputs[0]]
                k, dil = op.params["k"], op.params["d"]
                out = F.conv_transpose1d(d, op.params["wt"], dilation=dil)
                st = st + op.params["pad"] - (k - 1) * dil
                state[node] = (self._mask(out, st, length), st)
            elif op.kind == "act":
                d, st = state[op.inputs[0]]
                xin = self._gather(op.inputs[0], seq, st, d.shape[2])
                old = self._gather(node, seq, st, d.shape[2])
                out = op.params["fn"](xin + d) - old
                state[node] = (self._mask(out, st, length), st)
            elif op.kind == "scale":
                d, st = state[op.inputs[0]]
                scale = op.params["scale"]
                if isinstance(scale, torch.Tensor):
                    d = d * scale[:, None]
                elif scale is not None:
                    d = d * scale
                state[node] = (d, st)
            elif op.kind == "sum":
                (da, sa), (db, sb) = state[op.inputs[0]], state[op.inputs[1]]
                st = torch.minimum(sa, sb)
                width = int(torch.maximum(sa + da.shape[2], sb + db.shape[2]).sub(st).max())
                pa, pb = self._place(da, sa - st, width), self._place(db, sb - st, width)
                state[node] = (pa + pb if op.params["sign"] > 0 else pa - pb, st)
            elif op.kind == "pool":
                d, st = state[op.inputs[0]]
                k, s, p = op.params["k"], op.params["s"], op.params["p"]
                w = d.shape[2]
                q0 = torch.div(st + p - k + s, s, rounding_mode="floor")
                n_out = -(-(w + k - 1) // s)
                win_start = q0 * s - p
                width = (n_out - 1) * s + k
                xin = self._gather(op.inputs[0], seq, win_start, width)
                in_length = self._length(op.inputs[0])
                if op.params["max"] and self._outside(win_start, width, in_length):
                    valid = self._valid(win_start, width, in_length)
                    xin = torch.where(valid, xin, torch.full((), float("-inf"), dtype=xin.dtype, device=xin.device))
                xin = xin + self._place(d, st - win_start, width)
                windows = xin.unfold(2, k, s)  # (B, C, n_out, k)
                pooled = windows.amax(-1) if op.params["max"] else windows.mean(-1)
                old = self._gather(node, seq, q0, n_out)
                state[node] = (self._mask(pooled - old, q0, length), q0)
            else:  # pragma: no cover - classification only produces the kinds above
                raise Unsupported(op.kind)
        d, st = state[self.trunk]
        length = self._length(self.trunk)
        if self.reduce is not None:
            node, name = self.reduce
            change = d.sum(2)
            if name == "mean":
                change = change / length
            env = {node: self.reduced[seq] + change}
            skip = set(self.ops) | {self.input}
            return self._run(env, skip)
        values, margin, _ = self.cache[self.trunk]
        full = values[seq, :, margin : margin + length].clone()
        index = (st[:, None] + torch.arange(d.shape[2], device=d.device)).clamp(0, length - 1)
        full.scatter_add_(2, index[:, None, :].expand_as(d), d)
        env = {self.trunk: full}
        skip = (set(self.ops) | {self.input}) - {self.trunk}
        return self._run(env, skip)


def _one(v: Any) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)
