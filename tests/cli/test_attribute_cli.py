"""``drg attribute`` end to end: written values equal the API's, top-k and bigWig round trips, logos, errors."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from drg.attribution import attribute, densify, read_attributions, to_topk
from drg.cli.attribute import attribute as attribute_cmd
from drg.errors import DRGWarning, InputError

LAMBDA = "gi|9626243|ref|NC_001416.1|"
TRACKS = ["liver", "heart", "brain"]

app = typer.Typer(pretty_exceptions_enable=False)
app.command()(attribute_cmd)
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A small untrained CNN with three named tracks saved as a model directory, and 6 random sequences."""
    from drg.data import write_onehot_npz
    from drg.models import build, save_model

    root = tmp_path_factory.mktemp("attr_cli")
    model = build({"input_length": 40, "first_layer": {"n_kernels": 8, "kernel_size": 7}, "reduction": "max",
                   "heads": [{"name": "atac", "n_outputs": 3, "track_names": TRACKS}], "seed": 3})
    save_model(model, root / "model")
    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.int8)[rng.integers(0, 4, (6, 40))].transpose(0, 2, 1).copy()
    names = np.array([f"seq{i}" for i in range(6)])
    write_onehot_npz(root / "seqs.npz", X, names)
    return {"root": root, "model": model, "dir": root / "model", "npz": root / "seqs.npz", "X": X, "names": names}


@pytest.fixture(scope="module")
def lambda_regions(kit):
    """Regions on the lambda genome: one of length 50 (resized to 40), one on strand '-'."""
    bed = kit["root"] / "regions.bed"
    bed.write_text(f"{LAMBDA}\t100\t140\tr1\t0\t+\n{LAMBDA}\t2000\t2040\tr2\t0\t-\n"
                   f"{LAMBDA}\t5000\t5050\tr3\t0\t+\n")
    return bed


def _sequences_of(shared, windows):
    """One-hot sequences of (start, end, strand) windows of the lambda genome, read independently."""
    from drg.genome import Genome, one_hot_encode

    genome = Genome(shared("genomes/lambda_virus.fa.gz"))
    return one_hot_encode([genome.fetch(LAMBDA, s, e, strand=st) for s, e, st in windows])


@pytest.mark.parametrize("method", ["tism", "ism"])
def test_npz_values_equal_the_api(kit, tmp_path, method):
    out = tmp_path / f"{method}.npz"
    result = invoke("--model", kit["dir"], "--npz", kit["npz"], "--method", method, "--tracks", "brain,0",
                    "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    a = read_attributions(out)
    expected = attribute(kit["model"], kit["X"].astype(np.float32), method, ["brain", 0], "raw")
    np.testing.assert_array_equal(a.values, expected)
    assert a.values.shape == (6, 2, 4, 40)
    assert list(a.tracks) == ["brain", "liver"] and list(a.names) == list(kit["names"])
    assert (a.method, a.gauge, a.layout) == (method, "raw", "dense")
    config_hash = hashlib.sha256((kit["dir"] / "config.yaml").read_bytes()).hexdigest()
    assert a.model_info["config_sha256"] == config_hash
    assert a.model_info["model"] == str(kit["dir"].resolve())
    np.testing.assert_array_equal(a.X, kit["X"])
    # raw deltas are 0 at the observed base
    assert np.all((a.values * kit["X"][:, None]) == 0)


def test_regions_with_strand_hdf5_and_bigwig(kit, tmp_path, shared, lambda_regions):
    import pyBigWig

    genome = shared("genomes/lambda_virus.fa.gz")
    out, bw_dir = tmp_path / "attr.h5", tmp_path / "bw"
    result = invoke("--model", kit["dir"], "--genome", genome, "--regions", lambda_regions, "--length", 40,
                    "--method", "ism", "--gauge", "corrected", "--out", out, "--bigwig", bw_dir,
                    "--chunk-size", 2, "--quiet")
    assert result.exit_code == 0, result.output
    windows = [(100, 140, "+"), (2000, 2040, "-"), (5005, 5045, "+")]
    X = _sequences_of(shared, windows)
    a = read_attributions(out)
    np.testing.assert_array_equal(a.X, X)
    assert list(a.names) == ["r1", "r2", "r3"]
    assert list(a.coordinates["start"]) == [100, 2000, 5005] and list(a.coordinates["end"]) == [140, 2040, 5045]
    expected = attribute(kit["model"], X.astype(np.float32), "ism", None, "corrected")
    # chunks of 2 sequences: ISM is computed sequence by sequence in its batches, so values agree to rounding
    np.testing.assert_allclose(a.values, expected, rtol=1e-5, atol=1e-6)
    assert a.gauge == "corrected" and list(a.tracks) == TRACKS
    # bigWig: observed-base value at each genomic position, strand '-' turned back to the forward strand
    for t, track in enumerate(TRACKS):
        bw = pyBigWig.open(str(bw_dir / f"attr.{track}.bw"))
        assert bw.chroms() == {LAMBDA: 48502}
        for i, (s, e, strand) in enumerate(windows):
            ref = (a.values[i, t] * X[i]).sum(axis=0)
            if strand == "-":
                ref = ref[::-1]
            np.testing.assert_allclose(bw.values(LAMBDA, s, e), ref, rtol=1e-6, atol=1e-7)
        bw.close()


def test_regions_npz_equals_api_exactly(kit, tmp_path, shared, lambda_regions):
    genome = shared("genomes/lambda_virus.fa.gz")
    out = tmp_path / "tism.npz"
    result = invoke("--model", kit["dir"], "--genome", genome, "--regions", lambda_regions, "--length", 40,
                    "--method", "tism", "--gauge", "corrected", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    X = _sequences_of(shared, [(100, 140, "+"), (2000, 2040, "-"), (5005, 5045, "+")])
    a = read_attributions(out)
    np.testing.assert_array_equal(a.values, attribute(kit["model"], X.astype(np.float32), "tism", None, "corrected"))
    assert list(a.coordinates["chrom"]) == [LAMBDA] * 3
    with pytest.warns(DRGWarning, match="hold zeros"):
        result = invoke("--model", kit["dir"], "--genome", genome, "--regions", lambda_regions, "--length", 40,
                        "--method", "tism", "--out", tmp_path / "raw.npz", "--bigwig", tmp_path / "bw", "--quiet")
    assert result.exit_code == 0 and len(list((tmp_path / "bw").glob("raw.*.bw"))) == 3


def test_topk_round_trip(kit, tmp_path):
    out = tmp_path / "top.npz"
    result = invoke("--model", kit["dir"], "--npz", kit["npz"], "--method", "gradient", "--gauge", "corrected",
                    "--topk", 5, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    a = read_attributions(out)
    assert a.layout == "topk" and a.values.shape == (6, 3, 5, 5) and a.length == 40
    dense = attribute(kit["model"], kit["X"].astype(np.float32), "gradient", None, "corrected")
    np.testing.assert_array_equal(a.values, to_topk(dense, 5, X=kit["X"]))
    # kept positions hold the exact dense values, the others are 0
    restored = a.dense()
    kept = densify(a.values, 40) != 0
    np.testing.assert_array_equal(restored[kept], dense[kept])
    score = np.abs((dense * kit["X"][:, None]).sum(axis=2))
    top = np.sort(np.argsort(-score, axis=-1, kind="stable")[..., :5], axis=-1)
    np.testing.assert_array_equal(a.values[:, :, 4].astype(int), top)


def test_run_directory_groups_and_logos(kit, tmp_path):
    from drg.training import write_checkpoint

    run = tmp_path / "run"
    write_checkpoint(run / "checkpoints" / "best", kit["model"],
                     outputs={"modalities": ["atac"], "tracks": [TRACKS]})
    classes = tmp_path / "classes.txt"
    classes.write_text("liver organ\nheart organ\nbrain neural\n")
    out = tmp_path / "grp.npz"
    result = invoke("--model", run, "--npz", kit["npz"], "--method", "gradient", "--gauge", "local",
                    "--groups", classes, "--tracks", "neural,organ", "--out", out, "--plot", 1,
                    "--plot-names", "seq3", "--quiet")
    assert result.exit_code == 0, result.output
    a = read_attributions(out)
    assert list(a.tracks) == ["neural", "organ"]
    groups = {"neural": ["brain"], "organ": ["liver", "heart"]}
    np.testing.assert_array_equal(a.values, attribute(kit["model"], kit["X"].astype(np.float32), "gradient",
                                                      groups, "local"))
    # the group mean of a linear-in-outputs quantity equals the mean of the members' gradients
    single = attribute(kit["model"], kit["X"].astype(np.float32), "gradient", None, "local")
    np.testing.assert_allclose(a.values[:, 1], single[:, :2].mean(axis=1), rtol=1e-5, atol=1e-7)
    assert a.model_info["model"].endswith("checkpoints/best")
    pngs = sorted(p.name for p in tmp_path.glob("grp.logo.*.png"))
    assert pngs == ["grp.logo.seq0.png", "grp.logo.seq3.png"]
    # groups chosen by index, raw top-k ranked over all four bases (raw deltas are 0 at the observed base)
    result = invoke("--model", run, "--npz", kit["npz"], "--method", "ism", "--groups", classes, "--tracks", "1",
                    "--topk", 4, "--out", tmp_path / "g1.npz", "--quiet")
    assert result.exit_code == 0, result.output
    b = read_attributions(tmp_path / "g1.npz")
    assert list(b.tracks) == ["neural"]
    dense = attribute(kit["model"], kit["X"].astype(np.float32), "ism", {"neural": ["brain"]}, "raw")
    np.testing.assert_array_equal(b.values, to_topk(dense, 4, by="max_abs"))
    with pytest.raises(InputError, match="group index 5 out of range"):
        invoke("--model", run, "--npz", kit["npz"], "--groups", classes, "--tracks", "5", "--out", out)
    assert (tmp_path / "grp.logo.seq0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_clear_errors(kit, tmp_path, lambda_regions):
    out = tmp_path / "x.npz"
    with pytest.raises(InputError, match=r"unknown track 'livr' \(did you mean 'liver'\?\); valid names: "
                                         r"liver, heart, brain"):
        invoke("--model", kit["dir"], "--npz", kit["npz"], "--tracks", "livr", "--out", out)
    with pytest.raises(InputError, match="exactly one sequence source"):
        invoke("--model", kit["dir"], "--npz", kit["npz"], "--fasta", kit["npz"], "--out", out)
    with pytest.raises(InputError, match="--bigwig needs"):
        invoke("--model", kit["dir"], "--npz", kit["npz"], "--bigwig", tmp_path / "bw", "--out", out)
    with pytest.raises(InputError, match="unknown --method"):
        invoke("--model", kit["dir"], "--npz", kit["npz"], "--method", "saliency", "--out", out)
    with pytest.raises(InputError, match=".npz or .h5"):
        invoke("--model", kit["dir"], "--npz", kit["npz"], "--out", tmp_path / "x.csv")
    with pytest.raises(InputError, match="different lengths"):
        invoke("--model", kit["dir"], "--genome", kit["npz"], "--regions", lambda_regions, "--out", out)
    with pytest.raises(InputError, match="unknown sequence names"):
        invoke("--model", kit["dir"], "--npz", kit["npz"], "--plot-names", "nope", "--out", out)
    with pytest.raises(InputError, match="no checkpoint"):
        invoke("--model", tmp_path, "--npz", kit["npz"], "--out", out)
    assert not out.exists()


def test_fasta_input(kit, tmp_path):
    from drg.genome import one_hot_decode

    fasta = tmp_path / "s.fa"
    seqs = one_hot_decode(kit["X"][:2])
    fasta.write_text("".join(f">{n}\n{s}\n" for n, s in zip(kit["names"][:2], seqs)))
    out = tmp_path / "fa.npz"
    result = invoke("--model", kit["dir"], "--fasta", fasta, "--method", "tism", "--tracks", "1", "--out", out,
                    "--quiet")
    assert result.exit_code == 0, result.output
    a = read_attributions(out)
    np.testing.assert_array_equal(a.values, attribute(kit["model"], kit["X"][:2].astype(np.float32), "tism", [1],
                                                      "raw"))
    assert list(a.names) == ["seq0", "seq1"] and list(a.tracks) == ["heart"]
