"""Synthetic Bergman ExP inputs in the paper's layout (experiments-spec §5.1), with a planted truth.

:func:`ensure_bergman_inputs` writes, next to the demo genome (``data_root`` = the demo root of
:func:`seqbench.demo.synthetic.ensure_demo`)::

    Data/Bergman_compatibility_logic/GSE184426_ExP_1Kx1K_counts.txt  barcodes: promoter, enhancer, DNA_input,
                                                                     weighted_reads_rep1..rep4 (tab-separated)
    Data/Bergman_compatibility_logic/promoters.txt                   fragment, seq (264 bp)
    Data/Bergman_compatibility_logic/enhancers.txt                   fragment, seq (264 bp)
    Data/Bergman_compatibility_logic/promoter_classes.txt            fragment, promoter_exp_class, randomBG
    Data/Bergman_compatibility_logic/enhancer_classes.txt            fragment, enhancer_exp_class, randomBG
    Data/Bergman_compatibility_logic/hstarr_seq.gbk                  synthetic 6,243-bp vector (GenBank)
    Data/Bergman_compatibility_logic/bergman_truth.json              the planted truth (written last)

Fragments
---------
``N_PROMOTERS`` promoter fragments carry 0-4 copies of the planted promoter motif (counts cycled,
then shuffled), whose centres lie within ``PROMOTER_REACH`` bp of the fragment midpoint (offset 132,
the landmark), so they fall in the landmark's 3-bin window; ``N_ENHANCERS`` enhancer fragments
carry 0-5 copies of the planted enhancer motif anywhere in the fragment.  Orientation alternates.
Background sequence is random (GC 0.45); no motif (or reverse complement) occurs anywhere else in
a fragment, in the vector pieces or across the junctions of the minimal plasmid (checked).

The vector
----------
A random 6,243-bp sequence with the paper's slice positions, except for ``VECTOR_ENHANCER_STARTS``:
two copies of the planted enhancer motif in ``plasmid[1838:]``, the right flank of the full plasmid,
as a real vector carries elements of its own.  They add a constant enhancer activity to every
``full_plasmid`` construct (about 0.8 per copy at ~1.3 kb from the promoter) and none to
``min_plasmid`` or ``aavs1`` (which hold no vector beyond tGFP), so on the planted model the full
insert dilutes the enhancer effects and correlates less with the simulated measurements than the
minimal one: the paper's "minimal inserts correlate better", for a known reason.

Planted strengths (natural log; constants of :mod:`seqbench.models.planted.law`)::

    promoter p:  log(k_p + P0)                      k_p promoter motif copies
    enhancer e:  log(1 + B_K562 * m_e * G)          m_e enhancer motif copies, predicted side
    measured e:  log(1 + MEASURED_GAIN * m_e * G)   the "experiment" has stronger enhancers

``G = g(512 bp)`` is the decay at the nominal 4-bin distance between the promoter midpoint and the
enhancer midpoint in the minimal plasmid (607 bp, 0.3 kb scale: g near 1, as the brief expects).
The planted model's actual readout depends on the bins the motifs fall in; the tests compute it
exactly from ``motif_offsets`` in the truth file.

Counts
------
A pair is measured with probability ``1 - MISSING_PAIR_FRACTION``; it has 1-6 barcodes, each with
``DNA_input`` uniform on 5..150 (so some fail ``> 25``) and replicate reads ``Poisson(RNA_SCALE *
DNA_input * rate * w_r / 4)`` with replicate weights ``w = (0.9, 1.1, 1.0, 1.0)`` and
``rate = exp(measured promoter strength + measured enhancer strength)``.  Weak pairs get barcodes
with no reads (failing ``RNA_sum > 0``) and single-barcode pairs fail ``>= 2 barcodes``.

Determinism: one ``numpy.random.default_rng(SEED)`` stream, consumed in a fixed order; files are
written atomically (temporary name, then ``os.replace``) and only when their content changes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import seqbench.experiments.promoter_enhancer_mpra.design as bx
from seqbench.demo.synthetic import clean_random_sequence, count_planted_hits
from seqbench.experiments.promoter_enhancer_mpra.design import NAME
from seqbench.files import write_if_changed
from seqbench.inputs.plasmids import format_genbank
from seqbench.models.planted import law

FORMAT_VERSION = 2  # 2: enhancer motifs in the vector's right flank
SEED = 184426
BERGMAN_DIR = Path(bx.DATA_DIR)
COUNTS_RELPATH = Path(bx.COUNTS_DEFAULT)
PROMOTERS_RELPATH = Path(bx.PROMOTERS_DEFAULT)
ENHANCERS_RELPATH = Path(bx.ENHANCERS_DEFAULT)
PROMOTER_CLASSES_RELPATH = Path(bx.PROMOTER_CLASSES_DEFAULT)
ENHANCER_CLASSES_RELPATH = Path(bx.ENHANCER_CLASSES_DEFAULT)
PLASMID_RELPATH = Path(bx.PLASMID_DEFAULT)
TRUTH_RELPATH = BERGMAN_DIR / "bergman_truth.json"

N_PROMOTERS = 30
N_ENHANCERS = 30
FRAGMENT_LEN = 264
PLASMID_LEN = 6243
PROMOTER_COUNTS = (0, 1, 2, 3, 4)
ENHANCER_COUNTS = (0, 1, 2, 3, 4, 5)
PROMOTER_REACH = 60  # bp between a promoter motif centre and the fragment midpoint, at most
MEASURED_GAIN = 2.0  # enhancer gain of the simulated measurements (planted model: law.B_K562)
NOMINAL_DISTANCE = 512  # bp, 4 whole bins: promoter midpoint to enhancer midpoint in min_plasmid
RNA_SCALE = 0.5
MISSING_PAIR_FRACTION = 0.05
REPLICATE_WEIGHTS = (0.9, 1.1, 1.0, 1.0)
MIN_PARTNERS = 10  # the demo's induced-variation threshold (paper: 500 of 1,000 enhancers)
MIN_TSS_DISTANCE = 200_000  # landing pad: at least this far from every planted TSS
VECTOR_ENHANCER_STARTS = (2400, 2500)  # 0-based starts of the planted enhancer motifs in the vector (in [1838:])
_GC = 0.45


@dataclass(frozen=True)
class BergmanDemo:
    """Where the demo inputs are and the spec values they need."""

    root: Path
    truth: Path
    base_promoter: str
    base_enhancer: str
    landing_pad: str
    min_partners: int


def _rc(seq: str) -> str:
    return seq[::-1].translate(str.maketrans("ACGTN", "TGCAN"))


def _random_seq(rng: np.random.Generator, n: int) -> str:
    return clean_random_sequence(rng, n, _GC)


def _fragment(rng: np.random.Generator, motif: str, count: int, lo: int, hi: int) -> tuple[str, list[int], list[str]]:
    """A 264-bp fragment with ``count`` motif copies starting in ``[lo, hi - 11]``, >= 2 bp apart."""
    w = len(motif)
    while True:
        seq = list(_random_seq(rng, FRAGMENT_LEN))
        slots = np.arange(lo, hi - w + 1, w + 2)
        starts = sorted(int(s) for s in rng.choice(slots, size=count, replace=False)) if count else []
        strands = ["+" if (i + int(rng.integers(2))) % 2 == 0 else "-" for i in range(count)]
        for s, st in zip(starts, strands, strict=True):
            seq[s : s + w] = list(motif if st == "+" else _rc(motif))
        text = "".join(seq)
        want = (count, 0) if motif == law.PROMOTER_MOTIF else (0, count)
        if count_planted_hits(text) == want:
            return text, [s + w // 2 for s in starts], strands


def _genbank(seq: str) -> str:
    t0, t1 = bx.TGFP_SLICE
    lines = [
        f"LOCUS       SEQBENCH_HSTARR_SCP1_DEMO {len(seq)} bp    DNA     circular SYN 01-MAR-2023",
        "DEFINITION  Synthetic stand-in for the hSTARR-seq_SCP1 vector; seqbench demo, random sequence,",
        "            no biology (the slices of experiments-spec §5.3 are what matters).",
        "FEATURES             Location/Qualifiers",
        f"     misc_feature    {t0 + 1}..{t1}",
        '                     /label="tGFP (demo)"',
    ]
    return format_genbank(lines, seq)


def landing_pad_for(genome_truth: dict[str, Any]) -> str:
    """A 30-bp pad at the midpoint of the widest gap between planted TSSs (>= MIN_TSS_DISTANCE from each)."""
    best = None
    for chrom in sorted(genome_truth["chromosomes"]):
        tss = sorted(g["tss_centre"] for g in genome_truth["genes"] if g["chromosome"] == chrom)
        for a, b in zip(tss, tss[1:], strict=False):
            if best is None or (b - a) // 2 > best[0]:
                best = ((b - a) // 2, chrom, (a + b) // 2)
    if best is None or best[0] < MIN_TSS_DISTANCE:
        raise ValueError(f"demo genome: no place >= {MIN_TSS_DISTANCE} bp from every TSS for the landing pad")
    _, chrom, mid = best
    return f"{chrom}:{mid - 15}-{mid + 15}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    return "\t".join(header) + "\n" + "".join("\t".join(str(v) for v in r) + "\n" for r in rows)


def generate(seed: int = SEED) -> tuple[dict[Path, str], dict[str, Any]]:
    """The files (relative path -> text) and the truth dict; nothing is written."""
    rng = np.random.default_rng(seed)
    plasmid = _random_seq(rng, PLASMID_LEN)
    for s in VECTOR_ENHANCER_STARTS:  # no draw from rng: every other file is as in format 1
        plasmid = plasmid[:s] + law.ENHANCER_MOTIF + plasmid[s + law.MOTIF_LENGTH :]
    assert count_planted_hits(plasmid) == (0, len(VECTOR_ENHANCER_STARTS))
    assert min(VECTOR_ENHANCER_STARTS) >= bx.RIGHT_START
    tgfp = plasmid[bx.TGFP_SLICE[0] : bx.TGFP_SLICE[1]]
    for piece in (bx.PROMOTER_5P, bx.PROMOTER_3P, bx.ENHANCER_5P, bx.ENHANCER_3P, bx.BARCODE_LEFT, bx.BARCODE_RIGHT):
        assert count_planted_hits(piece) == (0, 0), piece
    # nor across the full plasmid's junctions (either left flank; the right one after the enhancer adaptor
    # or, for a fragment alone, after tGFP)
    right = plasmid[bx.RIGHT_START : bx.RIGHT_START + 20]
    for junction in (plasmid[:17] + bx.PROMOTER_5P, plasmid[-20:] + bx.PROMOTER_5P, bx.ENHANCER_3P + right,
                     tgfp[-20:] + right):
        assert count_planted_hits(junction) == (0, 0), junction
    mid = FRAGMENT_LEN // 2
    g = law.decay(NOMINAL_DISTANCE)

    prom_counts = [PROMOTER_COUNTS[i % len(PROMOTER_COUNTS)] for i in range(N_PROMOTERS)]
    enh_counts = [ENHANCER_COUNTS[i % len(ENHANCER_COUNTS)] for i in range(N_ENHANCERS)]
    prom_counts = [prom_counts[i] for i in rng.permutation(N_PROMOTERS)]
    enh_counts = [enh_counts[i] for i in rng.permutation(N_ENHANCERS)]
    promoters, enhancers = [], []
    for i, k in enumerate(prom_counts):
        while True:
            lo, hi = mid - PROMOTER_REACH - 5, mid + PROMOTER_REACH + 6
            seq, centres, strands = _fragment(rng, law.PROMOTER_MOTIF, k, lo, hi)
            # no motif across the junctions of the promoter half of the minimal plasmid
            half = bx.PROMOTER_5P + seq + bx.PROMOTER_3P + tgfp + bx.BARCODE_LEFT
            if count_planted_hits(half) == (k, 0):
                break
        start = 1_000_000 + 10_000 * i
        promoters.append({"fragment": f"chrP:{start}-{start + FRAGMENT_LEN}-promoter", "seq": seq, "n_motifs": k,
                          "motif_offsets": centres, "strands": strands,
                          "log_strength": math.log(k + law.P0)})
    for i, m in enumerate(enh_counts):
        while True:
            seq, centres, strands = _fragment(rng, law.ENHANCER_MOTIF, m, 2, FRAGMENT_LEN - 2)
            half = bx.BARCODE_RIGHT + bx.ENHANCER_5P + seq + bx.ENHANCER_3P
            if count_planted_hits(half) == (0, m):
                break
        start = 2_000_000 + 10_000 * i
        enhancers.append({"fragment": f"chrE:{start}-{start + FRAGMENT_LEN}-enhancer", "seq": seq, "n_motifs": m,
                          "motif_offsets": centres, "strands": strands,
                          "log_strength": math.log(1.0 + law.B_K562 * m * g),
                          "log_strength_measured": math.log(1.0 + MEASURED_GAIN * m * g)})
    # baselines: a median element (2 motifs) of each kind, as the paper's median random-BG elements
    base_p = next(p["fragment"] for p in promoters if p["n_motifs"] == 2)
    base_e = next(e["fragment"] for e in enhancers if e["n_motifs"] == 2)

    rows = []
    for p in promoters:
        for e in enhancers:
            if rng.random() < MISSING_PAIR_FRACTION and p["fragment"] != base_p and e["fragment"] != base_e:
                continue
            rate = math.exp(p["log_strength"] + e["log_strength_measured"])
            for _ in range(int(rng.integers(1, 7))):
                dna = int(rng.integers(5, 151))
                lam = [RNA_SCALE * dna * rate * w / 4.0 for w in REPLICATE_WEIGHTS]
                reads = [int(x) for x in rng.poisson(lam)]
                rows.append([p["fragment"], e["fragment"], dna, *reads])
    files = {
        COUNTS_RELPATH: _table(list(bx.COUNT_COLUMNS), rows),
        PROMOTERS_RELPATH: _table(["fragment", "seq"], [[p["fragment"], p["seq"]] for p in promoters]),
        ENHANCERS_RELPATH: _table(["fragment", "seq"], [[e["fragment"], e["seq"]] for e in enhancers]),
        PROMOTER_CLASSES_RELPATH: _table(
            ["fragment", "promoter_exp_class", "randomBG"],
            [[p["fragment"], ("weak", "weak", "medium", "strong", "strong")[p["n_motifs"]], p["n_motifs"] == 0]
             for p in promoters],
        ),
        ENHANCER_CLASSES_RELPATH: _table(
            ["fragment", "enhancer_exp_class", "randomBG"],
            [[e["fragment"], ("weak", "weak", "medium", "medium", "strong", "strong")[e["n_motifs"]],
              e["n_motifs"] == 0] for e in enhancers],
        ),
        PLASMID_RELPATH: _genbank(plasmid),
    }
    truth = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "law": {"P0": law.P0, "B_K562": law.B_K562, "D0": law.D0, "A": law.A},
        "measured_gain": MEASURED_GAIN,
        "nominal_distance": NOMINAL_DISTANCE,
        "nominal_decay": g,
        "rna_scale": RNA_SCALE,
        "replicate_weights": list(REPLICATE_WEIGHTS),
        "base_promoter": base_p,
        "base_enhancer": base_e,
        "min_partners": MIN_PARTNERS,
        "vector_enhancer_offsets": [s + law.MOTIF_LENGTH // 2 for s in VECTOR_ENHANCER_STARTS],
        "conventions": "motif_offsets: 0-based motif centres (6th base) within the 264-bp fragment;"
                       " vector_enhancer_offsets: 0-based motif centres within the plasmid",
        "promoters": [{k: v for k, v in p.items() if k != "seq"} for p in promoters],
        "enhancers": [{k: v for k, v in e.items() if k != "seq"} for e in enhancers],
        "n_barcodes": len(rows),
    }
    return files, truth


def ensure_bergman_inputs(data_root: Path) -> BergmanDemo:
    """Write the demo's Bergman inputs under ``data_root`` (the demo root) once; return where they are.

    ``data_root`` must hold the demo genome's ``demo_truth.json`` (for the landing pad).  A complete
    set (truth file of this ``FORMAT_VERSION`` and every file present) is left alone; otherwise every
    file is regenerated (same bytes for the same version) and the truth file is written last.
    """
    root = Path(data_root)
    genome_truth = json.loads((root / "demo_truth.json").read_text())
    pad = landing_pad_for(genome_truth)
    truth_path = root / TRUTH_RELPATH
    truth: dict[str, Any] | None = None
    if truth_path.is_file():
        try:
            truth = json.loads(truth_path.read_text())
        except ValueError:
            truth = None
    rels = (COUNTS_RELPATH, PROMOTERS_RELPATH, ENHANCERS_RELPATH, PROMOTER_CLASSES_RELPATH,
            ENHANCER_CLASSES_RELPATH, PLASMID_RELPATH)
    complete = (
        isinstance(truth, dict)
        and truth.get("format_version") == FORMAT_VERSION
        and truth.get("landing_pad") == pad
        and all((root / r).is_file() for r in rels)
    )
    if not complete:
        files, truth = generate()
        truth["landing_pad"] = pad
        for rel, text in files.items():
            write_if_changed(root / rel, text)
        write_if_changed(truth_path, json.dumps(truth, indent=1) + "\n")
    assert truth is not None
    return BergmanDemo(
        root=root,
        truth=truth_path,
        base_promoter=truth["base_promoter"],
        base_enhancer=truth["base_enhancer"],
        landing_pad=pad,
        min_partners=int(truth["min_partners"]),
    )


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: synthetic Bergman inputs next to the demo genome, and the planted model."""

    demo = ensure_bergman_inputs(Path(data_root))
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "model": {"kind": "planted"},
        "tracks": {
            "cage": {"assay": "CAGE", "cell_type": "K562"},
            "dnase": {"assay": "DNASE", "cell_type": "K562"},
        },
        "inputs": {
            "insert_types": ["min_plasmid", "full_plasmid", "aavs1"],
            "promoter_only": True,
            "base_promoter": demo.base_promoter,
            "base_enhancer": demo.base_enhancer,
            "landing_pad": demo.landing_pad,
            "min_partners": demo.min_partners,
        },
    }
