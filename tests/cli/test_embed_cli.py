"""``drg embed`` end to end: written coordinates equal the API's, colour tables, track maps, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from drg.cli.main import app
from drg.design.embeddings import embed_2d, extract_embeddings, track_vectors
from drg.errors import DRGWarning, InputError

LAMBDA = "gi|9626243|ref|NC_001416.1|"
TRACKS = ["liver", "heart", "brain", "lung"]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["embed", *[str(a) for a in args]], catch_exceptions=False)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A small untrained CNN with four named tracks saved as a model directory, and 12 random sequences."""
    from drg.data import write_onehot_npz
    from drg.models import build, save_model

    root = tmp_path_factory.mktemp("embed_cli")
    model = build({"input_length": 40, "first_layer": {"n_kernels": 8, "kernel_size": 7}, "reduction": "mean",
                   "shared_fc": {"n_layers": 1, "size": 6},
                   "heads": [{"name": "atac", "n_outputs": 4, "track_names": TRACKS}], "seed": 3})
    save_model(model, root / "model")
    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.int8)[rng.integers(0, 4, (12, 40))].transpose(0, 2, 1).copy()
    names = np.array([f"seq{i}" for i in range(12)])
    write_onehot_npz(root / "seqs.npz", X, names)
    return {"root": root, "model": model, "dir": root / "model", "npz": root / "seqs.npz", "X": X, "names": names}


def _png_ok(path):
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"))
    assert pixels.shape[0] > 100 and (pixels < 200).mean() > 0.005  # something was drawn


def test_sequences_from_npz_with_categorical_colours(kit, tmp_path):
    table = tmp_path / "meta.tsv"
    rows = [f"seq{i}\t{'A' if i % 2 else 'B'}\t{i / 10}" for i in range(11)]  # seq11 has no row
    table.write_text("#name\tgroup\tscore\n" + "\n".join(rows) + "\n")
    out = tmp_path / "emb"
    with pytest.warns(DRGWarning, match=r"1 of 12 items have no row .* \(first: seq11\)"):
        result = invoke("--model", kit["dir"], "--npz", kit["npz"], "--color-by", table, "--column", "group",
                        "--vectors", "--device", "cpu", "--quiet", "--out", out)
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out / "embedding.tsv", sep="\t", keep_default_na=False)
    assert list(written.columns) == ["name", "x", "y", "group"]
    assert list(written["name"]) == list(kit["names"])
    assert list(written["group"][:4]) == ["B", "A", "B", "A"] and written["group"].iloc[11] == ""
    values = extract_embeddings(kit["model"], kit["X"], device="cpu")
    expected = embed_2d(values).coordinates
    np.testing.assert_allclose(written[["x", "y"]].to_numpy(), expected, rtol=1e-4, atol=1e-5)
    with np.load(out / "vectors.npz") as raw:
        np.testing.assert_allclose(raw["values"], values, rtol=1e-6)
        assert list(raw["names"]) == list(kit["names"])
    record = json.loads((out / "embedding.json").read_text())
    assert record["items"] == "sequences" and record["dimension"] == 6 and record["n"] == 12
    assert len(record["explained_variance_ratio"]) == 2
    _png_ok(out / "embedding.png")


def test_layer_and_numeric_colours_from_fasta(kit, tmp_path):
    from drg.genome import one_hot_decode

    fasta = tmp_path / "s.fa"
    sequences = one_hot_decode(kit["X"][:5])
    fasta.write_text("".join(f">f{i}\n{s[5:35]}\n" for i, s in enumerate(sequences)))  # 30 bp, padded to 40
    table = tmp_path / "meta.tsv"
    table.write_text("name\tscore\n" + "".join(f"f{i}\t{i * 1.5}\n" for i in range(5)))
    out = tmp_path / "emb"
    result = invoke("--model", kit["dir"], "--fasta", fasta, "--layer", "first_layer", "--reduce", "max",
                    "--color-by", table, "--column", "score", "--quiet", "--device", "cpu", "--out", out)
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out / "embedding.tsv", sep="\t")
    np.testing.assert_allclose(written["score"], np.arange(5) * 1.5)
    from drg.genome import one_hot_encode

    X = one_hot_encode([s[5:35] for s in sequences], length=40)
    values = extract_embeddings(kit["model"], X, layer="first_layer", reduce="max", device="cpu")
    assert values.shape == (5, 8)
    np.testing.assert_allclose(written[["x", "y"]].to_numpy(), embed_2d(values).coordinates, rtol=1e-4, atol=1e-5)
    assert not (out / "vectors.npz").exists()


def test_track_map(kit, tmp_path):
    out = tmp_path / "tracks"
    result = invoke("--model", kit["dir"], "--tracks", "--out", out)
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out / "embedding.tsv", sep="\t")
    assert list(written["name"]) == TRACKS
    rows = kit["model"].heads[0].linear.weight.detach().numpy()
    np.testing.assert_array_equal(track_vectors(kit["model"]).values, rows)
    np.testing.assert_allclose(written[["x", "y"]].to_numpy(), embed_2d(rows).coordinates, rtol=1e-4, atol=1e-5)
    assert json.loads((out / "embedding.json").read_text())["layers"] == ["heads.0.linear"]
    _png_ok(out / "embedding.png")


def test_regions_in_a_genome(kit, tmp_path, shared):
    genome = shared("genomes/lambda_virus.fa.gz")
    bed = tmp_path / "r.bed"
    bed.write_text("".join(f"{LAMBDA}\t{1000 * i}\t{1000 * i + 40}\tr{i}\n" for i in range(1, 7)))
    out = tmp_path / "regions"
    result = invoke("--model", kit["dir"], "--genome", genome, "--regions", bed, "--quiet", "--device", "cpu",
                    "--out", out)
    assert result.exit_code == 0, result.output
    from drg.genome import Genome, one_hot_encode

    fa = Genome(genome)
    X = one_hot_encode([fa.fetch(LAMBDA, 1000 * i, 1000 * i + 40) for i in range(1, 7)])
    written = pd.read_csv(out / "embedding.tsv", sep="\t")
    assert len(written) == 6
    expected = embed_2d(extract_embeddings(kit["model"], X, device="cpu")).coordinates
    np.testing.assert_allclose(written[["x", "y"]].to_numpy(), expected, rtol=1e-4, atol=1e-5)


def test_errors(kit, tmp_path):
    out = tmp_path / "bad"
    with pytest.raises(InputError, match="did you mean 'first_layer.conv'"):
        invoke("--model", kit["dir"], "--npz", kit["npz"], "--layer", "first_layer.cnv", "--out", out)
    table = tmp_path / "meta.tsv"
    table.write_text("name\tgroup\nseq0\tA\nseq0\tB\n")
    with pytest.raises(InputError, match=r"meta.tsv, line 3: name 'seq0' appears twice"):
        invoke("--model", kit["dir"], "--npz", kit["npz"], "--color-by", table, "--column", "group", "--out", out)
    with pytest.raises(InputError, match="no column 'grp'; did you mean 'group'"):
        invoke("--model", kit["dir"], "--npz", kit["npz"], "--color-by", table, "--column", "grp", "--out", out)
    with pytest.raises(InputError, match="--color-by TABLE and --column NAME go together"):
        invoke("--model", kit["dir"], "--npz", kit["npz"], "--color-by", table, "--out", out)
    with pytest.raises(InputError, match="exactly one sequence source"):
        invoke("--model", kit["dir"], "--out", out)
    with pytest.raises(InputError, match="unknown --method"):
        invoke("--model", kit["dir"], "--npz", kit["npz"], "--method", "mds", "--out", out)
    assert not out.exists()
