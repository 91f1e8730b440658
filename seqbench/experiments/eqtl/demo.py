"""The embedded default of the eQTL experiment: synthetic credible sets on the tissue-expression demo genome.

:func:`ensure_eqtl_inputs` writes, next to the archive of :mod:`seqbench.demo.expression` (its genome
``Data/TSS_sim/genome.fa`` with planted promoter and enhancer motifs, its truth and its GTEx-like GCT),
the files of the paper's layout the experiment reads::

    Data/TSS_sim/gtex_ridge_matches.json                       GTEx ridge matches (fitted here, see below)
    Data/TSS_sim/only_protein_coding_ensembl_canonical_tss.tsv ts_id, gene_id, tss (1-based), chr, gene_name
    Data/gtex_aFC/bigly_tss_with_alternatives.txt             the archive's biomart export + 2 transcripts
    Data/gtex_aFC/susie_to_gtex.tsv                            susie, gtex (only LCL needs it)
    Data/gtex_aFC/susie_credible_sets/GTEx_ge_{liver,whole_blood,LCL}.txt.gz
    Data/gtex_aFC/GTEx_pairs/<Tissue>.v8.signif_variant_gene_pairs.txt.gz
    Data/gtex_aFC/eqtl_demo_truth.json                         what was planted (written last)

Ridge matches: fitted here with :func:`seqbench.stats.ridge.fit_ridge_matches` on the archive's *training*
genes (truth ``analysis`` and ``split == "train"``) from the truth's exact whole-input planted CAGE
features (``features[track]["0"]``, K562 = track 0, HepG2 = track 2, labels ``"<index>|<description>"``
of :data:`seqbench.models.planted.law.TRACKS`) against ``log10(TPM + 1)`` of the archive's GCT: the
features a tissue-expression demo job feeds the same function (its float32 predictions equal the truth
to float32 rounding), so these are that job's matches up to that rounding.

Credible sets (positions 1-based in the files; everything here 0-based): for genes with an enhancer 5'
of the TSS, a SNV at the centre of one of its motif copies (the motif is broken, the planted effect is
that copy's ``g(d)`` contribution) plus an off-motif SNV nearby; sets of off-motif variants only (an
insertion, a deletion: no motif broken); one set per filter rule that fails only that rule; a variant
whose ``ref`` is not the genome's (skipped and counted); one set listed in two tissues (predicted once).
GTEx pairs give every listed variant a slope drawn independently of distance (no decay).
Deterministic (``synthetic._Stream``); files written atomically and only when changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from seqbench.demo import synthetic as syn
from seqbench.files import write_if_changed
from seqbench.inputs.eqtl import gzip_bytes
from seqbench.models.planted import law

SEED = 20230606
_KEY = 1306
FEATURE_TRACKS = (0, 2)
RIDGE = Path("Data/TSS_sim/gtex_ridge_matches.json")
CANONICAL = Path("Data/TSS_sim/only_protein_coding_ensembl_canonical_tss.tsv")
BIOMART = Path("Data/gtex_aFC/bigly_tss_with_alternatives.txt")
TISSUE_MAP = Path("Data/gtex_aFC/susie_to_gtex.tsv")
SETS = Path("Data/gtex_aFC/susie_credible_sets")
PAIRS = Path("Data/gtex_aFC/GTEx_pairs")
TRUTH = Path("Data/gtex_aFC/eqtl_demo_truth.json")
#: susie file tissue -> GTEx tissue of the archive (LCL needs the map; the others match by name)
SUSIE = {"liver": "Liver", "whole_blood": "Whole Blood", "LCL": "Cells - EBV-transformed lymphocytes"}
N_MOTIF_SETS = 14
ALT_TSS_FAR, ALT_TSS_NEAR = 500, 100  # bp 5' of the canonical TSS: dropped / kept by the 128-bp rule


def feature_labels() -> list[str]:
    desc = {i: d for i, _ident, d in law.TRACKS}
    return [f"{i}|{desc[i]}" for i in FEATURE_TRACKS]


def fit_demo_matches(root: Path, truth: dict[str, Any]) -> dict[str, Any]:
    """The archive's GTEx ridge matches (module docstring) as the JSON layout a tissue-expression job writes."""
    from seqbench.inputs.expression import read_gct
    from seqbench.stats.ridge import fit_ridge_matches

    gct = read_gct(root / "Data/GTEX/GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_median_tpm.gct")
    gct = gct.set_index("gene_id")
    tissues = list(truth["gtex"]["tissues"])
    ident = {i: name for i, name, _d in law.TRACKS}
    genes = [g for g in truth["genes"] if g["analysis"] and g["split"] == "train" and g["gene_id"] in gct.index]
    X = np.log10(np.array([[g["features"][ident[t]]["0"] for t in FEATURE_TRACKS] for g in genes]) + 1.0)
    Y = np.log10(gct.loc[[g["gene_id"] for g in genes], tissues].to_numpy(np.float64) + 1.0)
    matches = fit_ridge_matches(X, Y, feature_labels(), tissues)
    return {"dataset": "gtex", "features": feature_labels(), "matches": [m.to_json() for m in matches]}


def _tsv(header: list[str], rows: list[list[Any]]) -> bytes:
    return ("\t".join(header) + "\n" + "".join("\t".join(str(c) for c in r) + "\n" for r in rows)).encode()


def build(root: Path) -> tuple[dict[Path, bytes], dict[str, Any]]:
    """Every file's bytes (relative path -> bytes) and the truth."""
    from seqbench.genome import Genome
    from seqbench.inputs.expression import read_biomart_tss
    from seqbench.sequence.codes import encode

    truth = json.loads((root / "Data/TSS_sim/expression_truth.json").read_text())
    genome = Genome(root / "Data/TSS_sim/genome.fa")
    stream = syn._Stream(SEED, _KEY)
    files: dict[Path, bytes] = {RIDGE: (json.dumps(fit_demo_matches(root, truth), indent=1) + "\n").encode()}
    biomart_path = root / "Data/TSS_sim/bigly_tss_from_biomart.txt"
    canon = read_biomart_tss(biomart_path)
    files[CANONICAL] = _tsv(["ts_id", "gene_id", "tss", "chr", "gene_name"],
                            [[r.ts_id, r.gene_id, r.tss0 + 1, r.chrom, r.gene_name] for r in canon.itertuples()])
    canonical_genes = set(canon["gene_id"])
    motifs_by_chrom: dict[str, list[int]] = {}
    for m in truth["motifs"]:
        motifs_by_chrom.setdefault(m["chrom"], []).append(int(m["centre"]))
    lengths = truth["chromosomes"]

    def off_motif(chrom: str, p: int, span: int = 1) -> bool:
        return all(abs(c - p) > 30 + span for c in motifs_by_chrom.get(chrom, ()))

    def creates_motif(chrom: str, p: int, ref: str, alt: str) -> bool:
        left = genome.fetch_str(chrom, p - 12, p)
        right = genome.fetch_str(chrom, p + len(ref), p + len(ref) + 12)
        codes = encode(left + alt + right)
        return bool(syn.find_motif_occurrences(codes, law.PROMOTER_MOTIF)
                    or syn.find_motif_occurrences(codes, law.ENHANCER_MOTIF))

    def snv(chrom: str, p: int) -> tuple[str, str]:
        ref = genome.fetch_str(chrom, p, p + 1)
        for k in range(4):
            alt = "ACGT"[(stream.integer(0, 3) + k) % 4]
            if alt != ref and not creates_motif(chrom, p, ref, alt):
                return ref, alt
        raise AssertionError("no neutral alternative base")

    genes = [g for g in truth["genes"] if g["gene_type"] == "protein_coding" and not g["silent"]
             and g["chrom"] in ("chr1", "chr2", "chr3", "chrX") and g["gene_id"] in canonical_genes]
    sign5 = {g["gene_id"]: (-1 if g["strand"] == "+" else 1) for g in genes}  # genomic direction of 5'
    # candidate motif copies 5' of their gene
    copies = []
    for g in genes:
        for e in g["enhancers"]:
            if e["side"] != "upstream":
                continue
            for m in e["motifs"]:
                d = abs(int(m["centre"]) - g["tss0"])
                copies.append((d, g["gene_id"], int(m["centre"]), m["orientation"]))
    copies.sort()
    picks = [copies[int(round(k * (len(copies) - 1) / (N_MOTIF_SETS - 1)))] for k in range(N_MOTIF_SETS)]
    by_id = {g["gene_id"]: g for g in genes}
    used_genes = {gid for _d, gid, _c, _o in picks}
    spare = [g for g in genes if g["gene_id"] not in used_genes]

    sets: list[dict[str, Any]] = []  # {tissue, cs_id, gene, variants: [(pos0, ref, alt, kind)], expect}
    tissues = list(SUSIE)
    for k, (_d, gid, centre, _orient) in enumerate(picks):
        g = by_id[gid]
        ref = genome.fetch_str(g["chrom"], centre, centre + 1)
        alt = next(b for b in "ACGT" if b != ref and not creates_motif(g["chrom"], centre, ref, b))
        vs = [(centre, ref, alt, "motif")]
        q = centre - sign5[gid] * stream.integer(200, 900)  # nearer the TSS, still 5'
        if abs(q - g["tss0"]) > 0 and np.sign(q - g["tss0"]) == sign5[gid] and off_motif(g["chrom"], q):
            r2, a2 = snv(g["chrom"], q)
            vs.append((q, r2, a2, "off_motif"))
        sets.append({"tissue": tissues[k % 3], "cs_id": f"{gid}_L{k % 2 + 1}", "gene": gid, "variants": vs,
                     "expect": "kept"})
    sets.append({**sets[0], "tissue": "whole_blood" if sets[0]["tissue"] != "whole_blood" else "liver",
                 "expect": "kept_shared"})

    def spare_gene(need_far: int = 0) -> dict[str, Any]:
        for i, g in enumerate(spare):
            room = g["tss0"] if sign5[g["gene_id"]] < 0 else lengths[g["chrom"]] - g["tss0"]
            if room > need_far + 20_000:
                return spare.pop(i)
        raise AssertionError("no spare gene")

    def off_snv_at(g: dict[str, Any], dist: int, direction: int) -> tuple[int, str, str, str]:
        for step in range(0, 400, 7):
            p = g["tss0"] + direction * (dist + step)
            if off_motif(g["chrom"], p):
                r, a = snv(g["chrom"], p)
                return (p, r, a, "off_motif")
        raise AssertionError("no off-motif position")

    # zero-effect sets: off-motif SNV + insertion, SNV + deletion, and the ref-mismatch variant
    for k in range(3):
        g = spare_gene()
        s5 = sign5[g["gene_id"]]
        v1 = off_snv_at(g, 1500 + 4000 * k, s5)
        p = v1[0] + s5 * 600
        while not off_motif(g["chrom"], p, 4):
            p += s5 * 13
        base = genome.fetch_str(g["chrom"], p, p + 3)
        if k == 0:
            v2 = (p, base[0], base[0] + "TA", "insertion")
        elif k == 1:
            v2 = (p, base, base[0], "deletion")
        else:
            wrong = next(b for b in "ACGT" if b != base[0])
            v2 = (p, wrong, base[0] if base[0] != "A" else "C", "ref_mismatch")
        if v2[3] != "ref_mismatch" and creates_motif(g["chrom"], p, v2[1], v2[2]):
            raise AssertionError("an indel of the demo creates a motif")
        sets.append({"tissue": tissues[k], "cs_id": f"{g['gene_id']}_L1", "gene": g["gene_id"], "variants": [v1, v2],
                     "expect": "kept"})
    # one set per rule, failing only that rule
    g = spare_gene()
    sets.append({"tissue": "liver", "cs_id": f"{g['gene_id']}_L1", "gene": g["gene_id"],
                 "variants": [off_snv_at(g, 2000, -sign5[g["gene_id"]])], "expect": "not_5prime"})
    g_alt = spare_gene()
    sets.append({"tissue": "liver", "cs_id": f"{g_alt['gene_id']}_L1", "gene": g_alt["gene_id"],
                 "variants": [off_snv_at(g_alt, 3000, sign5[g_alt["gene_id"]])], "expect": "alternative_5prime_tss"})
    g = spare_gene(need_far=100_000)
    sets.append({"tissue": "whole_blood", "cs_id": f"{g['gene_id']}_L1", "gene": g["gene_id"],
                 "variants": [off_snv_at(g, 100_000, sign5[g["gene_id"]])], "expect": "too_far"})
    g = spare_gene()
    r, a = snv(g["chrom"], g["tss0"])
    sets.append({"tissue": "whole_blood", "cs_id": f"{g['gene_id']}_L1", "gene": g["gene_id"],
                 "variants": [(g["tss0"], r, a, "at_tss")], "expect": "at_tss"})
    g = next(x for x in spare if x["strand"] == "+")
    spare.remove(g)
    ref6 = genome.fetch_str(g["chrom"], g["tss0"] - 3, g["tss0"] + 3)
    sets.append({"tissue": "LCL", "cs_id": f"{g['gene_id']}_L1", "gene": g["gene_id"],
                 "variants": [(g["tss0"] - 3, ref6, ref6[0], "crossing")], "expect": "crossing"})
    g = spare_gene()
    s5 = sign5[g["gene_id"]]
    sets.append({"tissue": "LCL", "cs_id": f"{g['gene_id']}_L1", "gene": g["gene_id"],
                 "variants": [off_snv_at(g, 2000, s5), off_snv_at(g, 8000, s5)], "expect": "block_too_large"})
    # the biomart export with a far alternative 5' TSS (g_alt) and a near one (a kept motif gene)
    text = biomart_path.read_text()
    near_gene = by_id[picks[-1][1]]
    extra = []
    for n, (gg, off) in enumerate(((g_alt, ALT_TSS_FAR), (near_gene, ALT_TSS_NEAR))):
        tss1 = gg["tss0"] + sign5[gg["gene_id"]] * off + 1
        strand = "1" if gg["strand"] == "+" else "-1"
        lo, hi = (tss1, tss1 + 2000) if strand == "1" else (tss1 - 2000, tss1)
        extra.append("\t".join([f"ENST6000000000{n}", f"ENST6000000000{n}.1", "protein_coding",
                                gg["chrom"].removeprefix("chr"), strand, str(lo), str(hi), str(tss1), "", "", "tsl2",
                                gg["gene_id"], gg["gene_name"]]) + "\n")
    files[BIOMART] = (text if text.endswith("\n") else text + "\n").encode() + "".join(extra).encode()
    files[TISSUE_MAP] = _tsv(["susie", "gtex"], [["LCL", SUSIE["LCL"]]])

    # credible-set files and GTEx pairs
    by_tissue: dict[str, list[list[Any]]] = {t: [] for t in SUSIE}
    pairs: dict[str, list[list[Any]]] = {t: [] for t in SUSIE}
    truth_sets = []
    for s in sets:
        g = by_id.get(s["gene"]) or next(x for x in truth["genes"] if x["gene_id"] == s["gene"])
        for p, ref, alt, _kind in s["variants"]:
            vid = f"{g['chrom']}_{p + 1}_{ref}_{alt}"
            by_tissue[s["tissue"]].append([s["gene"], vid, g["chrom"].removeprefix("chr"), p + 1, ref, alt, s["cs_id"],
                                           round(0.2 + 0.7 * stream.uniform(), 3)])
            slope = (1 if stream.integer(0, 1) else -1) * float(10 ** (-1 + 1.2 * stream.uniform()))
            pairs[s["tissue"]].append([vid + "_b38", g["gene_id_version"], repr(round(slope, 6))])
        truth_sets.append({"tissue": s["tissue"], "gtex_tissue": SUSIE[s["tissue"]], "cs_id": s["cs_id"],
                           "gene_id": s["gene"], "chrom": g["chrom"], "tss0": g["tss0"], "strand": g["strand"],
                           "expect": s["expect"],
                           "variants": [{"pos0": p, "ref": ref, "alt": alt, "kind": kind} for p, ref, alt, kind in
                                        s["variants"]]})
    header = ["molecular_trait_id", "variant", "chromosome", "position", "ref", "alt", "cs_id", "pip"]
    for t, rows in by_tissue.items():
        files[SETS / f"GTEx_ge_{t}.txt.gz"] = gzip_bytes(_tsv(header, rows))
        name = SUSIE[t].replace(" - ", "_").replace(" ", "_")
        files[PAIRS / f"{name}.v8.signif_variant_gene_pairs.txt.gz"] = gzip_bytes(
            _tsv(["variant_id", "gene_id", "slope"], pairs[t]))
    out_truth = {"format_version": 1, "seed": SEED, "tissues": SUSIE, "sets": truth_sets,
                 "features": feature_labels(), "alt_tss": {"dropped_gene": g_alt["gene_id"],
                                                          "kept_gene": near_gene["gene_id"]}}
    return files, out_truth


def ensure_eqtl_inputs(root: Path) -> dict[str, Any]:
    """Write the demo inputs under ``root`` (idempotent); returns the truth."""
    from seqbench.demo.expression import ensure_expression_inputs

    root = Path(root)
    ensure_expression_inputs(root)
    files, truth = build(root)
    for rel, blob in files.items():
        write_if_changed(root / rel, blob)
    write_if_changed(root / TRUTH, json.dumps(truth, indent=1) + "\n")
    return truth


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: the planted model over the synthetic credible sets, with the GTEx ridge
    matches fitted on the tissue-expression demo archive (no tissue-expression job needed)."""
    from seqbench.experiments.eqtl.design import NAME

    ensure_eqtl_inputs(Path(data_root))
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "genome": {"fasta": "Data/TSS_sim/genome.fa"},
        "model": {"kind": "planted"},
        "inputs": {
            "credible_sets": str(SETS),
            "tss": str(CANONICAL),
            "biomart": str(BIOMART),
            "ridge_matches": str(RIDGE),
            "tissue_map": str(TISSUE_MAP),
            "gtex_pairs": str(PAIRS),
        },
    }
