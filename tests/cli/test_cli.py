"""End-to-end runs of the ``drg`` command on tiny real data."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import typer.main
from typer.testing import CliRunner

from drg.cli.main import app
from drg.errors import DRGWarning

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result


def _all_commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _all_commands(command, (*prefix, name))


def test_version():
    from drg import __version__

    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"drg {__version__}"


def test_every_command_has_help():
    root = typer.main.get_command(app)
    commands = list(_all_commands(root))
    assert {("data", "onehot"), ("data", "folds"), ("simulate", "multitask"), ("quickstart",)} <= set(commands)
    for path in commands:
        result = invoke(*path, "--help")
        assert result.exit_code == 0, path
        assert "Usage" in result.output


def test_bad_input_gives_one_line_error_and_exit_code_1(tmp_path):
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t10\t20\nchr1\tx\t30\n")
    proc = subprocess.run(
        [sys.executable, "-m", "drg.cli.main", "data", "folds", "--regions", str(bad), "--k", "2",
         "--out", str(tmp_path / "f.txt")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "bad.bed" in proc.stderr and "line 2" in proc.stderr
    assert not (tmp_path / "f.txt").exists()


@pytest.mark.slow
def test_quickstart_writes_summary(tmp_path):
    out = tmp_path / "qs"
    result = invoke("quickstart", "--out", out, "--n-sequences", "2000")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    data = summary["data"]
    assert data["n_sequences"] == 2000
    assert sum(data["folds"]["set_sizes"]) == 2000
    split = data["folds"]["fold0_split"]
    assert split["train"] + split["val"] + split["test"] == 2000
    for name in data["files"].values():
        assert (out / name).exists(), name
    assert (out / "config.yaml").exists() and (out / "run.json").exists()
    from drg.data import read_onehot_npz, read_targets

    training = summary["training"]
    assert 0.3 < training["test_pearson_mean"] <= 1.0  # 2,000 sequences only; the full default reaches ~0.72
    from drg.training import load

    model = load(out / training["checkpoint"])
    assert not model.training and model.n_outputs == [data["n_tracks"]]
    assert (out / training["run_dir"] / "evaluation" / "targets" / "report.html").exists()

    attribution = summary["attribution"]
    assert attribution["n_sequences"] > 0 and 0.5 < attribution["auroc_mean"] <= 1.0
    for logo in attribution["logos"]:
        assert (out / logo).stat().st_size > 10_000
    motifs = summary["motifs"]
    assert len(motifs["planted"]) == 8
    for source in ("attributions", "kernels"):
        assert set(motifs["recovered"][source]) <= set(motifs["planted"])
    assert (out / motifs["files"]["clusters"]).exists() and (out / motifs["files"]["kernels"]).exists()
    index = (out / summary["report"]["index"]).read_text()
    assert index.count("<img") >= 3 + len(attribution["logos"])

    onehot = read_onehot_npz(out / data["files"]["sequences"])
    targets = read_targets(out / data["files"]["targets"])
    assert onehot.X.shape == (2000, 4, data["length"])
    assert list(onehot.names) == list(targets.names)
    assert np.all(onehot.X.sum(axis=1) == 1)


def test_onehot_from_fasta_matches_api(tmp_path, shared):
    fasta = shared("sequences/meme_example_crp0.fna")
    out = tmp_path / "crp.npz"
    result = invoke("data", "onehot", "--fasta", fasta, "--length", 110, "--out", out)
    assert result.exit_code == 0, result.output
    from drg.data import read_onehot_npz
    from drg.genome import one_hot_encode, read_fasta

    records = read_fasta(fasta)
    data = read_onehot_npz(out)
    assert list(data.names) == list(records.names)
    assert np.array_equal(data.X, one_hot_encode(records.sequences, length=110))
    with np.load(out) as raw:
        assert raw["seqfeatures"].shape == (len(records.names), 110, 4)


def test_regions_onehot_and_folds_from_gtf(tmp_path, shared):
    genome = shared("genomes/sacCer3_chrIV.fa.gz")
    gtf = shared("genomes/sacCer3_chrIV_50genes.annotation.gtf.gz")
    fasta = tmp_path / "tss.fa"
    with pytest.warns(DRGWarning, match="dropped 8 of 885 regions with duplicate coordinates"):
        result = invoke("data", "regions", "--genome", genome, "--regions", gtf, "--feature", "tss",
                        "--upstream", 100, "--downstream", 49, "--out", fasta)
    assert result.exit_code == 0, result.output
    from drg.genome import Genome, drop_duplicates, read_fasta, read_regions

    records = read_fasta(fasta)
    with pytest.warns(DRGWarning, match="8"):  # 8 TSSs share coordinates and strand with another gene's
        tss = drop_duplicates(read_regions(gtf, feature="tss"))
    assert len(records.names) == len(tss)
    assert {len(s) for s in records.sequences} == {150}
    # The first TSS, re-fetched by hand: 100 bp upstream, the TSS base and 49 bp downstream, on its strand.
    row = tss.iloc[0]
    gen = Genome(genome)
    pos = int(row.start)
    expected = (gen.fetch(row.chrom, pos - 100, pos + 50, "+") if row.strand == "+"
                else gen.fetch(row.chrom, pos - 49, pos + 101, "-"))
    assert records.sequences[0] == expected

    npz = tmp_path / "tss.npz"
    with pytest.warns(DRGWarning, match="duplicate coordinates"):
        result = invoke("data", "onehot", "--genome", genome, "--regions", gtf, "--feature", "tss",
                        "--upstream", 100, "--downstream", 49, "--out", npz)
    assert result.exit_code == 0, result.output


def test_folds_from_regions_and_inspect(tmp_path, shared):
    from drg.genome import read_regions, region_names, write_regions

    # Real intervals over many chromosomes; the blacklist's own names repeat, so name them by coordinates.
    table = read_regions(shared("genomes/ENCODE_hg19-blacklist.v2.bed.gz"))
    table["name"] = region_names(table)
    regions = tmp_path / "regions.bed"
    write_regions(table, regions)
    out = tmp_path / "folds.txt"
    result = invoke("data", "folds", "--regions", regions, "--k", 5, "--seed", 1, "--out", out)
    assert result.exit_code == 0, result.output
    from drg.data import read_folds

    sets = read_folds(out)
    assert len(sets) == 5
    chrom_of = dict(zip(table["name"], table["chrom"]))
    seen = set()
    for names in sets:
        chroms = {chrom_of[n] for n in names}
        assert not chroms & seen, "a chromosome appears in two sets"
        assert not chroms & {"chrX", "chrY", "chrM"}
        seen |= chroms
    info = json.loads(invoke("data", "inspect", out, "--json").output)
    assert info == {"kind": "folds", "k": 5, "set_sizes": [len(s) for s in sets]}


def test_folds_refuse_more_sets_than_chromosomes(tmp_path, shared):
    from drg.errors import InputError

    peaks = shared("tracks/macs3_CTCF_chr22_hg19_peaks.narrowPeak.gz")  # every peak is on chr22
    with pytest.raises(InputError, match="chromosome"):
        invoke("data", "folds", "--regions", peaks, "--k", 3, "--out", tmp_path / "f.txt")
    assert not (tmp_path / "f.txt").exists()


def test_inspect_recognises_files(tmp_path, shared):
    meme = shared("motifs/JASPAR2024_CORE_vertebrates_non-redundant.meme")
    result = invoke("data", "inspect", meme, "--json")
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert info["kind"] == "MEME motifs" and info["n_motifs"] == 879


def test_signal_from_bigwig(tmp_path, shared):
    bw = shared("tracks/crested_mm10_cortex_Lamp5_chr1_3.0-3.4Mb.bw")
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t3100000\t3100500\tr1\t0\t+\nchr1\t3200000\t3201000\tr2\t0\t-\n")
    out = tmp_path / "signal.tsv"
    result = invoke("data", "signal", "--regions", bed, "--bigwig", bw, "--stat", "sum", "--out", out)
    assert result.exit_code == 0, result.output
    import pyBigWig

    from drg.data import read_targets

    targets = read_targets(out)
    handle = pyBigWig.open(str(bw))
    expected = [np.nansum(handle.values("chr1", s, e, numpy=True)) for s, e in [(3100000, 3100500), (3200000, 3201000)]]
    assert np.allclose(targets.values[:, 0], expected, rtol=1e-5)
    normed = tmp_path / "norm.tsv"
    result = invoke("data", "normalize", out, "--method", "log1p", "--out", normed)
    assert result.exit_code == 0, result.output
    assert np.allclose(read_targets(normed).values, np.log1p(targets.values), rtol=1e-6)
