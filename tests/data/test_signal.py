"""Tests for drg.data.signal: bigWig summaries, BAM and fragment-file insertion counts."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from drg.data.signal import bam_insertions, bigwig_signal, fragment_insertions
from drg.data.targets import Targets
from drg.errors import InputError

pyBigWig = pytest.importorskip("pyBigWig")
pysam = pytest.importorskip("pysam")


def _regions(rows, strand=None):
    frame = pd.DataFrame(rows, columns=["chrom", "start", "end", "name"])
    if strand is not None:
        frame["strand"] = strand
    return frame


# ----------------------------------------------------------------------------------------------- bigWig


@pytest.fixture
def tiny_bw(tmp_path):
    path = tmp_path / "tiny.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("chrA", 100), ("chrB", 50)])
    bw.addEntries(["chrA", "chrA", "chrA"], [10, 20, 40], ends=[20, 25, 50], values=[1.0, 3.0, 2.0])
    bw.addEntries(["chrB"], [0], ends=[50], values=[0.5])
    bw.close()
    return path


def test_bigwig_hand_values(tiny_bw):
    regions = _regions([("chrA", 0, 30, "a"), ("chrA", 95, 105, "edge"), ("chrB", 10, 20, "b")])
    expect = {
        # [0,30): 10 bases of 1, 5 bases of 3, 15 without data
        "sum": [25.0, 0.0, 5.0],
        "mean": [25.0 / 30, 0.0, 0.5],
        "max": [3.0, 0.0, 0.5],
        "min": [0.0, 0.0, 0.5],
        "coverage": [0.5, 0.0, 1.0],
    }
    for stat, values in expect.items():
        t = bigwig_signal(tiny_bw, regions, stat=stat)
        assert isinstance(t, Targets) and list(t.tracks) == ["tiny"] and list(t.names) == ["a", "edge", "b"]
        np.testing.assert_allclose(t.values[:, 0], values, rtol=1e-6, err_msg=stat)
    # the interval-mean shortcut ((1 + 3) / 2 * 30) would differ from the per-base sum
    assert bigwig_signal(tiny_bw, regions, stat="sum").values[0, 0] != 60
    # missing as NaN: regions with uncovered bases become NaN for sum/mean
    t = bigwig_signal(tiny_bw, regions, stat="sum", missing=np.nan)
    assert np.isnan(t.values[0, 0]) and np.isnan(t.values[1, 0]) and t.values[2, 0] == 5.0
    two = bigwig_signal([tiny_bw, tiny_bw], regions, stat="sum", tracks=["x", "y"])
    assert two.values.shape == (3, 2) and list(two.tracks) == ["x", "y"]


def test_bigwig_profiles_and_strand(tiny_bw):
    regions = _regions([("chrA", 0, 30, "p"), ("chrA", 0, 30, "m"), ("chrA", 90, 120, "off")],
                       strand=["+", "-", "+"])
    prof = bigwig_signal(tiny_bw, regions, stat="sum", bins=5)
    assert prof.shape == (3, 1, 6) and prof.dtype == np.float32
    np.testing.assert_array_equal(prof[0, 0], [0, 0, 5, 5, 15, 0])
    np.testing.assert_array_equal(prof[1, 0], [0, 15, 5, 5, 0, 0])
    np.testing.assert_array_equal(prof[2, 0], np.zeros(6))
    per_base = bigwig_signal(tiny_bw, regions.iloc[:1], bins=1, missing=-1.0)
    expected = np.r_[np.full(10, -1.0), np.ones(10), np.full(5, 3.0), np.full(5, -1.0)]
    np.testing.assert_array_equal(per_base[0, 0], expected)
    with pytest.raises(InputError, match="equal length"):
        bigwig_signal(tiny_bw, _regions([("chrA", 0, 30, "a"), ("chrA", 0, 20, "b")]), bins=5)
    with pytest.raises(InputError, match="multiple"):
        bigwig_signal(tiny_bw, _regions([("chrA", 0, 30, "a")]), bins=7)


def test_bigwig_unknown_chromosome(tiny_bw, tmp_path):
    regions = _regions([("chrA", 0, 30, "a"), ("chrZ", 0, 10, "z")])
    with pytest.raises(InputError, match="'chrZ'"):
        bigwig_signal(tiny_bw, regions)
    t = bigwig_signal(tiny_bw, regions, unknown_chrom="fill", missing=-2.0, stat="mean")
    assert t.values[1, 0] == -2.0
    (tmp_path / "bad.bw").write_text("not a bigwig")
    with pytest.raises(InputError, match="bad.bw"):
        bigwig_signal(tmp_path / "bad.bw", regions)
    with pytest.raises(InputError, match="end <= start"):
        bigwig_signal(tiny_bw, _regions([("chrA", 5, 5, "e")]))


def test_bigwig_real_against_intervals(shared):
    path = shared("tracks/crested_mm10_cortex_Lamp5_chr1_3.0-3.4Mb.bw")
    bw = pyBigWig.open(str(path))
    iv = np.array(bw.intervals("chr1"), dtype=np.float64)
    bw.close()
    i_start, i_end, i_val = iv[:, 0].astype(np.int64), iv[:, 1].astype(np.int64), iv[:, 2]
    rng = np.random.default_rng(0)
    starts = rng.integers(2_999_000, 3_392_000, 150)
    regions = _regions([("chr1", int(s), int(s) + 500, f"r{k}") for k, s in enumerate(starts)])
    got = {s: bigwig_signal(path, regions, stat=s).values[:, 0] for s in ("sum", "mean", "max", "coverage")}
    for k, s in enumerate(starts):
        e = s + 500
        overlap = np.clip(np.minimum(i_end, e) - np.maximum(i_start, s), 0, None)
        hit = overlap > 0
        total = float((overlap * i_val).sum())
        covered = int(overlap.sum())
        vmax = max(i_val[hit].max() if hit.any() else 0.0, 0.0 if covered < 500 else -np.inf)
        np.testing.assert_allclose(got["sum"][k], total, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got["mean"][k], total / 500, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(got["max"][k], vmax, rtol=1e-6)
        np.testing.assert_allclose(got["coverage"][k], covered / 500, rtol=1e-6)
    assert (got["sum"] > 0).sum() > 50  # the regions actually hit signal


# ----------------------------------------------------------------------------------------------- BAM


def _write_bam(path, chroms, reads, index=True):
    """reads: (name, chrom, start, length, reverse, flag_extra, mapq)."""
    header = pysam.AlignmentHeader.from_dict(
        {"HD": {"VN": "1.6", "SO": "unsorted"}, "SQ": [{"SN": c, "LN": n} for c, n in chroms]})
    unsorted = str(path) + ".unsorted.bam"
    with pysam.AlignmentFile(unsorted, "wb", header=header) as out:
        for name, chrom, start, length, reverse, extra, mapq in reads:
            seg = pysam.AlignedSegment(header)
            seg.query_name = name
            seg.reference_id = header.get_tid(chrom)
            seg.reference_start = int(start)
            seg.cigarstring = f"{int(length)}M"
            seg.query_sequence = "A" * int(length)
            seg.flag = (16 if reverse else 0) | extra
            seg.mapping_quality = mapq
            if extra & 1:
                seg.next_reference_id = seg.reference_id
                seg.next_reference_start = int(start)
            out.write(seg)
    pysam.sort("-o", str(path), unsorted)
    if index:
        pysam.index(str(path))
    return path


TINY_READS = [
    ("r1", "chrA", 100, 50, False, 0, 60),  # + : 100 + 4 = 104
    ("r2", "chrA", 200, 50, True, 0, 60),  # - : 249 - 5 = 244
    ("r3", "chrA", 96, 20, False, 0, 60),  # + : 100
    ("r4", "chrA", 80, 26, True, 0, 60),  # - : 105 - 5 = 100
    ("r5", "chrA", 300, 30, False, 0, 5),  # + : 304, low mapq
    ("r6", "chrA", 500, 30, False, 0x400, 60),  # duplicate: 504
    ("r7", "chrA", 0, 3, True, 0, 60),  # - : 2 - 5 < 0, outside the chromosome
    ("r8", "chrA", 600, 30, False, 0x100, 60),  # secondary
    ("r9", "chrA", 700, 30, False, 0x1, 60),  # paired, not proper: 704
    ("r10", "chrA", 710, 30, False, 0x1 | 0x2, 60),  # proper pair: 714
]


@pytest.fixture
def tiny_bam(tmp_path):
    return _write_bam(tmp_path / "tiny.bam", [("chrA", 1000)], TINY_READS)


def test_bam_hand_counts(tiny_bam):
    regions = _regions([("chrA", 100, 101, "a"), ("chrA", 100, 105, "b"), ("chrA", 240, 250, "c"),
                        ("chrA", 0, 1000, "all"), ("chrA", 245, 250, "none")])
    t = bam_insertions(tiny_bam, regions)
    assert list(t.tracks) == ["tiny"]
    np.testing.assert_array_equal(t.values[:, 0], [2, 3, 1, 6, 0])
    np.testing.assert_array_equal(bam_insertions(tiny_bam, regions, mapq=10).values[:, 0], [2, 3, 1, 5, 0])
    assert bam_insertions(tiny_bam, regions, keep_duplicates=True).values[3, 0] == 7
    assert bam_insertions(tiny_bam, regions, paired=False).values[3, 0] == 7
    assert bam_insertions(tiny_bam, regions, paired=True).values[3, 0] == 1
    unshifted = bam_insertions(tiny_bam, regions, shift=(0, 0)).values[:, 0]
    # 5' ends: r1 100, r2 249, r3 96, r4 105, ...
    np.testing.assert_array_equal(unshifted[:3], [1, 1, 1])
    two = bam_insertions([tiny_bam, tiny_bam], regions, tracks=["x", "y"])
    np.testing.assert_array_equal(two.values[:, 0], two.values[:, 1])


def test_bam_profiles(tiny_bam):
    regions = _regions([("chrA", 96, 106, "p"), ("chrA", 96, 106, "m"), ("chrA", 240, 250, "c")],
                       strand=["+", "-", "+"])
    prof = bam_insertions(tiny_bam, regions, bins=5)
    assert prof.shape == (3, 1, 2)
    np.testing.assert_array_equal(prof[:, 0], [[2, 1], [1, 2], [1, 0]])
    per_base = bam_insertions(tiny_bam, regions, bins=1)
    np.testing.assert_array_equal(per_base[0, 0], [0, 0, 0, 0, 2, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(per_base.sum(axis=-1), prof.sum(axis=-1))


def test_bam_errors(tmp_path, tiny_bam):
    regions = _regions([("chrA", 100, 101, "a"), ("chrQ", 0, 10, "q")])
    with pytest.raises(InputError, match="'chrQ'"):
        bam_insertions(tiny_bam, regions)
    assert bam_insertions(tiny_bam, regions, unknown_chrom="fill").values[1, 0] == 0
    plain = _write_bam(tmp_path / "noindex.bam", [("chrA", 1000)], TINY_READS, index=False)
    with pytest.raises(InputError, match="no index"):
        bam_insertions(plain, regions.iloc[:1])
    assert bam_insertions(plain, regions.iloc[:1], build_index=True).values[0, 0] == 2
    with pytest.raises(InputError, match="not found"):
        bam_insertions(tmp_path / "absent.bam", regions)


def test_bam_real_reads_against_bed(shared, tmp_path):
    bed = shared("tracks/macs3_CTCF_SE_ChIP_chr22_50k_reads.bed.gz")
    sizes = pd.read_csv(shared("tracks/hg19.chrom.sizes"), sep="\t", header=None, names=["chrom", "size"])
    chr22 = int(sizes.loc[sizes.chrom == "chr22", "size"].iloc[0])
    reads = pd.read_csv(bed, sep="\t", header=None, usecols=[0, 1, 2, 5], names=["chrom", "start", "end", "strand"])
    assert (reads.chrom == "chr22").all()
    rows = [(f"q{i}", "chr22", s, e - s, st == "-", 0, 60)
            for i, (s, e, st) in enumerate(zip(reads.start, reads.end, reads.strand, strict=True))]
    bam = _write_bam(tmp_path / "chip.bam", [("chr22", chr22)], rows)
    peaks = pd.read_csv(shared("tracks/macs3_CTCF_chr22_hg19_peaks.narrowPeak.gz"), sep="\t", header=None,
                        usecols=[0, 1, 2, 3], names=["chrom", "start", "end", "name"])
    got = bam_insertions(bam, peaks).values[:, 0]
    minus = reads.strand.to_numpy() == "-"
    ins = np.where(minus, reads.end.to_numpy() - 1 - 5, reads.start.to_numpy() + 4)
    expect = np.array([((ins >= s) & (ins < e)).sum() for s, e in zip(peaks.start, peaks.end, strict=True)])
    np.testing.assert_array_equal(got, expect)
    assert expect.sum() > 1000
    raw = bam_insertions(bam, peaks, shift=(0, 0)).values[:, 0]
    ins0 = np.where(minus, reads.end.to_numpy() - 1, reads.start.to_numpy())
    expect0 = np.array([((ins0 >= s) & (ins0 < e)).sum() for s, e in zip(peaks.start, peaks.end, strict=True)])
    np.testing.assert_array_equal(raw, expect0)


# ----------------------------------------------------------------------------------------------- fragments

FRAGMENTS = (
    "# id=test\n# genome=x\n"
    "chrA\t10\t50\tAAA\t2\n"
    "chrA\t45\t60\tBBB\t1\n"
    "chrA\t100\t120\tAAA\t1\n"
    "chrB\t5\t15\tCCC\t3\n"
    "chrZ\t1\t9\tAAA\t1\n"
)


@pytest.fixture
def tiny_fragments(tmp_path):
    path = tmp_path / "frags.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(FRAGMENTS)
    return path


def test_fragments_hand_counts(tiny_fragments, tmp_path):
    regions = _regions([("chrA", 0, 50, "a"), ("chrA", 50, 120, "b"), ("chrB", 0, 10, "c"), ("chrC", 0, 10, "d"),
                        ("chrA", 10, 11, "e"), ("chrA", 11, 12, "f")])
    t = fragment_insertions(tiny_fragments, regions)
    assert list(t.tracks) == ["frags"]
    # insertions: chrA 10, 49, 45, 59, 100, 119; chrB 5, 14
    np.testing.assert_array_equal(t.values[:, 0], [3, 3, 1, 0, 1, 0])
    g = fragment_insertions(tiny_fragments, regions, barcodes={"AAA": "g1", "BBB": "g2", "CCC": "g1"})
    assert list(g.tracks) == ["g1", "g2"]
    np.testing.assert_array_equal(g.values, [[2, 1], [2, 1], [1, 0], [0, 0], [1, 0], [0, 0]])
    only = fragment_insertions(tiny_fragments, regions, barcodes=["BBB"])
    np.testing.assert_array_equal(only.values[:, 0], [1, 1, 0, 0, 0, 0])
    weighted = fragment_insertions(tiny_fragments, regions, use_counts=True)
    np.testing.assert_array_equal(weighted.values[:, 0], [5, 3, 3, 0, 2, 0])
    shifted = fragment_insertions(tiny_fragments, regions, shift=(1, -1))
    np.testing.assert_array_equal(shifted.values[4:, 0], [0, 1])
    groups = tmp_path / "groups.tsv"
    groups.write_text("AAA\tg1\nBBB\tg2\nCCC\tg1\n")
    np.testing.assert_array_equal(fragment_insertions(tiny_fragments, regions, barcodes=groups).values, g.values)


def test_fragments_errors(tmp_path):
    regions = _regions([("chrA", 0, 50, "a")])
    bad = tmp_path / "bad.tsv"
    bad.write_text("chrA\t10\t50\tAAA\t1\nchrA\t60\t60\tAAA\t1\n")
    with pytest.raises(InputError, match="line 2"):
        fragment_insertions(bad, regions)
    text = tmp_path / "text.tsv"
    text.write_text("chrA\t10\t50\tAAA\t1\nchrA\tx\t60\tAAA\t1\n")
    with pytest.raises(InputError, match="text.tsv"):
        fragment_insertions(text, regions)
    short = tmp_path / "short.tsv"
    short.write_text("chrA\t10\t50\n")
    assert fragment_insertions(short, regions).values[0, 0] == 2
    with pytest.raises(InputError, match="columns"):
        fragment_insertions(short, regions, barcodes=["AAA"])


def test_fragments_against_brute_force(tmp_path):
    rng = np.random.default_rng(3)
    n = 300_000
    chrom = rng.choice(["chr1", "chr2", "chr3"], n)
    start = rng.integers(0, 200_000, n)
    end = start + rng.integers(30, 800, n)
    barcode = rng.choice([f"BC{i}" for i in range(20)], n)
    frame = pd.DataFrame({"c": chrom, "s": start, "e": end, "b": barcode, "n": rng.integers(1, 5, n)})
    path = tmp_path / "many.tsv.gz"
    frame.to_csv(path, sep="\t", header=False, index=False)
    rs = rng.integers(0, 199_000, 60)
    regions = _regions([(f"chr{1 + k % 4}", int(s), int(s) + 1000, f"r{k}") for k, s in enumerate(rs)],
                       strand=["+", "-"] * 30)
    mapping = {f"BC{i}": ("even" if i % 2 == 0 else "odd") for i in range(20)}
    t = fragment_insertions(path, regions, barcodes=mapping, chunksize=70_000)
    prof = fragment_insertions(path, regions, bins=100, chunksize=70_000)
    ins_chrom = np.concatenate([chrom, chrom])
    ins_pos = np.concatenate([start, end - 1])
    ins_grp = np.concatenate([barcode, barcode])
    ins_grp = np.array([mapping[b] for b in ins_grp])
    for k, row in regions.iterrows():
        hit = (ins_chrom == row.chrom) & (ins_pos >= row.start) & (ins_pos < row.end)
        assert t.values[k, list(t.tracks).index("even")] == (hit & (ins_grp == "even")).sum()
        assert t.values[k, list(t.tracks).index("odd")] == (hit & (ins_grp == "odd")).sum()
        bins = np.bincount((ins_pos[hit] - row.start) // 100, minlength=10)
        if row.strand == "-":
            bins = bins[::-1]
        np.testing.assert_array_equal(prof[k, 0], bins)
    assert t.values[regions.chrom.to_numpy() == "chr4"].sum() == 0
    assert t.values.sum() > 1000
