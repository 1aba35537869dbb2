"""``drg variants`` end to end on the lambda phage genome: the table equals the API's, plots are written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from drg.cli.main import app
from drg.design import read_vcf, variant_effects
from drg.errors import InputError
from tests.conftest import shared_file

LAMBDA = "gi|9626243|ref|NC_001416.1|"
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["variants", *[str(a) for a in args]], catch_exceptions=False)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    from drg.genome import Genome
    from drg.models import build, save_model

    fasta = shared_file("genomes/lambda_virus.fa.gz")
    root = tmp_path_factory.mktemp("variants_cli")
    model = build({"input_length": 40, "first_layer": {"n_kernels": 8, "kernel_size": 7}, "reduction": "max",
                   "heads": [{"name": "atac", "n_outputs": 3, "track_names": ["liver", "heart", "brain"]}],
                   "seed": 3})
    save_model(model, root / "model")
    genome = Genome(fasta)
    seq = genome.fetch(LAMBDA, 0, 48502)
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for i, p in enumerate((10, 1000, 5000, 20000, 48500)):
        alt = "ACGT"[("ACGT".index(seq[p]) + 1) % 4]
        lines.append(f"{LAMBDA}\t{p + 1}\tv{i}\t{seq[p]}\t{alt}\t.\tPASS\t.")
    lines.append(f"{LAMBDA}\t3001\tins\t{seq[3000]}\t{seq[3000]}TTGA\t.\tPASS\t.")
    lines.append(f"{LAMBDA}\t7001\tdel\t{seq[7000:7004]}\t{seq[7000]}\t.\tPASS\t.")
    vcf = root / "v.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    return {"root": root, "model": model, "dir": root / "model", "fasta": fasta, "vcf": vcf, "seq": seq}


def test_table_equals_the_api_and_plots_are_written(kit, tmp_path):
    out = tmp_path / "effects.tsv"
    result = invoke("--model", kit["dir"], "--genome", kit["fasta"], "--vcf", kit["vcf"], "--effect", "diff",
                    "--tracks", "brain,liver", "--rc-average", "--plot", "2", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, sep="\t")
    expected = variant_effects(kit["model"], kit["fasta"], read_vcf(kit["vcf"]), tracks=["brain", "liver"],
                               rc_average=True)
    assert table["id"].tolist() == ["v0", "v1", "v2", "v3", "v4", "ins", "del"]
    assert table["pos"].tolist() == [10, 1000, 5000, 20000, 48500, 3000, 7000]
    np.testing.assert_allclose(table[["diff.brain", "diff.liver"]].to_numpy(), expected.effects["diff"], atol=1e-5)
    assert table["ref_match"].all() and (table["window_end"] - table["window_start"] == 40).all()
    pngs = sorted(p.name for p in tmp_path.glob("effects.variant.*.png"))
    top = expected.top(2)["name"].tolist()
    assert len(pngs) == 2 and all(any(n.replace(":", "_").replace("|", "_") in p for p in pngs) for n in top)
    assert all((tmp_path / p).stat().st_size > 5000 for p in pngs)


def test_indel_plot_regions_and_reference_checks(kit, tmp_path):
    bed = tmp_path / "r.bed"
    bed.write_text(f"{LAMBDA}\t2980\t3020\tr1\t0\t-\n{LAMBDA}\t6990\t7030\tr2\t0\t+\n")
    out = tmp_path / "regions.tsv"
    with pytest.warns(Warning, match="5 of 7 variant"):
        result = invoke("--model", kit["dir"], "--genome", kit["fasta"], "--vcf", kit["vcf"], "--regions", bed,
                        "--plot", "2", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, sep="\t")
    assert table["id"].tolist() == ["ins", "del"] and table["strand"].tolist() == ["-", "+"]
    assert table["window_start"].tolist() == [2980, 6990]
    assert len(list(tmp_path.glob("regions.variant.*.png"))) == 2
    bad = tmp_path / "bad.vcf"
    seq = kit["seq"]
    wrong = "A" if seq[99] != "A" else "C"
    bad.write_text(f"{LAMBDA}\t100\tbadref\t{wrong}\tT\n".replace(f"\t{wrong}\tT", f"\t{wrong}\t" +
                   ("T" if wrong != "T" else "G")))
    with pytest.raises(InputError, match="variant badref .* does not match the genome"):
        invoke("--model", kit["dir"], "--genome", kit["fasta"], "--vcf", bad, "--out", tmp_path / "x.tsv", "--quiet")
    assert not (tmp_path / "x.tsv").exists()
    result = invoke("--model", kit["dir"], "--genome", kit["fasta"], "--vcf", bad, "--check-ref", "flag",
                    "--out", tmp_path / "x.tsv", "--quiet")
    assert result.exit_code == 0 and pd.read_csv(tmp_path / "x.tsv", sep="\t")["ref_match"].tolist() == [False]
    with pytest.raises(InputError, match="--effect"):
        invoke("--model", kit["dir"], "--genome", kit["fasta"], "--vcf", bad, "--effect", "ratio",
               "--out", tmp_path / "y.tsv")
