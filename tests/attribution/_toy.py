"""Tiny deterministic models shared by the attribution tests."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def one_hot(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 4, size=(n, length))
    x = np.zeros((n, 4, length), dtype=np.float32)
    x[np.arange(n)[:, None], idx, np.arange(length)[None, :]] = 1
    return x


class Linear(nn.Module):
    """f_t(x) = sum_{c,l} W[t, c, l] x[c, l] + b_t: linear in the input."""

    def __init__(self, length: int, n_tracks: int = 3, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(n_tracks, 4, length, generator=g))
        self.bias = nn.Parameter(torch.randn(n_tracks, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ncl,tcl->nt", x, self.weight) + self.bias


class LinearConv(nn.Module):
    """Convolution, mean over length and a dense layer, no nonlinearity: linear in the input."""

    def __init__(self, n_tracks: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 5, padding=2)
        self.dense = nn.Linear(8, n_tracks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(self.conv(x).mean(-1))


class Block(nn.Module):
    def __init__(self, ch: int, k: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(ch, ch, k, dilation=dilation, padding="same")
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.conv(x))


class SmallCNN(nn.Module):
    """RefCNN in miniature: conv + GELU + max pool + two dilated residual blocks + mean + linear."""

    def __init__(self, n_tracks: int = 4, ch: int = 8, pool: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(4, ch, 7, padding=3)
        self.act1 = nn.GELU()
        self.pool = nn.MaxPool1d(pool)
        self.block1 = Block(ch, 3, 2)
        self.block2 = Block(ch, 4, 3)
        self.linear = nn.Linear(ch, n_tracks)
        self.output_names = [f"cell{i}" for i in range(n_tracks)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act1(self.conv1(x)))
        return self.linear(self.block2(self.block1(x)).mean(dim=-1))


class EdgeCNN(nn.Module):
    """Padding, stride and length edge cases; flattening head (no length reduction)."""

    def __init__(self, length: int, n_tracks: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(4, 6, 4, padding="same")  # even kernel: asymmetric padding
        self.bn = nn.BatchNorm1d(6)
        self.pool1 = nn.MaxPool1d(4, stride=3, padding=2)
        self.conv2 = nn.Conv1d(6, 6, 3, dilation=2, padding=0)  # valid
        self.pool2 = nn.AvgPool1d(2)
        self.conv3 = nn.Conv1d(6, 5, 5, padding=4)  # longer than input
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)
            n = self._length(length)
        self.dense = nn.Linear(5 * n, n_tracks)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(torch.relu(self.bn(self.conv1(x))))
        x = self.pool2(nn.functional.elu(self.conv2(x)) * 0.5 - 1.0)
        return torch.tanh(self.conv3(x))

    def _length(self, length: int) -> int:
        return self.trunk(torch.zeros(1, 4, length)).shape[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(torch.flatten(self.trunk(x), 1))


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = SmallCNN(n_tracks=5)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        y = self.body(x)
        return [y[:, :2], y[:, 2:]]


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = SmallCNN(n_tracks=3)
        self.b = SmallCNN(n_tracks=3)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.a(x1) * self.b(x2)


def brute_ism(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """f(x with base b at l) - f(x) by one full forward pass per edit, (N, T, 4, L)."""
    model.eval()
    xt = torch.from_numpy(x)
    with torch.no_grad():
        y0 = model(xt)
        n, c, length = x.shape
        out = np.zeros((n, y0.shape[1], c, length), dtype=np.float32)
        for i in range(n):
            for pos in range(length):
                xe = xt[i].repeat(c, 1, 1)
                xe[:, :, pos] = torch.eye(c)
                out[i, :, :, pos] = (model(xe) - y0[i]).T.numpy()
    return out


def make(cls: type, *args: object, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return cls(*args).eval()
