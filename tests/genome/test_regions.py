"""Tests for drg.genome.regions and drg.genome.intervals: BED, narrowPeak, GTF/GFF and tables; interval operations."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

from drg.errors import DRGWarning, InputError
from drg.genome.fasta import read_chrom_sizes
from drg.genome import (
    drop_duplicates,
    filter_blacklist,
    fit_to_chromosomes,
    flank,
    read_regions,
    region_names,
    resize,
    write_regions,
)


def write(tmp_path, name, text):
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def regions_frame(chroms, starts, ends, strands=None, names=None, **extra):
    n = len(chroms)
    frame = pd.DataFrame({
        "chrom": chroms, "start": np.asarray(starts, dtype=np.int64), "end": np.asarray(ends, dtype=np.int64),
        "name": names if names is not None else [f"r{i}" for i in range(n)],
        "strand": strands if strands is not None else ["+"] * n,
    })
    for key, value in extra.items():
        frame[key] = value
    return frame


# --------------------------------------------------------------------------------------------------------
# BED
# --------------------------------------------------------------------------------------------------------
def test_read_bed3_with_headers_and_comments(tmp_path):
    path = write(tmp_path, "x.bed", "track name=x\nbrowser position chr1\n# comment\nchr1\t10\t20\n\nchr2\t0\t5\n")
    regions = read_regions(path)
    assert regions["chrom"].tolist() == ["chr1", "chr2"]
    assert regions["start"].tolist() == [10, 0] and regions["end"].tolist() == [20, 5]
    assert regions["name"].tolist() == ["chr1:10-20", "chr2:0-5"]
    assert regions["strand"].tolist() == [".", "."]
    assert regions["start"].dtype == np.int64 and regions["end"].dtype == np.int64
    assert region_names(regions) == ["chr1:10-20", "chr2:0-5"]


def test_read_bed6_gz_and_space_separated(tmp_path):
    path = write(tmp_path, "x.bed.gz", "chr1\t10\t20\tp1\t5.5\t-\nchr1\t30\t40\tp2\t.\t+\n")
    regions = read_regions(path)
    assert regions["name"].tolist() == ["p1", "p2"]
    assert regions["strand"].tolist() == ["-", "+"]
    assert regions["score"].iat[0] == 5.5 and np.isnan(regions["score"].iat[1])
    spaced = write(tmp_path, "s.bed", "chr1 10 20 a 0 +\n")
    assert read_regions(spaced)["name"].tolist() == ["a"]


def test_read_bed4_name_with_spaces_when_tab_separated(shared):
    blacklist = read_regions(shared("genomes/ENCODE_hg19-blacklist.v2.bed.gz"))
    assert len(blacklist) == 834
    assert blacklist["name"].iat[0] == "High Signal Region"
    assert (blacklist["chrom"].iat[0], blacklist["start"].iat[0], blacklist["end"].iat[0]) == ("chr10", 38726200,
                                                                                              42489100)


def test_read_bed12_blocks(tmp_path, shared):
    path = write(tmp_path, "g.bed", "chr1\t100\t200\ttx\t0\t+\t110\t190\t0\t3\t10,20,5,\t0,40,95,\n")
    regions = read_regions(path)
    assert regions["blocks"].iat[0] == [(100, 110), (140, 160), (195, 200)]
    gene = read_regions(shared("genomes/hg19_chr17_part_gene.bed12"))
    blocks = gene["blocks"].iat[0]
    assert blocks[0] == (6010, 6168) and blocks[-1] == (30897, 31420)
    assert gene["strand"].iat[0] == "-" and gene["name"].iat[0] == "uc010vpx.1"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("chr1\t1\t5\nchr1\t5\n", 2, "expected 3 columns"),
        ("chr1\t1\t5\nchr1\tx\t8\n", 2, "start 'x' is not an integer"),
        ("chr1\t1\t5\nchr1\t2\t8.5\n", 2, "end '8.5' is not an integer"),
        ("chr1\t1\t5\nchr1\t9\t8\n", 2, "greater than end"),
        ("# c\nchr1\t-1\t5\n", 2, "negative"),
        ("chr1\t1\t5\ta\t0\t+\nchr1\t1\t5\tb\t0\tx\n", 2, "strand"),
        ("chr1\t1\t5\ta\tbig\t+\n", 1, "score 'big' is not a number"),
        ("chr1\t1\n", 1, "at least 3 columns"),
        ("chr1\t0\t50\tt\t0\t+\t0\t50\t0\t2\t10,10,\t0,\n", 1, "blockCount"),
        ("chr1\t0\t50\tt\t0\t+\t0\t50\t0\t1\t10,\t45,\n", 1, "outside the region"),
    ],
)
def test_bed_errors_name_the_line(tmp_path, text, line, message):
    path = write(tmp_path, "bad.bed", text)
    with pytest.raises(InputError, match=message) as info:
        read_regions(path)
    assert info.value.line == line and info.value.path == str(path)


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no regions"):
        read_regions(write(tmp_path, "e.bed", "# only a comment\n"))


def test_unknown_chromosome_with_chrom_sizes(tmp_path):
    path = write(tmp_path, "x.bed", "chr1\t0\t5\nchrZ\t0\t5\n")
    with pytest.raises(InputError, match="chrZ") as info:
        read_regions(path, chrom_sizes={"chr1": 100})
    assert info.value.line == 2
    # regions running off the end are kept ("pad")
    kept = read_regions(write(tmp_path, "y.bed", "chr1\t90\t120\n"), chrom_sizes={"chr1": 100})
    assert kept["end"].tolist() == [120]


# --------------------------------------------------------------------------------------------------------
# narrowPeak
# --------------------------------------------------------------------------------------------------------
def test_narrowpeak_summits_match_macs_summit_file(shared):
    peaks = read_regions(shared("tracks/macs3_CTCF_chr22_hg19_peaks.narrowPeak.gz"))
    summits = read_regions(shared("tracks/macs3_CTCF_chr22_hg19_summits.bed.gz"))
    assert len(peaks) == len(summits) == 730
    assert peaks["summit"].tolist() == summits["start"].tolist()
    assert peaks["name"].tolist() == summits["name"].tolist()
    assert peaks["start"].iat[0] == 17255466 and peaks["summit"].iat[0] == 17255466 + 166
    assert peaks["signal_value"].iat[0] == pytest.approx(13.2158)
    assert peaks["q_value"].iat[0] == pytest.approx(21.4687)


def test_narrowpeak_summit_centered(shared):
    path = shared("tracks/macs3_CTCF_chr22_hg19_peaks.narrowPeak.gz")
    for length in (100, 101):
        peaks = read_regions(path, summit_centered=True, length=length)
        assert ((peaks["end"] - peaks["start"]) == length).all()
        assert ((peaks["summit"] - peaks["start"]) == length // 2).all()
    centred = read_regions(path, length=50)
    raw = read_regions(path)
    assert (centred["start"] == raw["start"] + (raw["end"] - raw["start"] - 50) // 2).all()


def test_narrowpeak_without_summit_and_errors(tmp_path):
    text = "chr1\t100\t200\tp1\t0\t.\t1.5\t2\t3\t-1\nchr1\t300\t310\tp2\t0\t.\t1\t2\t3\t4\n"
    path = write(tmp_path, "x.narrowPeak", text)
    peaks = read_regions(path)
    assert peaks["summit"].tolist() == [-1, 304]
    centred = read_regions(path, summit_centered=True, length=4)
    assert centred["start"].tolist() == [148, 302]  # no summit: centre of 100-200; summit 304 - 2
    bad = write(tmp_path, "bad.narrowPeak", "chr1\t100\t200\tp1\t0\t.\t1\t2\t3\t150\n")
    with pytest.raises(InputError, match="summit offset 150") as info:
        read_regions(bad)
    assert info.value.line == 1
    with pytest.raises(InputError, match="needs a region length"):
        read_regions(path, summit_centered=True)
    with pytest.raises(InputError, match="needs summits"):
        read_regions(write(tmp_path, "p.bed", "chr1\t0\t10\n"), summit_centered=True, length=5)


# --------------------------------------------------------------------------------------------------------
# GTF / GFF3
# --------------------------------------------------------------------------------------------------------
GTF = (
    "#!genome-build test\n"
    'chr1\tsrc\tgene\t11\t100\t.\t+\t.\tgene_id "G1"; gene_name "Alpha"; gene_type "protein_coding";\n'
    'chr1\tsrc\ttranscript\t11\t100\t.\t+\t.\tgene_id "G1"; transcript_id "T1";\n'
    'chr1\tsrc\texon\t11\t20\t.\t+\t.\tgene_id "G1"; transcript_id "T1"; exon_number "1";\n'
    'chr1\tsrc\texon\t51\t100\t.\t+\t.\tgene_id "G1"; transcript_id "T1"; exon_number 2;\n'
    'chr1\tsrc\tCDS\t15\t20\t.\t+\t0\tgene_id "G1"; transcript_id "T1";\n'
    'chr2\tsrc\tgene\t201\t300\t.\t-\t.\tgene_id "G2";\n'
    'chr2\tsrc\texon\t281\t300\t.\t-\t.\tgene_id "G2"; transcript_id "T2";\n'
    'chr2\tsrc\texon\t201\t230\t.\t-\t.\tgene_id "G2"; transcript_id "T2";\n'
)


def test_gtf_genes_transcripts_tss_exons(tmp_path):
    path = write(tmp_path, "a.gtf", GTF)
    genes = read_regions(path)
    assert genes["name"].tolist() == ["Alpha", "G2"]
    assert genes["start"].tolist() == [10, 200] and genes["end"].tolist() == [100, 300]
    assert genes["gene_type"].tolist() == ["protein_coding", None]
    tx = read_regions(path, feature="transcript")
    assert tx["name"].tolist() == ["T1", "T2"]
    assert tx["blocks"].tolist() == [[(10, 20), (50, 100)], [(200, 230), (280, 300)]]
    assert tx["start"].tolist() == [10, 200] and tx["end"].tolist() == [100, 300]  # T2 spans its exons
    assert tx["gene_name"].tolist() == ["Alpha", None]
    tss = read_regions(path, feature="tss")
    assert tss["start"].tolist() == [10, 299] and tss["end"].tolist() == [11, 300]
    exons = read_regions(path, feature="exon")
    assert len(exons) == 4 and exons["transcript_id"].tolist() == ["T1", "T1", "T2", "T2"]
    assert exons["start"].tolist() == [10, 50, 280, 200]
    assert exons["name"].tolist()[:2] == ["T1:exon1", "T1:exon2"] and exons["name"].iat[2] == "T2:8"


def test_gtf_genes_derived_from_transcripts(tmp_path):
    text = "".join(line + "\n" for line in GTF.splitlines() if "\tgene\t" not in line)
    genes = read_regions(write(tmp_path, "b.gtf.gz", text))
    assert genes["gene_id"].tolist() == ["G1", "G2"]
    assert genes["start"].tolist() == [10, 200] and genes["end"].tolist() == [100, 300]
    assert genes["strand"].tolist() == ["+", "-"]


def test_shared_gtf(shared):
    path = shared("genomes/sacCer3_chrIV_50genes.annotation.gtf.gz")
    genes = read_regions(path)
    tss = read_regions(path, feature="tss")
    tx = read_regions(path, feature="transcript")
    assert len(genes) == len(tss) == len(tx) == 885
    first = genes.iloc[0]
    assert (first["chrom"], first["start"], first["end"], first["name"]) == ("chrIV", 1801, 2953, "YDL248W")
    minus = tss["strand"] == "-"
    assert (tss.loc[minus, "start"].to_numpy() == genes.loc[minus, "end"].to_numpy() - 1).all()
    assert (tss.loc[~minus, "start"].to_numpy() == genes.loc[~minus, "start"].to_numpy()).all()
    assert tx["blocks"].map(len).sum() == 924  # every exon row belongs to one transcript


def test_gff3(tmp_path):
    text = (
        "##gff-version 3\n"
        "chr1\tsrc\tgene\t11\t100\t.\t-\t.\tID=gene:G1;Name=Alpha;biotype=protein_coding\n"
        "chr1\tsrc\tmRNA\t11\t100\t.\t-\t.\tID=T1;Parent=gene:G1\n"
        "chr1\tsrc\texon\t11\t20\t.\t-\t.\tParent=T1\n"
        "chr1\tsrc\texon\t61\t100\t.\t-\t.\tParent=T1\n"
        "##FASTA\n>chr1\nACGT\n"
    )
    path = write(tmp_path, "a.gff3", text)
    tx = read_regions(path, feature="transcript")
    assert tx["blocks"].tolist() == [[(10, 20), (60, 100)]]
    assert tx["gene_name"].tolist() == ["Alpha"] and tx["gene_type"].tolist() == ["protein_coding"]
    assert read_regions(path, feature="transcript_tss")["start"].tolist() == [99]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('chr1\tsrc\tgene\t11\t100\t.\t+\t.\tgene_id "G1; gene_name "A";', "malformed GTF attributes"),
        ('chr1\tsrc\tgene\t11\t100\t.\t+\t.\tgene_id;', "malformed GTF attributes"),
        ('chr1\tsrc\tgene\t0\t100\t.\t+\t.\tgene_id "G1";', "1 <= start <= end"),
        ('chr1\tsrc\tgene\t50\t40\t.\t+\t.\tgene_id "G1";', "1 <= start <= end"),
        ('chr1\tsrc\tgene\tx\t40\t.\t+\t.\tgene_id "G1";', "not integers"),
        ('chr1\tsrc\tgene\t1\t40\t.\t?\t.\tgene_id "G1";', "strand"),
        ('chr1\tsrc\tgene\t1\t40\t.\t+', "9 tab-separated"),
        ('chr1\tsrc\texon\t1\t40\t.\t+\t.\tgene_id "G1";', "without transcript_id"),
    ],
)
def test_gtf_errors_name_the_line(tmp_path, line, message):
    path = write(tmp_path, "bad.gtf", 'chr1\tsrc\tgene\t1\t5\t.\t+\t.\tgene_id "G0";\n' + line + "\n")
    with pytest.raises(InputError, match=message) as info:
        read_regions(path)
    assert info.value.line == 2


# --------------------------------------------------------------------------------------------------------
# table
# --------------------------------------------------------------------------------------------------------
def test_table_format(tmp_path):
    comma = write(tmp_path, "t.csv", "name,chrom,start,end,strand\nr1,chr1,5,10,-\nr2,chr2,0,3,+\n")
    regions = read_regions(comma)
    assert regions["name"].tolist() == ["r1", "r2"] and regions["strand"].tolist() == ["-", "+"]
    reordered = write(tmp_path, "t.txt", "#chrom start end name\nchr1 5 10 r1\n")
    regions = read_regions(reordered)
    assert (regions["chrom"].iat[0], regions["start"].iat[0], regions["name"].iat[0]) == ("chr1", 5, "r1")
    bad = write(tmp_path, "bad.tsv", "name\tchrom\tstart\tend\nr1\tchr1\t5\n")
    with pytest.raises(InputError, match="expected 4 columns") as info:
        read_regions(bad)
    assert info.value.line == 2


# --------------------------------------------------------------------------------------------------------
# write_regions round trips
# --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["out.bed", "out.bed.gz"])
def test_bed_round_trip(tmp_path, name):
    regions = regions_frame(["chr1", "chr2"], [0, 10], [5, 20], ["+", "-"], score=[1.0, 2.5])
    write_regions(regions, tmp_path / name)
    back = read_regions(tmp_path / name)
    pd.testing.assert_frame_equal(back, regions, check_dtype=False)
    bed3 = read_regions(write(tmp_path, "b3.bed", "chr1\t1\t2\n"))
    write_regions(bed3, tmp_path / "b3_out.bed")
    assert (tmp_path / "b3_out.bed").read_text() == "chr1\t1\t2\tchr1:1-2\t0\t.\n"


def test_bed12_round_trip(tmp_path, shared):
    gene = read_regions(shared("genomes/hg19_chr17_part_gene.bed12"))
    write_regions(gene, tmp_path / "g.bed")
    back = read_regions(tmp_path / "g.bed")
    assert back["blocks"].tolist() == gene["blocks"].tolist()
    assert back[["chrom", "start", "end", "name", "strand"]].equals(gene[["chrom", "start", "end", "name", "strand"]])


def test_narrowpeak_and_table_round_trip(tmp_path, shared):
    peaks = read_regions(shared("tracks/macs3_CTCF_chr22_hg19_peaks.narrowPeak.gz"))
    write_regions(peaks, tmp_path / "p.narrowPeak", format="narrowpeak")
    pd.testing.assert_frame_equal(read_regions(tmp_path / "p.narrowPeak"), peaks)
    write_regions(peaks, tmp_path / "p.tsv", format="table")
    back = read_regions(tmp_path / "p.tsv")
    pd.testing.assert_frame_equal(back, peaks[["chrom", "start", "end", "name", "strand"]])


def test_write_regions_refuses_negative_start(tmp_path):
    regions = regions_frame(["chr1"], [-3], [5])
    with pytest.raises(InputError, match="negative start"):
        write_regions(regions, tmp_path / "x.bed")
    assert not (tmp_path / "x.bed").exists()


# --------------------------------------------------------------------------------------------------------
# resize / flank
# --------------------------------------------------------------------------------------------------------
def test_resize_center_hand_computed():
    regions = regions_frame(["c"] * 4, [0, 0, 10, 10], [10, 4, 13, 14])
    out = resize(regions, 5)
    # [0,10)->5: leftover 5, floor(2.5)=2 -> [2,7); [0,4)->5: floor(-0.5)=-1 -> [-1,4)
    # [10,13)->5: floor(-1)=-1 -> [9,14); [10,14)->5: floor(-0.5)=-1 -> [9,14)
    assert out["start"].tolist() == [2, -1, 9, 9]
    assert out["end"].tolist() == [7, 4, 14, 14]
    out = resize(regions, 6)
    assert out["start"].tolist() == [2, -1, 8, 9]


def test_resize_center_invariants():
    rng = np.random.default_rng(1)
    starts = rng.integers(0, 10_000, 500)
    ends = starts + rng.integers(1, 500, 500)
    regions = regions_frame(["c"] * 500, starts, ends, list(rng.choice(["+", "-"], 500)))
    for length in (1, 2, 99, 100, 1000):
        out = resize(regions, length)
        assert ((out["end"] - out["start"]) == length).all()
        shift = (out["start"] + out["end"]).to_numpy() - (starts + ends)  # twice the centre shift
        assert set(np.unique(shift)) <= {-1, 0}  # exact, or half a base to the left


def test_resize_anchors_and_strand():
    regions = regions_frame(["c", "c", "c"], [100, 100, 100], [110, 110, 110], ["+", "-", "."])
    start = resize(regions, 4, anchor="start")
    assert start["start"].tolist() == [100, 106, 100] and start["end"].tolist() == [104, 110, 104]
    end = resize(regions, 4, anchor="end")
    assert end["start"].tolist() == [106, 100, 106]
    unstranded = resize(regions, 4, anchor="start", strand_aware=False)
    assert unstranded["start"].tolist() == [100, 100, 100]
    with pytest.raises(InputError, match="summit"):
        resize(regions, 4, anchor="summit")
    with pytest.raises(InputError, match="positive"):
        resize(regions, 0)
    with_blocks = regions.assign(blocks=[[(100, 102)], None, None])
    assert resize(with_blocks, 4)["blocks"].isna().all()
    assert regions["start"].tolist() == [100, 100, 100]  # input untouched


def test_flank():
    regions = regions_frame(["c", "c"], [100, 100], [110, 110], ["+", "-"])
    out = flank(regions, upstream=5, downstream=2)
    assert out["start"].tolist() == [95, 98] and out["end"].tolist() == [112, 115]
    out = flank(regions, upstream=5, downstream=2, strand_aware=False)
    assert out["start"].tolist() == [95, 95] and out["end"].tolist() == [112, 112]
    shrunk = flank(regions, upstream=-3)
    assert shrunk["start"].tolist() == [103, 100] and shrunk["end"].tolist() == [110, 107]
    with pytest.raises(InputError, match="empty"):
        flank(regions, upstream=-5, downstream=-5)


# --------------------------------------------------------------------------------------------------------
# fit_to_chromosomes
# --------------------------------------------------------------------------------------------------------
def test_fit_to_chromosomes_modes():
    sizes = {"a": 100, "b": 50}
    regions = regions_frame(["a", "a", "b", "b"], [-5, 10, 40, 60], [5, 20, 55, 70], names=["w", "x", "y", "z"])
    pd.testing.assert_frame_equal(fit_to_chromosomes(regions, sizes), regions)
    with pytest.warns(DRGWarning, match="dropped 3 of 4 regions.*w, y, z"):
        dropped = fit_to_chromosomes(regions, sizes, off_end="drop")
    assert dropped["name"].tolist() == ["x"]
    with pytest.warns(DRGWarning, match="dropped 1 of 4.*entirely outside.*z"):
        clipped = fit_to_chromosomes(regions, sizes, off_end="clip")
    assert clipped["start"].tolist() == [0, 10, 40] and clipped["end"].tolist() == [5, 20, 50]
    with pytest.raises(InputError, match="record 'w'.*runs off a"):
        fit_to_chromosomes(regions, sizes, off_end="error")
    with pytest.raises(InputError, match="'b' is not in the chromosome sizes"):
        fit_to_chromosomes(regions, {"a": 100})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inside = regions.iloc[[1]]
        assert fit_to_chromosomes(inside, sizes, off_end="drop")["name"].tolist() == ["x"]


def test_fit_to_chromosomes_clips_blocks():
    regions = regions_frame(["a"], [80], [120], blocks=[[(80, 90), (95, 105), (110, 120)]])
    regions.index = [7]  # a non-default index must not misalign the blocks column
    out = fit_to_chromosomes(regions, {"a": 100}, off_end="clip")
    assert out["blocks"].iat[0] == [(80, 90), (95, 100)]
    assert out["end"].tolist() == [100]


def test_fit_to_chromosomes_real_sizes(shared):
    sizes = read_chrom_sizes(shared("tracks/hg19.chrom.sizes"))
    peaks = read_regions(shared("tracks/macs3_CTCF_chr22_hg19_peaks.narrowPeak.gz"))
    assert len(fit_to_chromosomes(peaks, sizes, off_end="error")) == 730
    near_end = regions_frame(["chr22"], [sizes["chr22"] - 10], [sizes["chr22"] + 10])
    assert fit_to_chromosomes(near_end, sizes, off_end="clip")["end"].tolist() == [sizes["chr22"]]


# --------------------------------------------------------------------------------------------------------
# filter_blacklist / drop_duplicates
# --------------------------------------------------------------------------------------------------------
def brute_force_covered(regions, blacklist):
    """Bases of each region covered by the union of blacklist intervals, by explicit position sets."""
    out = []
    for chrom, s, e in zip(regions["chrom"], regions["start"], regions["end"]):
        mask = blacklist["chrom"] == chrom
        covered = set()
        for bs, be in zip(blacklist.loc[mask, "start"], blacklist.loc[mask, "end"]):
            covered.update(range(max(s, bs), min(e, be)))
        out.append(len(covered))
    return np.array(out)


@pytest.mark.parametrize("min_overlap", [1, 7, 30])
def test_filter_blacklist_brute_force(min_overlap):
    rng = np.random.default_rng(min_overlap)
    n, m = 400, 60
    chroms = rng.choice(["c1", "c2", "c3"], n)
    starts = rng.integers(0, 2000, n)
    regions = regions_frame(list(chroms), starts, starts + rng.integers(1, 60, n))
    bl_starts = rng.integers(0, 2000, m)
    blacklist = regions_frame(list(rng.choice(["c1", "c2"], m)), bl_starts, bl_starts + rng.integers(1, 40, m))
    expected = brute_force_covered(regions, blacklist) < min_overlap
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DRGWarning)
        kept = filter_blacklist(regions, blacklist, min_overlap=min_overlap)
    assert kept["name"].tolist() == regions.loc[expected, "name"].tolist()


def test_filter_blacklist_hand_computed_and_warning(tmp_path):
    blacklist_path = write(tmp_path, "bl.bed", "c\t10\t20\nc\t15\t30\nc\t40\t41\n")
    regions = regions_frame(["c"] * 5 + ["d"], [0, 5, 30, 35, 41, 10], [10, 12, 40, 45, 50, 20],
                            names=["touch", "two", "gap", "one", "after", "otherchrom"])
    with pytest.warns(DRGWarning, match="dropped 2 of 6 regions overlapping the blacklist: two, one"):
        kept = filter_blacklist(regions, blacklist_path)
    assert kept["name"].tolist() == ["touch", "gap", "after", "otherchrom"]
    with pytest.warns(DRGWarning, match="dropped 1 of 6.*: two$"):
        kept = filter_blacklist(regions, blacklist_path, min_overlap=2)
    assert "one" in kept["name"].tolist()


def test_filter_blacklist_real_data(shared):
    peaks = read_regions(shared("tracks/macs3_CTCF_chr22_hg19_peaks.narrowPeak.gz"))
    blacklist = read_regions(shared("genomes/ENCODE_hg19-blacklist.v2.bed.gz"))
    expected = brute_force_covered(peaks, blacklist[blacklist["chrom"] == "chr22"]) < 1
    assert 0 < (~expected).sum() < len(peaks)
    with pytest.warns(DRGWarning, match=f"dropped {(~expected).sum()} of 730"):
        kept = filter_blacklist(peaks, shared("genomes/ENCODE_hg19-blacklist.v2.bed.gz"))
    assert kept["name"].tolist() == peaks.loc[expected, "name"].tolist()


def test_drop_duplicates():
    regions = regions_frame(["c", "c", "c", "c"], [0, 0, 0, 5], [10, 10, 10, 10], ["+", "+", "-", "+"],
                            names=["a", "b", "c", "a"])
    with pytest.warns(DRGWarning, match="dropped 1 of 4 regions with duplicate coordinates: b"):
        out = drop_duplicates(regions)
    assert out["name"].tolist() == ["a", "c", "a"]
    with pytest.warns(DRGWarning, match="duplicate name: a"):
        out = drop_duplicates(regions, by="name", keep="last")
    assert out["name"].tolist() == ["b", "c", "a"] and out["start"].tolist() == [0, 0, 5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(drop_duplicates(regions.iloc[[0, 2]])) == 2
