"""Tests for drg.genome.fasta: Genome random access, FASTA and chrom.sizes I/O."""

from __future__ import annotations

import gzip
import logging
import os
import stat
import time

import numpy as np
import pandas as pd
import pytest

from drg.errors import InputError
from drg.genome.fasta import Genome, read_chrom_sizes, read_fasta, write_fasta
from drg.genome.regions import read_regions

TINY = ">chr1 first sequence\nACGTacgtNN\nGGCC\n>chr2\nTTTTG\n"
CHR1 = "ACGTacgtNNGGCC"


def revcomp(seq: str) -> str:
    pairs = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N", "a": "t", "c": "g", "g": "c", "t": "a", "n": "n"}
    return "".join(pairs[b] for b in reversed(seq))


def padded_slice(seq: str, start: int, end: int) -> str:
    """Reference implementation of an N-padded 0-based half-open slice."""
    return "".join(seq[i] if 0 <= i < len(seq) else "N" for i in range(start, end))


@pytest.fixture
def tiny_fasta(tmp_path):
    path = tmp_path / "tiny.fa"
    path.write_text(TINY)
    return path


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def make_read_only(directory):
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)


# --------------------------------------------------------------------------------------------------------
# Genome
# --------------------------------------------------------------------------------------------------------
def test_genome_basic_properties(tiny_fasta, cache):
    genome = Genome(tiny_fasta, cache_dir=cache)
    assert genome.chrom_sizes == {"chr1": 14, "chr2": 5}
    assert genome.chroms == ["chr1", "chr2"]
    assert len(genome) == 2
    assert "chr2" in genome and "chr3" not in genome
    assert (tiny_fasta.parent / "tiny.fa.fai").exists()  # writable directory: index beside the file


def test_fetch_hand_computed(tiny_fasta, cache):
    genome = Genome(tiny_fasta, cache_dir=cache)
    assert genome.fetch("chr1", 2, 6) == "GTAC"
    assert genome.fetch("chr1", 8, 12) == "NNGG"  # crosses the line break
    assert genome.fetch("chr1", 0, 14) == CHR1.upper()
    assert genome.fetch("chr1", 5, 5) == ""
    # off-end padding keeps the requested length
    assert genome.fetch("chr1", -2, 3) == "NNACG"
    assert genome.fetch("chr1", 12, 16) == "CCNN"
    assert genome.fetch("chr1", 20, 23) == "NNN"
    assert genome.fetch("chr1", -5, -2) == "NNN"
    assert genome.fetch("chr2", -1, 7) == "NTTTTGNN"
    # reverse complement
    assert genome.fetch("chr1", 0, 3, strand="-") == "CGT"
    assert genome.fetch("chr2", 3, 7, strand="-") == "NNCA"
    assert genome.fetch("chr1", 0, 3, strand=".") == "ACG"


def test_fetch_keeps_case_when_asked(tiny_fasta, cache):
    genome = Genome(tiny_fasta, cache_dir=cache, uppercase=False)
    assert genome.fetch("chr1", 2, 6) == "GTac"
    assert genome.fetch("chr1", 2, 6, strand="-") == "gtAC"


def test_genome_pickles(tiny_fasta, cache):
    import pickle

    genome = pickle.loads(pickle.dumps(Genome(tiny_fasta, cache_dir=cache, uppercase=False)))
    assert genome.fetch("chr1", 2, 6) == "GTac"


def test_fetch_errors(tiny_fasta, cache):
    genome = Genome(tiny_fasta, cache_dir=cache)
    with pytest.raises(InputError, match=r"unknown chromosome 'chrX'.*chr1, chr2"):
        genome.fetch("chrX", 0, 1)
    with pytest.raises(InputError, match="greater than end"):
        genome.fetch("chr1", 5, 4)
    with pytest.raises(InputError, match="strand"):
        genome.fetch("chr1", 0, 2, strand="x")


def test_fetch_regions_matches_fetch_and_blocks(tiny_fasta, cache):
    genome = Genome(tiny_fasta, cache_dir=cache)
    regions = pd.DataFrame({
        "chrom": ["chr1", "chr1", "chr2", "chr1"],
        "start": [0, -2, 3, 0],
        "end": [4, 3, 7, 14],
        "name": ["a", "b", "c", "d"],
        "strand": ["+", "-", "+", "-"],
        "blocks": [None, None, None, [(8, 12), (0, 2)]],
    })
    seqs = genome.fetch_regions(regions)
    assert seqs[0] == "ACGT"
    assert seqs[1] == revcomp("NNACG")
    assert seqs[2] == "TGNN"
    # blocks are concatenated in genomic order, then reverse-complemented as a whole
    assert seqs[3] == revcomp("AC" + "NNGG")
    with pytest.raises(InputError, match="record 'b'.*runs off chr1"):
        genome.fetch_regions(regions, off_end="error")
    with pytest.raises(InputError, match="record 'x'.*unknown chromosome"):
        genome.fetch_regions(pd.DataFrame({"chrom": ["chr9"], "start": [0], "end": [1], "name": ["x"]}))


def test_read_only_directory_puts_index_in_cache(tmp_path, cache):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "g.fa").write_text(TINY)
    make_read_only(ro)
    try:
        genome = Genome(ro / "g.fa", cache_dir=cache)
        assert genome.fetch("chr1", 10, 14) == "GGCC"
        assert sorted(os.listdir(ro)) == ["g.fa"]
        assert any(name.endswith(".fai") for name in os.listdir(cache))
        # a second open reuses the cached index
        assert Genome(ro / "g.fa", cache_dir=cache).chrom_sizes == {"chr1": 14, "chr2": 5}
    finally:
        ro.chmod(0o755)


def test_shared_read_only_genome_and_bed12_gene(shared, cache):
    path = shared("genomes/hg19_chr17_part.fa")
    before = sorted(os.listdir(path.parent))
    genome = Genome(path, cache_dir=cache)
    assert sorted(os.listdir(path.parent)) == before  # nothing written into the shared directory
    reference = read_fasta(path).sequences[0].upper()
    assert genome.chrom_sizes == {"chr17": len(reference)} == {"chr17": 40000}
    gene = read_regions(shared("genomes/hg19_chr17_part_gene.bed12"))
    blocks = gene["blocks"].iat[0]
    expected = revcomp("".join(reference[s:e] for s, e in blocks))
    (seq,) = genome.fetch_regions(gene)
    assert seq == expected
    assert len(seq) == 158 + 127 + 110 + 75 + 80 + 523


def test_plain_gzip_is_decompressed_once(shared, cache, caplog):
    path = shared("genomes/lambda_virus.fa.gz")
    with caplog.at_level(logging.WARNING, logger="drg.genome.fasta"):
        genome = Genome(path, cache_dir=cache)
    assert any("decompressing" in rec.message for rec in caplog.records)
    copies = [p for p in cache.iterdir() if p.suffix == ".fa"]
    assert len(copies) == 1
    mtime = copies[0].stat().st_mtime_ns
    assert genome.chrom_sizes == {"gi|9626243|ref|NC_001416.1|": 48502}
    reference = read_fasta(path).sequences[0]
    assert genome.fetch(genome.chroms[0], 0, 48502) == reference.upper()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="drg.genome.fasta"):
        again = Genome(path, cache_dir=cache)
    assert not caplog.records
    assert copies[0].stat().st_mtime_ns == mtime
    assert again.fetch(again.chroms[0], 100, 130) == reference[100:130].upper()


def test_cache_dir_from_environment(shared, tmp_path, monkeypatch):
    monkeypatch.setenv("DRG_CACHE", str(tmp_path / "envcache"))
    Genome(shared("genomes/lambda_virus.fa.gz"))
    assert any(p.suffix == ".fa" for p in (tmp_path / "envcache").iterdir())


def test_bgzip_fasta(tmp_path, cache):
    pysam = pytest.importorskip("pysam")
    plain = tmp_path / "plain.fa"
    plain.write_text(TINY)
    ro = tmp_path / "ro"
    ro.mkdir()
    pysam.tabix_compress(str(plain), str(ro / "g.fa.gz"))
    make_read_only(ro)
    try:
        genome = Genome(ro / "g.fa.gz", cache_dir=cache, uppercase=False)
        assert sorted(os.listdir(ro)) == ["g.fa.gz"]
        assert not any(p.suffix == ".fa" for p in cache.iterdir())  # read directly, not decompressed
        assert genome.chrom_sizes == {"chr1": 14, "chr2": 5}
        assert genome.fetch("chr1", -1, 9) == "NACGTacgtN"
        assert genome.fetch("chr2", 3, 7, strand="-") == "NNCA"
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("relative", ["genomes/hg19_chr17_part.fa", "genomes/sacCer3_chrIV.fa.gz"])
def test_fetch_regions_brute_force(shared, cache, relative):
    path = shared(relative)
    records = read_fasta(path)
    chrom, reference = records.names[0], records.sequences[0]
    size = len(reference)
    rng = np.random.default_rng(0)
    n = 300
    starts = rng.integers(-500, size + 100, n)
    ends = starts + rng.integers(0, 800, n)
    strands = rng.choice(["+", "-", "."], n)
    regions = pd.DataFrame({"chrom": chrom, "start": starts, "end": ends, "strand": strands,
                            "name": [f"r{i}" for i in range(n)]})
    for uppercase in (True, False):
        genome = Genome(path, cache_dir=cache, uppercase=uppercase)
        got = genome.fetch_regions(regions)
        for seq, s, e, d in zip(got, starts, ends, strands):
            want = padded_slice(reference, s, e)
            want = want.upper() if uppercase else want
            assert seq == (revcomp(want) if d == "-" else want)
            assert genome.fetch(chrom, s, e, strand=d) == seq


def test_soft_masked_case(shared, cache):
    path = shared("genomes/hg19_chr17_part.fa")
    reference = read_fasta(path).sequences[0]
    first_lower = next(i for i, c in enumerate(reference) if c.islower())
    window = (first_lower - 5, first_lower + 5)
    kept = Genome(path, cache_dir=cache, uppercase=False).fetch("chr17", *window)
    assert kept == reference[window[0]:window[1]] and kept != kept.upper()
    assert Genome(path, cache_dir=cache).fetch("chr17", *window) == kept.upper()


def test_gtf_transcript_sequences(shared, cache):
    genome = Genome(shared("genomes/sacCer3_chrIV.fa.gz"), cache_dir=cache)
    reference = read_fasta(shared("genomes/sacCer3_chrIV.fa.gz")).sequences[0].upper()
    tx = read_regions(shared("genomes/sacCer3_chrIV_50genes.annotation.gtf.gz"), feature="transcript")
    tx = tx.set_index("transcript_id", drop=False)
    minus = tx.loc[["YDL125C_mRNA"]]
    assert minus["blocks"].iat[0] == [(239018, 239398), (239509, 239606)]
    (seq,) = genome.fetch_regions(minus)
    assert seq == revcomp(reference[239018:239398] + reference[239509:239606])
    plus = tx.loc[["YDL219W_mRNA"]]
    (seq,) = genome.fetch_regions(plus)
    assert seq == reference[65241:65306] + reference[65377:65765]
    # a spliced coding transcript starts with ATG on its own strand
    assert seq.startswith("ATG")


def test_malformed_fasta_is_input_error(tmp_path, cache):
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nACGTACGTAC\nACG\nACGTAC\n")
    with pytest.raises(InputError, match=r"bad\.fa, line 3: malformed FASTA") as info:
        Genome(bad, cache_dir=cache)
    assert info.value.line == 3
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    with pytest.raises(InputError, match="empty.fa"):
        Genome(empty, cache_dir=cache)
    headless = tmp_path / "headless.fa"
    headless.write_text("ACGT\nACGT\n")
    with pytest.raises(InputError, match="headless.fa"):
        Genome(headless, cache_dir=cache)
    dup = tmp_path / "dup.fa"
    dup.write_text(">a\nAC\n>a\nGG\n")
    with pytest.raises(InputError, match="dup.fa"):
        Genome(dup, cache_dir=cache)
    with pytest.raises(InputError, match="not found"):
        Genome(tmp_path / "missing.fa", cache_dir=cache)


# --------------------------------------------------------------------------------------------------------
# read_fasta / write_fasta
# --------------------------------------------------------------------------------------------------------
def test_read_fasta_tiny(tmp_path):
    path = tmp_path / "x.fa"
    path.write_text(">s1 some description\r\nACGT\r\nnn\r\n\r\n>s2\nRYKM-\n")
    records = read_fasta(path)
    assert records.names == ["s1", "s2"]
    assert records.sequences == ["ACGTnn", "RYKM-"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("ACGT\n>a\nAC\n", 1, "before the first"),
        (">a\n>b\nAC\n", 1, "no sequence"),
        (">a\nAC\n>b\n", 3, "no sequence"),
        (">a\nAC\n>a\nGG\n", 3, "duplicate"),
        (">a\nACGT\nACXT\n", 3, "illegal character 'X'"),
        (">a\nACGT\n>b\nAAAA\nAAAA\nAA1A\n", 6, "illegal character '1'"),
        (">\nACGT\n", 1, "empty sequence name"),
    ],
)
def test_read_fasta_errors_name_the_line(tmp_path, text, line, message):
    path = tmp_path / "bad.fa"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_fasta(path)
    assert info.value.line == line
    assert info.value.path == str(path)


def test_read_fasta_empty_file(tmp_path):
    path = tmp_path / "empty.fa"
    path.write_text("\n")
    with pytest.raises(InputError, match="no FASTA records"):
        read_fasta(path)


def test_read_fasta_ctcf_is_fast(shared):
    path = shared("sequences/ctcf_chipseq_peaks_100bp.fa.gz")
    t0 = time.perf_counter()
    records = read_fasta(path)
    elapsed = time.perf_counter() - t0
    assert len(records.names) == 39184
    assert records.names[0] == "chr1:17036408-17036508"
    assert records.sequences[0].startswith("GGGCTGTTGGGTGTGAACAG")
    assert {len(s) for s in records.sequences} == {100}
    assert elapsed < 1.0


@pytest.mark.parametrize("suffix", [".fa", ".fa.gz"])
def test_write_fasta_round_trip(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    names, seqs = ["a", "b", "c"], ["ACGTACG", "nnAC", "T" * 200]
    write_fasta(names, seqs, path, width=3)
    if suffix == ".fa":
        assert path.read_text().startswith(">a\nACG\nTAC\nG\n>b\nnnA\nC\n>c\nTTT\n")
    else:
        assert gzip.open(path, "rt").read().startswith(">a\nACG\nTAC\nG\n")
    records = read_fasta(path)
    assert records.names == names and records.sequences == seqs
    write_fasta(names, seqs, tmp_path / "one.fa", width=None)
    assert (tmp_path / "one.fa").read_text().splitlines()[5] == "T" * 200


def test_write_fasta_errors_leave_file_untouched(tmp_path):
    path = tmp_path / "out.fa"
    write_fasta(["a"], ["AC"], path)
    with pytest.raises(InputError, match="2 names but 1 sequences"):
        write_fasta(["a", "b"], ["AC"], path)
    with pytest.raises(InputError, match="whitespace"):
        write_fasta(["a b"], ["AC"], path)
    assert path.read_text() == ">a\nAC\n"
    assert sorted(os.listdir(tmp_path)) == ["out.fa"]


def test_written_fasta_opens_as_genome(tmp_path, cache):
    path = tmp_path / "g.fa"
    write_fasta(["x", "y"], ["ACGT" * 30, "GGGCCC"], path, width=60)
    genome = Genome(path, cache_dir=cache)
    assert genome.chrom_sizes == {"x": 120, "y": 6}
    assert genome.fetch("x", 58, 63) == "GTACG"


# --------------------------------------------------------------------------------------------------------
# read_chrom_sizes
# --------------------------------------------------------------------------------------------------------
def test_read_chrom_sizes_shared(shared):
    sizes = read_chrom_sizes(shared("tracks/hg19.chrom.sizes"))
    assert sizes["chr1"] == 249250621
    assert sizes["chr22"] == 51304566
    assert list(sizes)[0] == "chr1"


def test_read_chrom_sizes_from_fai(tiny_fasta, cache):
    Genome(tiny_fasta, cache_dir=cache)
    assert read_chrom_sizes(tiny_fasta.parent / "tiny.fa.fai") == {"chr1": 14, "chr2": 5}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("chr1 10\nchr2\n", 2, "two columns"),
        ("chr1\t10\nchr2\tten\n", 2, "not an integer"),
        ("# comment\nchr1\t-5\n", 2, "negative"),
        ("chr1 10\nchr1 12\n", 2, "twice"),
    ],
)
def test_read_chrom_sizes_errors(tmp_path, text, line, message):
    path = tmp_path / "sizes.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_chrom_sizes(path)
    assert info.value.line == line
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(InputError, match="no chromosome sizes"):
        read_chrom_sizes(tmp_path / "empty.txt")
