"""Synthetic Patch-MPRA inputs in the paper's layout (experiments-spec §8.3), with a planted truth.

:func:`ensure_patch_inputs` writes, next to the demo genome (``data_root`` = the demo root of
:func:`seqbench.demo.synthetic.ensure_demo`)::

    Data/Cohen_genomic_environments/mScarlet.txt                 FASTA (a header line, then 60 bp a line)
    Data/Cohen_genomic_environments/landing_pad_locations.tsv    Hong, Liftover, Note
    Data/Cohen_genomic_environments/patchMPRA_expression.tsv     oligo_id, LP, mean_exp
    Data/Cohen_genomic_environments/sequences.tsv                oligo_id, sequence, strand
    Data/Cohen_genomic_environments/patch_truth.json             the planted truth (written last)

Promoters
---------
``N_PROMOTERS`` CRSs of ``CRS_LEN`` bp carry 0-4 copies of the planted promoter motif (counts
cycled, then shuffled), centred within ``PROMOTER_REACH`` bp of the CRS midpoint (the landmark);
random background (GC 0.45) and a random ``MSCARLET_LEN``-bp reporter; no motif anywhere else in
``enhancer + CRS + mScarlet`` (checked; the enhancer is the authors' 125-bp string, motif-free).

Landing pads
------------
Four 30-bp pads on the demo genome (``Liftover`` written as the authors' table does: a UCSC
position, 1-based inclusive, with thousands separators).  ``LP1`` lies at the midpoint of the
widest gap between planted TSSs (>= 200 kb from every TSS: only distant enhancers reach it);
``LP2``-``LP4`` lie ``PAD_DISTANCES`` = 15, 4 and 0.8 kb from the midpoint of the planted enhancer
with the most motifs, on the side away from its gene, >= 5 kb from every promoter motif.  Their
planted environment activity is ``E = sum over enhancer motifs of g(|q - split|)`` (bp distances,
``g`` the law's decay), so the planted effect on the model's readout is about ``1 + B_K562 * E``
(the tests compute the exact readout from the motif bins).

Measurements
------------
``mean_exp = log2(k + P0) + log2(1 + MEASURED_GAIN * E) + N(0, NOISE_SD)`` for promoter copies
``k``; ``N_MISSING`` random pairs (never of the first promoter) are not measured.

Determinism: one ``numpy.random.default_rng(SEED)`` stream (PCG64 via SeedSequence) consumed in a
fixed order; files are written atomically and only when their content changes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import seqbench.experiments.patch_mpra.design as pm
from seqbench.demo.synthetic import clean_random_sequence, count_planted_hits
from seqbench.files import write_if_changed
from seqbench.models.planted import law

FORMAT_VERSION = 1
SEED = 20191210
PATCH_DIR = Path(pm.DATA_DIR)
MSCARLET_RELPATH = Path(pm.MSCARLET_DEFAULT)
LANDING_PADS_RELPATH = Path(pm.LANDING_PADS_DEFAULT)
EXPRESSION_RELPATH = Path(pm.EXPRESSION_DEFAULT)
SEQUENCES_RELPATH = Path(pm.SEQUENCES_DEFAULT)
TRUTH_RELPATH = PATCH_DIR / "patch_truth.json"

N_PROMOTERS = 40
CRS_LEN = 200
MSCARLET_LEN = 696
PROMOTER_COUNTS = (0, 1, 2, 3, 4)
PROMOTER_REACH = 40  # bp between a promoter motif centre and the CRS midpoint, at most
PAD_WIDTH = 30
PAD_DISTANCES = (15_000, 4_000, 800)  # LP2..LP4: bp from the strongest enhancer's midpoint
MIN_TSS_DISTANCE = 200_000  # LP1: at least this far from every planted TSS
MIN_PROMOTER_DISTANCE = 5_000  # every pad: at least this far from every promoter motif
MIN_ENHANCER_MOTIF_DISTANCE = 300
MEASURED_GAIN = 1.0
NOISE_SD = 0.15
N_MISSING = 3
_GC = 0.45
_HALF_INPUT = law.SEQUENCE_LENGTH // 2


@dataclass(frozen=True)
class PatchDemo:
    root: Path
    truth: Path


def _rc(seq: str) -> str:
    return seq[::-1].translate(str.maketrans("ACGTN", "TGCAN"))


def _random_seq(rng: np.random.Generator, n: int) -> str:
    return clean_random_sequence(rng, n, _GC)


def environment_activity(genome_truth: dict[str, Any], chrom: str, position: int) -> float:
    """``E = sum g(|q - position|)`` over planted enhancer motif centres ``q`` on ``chrom`` within half an input."""
    return math.fsum(
        law.decay(abs(m["centre"] - position))
        for e in genome_truth["enhancers"] if e["chromosome"] == chrom
        for m in e["motifs"] if abs(m["centre"] - position) < _HALF_INPUT
    )


def _clear(genome_truth: dict[str, Any], chrom: str, pos: int) -> bool:
    prom = [m["centre"] for g in genome_truth["genes"] if g["chromosome"] == chrom for m in g["promoter_motifs"]]
    enh = [m["centre"] for e in genome_truth["enhancers"] if e["chromosome"] == chrom for m in e["motifs"]]
    return (all(abs(q - pos) >= MIN_PROMOTER_DISTANCE for q in prom)
            and all(abs(q - pos) >= MIN_ENHANCER_MOTIF_DISTANCE for q in enh)
            and PAD_WIDTH < pos < genome_truth["chromosomes"][chrom] - PAD_WIDTH)


def pad_positions(genome_truth: dict[str, Any]) -> list[tuple[str, int]]:
    """``(chrom, split)`` of LP1..LP4 (0-based positions the cassette goes before; see the module docstring)."""
    best = None
    for chrom in sorted(genome_truth["chromosomes"]):
        tss = sorted(g["tss_centre"] for g in genome_truth["genes"] if g["chromosome"] == chrom)
        for a, b in zip(tss, tss[1:], strict=False):
            if best is None or (b - a) // 2 > best[0]:
                best = ((b - a) // 2, chrom, (a + b) // 2)
    if best is None or best[0] < MIN_TSS_DISTANCE:
        raise ValueError(f"demo genome: no place >= {MIN_TSS_DISTANCE} bp from every TSS for LP1")
    pads = [(best[1], best[2])]
    genes = {g["gene"]: g for g in genome_truth["genes"]}
    order = sorted(genome_truth["enhancers"], key=lambda e: (-e["n_motifs"], e["ziga_key"]))
    for e in order:
        chrom, mid = e["chromosome"], e["mid"]
        away = 1 if mid >= genes[e["gene"]]["tss_centre"] else -1
        near = [(chrom, mid + away * d) for d in PAD_DISTANCES]
        if all(_clear(genome_truth, c, p) for c, p in near):
            return pads + near
    raise ValueError("demo genome: no planted enhancer leaves room for LP2..LP4")


def liftover_string(chrom: str, start0: int, end0: int) -> str:
    """A 0-based half-open interval as the authors' table writes it: UCSC 1-based inclusive, commas."""
    return f"{chrom}:{start0 + 1:,}-{end0:,}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    return "\t".join(header) + "\n" + "".join("\t".join(str(v) for v in r) + "\n" for r in rows)


def generate(genome_truth: dict[str, Any], seed: int = SEED) -> tuple[dict[Path, str], dict[str, Any]]:
    """The files (relative path -> text) and the truth dict; nothing is written."""
    rng = np.random.default_rng(seed)
    enhancer = pm.ENHANCER
    assert count_planted_hits(enhancer) == (0, 0)
    mscarlet = _random_seq(rng, MSCARLET_LEN)
    mid = CRS_LEN // 2
    w = law.MOTIF_LENGTH
    counts = [PROMOTER_COUNTS[i % len(PROMOTER_COUNTS)] for i in range(N_PROMOTERS)]
    counts = [counts[i] for i in rng.permutation(N_PROMOTERS)]
    promoters = []
    for i, k in enumerate(counts):
        while True:
            seq = list(_random_seq(rng, CRS_LEN))
            slots = np.arange(mid - PROMOTER_REACH - w // 2, mid + PROMOTER_REACH - w // 2 + 1, w + 2)
            starts = sorted(int(s) for s in rng.choice(slots, size=k, replace=False)) if k else []
            strands = ["+" if int(rng.integers(2)) == 0 else "-" for _ in range(k)]
            for s, st in zip(starts, strands, strict=True):
                seq[s : s + w] = list(law.PROMOTER_MOTIF if st == "+" else _rc(law.PROMOTER_MOTIF))
            text = "".join(seq)
            if count_planted_hits(text) == (k, 0) and count_planted_hits(enhancer + text + mscarlet) == (k, 0):
                break
        promoters.append({"oligo_id": f"patch_{i + 1:03d}", "seq": text, "n_motifs": k,
                          "motif_offsets": [s + w // 2 for s in starts], "strands": strands,
                          "log2_strength": math.log2(k + law.P0)})

    pads = []
    for j, (chrom, split) in enumerate(pad_positions(genome_truth)):
        start0, end0 = split - PAD_WIDTH // 2, split + PAD_WIDTH // 2
        e = environment_activity(genome_truth, chrom, split)
        pads.append({"name": f"LP{j + 1}", "liftover": liftover_string(chrom, start0, end0), "chrom": chrom,
                     "start": start0, "end": end0, "split": split, "environment_activity": e,
                     "log2_effect_measured": math.log2(1.0 + MEASURED_GAIN * e),
                     "log2_effect_planted": math.log2(1.0 + law.B_K562 * e)})

    pairs = [(p, lp) for p in promoters for lp in pads]
    missing = {int(x) for x in rng.choice(np.arange(len(pads), len(pairs)), size=N_MISSING, replace=False)}
    rows = []
    for idx, (p, lp) in enumerate(pairs):
        noise = float(rng.normal(0.0, NOISE_SD))
        if idx in missing:
            continue
        rows.append([p["oligo_id"], lp["name"], repr(p["log2_strength"] + lp["log2_effect_measured"] + noise)])
    fasta = ">mScarlet (seqbench demo: random sequence, no biology)\n" + "".join(
        mscarlet[i : i + 60] + "\n" for i in range(0, len(mscarlet), 60)
    )
    pad_rows = [[lp["name"], lp["liftover"], "demo"] for lp in pads] + [["LP5", "", "no liftover (dropped)"]]
    files = {
        MSCARLET_RELPATH: fasta,
        LANDING_PADS_RELPATH: _table(["Hong", "Liftover", "Note"], pad_rows),
        EXPRESSION_RELPATH: _table(["oligo_id", "LP", "mean_exp"], rows),
        SEQUENCES_RELPATH: _table(["oligo_id", "sequence", "strand"],
                                  [[p["oligo_id"], p["seq"], "+"] for p in promoters]),
    }
    truth = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "law": {"P0": law.P0, "B_K562": law.B_K562, "D0": law.D0, "A": law.A},
        "measured_gain": MEASURED_GAIN,
        "noise_sd": NOISE_SD,
        "conventions": "motif_offsets: 0-based motif centres (6th base) within the CRS; pads: 0-based half-open"
                       " [start, end), the cassette inserted before split = (start + end) // 2; liftover: 1-based"
                       " inclusive",
        "enhancer_length": len(enhancer),
        "mscarlet_length": len(mscarlet),
        "promoters": [{k: v for k, v in p.items() if k != "seq"} for p in promoters],
        "landing_pads": pads,
        "missing_pairs": sorted(f"{pairs[i][0]['oligo_id']}|{pairs[i][1]['name']}" for i in missing),
    }
    return files, truth


def ensure_patch_inputs(data_root: Path) -> PatchDemo:
    """Write the demo's Patch-MPRA inputs under ``data_root`` (the demo root) once; return where they are."""
    root = Path(data_root)
    genome_truth = json.loads((root / "demo_truth.json").read_text())
    truth_path = root / TRUTH_RELPATH
    truth: Any = None
    if truth_path.is_file():
        try:
            truth = json.loads(truth_path.read_text())
        except ValueError:
            truth = None
    rels = (MSCARLET_RELPATH, LANDING_PADS_RELPATH, EXPRESSION_RELPATH, SEQUENCES_RELPATH)
    complete = (
        isinstance(truth, dict)
        and truth.get("format_version") == FORMAT_VERSION
        and truth.get("genome_seed") == genome_truth.get("seed")
        and all((root / r).is_file() for r in rels)
    )
    if not complete:
        files, truth = generate(genome_truth)
        truth["genome_seed"] = genome_truth.get("seed")
        for rel, text in files.items():
            write_if_changed(root / rel, text)
        write_if_changed(truth_path, json.dumps(truth, indent=1) + "\n")
    return PatchDemo(root=root, truth=truth_path)


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: synthetic Patch-MPRA inputs next to the demo genome, and the planted model."""
    ensure_patch_inputs(Path(data_root))
    return {
        "experiment": pm.NAME,
        "data_root": str(data_root),
        "model": {"kind": "planted"},
        "tracks": {"cage": {"assay": "CAGE", "cell_type": "K562"}},
    }
