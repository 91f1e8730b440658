"""The synthetic expression archive (seqbench.demo.expression): exact planted features, determinism, and files
that the readers of seqbench.inputs.expression accept, with the planted junk dropped by their filters.

The features are checked against the independent NumPy law (``reference_output``) on member windows cut from
the FASTA by plain slicing (docs/geometry.md), and once through seqbench's own construct path.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyfaidx
import pytest

from seqbench.demo import expression as ex
from seqbench.demo.synthetic import find_motif_occurrences
from seqbench.genome import Genome
from seqbench.inputs.expression import (
    drop_unexpressed,
    gene_lengths,
    read_biomart_tss,
    read_gct,
    read_gtf,
    read_kaessmann_rpkm,
    read_regions_bed,
    split_train_test,
    tidy_gtex,
)
from seqbench.models.planted import law
from seqbench.models.planted.reference import PLANTED_GEOMETRY, reference_output, scalar_output
from seqbench.sequence.codes import N, encode, reverse_complement
from seqbench.sequence.constructs import Construct, keep_window, materialize
from seqbench.sequence.ensemble import Ensemble, member_codes, member_landmarks

L = law.SEQUENCE_LENGTH
K562, HEPG2 = "PLANTED_CAGE_K562", "PLANTED_CAGE_HEPG2"

#: sha256 of the default archive's truth file, which records the sha256 of every other file.  If the
#: generator's output changes on purpose, bump expression.FORMAT_VERSION and update this digest.
GOLDEN_TRUTH_SHA256 = "997ff0ad1bf6f38504b59e5d57561a3a83a5e8b046777676863504e221215c11"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("expr-demo")
    t0 = time.perf_counter()
    inputs = ex.ensure_expression_inputs(root)
    seconds = time.perf_counter() - t0
    return {"inputs": inputs, "truth": inputs.truth, "root": root, "seconds": seconds}


@pytest.fixture(scope="module")
def fasta(built) -> pyfaidx.Fasta:
    return pyfaidx.Fasta(str(built["inputs"].paths["fasta"]))


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _genes(truth: dict) -> dict[str, dict]:
    return {g["gene_id"]: g for g in truth["genes"]}


# ------------------------------------------------------------------------------------ determinism


def test_builds_fast_deterministically_and_idempotently(built, tmp_path):
    assert built["seconds"] < 10
    root = built["root"]
    files = _files(root)
    assert set(files) == {*(p.as_posix() for p in ex.RELPATHS.values()), "Data/TSS_sim/genome.fa.fai",
                          ex.TRUTH_RELPATH.as_posix()}  # fmt: skip
    # a second build elsewhere: the same bytes
    other = ex.ensure_expression_inputs(tmp_path / "again")
    assert _files(tmp_path / "again") == files
    assert other.truth == built["truth"]
    # the truth records every other file's digest
    for rel, digest in built["truth"]["sha256"].items():
        assert hashlib.sha256(files[rel]).hexdigest() == digest
    assert hashlib.sha256(files[ex.TRUTH_RELPATH.as_posix()]).hexdigest() == GOLDEN_TRUTH_SHA256
    # idempotent: nothing is rewritten; a lost file comes back alone, byte for byte
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "again").rglob("*") if p.is_file()}
    gct = other.paths["gtex"]
    gct.unlink()
    ex.ensure_expression_inputs(tmp_path / "again")
    assert gct.read_bytes() == files[ex.RELPATHS["gtex"].as_posix()]
    for p, m in mtimes.items():
        if p != gct:
            assert p.stat().st_mtime_ns == m, p
    # another seed, another archive
    small = ex.ensure_expression_inputs(tmp_path / "small", seed=3, n_genes=30)
    assert len(small.truth["genes"]) == 30 and small.truth["sha256"] != built["truth"]["sha256"]


def test_fasta_holds_exactly_the_planted_motifs_on_the_grid(built, fasta):
    truth = built["truth"]
    want = {(m["chrom"], m["centre"] - 5, m["kind"], m["orientation"]) for m in truth["motifs"]}
    found = set()
    for chrom, length in truth["chromosomes"].items():
        assert len(fasta[chrom]) == length
        codes = encode(str(fasta[chrom][:]))
        for kind, motif in (("promoter", law.PROMOTER_MOTIF), ("enhancer", law.ENHANCER_MOTIF)):
            found |= {(chrom, s, kind, o) for s, o in find_motif_occurrences(codes, motif)}
    assert found == want
    assert all(m["centre"] % 128 == ex.GRID_PHASE for m in truth["motifs"])
    assert all(g["tss0"] % 128 == ex.GRID_PHASE for g in truth["genes"])
    assert {g["strand"] for g in truth["genes"]} == {"+", "-"}


# ------------------------------------------------------------------------------- exact features


def _fetch(fasta: pyfaidx.Fasta, chrom: str, start: int, end: int) -> np.ndarray:
    """Codes of ``chrom[start:end)``, N beyond the chromosome's ends."""
    out = np.full(end - start, N, dtype=np.uint8)
    lo, hi = max(start, 0), min(end, len(fasta[chrom]))
    if hi > lo:
        out[lo - start : hi - start] = encode(str(fasta[chrom][lo:hi]))
    return out


def _members_by_hand(fasta, gene: dict, window: int, construct_strand: str) -> tuple[np.ndarray, list[int]]:
    """The six member inputs and landmark bins, by docs/geometry.md: at shift 0 the landmark sits at
    input position L // 2 (construct on +) or L - 1 - L // 2 of the forward window (construct on -), a
    shift s moves the window by +s, a reversed member is the reverse complement of the whole input, and
    a window keeps [tss0 - w // 2, tss0 - w // 2 + w) of the genome."""
    tss0 = gene["tss0"]
    codes, bins = [], []
    for strand in ("+", "-"):
        for shift in (-43, 0, 43):
            start = tss0 - (L - 1 - L // 2 if construct_strand == "-" else L // 2) + shift
            seq = _fetch(fasta, gene["chrom"], start, start + L)
            if window:
                lo = tss0 - window // 2 - start
                seq[: max(lo, 0)] = N
                seq[max(lo + window, 0) :] = N
            pos = tss0 - start
            if (strand == "-") != (construct_strand == "-"):
                seq, pos = reverse_complement(seq), L - 1 - pos
            codes.append(seq)
            bins.append((pos - law.OUTPUT_OFFSET) // law.BIN_SIZE)
    return np.stack(codes), bins


def _ensemble_mean(out: np.ndarray, bins: list[int]) -> dict[str, float]:
    return {
        name: float(np.mean([out[m, b - 1 : b + 2, idx].sum() for m, b in enumerate(bins)]))
        for name, idx in ((K562, 0), (HEPG2, 2))
    }


def _pick(truth: dict) -> dict[str, dict]:
    """A - strand gene whose enhancer 1,001 bp cuts and 12,501 bp keeps, a + strand gene whose enhancer
    12,501 bp cuts, and a chrM gene (its window is mostly N beyond the chromosome)."""
    genes = truth["genes"]

    def nearest(g):
        return min(min(abs(o) for o in e["offsets"]) for e in g["enhancers"])

    minus = next(g for g in genes if g["strand"] == "-" and g["enhancers"] and 495 < nearest(g) <= 6245)
    plus = next(g for g in genes if g["strand"] == "+" and g["enhancers"] and 6245 < nearest(g) < 60_000)
    chrm = next(g for g in genes if g["chrom"] == "chrM")
    return {"minus": minus, "plus": plus, "chrM": chrm}


@pytest.mark.parametrize("which", ["minus", "plus", "chrM"])
def test_features_equal_the_numpy_law_on_member_windows_cut_by_hand(built, fasta, which):
    gene = _pick(built["truth"])[which]
    landmark_positions = set()
    for window in (0, 1001, 12501):
        for construct_strand in sorted({"+", gene["strand"]}):
            codes, bins = _members_by_hand(fasta, gene, window, construct_strand)
            got = _ensemble_mean(reference_output(codes), bins)
            for name in (K562, HEPG2):
                assert got[name] == pytest.approx(gene["features"][name][str(window)], rel=1e-12, abs=0)
            if construct_strand == "+":
                landmark_positions.add(tuple(bins))
    # the paper's member bins (experiments-spec §0.3): + members 448/448/447 (s = -43/0/+43), - members 447/447/448
    assert landmark_positions == {(448, 448, 447, 447, 447, 448)}
    if which != "chrM":  # the window that cuts the enhancer changes the features; the others keep it
        f = gene["features"][K562]
        cut = 1001 if which == "minus" else 12501
        assert f[str(cut)] < f["0"]


def test_features_through_seqbench_constructs_on_the_gene_strand(built):
    """The same numbers through materialize / keep_window / member_codes / member_landmarks."""
    gene = _pick(built["truth"])["minus"]
    genome = Genome(str(built["inputs"].paths["fasta"]))
    ens = Ensemble()
    construct = Construct(key=gene["gene_id"], landmark=gene["tss0"], chrom=gene["chrom"], strand=gene["strand"])
    ext, lm = materialize(construct, genome.read_padded, sequence_length=L, min_shift=ens.min_shift,
                          max_shift=ens.max_shift)  # fmt: skip
    flip = gene["strand"] == "-"
    _, bins = member_landmarks(lm, ens, PLANTED_GEOMETRY, flip)
    for window in (0, 1001):
        codes = member_codes(keep_window(ext, lm, window) if window else ext, ens, L, flip=flip)
        got = _ensemble_mean(reference_output(codes), [int(b) for b in bins])
        for name in (K562, HEPG2):
            assert got[name] == pytest.approx(gene["features"][name][str(window)], rel=1e-12, abs=0)


def test_window_ablation_follows_the_stated_rule(built):
    """A copy at offset x is inside window w exactly when |x| <= (w - 1) / 2 - 5; the features change
    between two windows exactly when an enhancer copy enters (a far promoter copy adds nothing)."""
    truth = built["truth"]
    windows = [w for w in truth["windows"] if w]
    by_chrom: dict[str, list[dict]] = {}
    for m in truth["motifs"]:
        by_chrom.setdefault(m["chrom"], []).append(m)
    n_steps = 0
    for g in truth["genes"]:
        for e in g["enhancers"]:
            far = max(abs(o) for o in e["offsets"])
            assert e["kept_in_windows"] == [0, *(w for w in windows if far <= (w - 1) // 2 - 5)]
            assert all(ex.window_keeps(o, w) == (abs(o) <= (w - 1) // 2 - 5) for o in e["offsets"] for w in windows)
        f = g["features"][K562]
        for w1, w2 in zip(windows, windows[1:], strict=False):
            entering = [m for m in by_chrom[g["chrom"]]
                        if (w1 - 1) // 2 - 5 < abs(m["centre"] - g["tss0"]) <= (w2 - 1) // 2 - 5]  # fmt: skip
            if any(m["kind"] == "enhancer" for m in entering):
                assert f[str(w2)] > f[str(w1)]
                n_steps += 1
            else:
                assert f[str(w2)] == f[str(w1)]
        assert f["0"] >= f[str(windows[-1])]
        # promoters are within 128 bp: the 1,001-bp window already holds them all
        assert all(abs(o) <= 128 for o in g["promoter_offsets"])
    assert n_steps > 50  # the windows do cut enhancers


def test_xpresso_predictions_are_the_scalar_twin_on_the_gene_strand(built, fasta):
    truth = built["truth"]
    frame = pd.read_csv(built["inputs"].paths["xpresso"], sep="\t")
    assert list(frame.columns) == ["gene_id", "Prediction"]
    pc = [g for g in truth["genes"] if g["gene_type"] == "protein_coding"]
    assert frame["gene_id"].tolist() == [g["gene_id"] for g in pc]
    assert frame["Prediction"].tolist() == [g["xpresso"] for g in pc]
    picked = _pick(truth)
    for gene in (picked["minus"], picked["plus"], next(g for g in pc if g["strand"] == "+" and g["enhancers"])):
        t = gene["tss0"]
        if gene["strand"] == "+":
            codes = _fetch(fasta, gene["chrom"], t - 7000, t + 3500)
        else:
            codes = reverse_complement(_fetch(fasta, gene["chrom"], t - 3499, t + 7001))
        assert scalar_output(codes[None, :], 7000)[0] == pytest.approx(gene["xpresso"], rel=1e-12)


# ---------------------------------------------------------------------------------- the readers


def test_gtf_and_biomart_parse_and_filter_exactly_the_planted_junk(built):
    truth, paths = built["truth"], built["inputs"].paths
    genes, exons = read_gtf(paths["gtf"])
    want = pd.DataFrame(truth["genes"])
    assert genes["gene_id"].tolist() == want["gene_id"].tolist()
    for col in ("chrom", "start", "end", "strand", "gene_type", "gene_name"):
        assert genes[col].tolist() == want[col].tolist(), col
    assert {"chrY", "chrM"} <= set(genes["chrom"])
    lengths = gene_lengths(exons)
    assert lengths.to_dict() == {g["gene_id"]: g["len"] for g in truth["genes"]}
    multi = [g for g in truth["genes"] if len(g["transcripts"]) > 1]
    assert len(multi) > len(truth["genes"]) // 3
    # the median differs from the canonical transcript's exonic length for some genes
    canonical = exons[exons["transcript_id"].str.split(".").str[0].isin([g["canonical_transcript"] for g in multi])]
    canon_len = (canonical["end"] - canonical["start"]).groupby(canonical["gene_id"]).sum()
    assert (canon_len != lengths.reindex(canon_len.index)).sum() > 10
    # every gene span contains its TSS
    assert all(g["start"] <= g["tss0"] < g["end"] for g in truth["genes"])

    tss = read_biomart_tss(paths["biomart"])
    pc = [g for g in truth["genes"] if g["gene_type"] == "protein_coding"]
    assert tss["gene_id"].tolist() == [g["gene_id"] for g in pc]  # one canonical row each
    assert tss["ts_id"].tolist() == [g["canonical_transcript"] for g in pc]
    assert tss["tss0"].tolist() == [g["tss0"] for g in pc]
    assert tss["strand"].tolist() == [g["strand"] for g in pc]
    assert tss["chrom"].tolist() == [g["chrom"] for g in pc]
    raw = pd.read_csv(paths["biomart"], sep="\t", dtype=str, keep_default_na=False)
    dropped = raw.loc[~raw["Transcript stable ID"].isin(tss["ts_id"])]
    lnc = {g["gene_id"] for g in truth["genes"] if g["gene_type"] == "lncRNA"}
    assert lnc and set(dropped["Gene stable ID"]) >= lnc | set(truth["biomart"]["scaffold_gene_ids"])
    assert (dropped["Ensembl Canonical"] == "").sum() > 50  # the non-canonical transcripts
    assert set(dropped["Chromosome/scaffold name"]) >= {"KI270728.1", "GL000194.1"}


def test_gct_and_kaessmann_filters_drop_exactly_par_y_and_the_silent_gene(built):
    truth, paths = built["truth"], built["inputs"].paths
    assert paths["gtex"].read_text().splitlines()[:2] == [
        "#1.2",
        f"{len(truth['genes']) + 1}\t{len(truth['gtex']['tissues'])}",
    ]
    wide = read_gct(paths["gtex"])
    assert list(wide.columns[2:]) == truth["gtex"]["tissues"]
    tidy, dropped = tidy_gtex(wide)
    assert dropped == {"par_y": 1, "all_zero": 1}
    kept = set(tidy["gene_id"])
    assert kept == {g["gene_id"] for g in truth["genes"]} - {truth["gtex"]["silent_gene"]}
    par = wide.loc[wide["gene_id"].str.endswith("_PAR_Y")]
    assert par["gene_id"].tolist() == [truth["gtex"]["par_y_gene"] + "_PAR_Y"]
    assert (par.iloc[0, 2:].astype(float) > 0).all()  # expressed: only the PAR_Y filter drops it

    kae = read_kaessmann_rpkm(paths["kaessmann"])
    assert list(dict.fromkeys(kae["sample"])) == truth["kaessmann"]["samples"]
    assert set(kae["organ"]) == set(ex.ORGANS) and set(kae["stage"]) == set(ex.STAGES)
    kept_k, n = drop_unexpressed(kae)
    assert n == 1 and truth["gtex"]["silent_gene"] not in set(kept_k["gene_id"])


def test_regions_split_matches_split_train_test_with_planted_boundary_cases(built):
    truth, paths = built["truth"], built["inputs"].paths
    regions = read_regions_bed(paths["regions"])
    genes, _ = read_gtf(paths["gtf"])
    split = split_train_test(genes, regions)
    assert split.tolist() == [g["split"] for g in truth["genes"]]
    analysed = [g for g in truth["genes"] if g["analysis"]]
    n = {k: sum(1 for g in analysed if g["split"] == v) for k, v in (("test", "test"), ("train", "train"),
                                                                     ("drop", None))}  # fmt: skip
    assert 0.25 <= n["test"] / len(analysed) <= 0.4 and n["train"] > n["test"] and n["drop"] >= 3
    assert n == {"test": truth["split_counts_analysis"]["test"], "train": truth["split_counts_analysis"]["train"],
                 "drop": truth["split_counts_analysis"]["dropped"]}  # fmt: skip
    g = _genes(truth)
    test = regions[regions["set"] == "test"]
    a = g[truth["regions"]["pinned"]["test_region_ends_at_gene_start"]]
    assert ((test["Chromosome"] == a["chrom"]) & (test["End"] == a["start"])).any() and a["split"] == "train"
    b = g[truth["regions"]["pinned"]["test_region_starts_at_gene_start"]]
    assert ((test["Chromosome"] == b["chrom"]) & (test["Start"] == b["start"])).any() and b["split"] is None
    # the regions tile every chromosome but chrM
    for chrom, length in truth["chromosomes"].items():
        r = regions[regions["Chromosome"] == chrom]
        if chrom == "chrM":
            assert r.empty
        else:
            assert r["Start"].iloc[0] == 0 and r["End"].iloc[-1] == length
            assert (r["Start"].to_numpy()[1:] == r["End"].to_numpy()[:-1]).all()


# ------------------------------------------------------------------------------ the planted law


def test_observed_expression_follows_the_law_with_the_implied_correlations(built):
    truth, paths = built["truth"], built["inputs"].paths
    wide = read_gct(paths["gtex"]).set_index("gene_id")
    analysed = [g for g in truth["genes"] if g["analysis"]]
    test = [g for g in analysed if g["split"] == "test"]
    x = {name: np.array([g["log10_features"][name] for g in analysed]) for name in (K562, HEPG2)}
    for g in analysed:
        for name in (K562, HEPG2):
            assert g["log10_features"][name] == math.log10(g["features"][name]["0"] + 1.0)
    directions = []
    for tissue, p in truth["gtex"]["params"].items():
        signal = p["intercept"] + p["w_K562"] * x[K562] + p["w_HepG2"] * x[HEPG2]
        assert signal.tolist() == pytest.approx([g["signal_gtex"][tissue] for g in analysed], rel=1e-12)
        s_test = np.array([g["signal_gtex"][tissue] for g in test])
        implied = math.sqrt(s_test.var() / (s_test.var() + p["sigma"] ** 2))
        assert implied == pytest.approx(p["implied_r"], rel=1e-9) and 0.7 <= implied <= 0.9
        obs = np.log10(wide.loc[[g["gene_id"] for g in test], tissue].to_numpy() + 1.0)
        assert abs(np.corrcoef(s_test, obs)[0, 1] - implied) < 0.12
        resid = np.log10(wide.loc[[g["gene_id"] for g in analysed], tissue].to_numpy() + 1.0) - signal
        assert resid.std() == pytest.approx(p["sigma"], rel=0.2)
        directions.append(math.atan2(p["w_HepG2"], p["w_K562"]))
        # least squares on the training genes finds the direction of the weights (module docstring)
        train = np.array([g["split"] == "train" for g in analysed])
        design = np.c_[np.ones(len(analysed)), x[K562], x[HEPG2]]
        y = np.log10(wide.loc[[g["gene_id"] for g in analysed], tissue].to_numpy() + 1.0)
        _a, wk, wh = np.linalg.lstsq(design[train], y[train], rcond=None)[0]
        assert abs(math.degrees(math.atan2(wh, wk) - directions[-1])) < 25, tissue
    assert max(directions) - min(directions) > math.radians(90)  # the tissues weigh the tracks differently
    for p in truth["kaessmann"]["params"].values():
        assert 0.7 <= p["implied_r"] <= 0.9
    # the two features are correlated but not collinear
    rho = np.corrcoef(x[K562], x[HEPG2])[0, 1]
    assert rho == pytest.approx(truth["identifiability"]["corr_log_features"], rel=1e-9) and rho < 0.92


def test_exon_intron_ratio_carries_part_of_the_noise(built):
    truth, paths = built["truth"], built["inputs"].paths
    table = pd.read_csv(paths["exon_intron"], index_col=0)
    columns = [truth["gtex"]["csv_columns"][t] for t in truth["gtex"]["tissues"]]
    assert list(table.columns) == [*truth["exon_intron"]["extra_columns"], *columns]
    assert truth["gtex"]["csv_columns"]["Cells - EBV-transformed lymphocytes"] == "Cells_EBV-transformed_lymphocytes"
    assert int(table[columns].isna().sum().sum()) == truth["exon_intron"]["empty_cells"] > 0
    assert table.index.str.fullmatch(r"ENST\d{11}\.\d+").all()
    g2t = pd.read_csv(paths["gene2transcript"], sep="\t")
    assert list(g2t.columns) == ["Gene stable ID", "Transcript stable ID"]
    tx_gene = dict(zip(g2t["Transcript stable ID"], g2t["Gene stable ID"], strict=True))
    base = table.index.str.split(".").str[0]
    assert sorted(set(base) - set(tx_gene)) == truth["exon_intron"]["unmapped_transcripts"]
    per_gene = table[columns].groupby(base.map(tx_gene)).mean()
    assert set(truth["exon_intron"]["genes_without_ratio"]).isdisjoint(per_gene.index)
    # the tissue-centred ratio correlates with the residual of the planted law (rho = 0.5)
    wide = read_gct(paths["gtex"]).set_index("gene_id")
    ratio, resid = [], []
    for g in truth["genes"]:
        if not g["analysis"] or g["gene_id"] not in per_gene.index:
            continue
        for tissue, col in zip(truth["gtex"]["tissues"], columns, strict=True):
            obs = math.log10(wide.loc[g["gene_id"], tissue] + 1.0)
            ratio.append(per_gene.loc[g["gene_id"], col] - per_gene[col].mean())
            resid.append(obs - g["signal_gtex"][tissue])
    ok = ~np.isnan(ratio)
    assert np.corrcoef(np.array(ratio)[ok], np.array(resid)[ok])[0, 1] > 0.35


def test_truth_is_json_with_the_documented_keys(built):
    truth = json.loads(built["inputs"].paths["truth"].read_text())
    assert truth == built["truth"]
    assert truth["windows"] == [0, 1001, 3001, 12501, 34501, 39321, 49153, 65537, 98305, 131073]
    assert truth["tracks"] == {K562: 0, HEPG2: 2}
    g = truth["genes"][0]
    assert set(g["features"][K562]) == {str(w) for w in truth["windows"]}
    assert {"gene_id", "chrom", "strand", "tss0", "split", "signal_gtex", "enhancers", "promoter_offsets"} <= set(g)
