"""Synthetic CRISPRi inputs in the paper's layout (experiments-spec §6.1), from the demo's planted truth.

:func:`ensure_crispri_inputs` writes, next to the demo genome (``data_root`` = the demo root that
holds ``demo_truth.json``, see :func:`seqbench.demo.synthetic.ensure_demo`)::

    Data/Fulco_CRISPRi/ziga_additional_columns.tsv     the extended Avsec CRISPRi table (one row per pair)
    Data/Fulco_CRISPRi/enhancer_knockdown_effects.tsv  Fulco 2019 effects (Gene, Element name, Fraction change ...)
    Data/Fulco_CRISPRi/gasperini.tsv                   Gasperini 2019 effects (target_gene_short, fold change ...)
    Data/Fulco_CRISPRi/hglft_genome_2c397_7c34e0.bed   one lifted ``chr:start-end`` string per gasperini.tsv row

Candidates
----------
* every planted enhancer of every gene (its assayed element ``[mid - 250, mid + 250)``, its 2-kb window
  ``[mid - 1000, mid + 1000)``);
* one *promoter-proximal* element per gene, its midpoint ``PROXIMAL_DISTANCE`` (128) bp from the TSS
  centre (alternately downstream and upstream): its assayed element and its 2-kb window hold the
  gene's promoter motifs, as the TSS-proximal elements that fill the paper's 0-3 kb bin; knocking it
  down removes the promoter (planted effects -93 to -99 %).  The planted enhancers lie 4-60 kb from
  their TSS (the shared demo genome), so without these the 0-3 kb bin would hold no validated pair;
* ``NULLS_PER_GENE`` *null* candidates per gene: 2-kb windows that hold no planted motif (they stay at
  least ``NULL_MARGIN`` bp from every promoter window, enhancer window and ``N`` run), one in each of
  the paper's AUPRC distance bins 1.5-3, 3-12.5, 12.5-34.5 and 34.5-130 kb (the nearest bin starts at
  1.5 kb, not 0.5 kb: a 2-kb window any closer would cover the promoter motifs, which lie within
  120 bp of the TSS).  A null may overlap its gene's proximal window (never its motifs), which gives
  the recalibration's overlap exclusion something to exclude.

``element_type`` (a column of the ziga table no reader needs) says which: ``enhancer``, ``proximal``
or ``null_region`` (not ``null``, which pandas reads as missing); ``planted`` is true for the first
two (the 2-kb window holds planted motifs).

Candidates alternate between the two datasets (``fulco2019``, ``gasperini2019``) in order of
gene, then position, so both datasets hold planted and null pairs.

Measured effects
----------------
The planted knock-down fraction change of a candidate is ``f = alt / ref - 1``, where ``ref`` and
``alt`` are the planted K562 CAGE landmark sums (:func:`seqbench.demo.synthetic.planted_cage_landmark_sum`,
3 output bins around the TSS bin) of the gene's window with and without the motifs inside the
candidate's 2-kb window (the closed form of the planted law).  The *measured* fraction change is
``(1 + f) ** exp(NOISE_SIGMA * z) - 1`` for planted elements (log-normal noise on
``log2(1 + f)``, so the remaining fraction stays in (0, 1]) and ``NULL_NOISE_SD * z`` for nulls (``z``
standard normal, seeded, machine-stable).  ``validated`` = the measured fraction change is
``<= -VALIDATED_DROP`` (a decrease of at least 1 %, about 3 standard deviations of the null noise, so
that the weakest planted enhancers, 2.5 % at 36 kb and 5 % at 58 kb, can be validated and the
34.5-131 kb bin holds both classes); one null and one planted element are flipped if needed so that
each class has an exception (AUPRC is then not trivially 1).

Fulco rows: ``Fraction change in gene expr`` = measured ``f``, ``Significant`` = validated.
Gasperini rows: ``Diff_expression_test_fold_change`` = ``1 + f`` (the remaining fraction).

Coordinates are 0-based, half-open.  The lifted Gasperini string is the assayed element's
``chrom:start-end`` as written in the ziga table (the key the loader joins on); the
``target_site.*`` columns carry made-up "hg19" coordinates (shifted by ``HG19_SHIFT``) that no
reader uses.  All floats are Python ``repr`` of exactly computed values, so the files are the same
bytes on every machine; the writer is idempotent (unchanged files are not rewritten) and atomic.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from seqbench.demo import synthetic as syn
from seqbench.files import write_if_changed
from seqbench.models.planted import law

CRISPRI_DIR = Path("Data/Fulco_CRISPRi")
ZIGA_RELPATH = CRISPRI_DIR / "ziga_additional_columns.tsv"
FULCO_RELPATH = CRISPRI_DIR / "enhancer_knockdown_effects.tsv"
GASPERINI_RELPATH = CRISPRI_DIR / "gasperini.tsv"
LIFTOVER_RELPATH = CRISPRI_DIR / "hglft_genome_2c397_7c34e0.bed"

SEED_KEY = 61  # stream key of this generator, under the demo's seed
NULLS_PER_GENE = 4
NULL_DISTANCE_BINS: tuple[tuple[int, int], ...] = ((1_500, 3_000), (3_000, 12_500), (12_500, 34_500), (34_500, 130_000))
NULL_MARGIN = 1_000  # bp between a null's 2-kb window and any element window or N run
PROXIMAL_DISTANCE = 128  # bp from the TSS centre to a promoter-proximal element's midpoint
NOISE_SIGMA = 0.25  # log-normal noise of planted effects
NULL_NOISE_SD = 0.003  # additive noise of null fraction changes
VALIDATED_DROP = 0.01
HG19_SHIFT = -10_000

ZIGA_COLUMNS = (
    "ziga_key",
    "fulco_key",
    "dataset_name",
    "chromosome",
    "gene",
    "sequence_start",
    "sequence_end",
    "main_tss_start",
    "main_tss_end",
    "main_tss_bin",
    "enhancer_start",
    "enhancer_end",
    "enhancer_wide_start",
    "enhancer_wide_end",
    "fix_enhancer_wide_start",
    "fix_enhancer_wide_end",
    "actual_tss_distance",
    "relative_tss_distance",
    "validated",
    "H3K27ac/abs(distance)",
    "planted",
    "element_type",
)
FULCO_COLUMNS = ("Gene", "Element name", "Fraction change in gene expr", "Significant", "ABC Score")
GASPERINI_COLUMNS = (
    "target_gene_short",
    "Diff_expression_test_fold_change",
    "target_site.chr",
    "target_site.start",
    "target_site.stop",
)


def _normals(stream: syn._Stream, n: int) -> list[float]:
    """``n`` standard normals by Box-Muller on the stream's exact uniforms."""
    out = []
    for _ in range(n):
        u1, u2 = stream.uniforms(2)
        out.append(math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2))
    return out


def _hits(truth: dict[str, Any], gene: dict[str, Any], knocked_out: tuple[int, int] | None) -> tuple[list, list]:
    """Input bins of the promoter / enhancer motif centres in the gene's window, without those in ``knocked_out``."""
    s0, s1 = gene["sequence_start"], gene["sequence_end"]
    chrom = gene["chromosome"]
    prom: list[int] = []
    enh: list[int] = []
    copies = [(m, "P") for g in truth["genes"] if g["chromosome"] == chrom for m in g["promoter_motifs"]]
    copies += [(m, "E") for e in truth["enhancers"] if e["chromosome"] == chrom for m in e["motifs"]]
    for m, kind in copies:
        lo, hi = m["centre"] - syn.MOTIF_CENTRE, m["centre"] - syn.MOTIF_CENTRE + law.MOTIF_LENGTH
        if lo < s0 or hi > s1:
            continue
        if knocked_out is not None and lo < knocked_out[1] and knocked_out[0] < hi:
            continue
        (prom if kind == "P" else enh).append(syn.input_bin(m["centre"], s0))
    return prom, enh


def planted_knockdown(truth: dict[str, Any], gene: dict[str, Any], window: tuple[int, int]) -> tuple[float, float]:
    """Planted K562 CAGE landmark sums ``(ref, alt)`` of a gene's window, alt without motifs in ``window``."""
    b = gene["main_tss_bin"]
    ref = syn.planted_cage_landmark_sum(*_hits(truth, gene, None), b)
    alt = syn.planted_cage_landmark_sum(*_hits(truth, gene, window), b)
    return ref, alt


def _clear(interval: tuple[int, int], blocked: list[tuple[int, int]], margin: int) -> bool:
    return not any(interval[0] - margin < b[1] and b[0] < interval[1] + margin for b in blocked)


def _null_candidates(truth: dict[str, Any], stream: syn._Stream) -> dict[str, list[dict[str, Any]]]:
    """Per gene, ``NULLS_PER_GENE`` motif-free 2-kb windows (one per distance bin)."""
    blocked: dict[str, list[tuple[int, int]]] = {c: [] for c in truth["chromosomes"]}
    for g in truth["genes"]:
        blocked[g["chromosome"]].append(tuple(g["promoter_window"]))
    for e in truth["enhancers"]:
        blocked[e["chromosome"]].append(tuple(e["fix_enhancer_wide_window"]))
    for r in truth["n_runs"]:
        blocked[r["chromosome"]].append((r["start"], r["end"]))
    out: dict[str, list[dict[str, Any]]] = {}
    for g in truth["genes"]:
        chrom, c = g["chromosome"], g["tss_centre"]
        nulls = []
        for k, (lo, hi) in enumerate(NULL_DISTANCE_BINS[:NULLS_PER_GENE]):
            for _attempt in range(1000):
                d = lo + 128 + int(stream.uniform() * (hi - lo - 256)) // 128 * 128  # mid stays at phase 64
                side = 1 if (k + _attempt) % 2 == 0 else -1
                mid = c + side * d
                wide = syn.enhancer_wide_window(mid)
                inside = g["sequence_start"] + 1000 <= wide[0] and wide[1] <= g["sequence_end"] - 1000
                if inside and _clear(wide, blocked[chrom], NULL_MARGIN):
                    blocked[chrom].append(wide)
                    nulls.append({"mid": mid})
                    break
            else:  # pragma: no cover - the demo windows have plenty of room
                raise RuntimeError(f"cannot place a null candidate {lo}-{hi} bp from {g['gene']}")
        out[g["gene"]] = nulls
    return out


def _proximal(gene: dict[str, Any], k: int) -> tuple[int, str, int]:
    """``(mid, "proximal", promoter motifs)`` of a gene's promoter-proximal element, ``PROXIMAL_DISTANCE``
    bp from the TSS centre, downstream for even ``k`` and upstream for odd (its 2-kb window holds every
    promoter motif: they lie within 120 bp of the TSS)."""
    side = 1 if k % 2 == 0 else -1
    return gene["tss_centre"] + side * PROXIMAL_DISTANCE, "proximal", len(gene["promoter_motifs"])


def crispri_rows(truth: dict[str, Any]) -> tuple[list[dict], list[dict], list[dict], list[str]]:
    """The four tables' rows (ziga, fulco, gasperini, liftover lines), deterministically from ``truth``."""
    stream = syn._Stream(int(truth["seed"]), SEED_KEY)
    nulls = _null_candidates(truth, stream)
    cands: list[dict[str, Any]] = []
    for k, g in enumerate(truth["genes"]):
        items = [(e["mid"], "enhancer", len(e["motifs"])) for e in truth["enhancers"] if e["gene"] == g["gene"]]
        items += [(n["mid"], "null_region", 0) for n in nulls[g["gene"]]]
        items.append(_proximal(g, k))
        for mid, kind, n_motifs in sorted(items):
            cands.append(
                {"gene": g, "mid": mid, "planted": kind != "null_region", "element_type": kind, "n_motifs": n_motifs}
            )

    z = _normals(stream, len(cands))
    u_act = stream.uniforms(len(cands))
    for i, cand in enumerate(cands):
        g = cand["gene"]
        fix = syn.enhancer_wide_window(cand["mid"])
        ref, alt = planted_knockdown(truth, g, fix)
        f_planted = alt / ref - 1.0
        cand["fix"] = fix
        cand["assay"] = syn.enhancer_assay_window(cand["mid"])
        cand["planted_fraction_change"] = f_planted
        if cand["planted"]:
            cand["measured"] = (1.0 + f_planted) ** math.exp(NOISE_SIGMA * z[i]) - 1.0
        else:
            cand["measured"] = NULL_NOISE_SD * z[i]
        cand["validated"] = cand["measured"] <= -VALIDATED_DROP
        cand["distance"] = syn.tss_distance(cand["mid"], g["main_tss_start"])
        activity = cand["n_motifs"] + 0.5 * float(u_act[i])
        cand["abc"] = activity / max(cand["distance"], 1)
        cand["dataset"] = "fulco2019" if i % 2 == 0 else "gasperini2019"
    # each class gets an exception (AUPRC not trivially 1)
    nul = [c for c in cands if not c["planted"]]
    pla = [c for c in cands if c["planted"]]
    if nul and not any(c["validated"] for c in nul):
        min(nul, key=lambda c: c["measured"])["validated"] = True
    if pla and all(c["validated"] for c in pla):
        max(pla, key=lambda c: c["measured"])["validated"] = False

    ziga, fulco, gasp, lift = [], [], [], []
    for c in cands:
        g = c["gene"]
        chrom, (a0, a1) = g["chromosome"], c["assay"]
        element = f"{chrom}:{a0}-{a1}"
        key = f"{c['dataset']}_{g['gene']}_{a0}-{a1}"
        fulco_key = f"{g['gene']}_{element}" if c["dataset"] == "fulco2019" else ""
        ziga.append(
            {
                "ziga_key": key,
                "fulco_key": fulco_key,
                "dataset_name": c["dataset"],
                "chromosome": chrom,
                "gene": g["gene"],
                "sequence_start": g["sequence_start"],
                "sequence_end": g["sequence_end"],
                "main_tss_start": g["main_tss_start"],
                "main_tss_end": g["main_tss_end"],
                "main_tss_bin": g["main_tss_bin"],
                "enhancer_start": a0,
                "enhancer_end": a1,
                "enhancer_wide_start": a0 - 500,
                "enhancer_wide_end": a1 + 500,
                "fix_enhancer_wide_start": c["fix"][0],
                "fix_enhancer_wide_end": c["fix"][1],
                "actual_tss_distance": c["distance"],
                "relative_tss_distance": c["mid"] - g["tss_centre"],
                "validated": c["validated"],
                "H3K27ac/abs(distance)": c["abc"],
                "planted": c["planted"],
                "element_type": c["element_type"],
            }
        )
        if c["dataset"] == "fulco2019":
            fulco.append(
                {
                    "Gene": g["gene"],
                    "Element name": element,
                    "Fraction change in gene expr": c["measured"],
                    "Significant": c["validated"],
                    "ABC Score": c["abc"],
                }
            )
        else:
            gasp.append(
                {
                    "target_gene_short": g["gene"],
                    "Diff_expression_test_fold_change": 1.0 + c["measured"],
                    "target_site.chr": chrom,
                    "target_site.start": a0 + HG19_SHIFT,
                    "target_site.stop": a1 + HG19_SHIFT,
                }
            )
            lift.append(f"{chrom}:{a0}-{a1}")
    return ziga, fulco, gasp, lift


def _table_bytes(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    lines = ["\t".join(columns)]
    lines += ["\t".join(syn._format_cell(r[c]) for c in columns) for r in rows]
    return ("\n".join(lines) + "\n").encode("ascii")


def ensure_crispri_inputs(data_root: Path) -> dict[str, Path]:
    """Write the synthetic ``Data/Fulco_CRISPRi/`` inputs under ``data_root`` (idempotent, atomic).

    ``data_root`` is a demo root holding ``demo_truth.json``.  Returns the paths under the spec
    ``inputs`` keys of :data:`seqbench.inputs.crispri.INPUT_KEYS`.
    """
    root = Path(data_root)
    truth_path = root / syn.TRUTH_RELPATH
    if not truth_path.is_file():
        raise FileNotFoundError(
            f"{truth_path}: no demo truth; build the demo first (seqbench.demo.synthetic.ensure_demo)"
        )
    truth = json.loads(truth_path.read_text())
    ziga, fulco, gasp, lift = crispri_rows(truth)
    paths = {
        "crispri_table": root / ZIGA_RELPATH,
        "fulco_effects": root / FULCO_RELPATH,
        "gasperini_table": root / GASPERINI_RELPATH,
        "gasperini_liftover": root / LIFTOVER_RELPATH,
    }
    write_if_changed(paths["crispri_table"], _table_bytes(ZIGA_COLUMNS, ziga))
    write_if_changed(paths["fulco_effects"], _table_bytes(FULCO_COLUMNS, fulco))
    write_if_changed(paths["gasperini_table"], _table_bytes(GASPERINI_COLUMNS, gasp))
    write_if_changed(paths["gasperini_liftover"], ("\n".join(lift) + "\n").encode("ascii"))
    return paths
