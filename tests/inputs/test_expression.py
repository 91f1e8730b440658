"""Readers, filters, gene lengths and the train/test split of experiment (a) (seqbench.inputs.expression)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqbench.inputs.expression import (
    drop_unexpressed,
    gene_lengths,
    read_biomart_tss,
    read_gct,
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
