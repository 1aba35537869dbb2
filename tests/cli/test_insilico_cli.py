"""``drg insilico implant|spacing|ablate``: tables equal the API's on the same inputs, figures are written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from drg.cli.main import app
from drg.design import ablate, implant, marginalize, spacing_scan
from drg.errors import InputError
from drg.genome import one_hot_encode

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["insilico", *[str(a) for a in args]], catch_exceptions=False)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    from drg.data import write_onehot_npz
    from drg.models import build, save_model
    from drg.motifs import Motif, write_meme

    root = tmp_path_factory.mktemp("insilico_cli")
    model = build({"input_length": 40, "first_layer": {"n_kernels": 8, "kernel_size": 7}, "reduction": "max",
                   "heads": [{"name": "atac", "n_outputs": 2, "track_names": ["liver", "brain"]}], "seed": 5})
    save_model(model, root / "model")
    motifs = [Motif.from_counts(one_hot_encode(s)[0].T * 8.0 + 0.5, name=n, id=i)
              for s, n, i in (("GATTACA", "GATA", "M1"), ("CCGCGG", "SPX", "M2"), ("TTTAAA", "TBP", "M3"))]
    write_meme(motifs, root / "m.meme")
    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.int8)[rng.integers(0, 4, (5, 40))].transpose(0, 2, 1).copy()
    X = implant(X, motifs[0], 12)
    write_onehot_npz(root / "seqs.npz", X, np.array([f"s{i}" for i in range(5)]))
    return {"root": root, "model": model, "dir": root / "model", "meme": root / "m.meme", "motifs": motifs,
            "npz": root / "seqs.npz", "X": X}


def random_X(n, length, seed):
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.int8)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy()


def test_implant(kit, tmp_path):
    out = tmp_path / "marginal.tsv"
    result = invoke("implant", "--model", kit["dir"], "--motifs", kit["meme"], "--motif", "GATA,M2", "--random", 6,
                    "--n", 2, "--seed", 4, "--orientation", "both", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, sep="\t")
    expected = marginalize(kit["model"], kit["motifs"][:2], random_X(6, 40, 4), n=2, seed=4, orientation="both")
    assert table["motif"].tolist() == ["GATA", "GATA", "SPX", "SPX"] and table["track"].tolist() == ["liver", "brain"] * 2
    np.testing.assert_allclose(table["mean"], expected.mean.ravel(), atol=1e-5)
    assert (table["n"] == 12).all() and (tmp_path / "marginal.png").stat().st_size > 3000
    with pytest.raises(InputError, match=r"motif\(s\) not found: \['GATTA'\].*closest"):
        invoke("implant", "--model", kit["dir"], "--motifs", kit["meme"], "--motif", "GATTA", "--random", 2,
               "--out", out)


def test_spacing(kit, tmp_path):
    out = tmp_path / "spacing.tsv"
    result = invoke("spacing", "--model", kit["dir"], "--motifs", kit["meme"], "--motif", "M1", "--motif", "TBP",
                    "--npz", kit["npz"], "--no-shuffle", "--spacings", "0:9:4", "--orientations", "++,-+",
                    "--tracks", "brain", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, sep="\t")
    expected = spacing_scan(kit["model"], kit["motifs"][0], kit["motifs"][2], kit["X"], [0, 4, 8], ["++", "-+"],
                            shuffle=False, tracks="brain")
    assert table["spacing"].tolist() == [0, 0, 4, 4, 8, 8] and set(table["track"]) == {"brain"}
    np.testing.assert_allclose(table["interaction"], expected.interaction.ravel(), atol=1e-5)
    assert (tmp_path / "spacing.brain.png").exists()
    with pytest.raises(InputError, match="exactly two motifs"):
        invoke("spacing", "--model", kit["dir"], "--motifs", kit["meme"], "--motif", "M1", "--random", 2,
               "--out", out)
    with pytest.raises(InputError, match="--spacings"):
        invoke("spacing", "--model", kit["dir"], "--motifs", kit["meme"], "--motif", "M1,M2", "--random", 2,
               "--spacings", "a:b", "--out", out)


def test_ablate_sites_and_motif_scan(kit, tmp_path):
    sites = tmp_path / "sites.tsv"
    pd.DataFrame({"seq_index": [0, 3], "start": [12, 12], "end": [19, 19]}).to_csv(sites, sep="\t", index=False)
    out = tmp_path / "ablate.tsv"
    result = invoke("ablate", "--model", kit["dir"], "--npz", kit["npz"], "--sites", sites, "--method", "zero",
                    "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, sep="\t")
    expected = ablate(kit["model"], kit["X"], pd.read_csv(sites, sep="\t"), method="zero")
    np.testing.assert_allclose(table[["effect.liver", "effect.brain"]].to_numpy(), expected.effect, atol=1e-5)
    assert (tmp_path / "ablate.png").exists()
    scanned = tmp_path / "scan.tsv"
    result = invoke("ablate", "--model", kit["dir"], "--npz", kit["npz"], "--motifs", kit["meme"], "--motif", "M1",
                    "--method", "zero", "--out", scanned, "--quiet")
    assert result.exit_code == 0, result.output
    hits = pd.read_csv(scanned, sep="\t")
    planted = hits[(hits["start"] == 12) & (hits["strand"] == "+")]
    assert sorted(planted["sequence_name"]) == [f"s{i}" for i in range(5)]
    row = planted.set_index("sequence_name").loc[["s0", "s3"]]
    np.testing.assert_allclose(row[["effect.liver", "effect.brain"]].to_numpy(), expected.effect, atol=1e-5)
    with pytest.raises(InputError, match="either as --sites"):
        invoke("ablate", "--model", kit["dir"], "--npz", kit["npz"], "--out", out)
