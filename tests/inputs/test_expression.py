"""Readers, filters, gene lengths and the train/test split of experiment (a) (seqbench.inputs.expression)."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pandas as pd
import pytest

from seqbench.inputs.expression import (
    drop_unexpressed,
    gene_lengths,
    read_biomart_tss,
    read_gct,
    read_gtf,
    read_kaessmann_rpkm,
    read_regions_bed,
    split_train_test,
    strip_version,
    tidy_gtex,
)
from seqbench.inputs.tables import InputError

GCT_TABLE = (
    "Name\tDescription\tAdipose - Subcutaneous\tWhole Blood\n"
    "ENSG00000223972.5\tDDX11L1\t0\t0.5\n"
    "ENSG00000227232.5\tWASH7P\t4.06\t2.5\n"
    "ENSG00000182378.14\tPLCXD1\t10\t3\n"
    "ENSG00000182378.14_PAR_Y\tPLCXD1\t0\t0\n"
    "ENSG00000243485.5\tMIR1302-2HG\t0\t0\n"
)


def write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text)
    return p


def error(func, path) -> str:
    with pytest.raises(InputError) as exc:
        func(path)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(str(path))
    return msg


# ------------------------------------------------------------------------------------------------ GCT


def test_strip_version_keeps_par_y():
    assert strip_version("ENSG00000223972.5") == "ENSG00000223972"
    assert strip_version("ENSG00000182378.14_PAR_Y") == "ENSG00000182378_PAR_Y"
    assert strip_version("ENSG00000223972") == "ENSG00000223972"


def test_gct_with_and_without_preamble_read_the_same(tmp_path):
    plain = read_gct(write(tmp_path, "plain.gct", GCT_TABLE))
    full = read_gct(write(tmp_path, "full.gct", "#1.2\n5\t2\n" + GCT_TABLE))
    pd.testing.assert_frame_equal(plain, full)
    assert list(plain.columns) == ["gene_id", "gene_name", "Adipose - Subcutaneous", "Whole Blood"]
    assert plain["gene_id"].tolist() == [
        "ENSG00000223972",
        "ENSG00000227232",
        "ENSG00000182378",
        "ENSG00000182378_PAR_Y",
        "ENSG00000243485",
    ]
    assert plain["gene_name"].iloc[1] == "WASH7P"
    assert plain["Adipose - Subcutaneous"].dtype == np.float64
    assert plain["Adipose - Subcutaneous"].tolist() == [0, 4.06, 10, 0, 0]


def test_tidy_gtex_drops_par_y_and_silent_genes_and_counts_them(tmp_path):
    wide = read_gct(write(tmp_path, "t.gct", GCT_TABLE))
    tidy, dropped = tidy_gtex(wide)
    # PAR_Y is dropped first (it is also all zero: counted once, as PAR_Y); MIR1302-2HG is all zero;
    # DDX11L1 has one zero but a positive max: kept
    assert dropped == {"par_y": 1, "all_zero": 1}
    assert list(tidy.columns) == ["gene_id", "tissue", "observed"]
    assert sorted(set(tidy["gene_id"])) == ["ENSG00000182378", "ENSG00000223972", "ENSG00000227232"]
    assert len(tidy) == 3 * 2
    row = tidy[(tidy.gene_id == "ENSG00000227232") & (tidy.tissue == "Whole Blood")]
    assert row["observed"].tolist() == [2.5]


def test_drop_unexpressed_on_kaessmann_style_frame():
    tidy = pd.DataFrame({"gene_id": ["a", "a", "b", "b", "c"], "sample": list("xyxyx"), "observed": [0, 1, 0, 0, 0.0]})
    kept, n = drop_unexpressed(tidy)
    assert n == 2 and kept["gene_id"].tolist() == ["a", "a"]


def test_gct_errors(tmp_path):
    msg = error(read_gct, tmp_path / "absent.gct")
    assert "not found" in msg
    msg = error(read_gct, write(tmp_path, "noname.gct", "Gene\tDescription\tLiver\nA.1\ta\t1\n"))
    assert "'Name'" in msg and "expected" in msg and "Name, Description" in msg
    msg = error(read_gct, write(tmp_path, "nodesc.gct", "Name\tLiver\nA.1\t1\n"))
    assert "'Description'" in msg
    msg = error(read_gct, write(tmp_path, "bad.gct", "Name\tDescription\tLiver\tLung\nA.1\ta\t1\t2\nB.1\tb\t3\tx\n"))
    assert "row 2" in msg and "'B.1'" in msg and "'Lung'" in msg and "'x'" in msg and "expected a TPM" in msg
    msg = error(read_gct, write(tmp_path, "neg.gct", "Name\tDescription\tLiver\nA.1\ta\t-1\n"))
    assert "row 1" in msg and "'Liver'" in msg and ">= 0" in msg
    msg = error(read_gct, write(tmp_path, "empty.gct", "Name\tDescription\tLiver\nA.1\ta\t\n"))
    assert "row 1" in msg and "empty" in msg
    # the same row numbers with the preamble
    msg = error(read_gct, write(tmp_path, "badp.gct", "#1.2\n2\t1\nName\tDescription\tLiver\nA.1\ta\t1\nB.1\tb\tx\n"))
    assert "row 2" in msg and "'Liver'" in msg


def test_gct_preamble_that_disagrees_says_which(tmp_path):
    msg = error(read_gct, write(tmp_path, "rows.gct", "#1.2\n4\t2\n" + GCT_TABLE))
    assert "says 4 rows" in msg and "5 data rows" in msg and "columns" not in msg.split("says")[1].split(";")[0]
    msg = error(read_gct, write(tmp_path, "cols.gct", "#1.2\n5\t3\n" + GCT_TABLE))
    assert "3 columns (tissues)" in msg and "2 tissue columns" in msg and "rows (genes)" not in msg
    msg = error(read_gct, write(tmp_path, "both.gct", "#1.2\n1\t1\n" + GCT_TABLE))
    assert "1 rows" in msg and "1 columns" in msg
    msg = error(read_gct, write(tmp_path, "garbled.gct", "#1.2\nfive\t2\n" + GCT_TABLE))
    assert "line 2" in msg and "ROWS<TAB>COLUMNS" in msg
    msg = error(read_gct, write(tmp_path, "v13.gct", "#1.3\n5\t2\t0\t0\n" + GCT_TABLE))
    assert "line 1" in msg and "'#1.2'" in msg


def test_gct_ragged_row_is_refused_not_read_as_an_index(tmp_path):
    # pandas would take the first column as an index when a row has one field more than the header
    msg = error(read_gct, write(tmp_path, "rag.gct", "Name\tDescription\tLiver\nA.1\ta\t1\nB.1\tb\t1\t5\n"))
    assert "row 2 has 4 tab-separated fields; expected 3" in msg


def test_gct_duplicate_gene_after_version_strip(tmp_path):
    msg = error(read_gct, write(tmp_path, "dup.gct", "Name\tDescription\tLiver\nA.1\ta\t1\nA.2\ta\t2\n"))
    assert "row 2" in msg and "'A.2'" in msg and "row 1" in msg and "one row per gene" in msg


# ------------------------------------------------------------------------------------------ Kaessmann

KAESSMANN = (
    '"Brain.4wpc" "Brain.5wpc.1" "Heart.4wpc" "Testis.youngAdult.2"\n'
    '"ENSG00000000003" 1.5 2 0 3\n'
    '"ENSG00000000005" 0 0 0 0\n'
)


def test_kaessmann_tidy(tmp_path):
    tidy = read_kaessmann_rpkm(write(tmp_path, "Human.RPKM.txt", KAESSMANN))
    assert list(tidy.columns) == ["gene_id", "sample", "organ", "stage", "observed"]
    assert len(tidy) == 8
    row = tidy[(tidy.gene_id == "ENSG00000000003") & (tidy["sample"] == "Testis.youngAdult.2")].iloc[0]
    assert (row.organ, row.stage, row.observed) == ("Testis", "youngAdult", 3.0)
    row = tidy[(tidy.gene_id == "ENSG00000000003") & (tidy["sample"] == "Brain.5wpc.1")].iloc[0]
    assert (row.organ, row.stage, row.observed) == ("Brain", "5wpc", 2.0)
    kept, n = drop_unexpressed(tidy)
    assert n == 1 and set(kept.gene_id) == {"ENSG00000000003"}


def test_kaessmann_with_named_id_column_reads_the_same(tmp_path):
    named = "Names " + KAESSMANN.replace('"', "")
    a = read_kaessmann_rpkm(write(tmp_path, "a.txt", KAESSMANN))
    b = read_kaessmann_rpkm(write(tmp_path, "b.txt", named))
    pd.testing.assert_frame_equal(a, b)


def test_kaessmann_errors(tmp_path):
    msg = error(read_kaessmann_rpkm, write(tmp_path, "organ.txt", "Brain.4wpc Lung.4wpc\ng1 1 2\n"))
    assert "column 'Lung.4wpc'" in msg and "unknown organ 'Lung'" in msg and "Cerebellum" in msg
    msg = error(read_kaessmann_rpkm, write(tmp_path, "case.txt", "Brain.4wpc brain.5wpc\ng1 1 2\n"))
    assert "did you mean 'Brain'" in msg
    msg = error(read_kaessmann_rpkm, write(tmp_path, "nostage.txt", "Brain.4wpc Heart\ng1 1 2\n"))
    assert "column 'Heart'" in msg and "Organ.stage" in msg
    msg = error(read_kaessmann_rpkm, write(tmp_path, "num.txt", "Brain.4wpc Heart.4wpc\ng1 1 2\ng2 1 NA\n"))
    assert "row 2" in msg and "'g2'" in msg and "column 'Heart.4wpc'" in msg and "expected an RPKM" in msg
    msg = error(read_kaessmann_rpkm, write(tmp_path, "rag.txt", "Brain.4wpc Heart.4wpc\ng1 1 2\ng2 3\n"))
    assert "row 2 has 2 space-separated fields; expected 3" in msg
    assert "not found" in error(read_kaessmann_rpkm, tmp_path / "nope.txt")


# -------------------------------------------------------------------------------------------- regions


def test_regions_bed(tmp_path):
    p = write(tmp_path, "human_regions.bed", "chr1\t100\t200\ttrain\nchr2\t0\t50\ttest\n\nchrX\t5\t9\tvalid\n")
    frame = read_regions_bed(p)
    assert list(frame.columns) == ["Chromosome", "Start", "End", "set"]
    assert frame.values.tolist() == [["chr1", 100, 200, "train"], ["chr2", 0, 50, "test"], ["chrX", 5, 9, "valid"]]
    assert frame["Start"].dtype == np.int64


def test_regions_bed_errors(tmp_path):
    msg = error(read_regions_bed, write(tmp_path, "bed3.bed", "chr1\t1\t2\n"))
    assert "row 1" in msg and "expected 4 tab-separated columns: chrom, start, end, set" in msg
    msg = error(read_regions_bed, write(tmp_path, "sp.bed", "chr1 1 2 test\n"))
    assert "space-separated" in msg and "expected 4 tab-separated columns" in msg
    msg = error(read_regions_bed, write(tmp_path, "set.bed", "chr1\t1\t2\ttest\nchr1\t3\t4\tTest\n"))
    assert "row 2" in msg and "column 'set'" in msg and "'Test'" in msg and "train, valid, test" in msg
    msg = error(read_regions_bed, write(tmp_path, "int.bed", "chr1\t1.5\t2\ttest\n"))
    assert "row 1" in msg and "'Start'" in msg and "integer" in msg
    msg = error(read_regions_bed, write(tmp_path, "order.bed", "chr1\t5\t5\ttest\n"))
    assert "row 1" in msg and "'End'" in msg and "Start < End" in msg


# -------------------------------------------------------------------------------------------- biomart

BIOMART_HEADER = (
    "Transcript stable ID\tTranscript stable ID version\tTranscript type\tChromosome/scaffold name\tStrand\t"
    "Transcript start (bp)\tTranscript end (bp)\tTranscription start site (TSS)\tEnsembl Canonical\t"
    "RefSeq match transcript (MANE Select)\tTranscript support level (TSL)\tGene stable ID\tGene name\n"
)


def biomart_row(ts, kind="protein_coding", chrom="1", strand="1", tss="1000", canonical="1", gene="G"):
    return f"{ts}\t{ts}.1\t{kind}\t{chrom}\t{strand}\t900\t2000\t{tss}\t{canonical}\tNM_1\ttsl1\t{gene}\t{gene}n\n"


def test_biomart_filters_maps_and_converts_tss_to_0_based(tmp_path):
    text = BIOMART_HEADER + "".join(
        [
            biomart_row("T1", tss="1000", gene="G1"),
            biomart_row("T2", strand="-1", chrom="MT", tss="1", gene="G2"),
            biomart_row("T3", chrom="X", gene="G3"),
            biomart_row("T4", kind="lncRNA", gene="G4"),
            biomart_row("T5", canonical="", gene="G5"),
            biomart_row("T6", chrom="KI270728.1", gene="G6"),
            biomart_row("T7", chrom="Y", strand="-1", tss="77", gene="G7"),
        ]
    )
    out = read_biomart_tss(write(tmp_path, "biomart.txt", text))
    assert out["ts_id"].tolist() == ["T1", "T2", "T3", "T7"]
    assert out["chrom"].tolist() == ["chr1", "chrM", "chrX", "chrY"]
    assert out["strand"].tolist() == ["+", "-", "+", "-"]
    assert out["tss0"].tolist() == [999, 0, 999, 76]
    assert out["tss0"].dtype == np.int64
    assert "tss" not in out.columns
    assert out["gene_id"].tolist() == ["G1", "G2", "G3", "G7"]


def test_biomart_errors(tmp_path):
    short = "a\tb\tc\n1\t2\t3\n"
    msg = error(read_biomart_tss, write(tmp_path, "short.txt", short))
    assert "has 3 tab-separated column(s)" in msg and "expected 13" in msg and "tss" in msg
    text = BIOMART_HEADER + biomart_row("T1") + biomart_row("T2", tss="12.5")
    msg = error(read_biomart_tss, write(tmp_path, "tss.txt", text))
    assert "row 2" in msg and "Transcription start site (TSS)" in msg and "'12.5'" in msg and "integer" in msg
    text = BIOMART_HEADER + biomart_row("T1", tss="0")
    assert "row 1" in error(read_biomart_tss, write(tmp_path, "zero.txt", text))
    text = BIOMART_HEADER + biomart_row("T1", strand="+")
    msg = error(read_biomart_tss, write(tmp_path, "strand.txt", text))
    assert "row 1" in msg and "'Strand'" in msg and "1 or -1" in msg
    # a bad TSS on a row the filters drop is not refused
    text = BIOMART_HEADER + biomart_row("T1") + biomart_row("T2", kind="lncRNA", tss="x")
    assert len(read_biomart_tss(write(tmp_path, "dropped.txt", text))) == 1


# ---------------------------------------------------------------------------------------------- split


def brute_split(genes: pd.DataFrame, regions: pd.DataFrame) -> list:
    test = [r for r in regions.itertuples() if r.set == "test"]
    out = []
    for g in genes.itertuples():
        inside = any(r.Chromosome == g.chrom and r.Start < g.start and r.End > g.end for r in test)
        intersect = any(
            r.Chromosome == g.chrom and (r.Start < g.start < r.End or r.Start < g.end < r.End) for r in test
        )
        out.append("test" if inside else "train" if not intersect else None)
    return out


def test_split_boundaries_by_hand():
    regions = pd.DataFrame(
        {
            "Chromosome": ["chr1", "chr1", "chr2"],
            "Start": [100, 500, 100],
            "End": [200, 600, 200],
            "set": ["test", "train", "test"],
        }
    )
    genes = pd.DataFrame(
        {
            "gene_id": list("abcdefghi"),
            "chrom": ["chr1"] * 7 + ["chr2", "chr3"],
            "start": [101, 100, 101, 50, 150, 50, 510, 120, 120],
            "end": [199, 199, 200, 100, 250, 250, 520, 130, 130],
        }
    )
    got = split_train_test(genes, regions)
    # a inside; b shares the Start (not inside) but its end is inside -> None; c shares the End -> None;
    # d ends at Start (not inside) -> train; e start inside -> None; f spans the region -> train (authors);
    # g inside a train region -> train; h on chr2 inside -> test; i on a chromosome without regions -> train
    assert got.tolist() == ["test", None, None, "train", None, "train", "train", "test", "train"]
    assert got.tolist() == brute_split(genes, regions)
    assert got.index.equals(genes.index)


def test_split_matches_brute_force_on_random_intervals():
    rng = np.random.default_rng(7)
    chroms = ["chr1", "chr2", "chr3"]
    n_reg, n_gene = 300, 400
    r_start = rng.integers(0, 2000, n_reg)
    regions = pd.DataFrame(
        {
            "Chromosome": rng.choice(chroms, n_reg),
            "Start": r_start,
            "End": r_start + rng.integers(1, 120, n_reg),
            "set": rng.choice(["train", "valid", "test"], n_reg, p=[0.5, 0.2, 0.3]),
        }
    )
    g_start = rng.integers(0, 2100, n_gene)
    # snap a third of the genes onto region boundaries, so equal coordinates are common
    snap = rng.random(n_gene) < 0.33
    g_start[snap] = rng.choice(np.r_[regions["Start"], regions["End"]], snap.sum())
    g_end = g_start + rng.integers(1, 80, n_gene)
    snap_end = rng.random(n_gene) < 0.33
    g_end[snap_end] = np.maximum(g_start[snap_end] + 1, rng.choice(regions["End"], snap_end.sum()))
    genes = pd.DataFrame(
        {
            "gene_id": [f"g{i}" for i in range(n_gene)],
            "chrom": rng.choice(chroms, n_gene),
            "start": g_start,
            "end": g_end,
        },
        index=np.arange(n_gene) * 3 + 11,
    )
    got = split_train_test(genes, regions)
    want = brute_split(genes, regions)
    assert got.tolist() == want
    # the case mix is not degenerate
    assert {"test", "train", None} <= set(want)


# -------------------------------------------------------------------------------------------- lengths


def test_gene_lengths_by_hand():
    exons = pd.DataFrame(
        {
            "gene_id": ["A"] * 5 + ["B"] * 4,
            "transcript_id": ["a1", "a1", "a2", "a3", "a3", "b1", "b1", "b2", "b2"],
            "start": [0, 100, 0, 10, 30, 1000, 1200, 1000, 1500],
            "end": [50, 130, 200, 20, 40, 1100, 1210, 1001, 1600],
        }
    )
    # A: a1 = 50 + 30 = 80, a2 = 200, a3 = 10 + 10 = 20 -> median 80
    # B: b1 = 100 + 10 = 110, b2 = 1 + 100 = 101 -> median 105.5
    got = gene_lengths(exons)
    assert got.to_dict() == {"A": 80.0, "B": 105.5}
    assert got.name == "len"
    with pytest.raises(ValueError, match="exon row 2"):
        gene_lengths(exons.assign(end=[50, 100, 200, 20, 40, 1100, 1210, 1001, 1600]))


# ------------------------------------------------------------------------------------------------ GTF

GTF_TEXT = (
    "##description: evidence-based annotation (GENCODE-like)\n"
    "##format: gtf\n"
    'chr1\tHAVANA\tgene\t11869\t14409\t.\t+\t.\tgene_id "ENSG00000223972.5"; gene_type "protein_coding";'
    ' gene_name "DDX11L1"; level 2; havana_gene "OTTHUMG00000000961.2";\n'
    'chr1\tHAVANA\ttranscript\t11869\t14409\t.\t+\t.\tgene_id "ENSG00000223972.5"; transcript_id'
    ' "ENST00000456328.2"; gene_type "protein_coding"; gene_name "DDX11L1";\n'
    'chr1\tHAVANA\texon\t11869\t12227\t.\t+\t.\tgene_id "ENSG00000223972.5"; transcript_id "ENST00000456328.2";'
    ' gene_type "protein_coding"; gene_name "DDX11L1"; exon_number 1; exon_id "ENSE00002234944.1";\n'
    "# a comment between records\n"
    'chr1\tHAVANA\texon\t12613\t12721\t.\t+\t.\tgene_id "ENSG00000223972.5"; transcript_id "ENST00000456328.2";'
    " exon_number 2;\n"
    'chr1\tHAVANA\tCDS\t12613\t12721\t.\t+\t0\tgene_id "ENSG00000223972.5"; transcript_id "ENST00000456328.2";\n'
    'chr1\tHAVANA\texon\t12010\t12057\t.\t+\t.\tgene_id "ENSG00000223972.5"; transcript_id "ENST00000450305.2";\n'
    "\n"
    'chrY\tHAVANA\tgene\t2\t100\t.\t-\t.\tgene_id "ENSG00000182378.14_PAR_Y"; gene_type "protein_coding";'
    ' gene_name "PLCXD1";\n'
    'chrY\tHAVANA\texon\t2\t2\t.\t-\t.\tgene_id "ENSG00000182378.14_PAR_Y"; transcript_id "ENST00000381192.10_PAR_Y";\n'
    "chrM\tENSEMBL\tgene\t3307\t4262\t.\t+\t.\tgene_id ENSG00000198888; gene_biotype protein_coding;\n"
)


def test_gtf_genes_and_exons_are_0_based_half_open_with_versions_stripped(tmp_path):
    genes, exons = read_gtf(write(tmp_path, "genes.gtf", GTF_TEXT))
    assert list(genes.columns) == ["gene_id", "gene_name", "chrom", "start", "end", "strand", "gene_type"]
    assert genes.values.tolist() == [
        ["ENSG00000223972", "DDX11L1", "chr1", 11868, 14409, "+", "protein_coding"],
        ["ENSG00000182378_PAR_Y", "PLCXD1", "chrY", 1, 100, "-", "protein_coding"],
        # unquoted values, Ensembl's gene_biotype, no gene_name
        ["ENSG00000198888", "", "chrM", 3306, 4262, "+", "protein_coding"],
    ]
    assert list(exons.columns) == ["gene_id", "transcript_id", "start", "end"]
    assert exons.values.tolist() == [
        ["ENSG00000223972", "ENST00000456328.2", 11868, 12227],
        ["ENSG00000223972", "ENST00000456328.2", 12612, 12721],
        ["ENSG00000223972", "ENST00000450305.2", 12009, 12057],
        ["ENSG00000182378_PAR_Y", "ENST00000381192.10_PAR_Y", 1, 2],  # a 1-bp exon: [2, 2] -> [1, 2)
    ]
    assert genes["start"].dtype == np.int64 and exons["end"].dtype == np.int64
    # the exons feed gene_lengths: (359 + 109) and 48 -> median 258; 1
    assert gene_lengths(exons).to_dict() == {"ENSG00000182378_PAR_Y": 1.0, "ENSG00000223972": 258.0}


def test_gtf_gzip_and_small_blocks_read_the_same(tmp_path):
    plain = read_gtf(write(tmp_path, "genes.gtf", GTF_TEXT))
    gz = tmp_path / "genes.gtf.gz"
    gz.write_bytes(gzip.compress(GTF_TEXT.encode()))
    named_plain = tmp_path / "compressed.gtf"  # recognised by its first bytes, not its name
    named_plain.write_bytes(gzip.compress(GTF_TEXT.encode()))
    for other in (read_gtf(gz), read_gtf(named_plain), read_gtf(tmp_path / "genes.gtf", block_size=300)):
        pd.testing.assert_frame_equal(plain.genes, other.genes)
        pd.testing.assert_frame_equal(plain.exons, other.exons)


def _brute_gtf(text: str) -> tuple[list, list]:
    """A line-by-line reading of a GTF, independent of read_gtf."""
    genes, exons = [], []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        f = line.split("\t")
        attrs = dict(re.findall(r'(\w+) "?([^";]*)"?;', f[8]))
        gid = re.sub(r"\.\d+(?=(_PAR_Y)?$)", "", attrs["gene_id"])
        if f[2] == "gene":
            genes.append([gid, attrs.get("gene_name", ""), f[0], int(f[3]) - 1, int(f[4]), f[6], attrs["gene_type"]])
        elif f[2] == "exon":
            exons.append([gid, attrs["transcript_id"], int(f[3]) - 1, int(f[4])])
    return genes, exons


def test_gtf_matches_a_line_by_line_reading_across_many_blocks(tmp_path):
    rng = np.random.default_rng(5)
    lines = ["#!genome-build synthetic\n"]
    for g in range(60):
        chrom, strand = f"chr{g % 3 + 1}", "+-"[g % 2]
        start = int(rng.integers(1, 10**6))
        gid = f"ENSG{g:011d}.{g % 7 + 1}"
        lines.append(f'{chrom}\tHAVANA\tgene\t{start}\t{start + 5000}\t.\t{strand}\t.\tgene_id "{gid}"; '
                     f'gene_type "{"protein_coding" if g % 4 else "lncRNA"}"; gene_name "G{g}"; level 2;\n')
        for t in range(int(rng.integers(1, 4))):
            tid = f"ENST{g:09d}{t:02d}.1"
            lines.append(f'{chrom}\tHAVANA\ttranscript\t{start}\t{start + 5000}\t.\t{strand}\t.\tgene_id "{gid}"; '
                         f'transcript_id "{tid}";\n')
            for e in range(int(rng.integers(1, 5))):
                a = start + 1000 * e + int(rng.integers(0, 500))
                lines.append(f'{chrom}\tHAVANA\texon\t{a}\t{a + int(rng.integers(0, 400))}\t.\t{strand}\t.\t'
                             f'gene_id "{gid}"; transcript_id "{tid}"; exon_number {e + 1};\n')
                if g % 5 == 0:
                    lines.append("# interleaved comment\n")
    text = "".join(lines)
    want_genes, want_exons = _brute_gtf(text)
    for block in (1 << 10, 1 << 20):
        genes, exons = read_gtf(write(tmp_path, "random.gtf", text), block_size=block)
        assert genes.values.tolist() == want_genes
        assert exons.values.tolist() == want_exons


GTF_GENE = 'chr1\tHAVANA\tgene\t10\t500\t.\t+\t.\tgene_id "ENSG1.1"; gene_name "A";\n'


def gtf_error(tmp_path, name: str, body: str, **kwargs) -> str:
    path = write(tmp_path, name, "##format: gtf\n" + GTF_GENE + body)
    with pytest.raises(InputError) as exc:
        read_gtf(path, **kwargs)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(str(path))
    return msg


def test_gtf_errors_name_the_line_what_was_found_and_what_was_expected(tmp_path):
    exon = 'chr1\tHAVANA\texon\t{s}\t{e}\t.\t+\t.\tgene_id "ENSG1.1"; transcript_id "ENST1.1";\n'
    msg = gtf_error(tmp_path, "space.gtf", 'chr1 HAVANA exon 10 20 . + . gene_id "ENSG1.1";\n')
    assert "line 3 has 1 tab-separated field(s) (it looks space-separated)" in msg and "expected 9" in msg
    msg = gtf_error(tmp_path, "int.gtf", "# c\n" + exon.format(s=10, e="2e3"))
    assert "line 4: exon end (column 5) is '2e3'" in msg and "expected an integer >= 1" in msg
    msg = gtf_error(tmp_path, "zero.gtf", exon.format(s=0, e=20))
    assert "line 3: exon start (column 4) is '0'" in msg and "1-based" in msg
    msg = gtf_error(tmp_path, "order.gtf", exon.format(s=30, e=20))
    assert "line 3: exon end (column 5) 20 is before its start 30" in msg and "start <= end" in msg
    msg = gtf_error(tmp_path, "tx.gtf", 'chr1\tH\texon\t10\t20\t.\t+\t.\tgene_id "ENSG1.1"; exon_number 1;\n')
    assert "line 3: exon line without transcript_id" in msg
    msg = gtf_error(tmp_path, "gid.gtf", 'chr1\tH\tgene\t10\t20\t.\t+\t.\tgene_name "B";\n')
    assert "line 3: gene line without gene_id" in msg
    msg = gtf_error(tmp_path, "strand.gtf", 'chr1\tH\tgene\t10\t20\t.\t.\t.\tgene_id "ENSG2.1";\n')
    assert "line 3: gene strand (column 7) is '.'; expected + or -" in msg
    msg = gtf_error(tmp_path, "dup.gtf", "\n# c\n" + 'chr2\tH\tgene\t10\t20\t.\t-\t.\tgene_id "ENSG1.2";\n')
    assert "line 5: gene 'ENSG1' ('ENSG1.2') is already the gene of line 2" in msg
    # the line is found across blocks, comments counted
    many = "".join(exon.format(s=10 + i, e=20 + i) + ("# c\n" if i % 3 == 0 else "") for i in range(200))
    msg = gtf_error(tmp_path, "late.gtf", many + exon.format(s=50, e=40), block_size=1 << 10)
    assert f"line {2 + 200 + 67 + 1}: exon end (column 5) 40 is before its start 50" in msg
    # a bad line that the reader would drop (a transcript) is still not refused, but a ragged one is
    path = write(tmp_path, "ok.gtf", GTF_GENE + 'chr1\tH\ttranscript\tx\t20\t.\t+\t.\tgene_id "ENSG1.1";\n')
    assert len(read_gtf(path).genes) == 1
    msg = gtf_error(tmp_path, "ragged.gtf", "chr1\tH\texon\t10\t20\n")
    assert "line 3 has 5 tab-separated field(s)" in msg
    msg = error(read_gtf, write(tmp_path, "nogene.gtf", "#c\n" + exon.format(s=1, e=2)))
    assert "no 'gene' line" in msg
    assert "is empty" in error(read_gtf, write(tmp_path, "empty.gtf", ""))
    assert "not found" in error(read_gtf, tmp_path / "nope.gtf")
    assert "is a directory" in error(read_gtf, tmp_path)
    binary = tmp_path / "bin.gtf"
    binary.write_bytes(b"\xff\xfe\x00chr1")
    assert "not UTF-8" in error(read_gtf, binary)
