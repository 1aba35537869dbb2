"""GTF / GFF3 parsing for :func:`drg.genome.read_regions` (1-based inclusive in the file, 0-based half-open out)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from drg.errors import InputError
from drg.genome.regions import _STRANDS, _frame, _object_column
from drg.utils import PathLike

_TRANSCRIPT_TYPES = {"transcript", "mrna", "lnc_rna", "ncrna", "snrna", "snorna", "rrna", "trna", "mirna",
                     "primary_transcript", "pseudogenic_transcript", "unconfirmed_transcript"}

_GTF_ATTRIBUTE = re.compile(r'\s*([^\s";=]+)\s+(?:"([^"]*)"|([^\s;"]+))\s*(?:;|$)')


def _attributes(text: str, path: PathLike, line: int) -> dict[str, str]:
    """Parse GTF (``key "value";``) or GFF3 (``key=value;``) attributes."""
    text = text.strip()
    out: dict[str, str] = {}
    if '"' not in text and re.match(r"[^\s=;]+=", text):
        from urllib.parse import unquote

        for part in text.split(";"):
            if not part.strip():
                continue
            key, sep, value = part.strip().partition("=")
            if not sep or not key:
                raise InputError(f"malformed GFF3 attribute {part.strip()!r}; expected key=value", path=path,
                                 line=line)
            out.setdefault(key, unquote(value))
        return out
    pos = 0
    while pos < len(text):
        match = _GTF_ATTRIBUTE.match(text, pos)
        if match is None:
            raise InputError(f'malformed GTF attributes near {text[pos:pos + 40]!r}; expected key "value";',
                             path=path, line=line)
        out.setdefault(match.group(1), match.group(2) if match.group(2) is not None else match.group(3))
        pos = match.end()
    return out


def parse_gtf(lines: list[tuple[int, str]], path: PathLike, feature: str) -> tuple[pd.DataFrame, list[int]]:
    """GTF/GFF3 (1-based inclusive) -> regions (0-based half-open) for genes, transcripts, TSSs or exons."""
    if feature not in ("gene", "transcript", "tss", "transcript_tss", "exon"):
        raise InputError(f"feature must be gene, transcript, tss, transcript_tss or exon, got {feature!r}")
    genes: dict[str, dict[str, Any]] = {}
    gene_alias: dict[str, str] = {}
    transcripts: dict[str, dict[str, Any]] = {}
    exons: list[dict[str, Any]] = []
    for number, line in lines:
        fields = line.split("\t")
        if len(fields) != 9:
            raise InputError(f"GTF/GFF needs 9 tab-separated columns, found {len(fields)}", path=path, line=number)
        kind = fields[2].lower()
        is_gene, is_tx, is_exon = kind == "gene", kind in _TRANSCRIPT_TYPES, kind == "exon"
        if not (is_gene or is_tx or is_exon):
            continue
        try:
            start, end = int(fields[3]) - 1, int(fields[4])
        except ValueError:
            raise InputError(f"start/end {fields[3]!r}/{fields[4]!r} are not integers", path=path,
                             line=number) from None
        if start < 0 or start >= end:
            raise InputError(f"GTF coordinates must satisfy 1 <= start <= end, got {fields[3]}..{fields[4]}",
                             path=path, line=number)
        if fields[6] not in _STRANDS:
            raise InputError(f"strand must be '+', '-' or '.', got {fields[6]!r}", path=path, line=number)
        attrs = _attributes(fields[8], path, number)
        rec = {"chrom": fields[0], "start": start, "end": end, "strand": fields[6], "line": number,
               "gene_type": attrs.get("gene_type") or attrs.get("gene_biotype") or attrs.get("biotype")}
        if is_gene:
            gid = attrs.get("gene_id") or attrs.get("ID")
            if not gid:
                raise InputError("gene record without gene_id (or ID)", path=path, line=number)
            rec.update(gene_id=gid, gene_name=attrs.get("gene_name") or attrs.get("Name"), transcript_id=None)
            genes.setdefault(gid, rec)
            gene_alias[attrs.get("ID", gid)] = gid
        elif is_tx:
            tid = attrs.get("transcript_id") or attrs.get("ID")
            gid = attrs.get("gene_id") or attrs.get("Parent")
            if not tid or not gid:
                raise InputError("transcript record without transcript_id/gene_id (or ID/Parent)", path=path,
                                 line=number)
            rec.update(gene_id=gid, gene_name=attrs.get("gene_name"), transcript_id=tid, exons=[])
            transcripts.setdefault(tid, rec)
        else:
            tids = attrs.get("transcript_id") or attrs.get("Parent")
            if not tids:
                raise InputError("exon record without transcript_id (or Parent)", path=path, line=number)
            for tid in tids.split(",") if "transcript_id" not in attrs else [tids]:
                exons.append({**rec, "transcript_id": tid, "gene_id": attrs.get("gene_id"),
                              "gene_name": attrs.get("gene_name"),
                              "exon": attrs.get("exon_id") or attrs.get("ID")
                              or (f"{tid}:exon{attrs['exon_number']}" if "exon_number" in attrs else None)})
    for exon in exons:
        tx = transcripts.get(exon["transcript_id"])
        if tx is None:
            tx = transcripts[exon["transcript_id"]] = {**exon, "exons": [], "derived": True}
        elif (tx["chrom"], tx["strand"]) != (exon["chrom"], exon["strand"]):
            raise InputError(f"exon lies on {exon['chrom']}{exon['strand']} but its transcript "
                             f"{exon['transcript_id']!r} on {tx['chrom']}{tx['strand']}", path=path, line=exon["line"])
        tx["exons"].append((exon["start"], exon["end"]))
        if tx.get("derived"):
            tx["start"], tx["end"] = min(tx["start"], exon["start"]), max(tx["end"], exon["end"])
    for tx in transcripts.values():
        gene = genes.get(gene_alias.get(tx["gene_id"], tx["gene_id"]))
        if gene is not None:
            tx["gene_id"] = gene["gene_id"]
            tx["gene_name"] = tx["gene_name"] or gene["gene_name"]
            tx["gene_type"] = tx["gene_type"] or gene["gene_type"]
    if not genes and feature in ("gene", "tss"):
        for tx in transcripts.values():
            if not tx["gene_id"]:
                raise InputError(f"transcript {tx['transcript_id']!r} has no gene_id to group it into a gene",
                                 path=path, line=tx["line"])
            gene = genes.get(tx["gene_id"])
            if gene is None:
                genes[tx["gene_id"]] = {key: tx[key] for key in ("chrom", "start", "end", "strand", "line",
                                                                 "gene_id", "gene_name", "gene_type")}
                genes[tx["gene_id"]]["transcript_id"] = None
            elif (gene["chrom"], gene["strand"]) != (tx["chrom"], tx["strand"]):
                raise InputError(f"transcripts of gene {tx['gene_id']!r} lie on different chromosomes/strands",
                                 path=path, line=tx["line"])
            else:
                gene["start"], gene["end"] = min(gene["start"], tx["start"]), max(gene["end"], tx["end"])
                gene["gene_name"] = gene["gene_name"] or tx["gene_name"]
    if feature == "exon":
        records = [{**e, "name": e["exon"] or f"{e['transcript_id']}:{e['line']}"} for e in exons]
    elif feature in ("gene", "tss"):
        records = [{**g, "name": g["gene_name"] or g["gene_id"]} for g in genes.values()]
    else:
        records = [{**t, "name": t["transcript_id"] if feature == "transcript" else (t["gene_name"] or t["gene_id"]),
                    "blocks": sorted(t["exons"]) or None} for t in transcripts.values()]
    if not records:
        raise InputError(f"no {feature} records found (looked for gene, transcript/mRNA and exon rows)", path=path)
    starts = np.array([r["start"] for r in records], dtype=np.int64)
    ends = np.array([r["end"] for r in records], dtype=np.int64)
    if feature.endswith("tss"):
        minus = np.array([r["strand"] == "-" for r in records])
        starts = np.where(minus, ends - 1, starts)
        ends = starts + 1
    extra: dict[str, Any] = {key: _object_column([r.get(key) for r in records])
                             for key in ("gene_id", "gene_name", "transcript_id", "gene_type")}
    if feature == "transcript":
        extra["blocks"] = _object_column([r["blocks"] for r in records])
    frame = _frame([r["chrom"] for r in records], starts, ends, [r["name"] for r in records],
                   [r["strand"] for r in records], extra)
    return frame, [r["line"] for r in records]
