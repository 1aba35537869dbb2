"""read_vcf: 1-based POS to 0-based, multi-allelic splitting, gzip/bgzip, unsupported alleles, malformed lines."""

from __future__ import annotations

import gzip

import pytest

from drg.design import read_vcf
from drg.errors import DRGWarning, InputError

HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
RECORDS = (
    "chr1\t10\trs1\tA\tG\t.\tPASS\t.\n"
    "chr1\t20\t.\tc\tt,CA\t50\tPASS\tDP=3\n"
    "chr2\t5\trs3\tACGT\tA\t.\t.\t.\n"
)


def write(path, text):
    path.write_text(text)
    return path


def test_positions_alleles_ids_and_multiallelic_split(tmp_path):
    table = read_vcf(write(tmp_path / "v.vcf", HEADER + RECORDS))
    assert list(table.columns) == ["chrom", "pos", "ref", "alt", "id", "name"]
    assert table["pos"].tolist() == [9, 19, 19, 4]  # VCF POS is 1-based
    assert table["ref"].tolist() == ["A", "C", "C", "ACGT"]  # upper case
    assert table["alt"].tolist() == ["G", "T", "CA", "A"]
    assert table["id"].tolist() == ["rs1", "chr1:20:C:T", "chr1:20:C:CA", "rs3"]
    assert table["name"].tolist() == ["chr1:10:A:G", "chr1:20:C:T", "chr1:20:C:CA", "chr2:5:ACGT:A"]
    assert str(table["pos"].dtype) == "int64"


def test_gzip_and_bgzip_read_the_same(tmp_path):
    import pysam

    plain = write(tmp_path / "v.vcf", HEADER + RECORDS)
    gz = tmp_path / "v.vcf.gz"
    gz.write_bytes(gzip.compress((HEADER + RECORDS).encode()))
    bgz = tmp_path / "b.vcf.gz"
    pysam.tabix_compress(str(plain), str(bgz))
    assert bgz.read_bytes()[12:14] == b"BC"
    expected = read_vcf(plain)
    for path in (gz, bgz):
        assert read_vcf(path).equals(expected)


def test_headerless_file_and_empty_vcf(tmp_path):
    table = read_vcf(write(tmp_path / "h.vcf", "chr1 3 . G T\n"))
    assert table[["chrom", "pos", "ref", "alt"]].values.tolist() == [["chr1", 2, "G", "T"]]
    empty = read_vcf(write(tmp_path / "e.vcf", HEADER))
    assert len(empty) == 0 and list(empty.columns) == ["chrom", "pos", "ref", "alt", "id", "name"]
    with pytest.raises(InputError, match="empty"):
        read_vcf(write(tmp_path / "z.vcf", "\n"))


@pytest.mark.parametrize("alt,what", [("<DEL>", "symbolic"), ("G]chr1:5]", "breakend"), (".A", "single breakend"),
                                      ("*", "spanning"), (".", "no ALT")])
def test_unsupported_alleles_error_naming_the_line(tmp_path, alt, what):
    path = write(tmp_path / "v.vcf", HEADER + RECORDS + f"chr1\t30\t.\tA\t{alt}\t.\t.\t.\n")
    with pytest.raises(InputError, match=f"v.vcf, line 7: .*{what}"):
        read_vcf(path)


def test_skip_warns_with_count_and_first_few(tmp_path):
    extra = "".join(f"chr1\t{30 + i}\t.\tA\t<DEL>\t.\t.\t.\n" for i in range(7))
    path = write(tmp_path / "v.vcf", HEADER + RECORDS + extra + "chr1\t40\t.\tA\tT,<INS>\t.\t.\t.\n")
    with pytest.warns(DRGWarning, match=r"skipped 8 unsupported ALT allele\(s\): line 7: chr1:30 A><DEL>.*; \.\.\.$"):
        table = read_vcf(path, unsupported="skip")
    assert len(table) == 5 and table["alt"].iloc[-1] == "T"  # the other allele of line 14 is kept


def test_max_indel(tmp_path):
    path = write(tmp_path / "v.vcf", "chr1\t5\t.\tA\tACGTAC\n")
    assert len(read_vcf(path, max_indel=5)) == 1
    with pytest.raises(InputError, match="line 1: .*max_indel"):
        read_vcf(path, max_indel=4)
    with pytest.warns(DRGWarning, match="skipped 1"):
        assert len(read_vcf(path, max_indel=4, unsupported="skip")) == 0


@pytest.mark.parametrize("line,message", [
    ("chr1\t10\t.\tA", "5 tab-separated columns"),
    ("chr1\tten\t.\tA\tG", "POS 'ten' is not an integer"),
    ("chr1\t0\t.\tA\tG", "not a positive 1-based"),
    ("chr1\t10\t.\tAR\tG", "REF 'AR'"),
    ("chr1\t10\t.\tA\tGX", "ALT allele 'GX'"),
    ("chr1\t10\t.\tA\ta", "equals REF"),
    ("chr1\t10\t.\tA\tG,G", "listed twice"),
])
def test_malformed_records_name_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "bad.vcf", HEADER + "chr1\t1\t.\tA\tC\n" + line + "\n")
    with pytest.raises(InputError, match=f"bad.vcf, line 5: .*{message}"):
        read_vcf(path)


def test_header_checks(tmp_path):
    with pytest.raises(InputError, match="line 2: .*#CHROM POS ID REF ALT"):
        read_vcf(write(tmp_path / "a.vcf", "##fileformat=VCFv4.2\n#CHROM\tSTART\tID\tREF\tALT\n"))
    with pytest.raises(InputError, match="line 1: unsupported VCF version"):
        read_vcf(write(tmp_path / "b.vcf", "##fileformat=VCFv3.3\n"))
    with pytest.raises(InputError, match="line 2: the #CHROM header line comes after"):
        read_vcf(write(tmp_path / "c.vcf", "chr1\t1\t.\tA\tC\n#CHROM\tPOS\tID\tREF\tALT\n"))
    with pytest.raises(InputError, match="file not found"):
        read_vcf(tmp_path / "missing.vcf")
    with pytest.raises(InputError, match="unsupported must be"):
        read_vcf(tmp_path / "a.vcf", unsupported="drop")  # type: ignore[arg-type]
