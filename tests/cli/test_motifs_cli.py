"""``drg motifs seqlets`` / ``cluster`` warnings on inputs that cannot give motifs."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from drg.cli.main import app
from drg.errors import DRGWarning


def _attributions(tmp_path, gauge):
    from drg.attribution.storage import write_attributions

    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(6, 50))].transpose(0, 2, 1)
    values = rng.normal(size=(6, 1, 4, 50)).astype(np.float32) * (1 - X[:, None]) if gauge == "raw" else \
        rng.normal(size=(6, 1, 4, 50)).astype(np.float32)
    path = tmp_path / f"{gauge}.npz"
    write_attributions(path, values, [f"s{i}" for i in range(6)], ["t"], method="tism", gauge=gauge, X=X)
    return path


def test_raw_gauge_attributions_warn_that_seqlets_will_be_empty(tmp_path):
    path = _attributions(tmp_path, "raw")
    with pytest.warns(DRGWarning, match="raw gauge"):
        result = CliRunner().invoke(app, ["motifs", "seqlets", str(path), "--out", str(tmp_path / "s.tsv")])
    assert result.exit_code == 0, result.output


def test_corrected_gauge_gives_no_warning(tmp_path):
    import warnings

    path = _attributions(tmp_path, "corrected")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DRGWarning)
        result = CliRunner().invoke(app, ["motifs", "seqlets", str(path), "--out", str(tmp_path / "s.tsv")])
    assert result.exit_code == 0, result.output
