"""The embedded demo of the endogenous-expression experiment (spec §1): a synthetic archive with a known law.

:func:`ensure_expression_inputs` writes, under a root directory, the files of the paper's data archive
that the tissue-expression experiment reads (experiments-spec §1.1), in the same layout::

    root/Data/TSS_sim/genome.fa (+ .fai)          its own synthetic genome (not the shared demo genome)
    root/Data/TSS_sim/genes.gtf                   GENCODE-style GTF: genes, transcripts, exons (+ a few CDS)
    root/Data/TSS_sim/bigly_tss_from_biomart.txt  biomart export, 13 columns, 1-based TSS
    root/Data/GTEX/GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_median_tpm.gct   GCT 1.2, median TPM
    root/Data/GTEX/human_regions.bed              train / valid / test regions (no header)
    root/Data/GTEX/genomic_sequence_plus_features_hl_all_tissues.csv   exon-intron ratio per transcript
    root/Data/GTEX/gene2transcript.txt            Gene stable ID, Transcript stable ID
    root/Data/Kaessmann/Human.RPKM.txt            Cardoso-Moreira-style RPKM (space-separated)
    root/Results/TSS_Xpresso/xpresso_preds.tsv    gene_id, Prediction
    root/Data/TSS_sim/expression_truth.json       everything planted (written last)

The genome
----------
Chromosomes ``chr1, chr2, chr3, chrX`` (the genes of ``n_genes`` less four, TSSs 25-40 kb apart, ~2 Mb
each for the default 240 genes), ``chrY`` (2 genes) and a 16,569-bp ``chrM`` (2 genes, no enhancer): the
experiment drops the chrY and chrM genes by the GTF, so those filters have something to drop.  The
background is random A/C/G/T; neither planted motif (:data:`~seqbench.models.planted.law.PROMOTER_MOTIF`,
:data:`~seqbench.models.planted.law.ENHANCER_MOTIF`) nor its reverse complement occurs anywhere but at
the planted copies (verified after generation).

Each gene has a promoter of 1-2 promoter-motif copies at offsets ``{-128, 0, 128}`` bp from its TSS
(so genes differ in expression), and 0-2 enhancers (half the genes have none): clusters of enhancer-motif
copies 128 bp apart, the nearest at a distance ``d`` drawn log-uniformly in 384 bp - 70 kb, upstream or
downstream, so that the paper's windows (1,001 ... 131,073 bp) cut them; an enhancer nearer than 2 kb has
2-6 copies, a farther one 1-2.  Genes are on both strands;
``n_genes // 30`` of them are lncRNAs (in the GTF, the GCT and the RPKM table, but typed ``lncRNA`` in
biomart, so that its filter drops them).

Coordinates, phases and the exact features
-------------------------------------------
0-based, half-open genome coordinates.  ``tss0`` is the TSS base (biomart's 1-based ``tss`` minus 1);
a + strand gene spans ``[tss0, tss0 + len)``, a - strand gene ``[tss0 + 1 - len, tss0 + 1)``.  A motif
copy is recorded by its centre ``q`` (its 6th base; it occupies ``[q - 5, q + 6)``) and its ``offset
q - tss0`` from a TSS (genome orientation).  **Every TSS and every motif centre is ``GRID_PHASE``
(mod 128)**, so every offset is a multiple of 128.  For the paper's six ensemble members (strand +/-
x shift -43, 0, +43: the landmark at input position 196,608 - s or its mirror, docs/geometry.md) the
distance in bins between a motif's bin and the landmark's bin is then ``|offset| / 128`` for every
member, whether the construct is built on the + strand (the paper) or on the gene's strand (seqbench
puts a - strand construct's forward window one base to the right); the truth is the same for both
(checked at generation), yet it is computed member by member, not from that argument.

The feature of a gene for CAGE track ``c`` (K562, index 0; HepG2, index 2) and window ``w`` is
:func:`planted_features`: the mean over the six members of the 3-bin landmark sum (output bins
``b - 1 .. b + 1`` around the member's landmark bin ``b``) of the planted law, counting the motif copies
whose 11 bp lie inside the member's input and inside the kept window ``[tss0 - w // 2, tss0 - w // 2 +
w)`` (:func:`seqbench.sequence.constructs.keep_window`; ``w = 0`` is the whole input, the paper's
``ingenome``).  For the paper's odd windows a copy at offset ``x`` is kept exactly when
``|x| <= (w - 1) / 2 - 5``: an enhancer at distance ``d`` is lost once ``w < 2 d + 11``.  Each landmark
sum is :func:`seqbench.demo.synthetic.planted_cage_landmark_sum` (exactly rounded); the model gives the
same up to float32 rounding.

The expression law
------------------
With ``x_K = log10(F_K562 + 1)`` and ``x_H = log10(F_HepG2 + 1)`` (whole input), gene ``g`` in GTEx tissue
``t`` has ``log10(TPM + 1) = max(0, y)``::

    y = a_t + w_t,K562 x_K + w_t,HepG2 x_H + sigma_t (RHO u_gt + sqrt(1 - RHO^2) z_gt)

``u`` and ``z`` standard normal (seeded); ``u`` is also what the exon-intron ratio of the gene's
transcripts in that tissue carries (``EI_BASE + EI_SCALE u + EI_JITTER v``, ``v`` standard normal per
transcript), so adding the ratio to the regression explains part of the noise.  The weight vectors point
in different directions per tissue (angles ``TISSUES``), so per-tissue fits differ.  ``sigma_t`` is set so
that the *implied* test correlation ``r = sqrt(Var(s) / (Var(s) + sigma^2))`` (``s`` the noise-free part,
population variance over the test genes of the analysis set) is the tissue's target (0.72-0.88; stored).
Cardoso-Moreira samples ``Organ.stage.rep`` follow the same law with weights = organ effect + stage
effect and RPKM in place of TPM (targets r fall with developmental stage, as the paper finds).  One
protein-coding gene is silent (0 everywhere: the all-zero filters drop it); the GCT has one ``_PAR_Y``
row (copy of a chrX gene, expressed: only the PAR_Y filter drops it).

Conditioning: ``x_K - x_H`` grows with enhancer activity only (enhancers change K562 five times more than
HepG2) while promoters move both together, and both grow with enhancers, so the two features are
strongly but not perfectly correlated.  For the default archive they correlate at 0.90 over the analysis
genes, a condition number of 19 for their standardised 2x2 covariance (both stored in the truth,
``identifiability``; a wider spread of promoter copies, or more and stronger enhancers, makes them more
collinear: the numbers of copies above are chosen for this).  The direction is identifiable: ordinary
least squares on the ~144 training genes finds each tissue's weight vector to within about 15 degrees
(20 for other seeds), its two weights to within about +-0.4.

Xpresso predictions are the planted Xpresso twin's log10 output ``y`` (:func:`xpresso_prediction`: the
scalar law on 7,000 bp upstream + 3,500 bp downstream of the TSS, on the gene's strand).

Determinism
-----------
All randomness comes from the raw 64-bit output of ``numpy.random.PCG64`` seeded through
``numpy.random.SeedSequence`` (``synthetic._Stream``), turned into numbers by exact integer and float
arithmetic and Python's ``math`` (normals by Box-Muller); all floats written are Python ``repr`` of the
computed values: the same arguments give the same bytes on every machine with a correctly rounding libm.
Every file is written atomically and only when its bytes change (:func:`seqbench.files.write_if_changed`);
the truth, written last, records the sha256 of every other file, and a call that finds them all
unchanged returns without generating anything.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqbench.demo import synthetic as syn
from seqbench.files import write_if_changed
from seqbench.models.base import XPRESSO_GEOMETRY
from seqbench.models.planted import law

FORMAT_VERSION = 1
DEFAULT_SEED = 20230556
DEFAULT_N_GENES = 240

#: Relative paths inside the root, by the spec's input names.
RELPATHS: dict[str, Path] = {
    "fasta": Path("Data/TSS_sim/genome.fa"),
    "gtf": Path("Data/TSS_sim/genes.gtf"),
    "biomart": Path("Data/TSS_sim/bigly_tss_from_biomart.txt"),
    "gtex": Path("Data/GTEX/GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_median_tpm.gct"),
    "regions": Path("Data/GTEX/human_regions.bed"),
    "exon_intron": Path("Data/GTEX/genomic_sequence_plus_features_hl_all_tissues.csv"),
    "gene2transcript": Path("Data/GTEX/gene2transcript.txt"),
    "kaessmann": Path("Data/Kaessmann/Human.RPKM.txt"),
    "xpresso": Path("Results/TSS_Xpresso/xpresso_preds.tsv"),
}
TRUTH_RELPATH = Path("Data/TSS_sim/expression_truth.json")

# --- geometry ------------------------------------------------------------------------------------
L = law.SEQUENCE_LENGTH
BIN = law.BIN_SIZE
GRID_PHASE = 64  # every TSS and motif centre is GRID_PHASE (mod 128)
SHIFTS = (-43, 0, 43)
STRANDS = ("+", "-")
#: the paper's windows (spec §1.2); 0 = the whole input (the paper's "ingenome")
WINDOWS = (0, 1001, 3001, 12501, 34501, 39321, 49153, 65537, 98305, 131073)
#: CAGE tracks of the planted model: identifier -> (index, enhancer gain)
CAGE_TRACKS = {"PLANTED_CAGE_K562": (0, law.B_K562), "PLANTED_CAGE_HEPG2": (2, law.B_HEPG2)}
#: Xpresso's twin: 10,500 bp, the TSS at 7,000 on the gene's strand
XPRESSO_LENGTH, XPRESSO_ANCHOR = XPRESSO_GEOMETRY.sequence_length, XPRESSO_GEOMETRY.anchor

MAIN_CHROMOSOMES = ("chr1", "chr2", "chr3", "chrX")
CHRY_GENES, CHRM_GENES, CHRM_LENGTH = 2, 2, 16_569
TSS_GAP = (25_000, 40_000)
CHROM_END_PAD = (80_000, 100_000)  # chromosome start to first TSS, last TSS to end
PROMOTER_OFFSETS = (-128, 0, 128)
PROMOTER_COUNT_WEIGHTS = (0, 1, 1, 0)  # 0..3 copies: 1 or 2 (more spread makes the two features more collinear)
ENHANCER_COUNT_WEIGHTS = (5, 4, 1)  # 0..2 enhancers
ENHANCER_MOTIFS = (1, 2)  # copies per enhancer, inclusive
ENHANCER_MOTIFS_NEAR = (2, 6)  # copies per enhancer nearer than NEAR_ENHANCER
NEAR_ENHANCER = 2_000
ENHANCER_DISTANCE = (384, 70_000)
ENHANCER_TSS_KEEPOUT = 1_024  # enhancer copies stay this far from any other gene's TSS

# --- the expression law --------------------------------------------------------------------------
#: GTEx tissue -> (angle of (w_K562, w_HepG2) in degrees, length of the weight vector, intercept, target r)
TISSUES: dict[str, tuple[float, float, float, float]] = {
    "Adipose - Subcutaneous": (50.0, 1.4, 1.1, 0.80),
    "Brain - Cortex": (30.0, 1.2, 0.9, 0.74),
    "Cells - EBV-transformed lymphocytes": (-15.0, 1.7, 1.0, 0.86),
    "Heart - Left Ventricle": (70.0, 1.3, 0.8, 0.76),
    "Liver": (100.0, 1.6, 1.2, 0.84),
    "Lung": (45.0, 1.5, 1.1, 0.82),
    "Muscle - Skeletal": (80.0, 1.1, 0.7, 0.72),
    "Whole Blood": (5.0, 1.8, 1.0, 0.88),
}
#: Cardoso-Moreira organs -> (angle, length, intercept); stages -> (dw_K562, dw_HepG2, d intercept, target r, reps)
ORGANS: dict[str, tuple[float, float, float]] = {
    "Brain": (35.0, 1.3, 1.0),
    "Heart": (65.0, 1.2, 0.9),
    "Kidney": (55.0, 1.4, 1.0),
    "Liver": (95.0, 1.5, 1.1),
    "Testis": (-10.0, 1.6, 1.2),
}
STAGES: dict[str, tuple[float, float, float, float, int]] = {
    "5wpc": (0.0, 0.0, 0.0, 0.88, 2),
    "10wpc": (0.1, -0.05, 0.05, 0.83, 1),
    "newborn": (-0.05, 0.1, 0.1, 0.78, 1),
    "youngAdult": (0.05, 0.05, 0.15, 0.72, 2),
}
RHO = 0.5  # share of the noise sd carried by the exon-intron latent u
EI_BASE, EI_SCALE, EI_JITTER = 2.0, 0.4, 0.1
EI_NAN_PER_MILLE = 20  # cells of the exon-intron table left empty
EXTRA_CSV_COLUMNS = ("chromosome", "log_3_utr_length")

# --- junk for the filters ------------------------------------------------------------------------
SCAFFOLDS = ("KI270728.1", "GL000194.1")
REGION_LENGTH = (60_000, 160_000)
REGION_SET_WEIGHTS = (("train", 55), ("valid", 10), ("test", 35))

_STREAM_KEY = 1203  # this generator's streams: (seed, _STREAM_KEY, purpose, ...)


# =================================================================================================
# Helpers
# =================================================================================================


def gtex_column(tissue: str) -> str:
    """The ``_``-style name of a GTEx tissue (``"Cells - EBV-transformed lymphocytes"`` ->
    ``"Cells_EBV-transformed_lymphocytes"``): `` - `` and spaces become ``_``, parentheses go."""
    return tissue.replace(" - ", "_").replace("(", "").replace(")", "").replace(" ", "_")


def window_keeps(offset: int, window: int) -> bool:
    """Whether a motif copy centred ``offset`` bp from the landmark lies inside window ``window`` (bp,
    0 = no window): its 11 bp inside ``[-(w // 2), w - w // 2)``, the rule of ``keep_window``."""
    if window == 0:
        return True
    c = law.MOTIF_LENGTH // 2
    return -(window // 2) <= offset - c and offset - c + law.MOTIF_LENGTH <= window - window // 2


def _normals(stream: syn._Stream, n: int) -> list[float]:
    """``n`` standard normals by Box-Muller on the stream's exact uniforms (Python ``math``)."""
    out = []
    for _ in range(n):
        u1, u2 = stream.uniforms(2)
        out.append(math.sqrt(-2.0 * math.log(1.0 - float(u1))) * math.cos(2.0 * math.pi * float(u2)))
    return out


def _weighted(stream: syn._Stream, weights: tuple[int, ...]) -> int:
    """An index drawn with integer ``weights``."""
    k = stream.integer(0, sum(weights) - 1)
    for i, w in enumerate(weights):
        if k < w:
            return i
        k -= w
    raise AssertionError  # pragma: no cover


def _on_grid(x: int) -> int:
    """The position ``= GRID_PHASE (mod 128)`` nearest below ``x``."""
    return (x - GRID_PHASE) // BIN * BIN + GRID_PHASE


def _var(xs: list[float]) -> float:
    m = math.fsum(xs) / len(xs)
    return math.fsum((x - m) ** 2 for x in xs) / len(xs)


def _corr(xs: list[float], ys: list[float]) -> float:
    mx, my = math.fsum(xs) / len(xs), math.fsum(ys) / len(ys)
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return sxy / math.sqrt(math.fsum((x - mx) ** 2 for x in xs) * math.fsum((y - my) ** 2 for y in ys))


# =================================================================================================
# The closed form of the features
# =================================================================================================


def member_windows(tss0: int, construct_strand: str = "+") -> list[tuple[str, int, int, bool]]:
    """The six members of a gene's construct: ``(strand, shift, W, reversed)``, in seqbench's member
    order (strand-major, shifts -43, 0, 43), ``W`` the genome start of the member's forward window
    ``[W, W + L)`` and ``reversed`` whether the model reads its reverse complement.

    The construct is the reference window around the landmark ``tss0`` without a ``window_start``
    (:func:`seqbench.sequence.constructs.materialize`): on ``+`` the landmark sits at input position
    ``L // 2`` at shift 0, on ``-`` at ``L - 1 - L // 2`` of the forward window; a shift ``s`` moves the
    window by ``+s`` (docs/geometry.md); member ``-`` of a ``+`` construct (and member ``+`` of a ``-``
    construct) reads the reverse complement."""
    w0 = tss0 - (L - 1 - L // 2 if construct_strand == "-" else L // 2)
    return [
        (strand, shift, w0 + shift, (strand == "-") != (construct_strand == "-"))
        for strand in STRANDS
        for shift in SHIFTS
    ]


def _member_bins(
    motifs: list[tuple[int, str]], tss0: int, window: int, w_start: int, rev: bool
) -> tuple[int, list[int], list[int]]:
    """Landmark output bin and the input bins of the promoter / enhancer copies a member counts."""
    c = law.MOTIF_LENGTH // 2

    def pos(g: int) -> int:
        x = g - w_start
        return L - 1 - x if rev else x

    b = (pos(tss0) - law.OUTPUT_OFFSET) // BIN
    prom: list[int] = []
    enh: list[int] = []
    for q, kind in motifs:
        if q - c < w_start or q - c + law.MOTIF_LENGTH > w_start + L:
            continue  # not (wholly) inside the member's input
        if not window_keeps(q - tss0, window):
            continue
        (prom if kind == "P" else enh).append(pos(q) // BIN)
    return b, prom, enh


def planted_features(
    motifs: list[tuple[int, str]],
    tss0: int,
    window: int = 0,
    construct_strand: str = "+",
    cache: dict | None = None,
) -> dict[str, float]:
    """The ensemble-mean CAGE landmark sums ``{track identifier: F}`` of the construct around ``tss0``.

    ``motifs``: ``(centre, kind)`` of the planted copies on the gene's chromosome (``kind`` ``"P"`` or
    ``"E"``); ``window``: bp kept around the TSS (0: the whole input).  Member by member
    (:func:`member_windows`), the copies wholly inside the member's input and the window are binned,
    and :func:`seqbench.demo.synthetic.planted_cage_landmark_sum` gives the 3-bin landmark sum of each
    track; ``F`` is the exactly rounded mean over the six members.  ``cache`` memoises landmark sums by
    the copies' bins relative to the landmark bin."""
    cache = {} if cache is None else cache
    sums: dict[str, list[float]] = {name: [] for name in CAGE_TRACKS}
    for _strand, _shift, w_start, rev in member_windows(tss0, construct_strand):
        b, prom, enh = _member_bins(motifs, tss0, window, w_start, rev)
        centre = b + law.OUTPUT_BIN_OFFSET
        key = (tuple(sorted(i - centre for i in prom)), tuple(sorted(i - centre for i in enh)))
        if key not in cache:
            cache[key] = {
                name: syn.planted_cage_landmark_sum(prom, enh, b, gain=gain) for name, (_i, gain) in CAGE_TRACKS.items()
            }
        for name in CAGE_TRACKS:
            sums[name].append(cache[key][name])
    return {name: math.fsum(v) / len(v) for name, v in sums.items()}


def xpresso_prediction(motifs: list[tuple[int, str]], tss0: int, strand: str) -> float:
    """The planted Xpresso twin's log10 output for a gene (the scalar law of
    :func:`seqbench.models.planted.reference.scalar_output`): 7,000 bp upstream and 3,500 bp downstream
    of the TSS on the gene's strand, the TSS at input position 7,000; copies binned in 128-bp bins
    counted from the TSS (``k = floor(offset' / 128)``, ``offset'`` the offset on the gene's strand)."""
    c = law.MOTIF_LENGTH // 2
    prom = 0
    enh: list[float] = []
    for q, kind in motifs:
        off = (q - tss0) if strand == "+" else (tss0 - q)
        x = XPRESSO_ANCHOR + off  # input position of the centre
        if x - c < 0 or x - c + law.MOTIF_LENGTH > XPRESSO_LENGTH:
            continue
        k = off // BIN
        if kind == "P":
            prom += 1 if abs(k) <= 1 else 0
        else:
            enh.append(law.decay(abs(k) * BIN))
    return math.log10(law.P0) + law.XP_PROMOTER * prom + law.XP_ENHANCER * math.fsum(enh)


# =================================================================================================
# The plan: genes, motifs, transcripts
# =================================================================================================


def _plan(seed: int, n_genes: int) -> dict[str, Any]:
    stream = syn._Stream(seed, _STREAM_KEY, 0)
    n_main = n_genes - CHRY_GENES - CHRM_GENES
    per = [n_main // len(MAIN_CHROMOSOMES) + (1 if i < n_main % len(MAIN_CHROMOSOMES) else 0) for i in range(4)]
    layout = [*zip(MAIN_CHROMOSOMES, per, strict=True), ("chrY", CHRY_GENES), ("chrM", CHRM_GENES)]

    chromosomes: dict[str, int] = {}
    genes: list[dict[str, Any]] = []
    for chrom, n_here in layout:
        if chrom == "chrM":
            tss_list = [_on_grid(3_000 + 6_000 * i + stream.integer(0, 2_000)) for i in range(n_here)]
            chromosomes[chrom] = CHRM_LENGTH
        else:
            pos = _on_grid(stream.integer(*CHROM_END_PAD))
            tss_list = []
            for _ in range(n_here):
                tss_list.append(pos)
                pos = _on_grid(pos + stream.integer(*TSS_GAP))
            chromosomes[chrom] = tss_list[-1] + stream.integer(*CHROM_END_PAD)
        for tss0 in tss_list:
            genes.append({"chrom": chrom, "tss0": tss0, "strand": "+" if stream.integer(0, 1) else "-"})

    # ids, names, types, versions
    n_lnc = max(1, n_genes // 30)
    autosomal = [i for i, g in enumerate(genes) if g["chrom"] in ("chr1", "chr2", "chr3")]
    lnc = set(stream.shuffled(autosomal)[:n_lnc])
    for i, g in enumerate(genes):
        g["gene_id"] = f"ENSG9{i + 1:010d}"
        g["version"] = stream.integer(1, 15)
        g["gene_type"] = "lncRNA" if i in lnc else "protein_coding"
        g["gene_name"] = f"LINC-PLT{i + 1}" if i in lnc else f"PLT{i + 1}"

    # promoters
    occupied: dict[str, set[int]] = {c: set() for c in chromosomes}
    for g in genes:
        n = _weighted(stream, PROMOTER_COUNT_WEIGHTS)
        offs = sorted(stream.shuffled(PROMOTER_OFFSETS)[:n])
        g["promoter_offsets"] = offs
        g["promoter_motifs"] = []
        for off in offs:
            q = g["tss0"] + off
            occupied[g["chrom"]].add(q)
            g["promoter_motifs"].append({"centre": q, "orientation": "+" if stream.integer(0, 1) else "-"})

    # enhancers
    tss_by_chrom: dict[str, list[int]] = {c: [] for c in chromosomes}
    for g in genes:
        tss_by_chrom[g["chrom"]].append(g["tss0"])
    lo, hi = ENHANCER_DISTANCE
    for g in genes:
        g["enhancers"] = []
        if g["chrom"] == "chrM":
            continue
        for _e in range(_weighted(stream, ENHANCER_COUNT_WEIGHTS)):
            for _attempt in range(200):
                u = stream.uniform()
                d = int(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))) // BIN * BIN
                d = max(lo, d)
                n_motifs = stream.integer(*(ENHANCER_MOTIFS_NEAR if d < NEAR_ENHANCER else ENHANCER_MOTIFS))
                side = 1 if stream.integer(0, 1) else -1
                centres = [g["tss0"] + side * (d + BIN * j) for j in range(n_motifs)]
                length = chromosomes[g["chrom"]]
                ok = all(
                    law.MOTIF_LENGTH <= q < length - law.MOTIF_LENGTH
                    and q not in occupied[g["chrom"]]
                    and all(abs(q - t) >= ENHANCER_TSS_KEEPOUT for t in tss_by_chrom[g["chrom"]] if t != g["tss0"])
                    for q in centres
                )
                if ok:
                    break
            else:  # pragma: no cover - there is room
                raise RuntimeError(f"cannot place an enhancer for {g['gene_id']}")
            occupied[g["chrom"]].update(centres)
            g["enhancers"].append(
                {
                    "distance": d,
                    "side": "downstream" if (side > 0) == (g["strand"] == "+") else "upstream",
                    "motifs": [
                        {"centre": q, "orientation": "+" if stream.integer(0, 1) else "-"} for q in centres
                    ],
                }
            )

    # transcripts (relative to the TSS, along the gene's strand), exons, gene span
    tx_counter = 0
    for g in genes:
        small = g["chrom"] == "chrM"
        gene_len = stream.integer(600, 1_500) if small else stream.integer(3_000, 12_000)
        n_tx = stream.integer(1, 3)
        txs = []
        for t in range(n_tx):
            tx_len = gene_len if t == 0 else stream.integer(gene_len // 3, gene_len)
            n_ex = stream.integer(1, 2) if small else stream.integer(2, 7)
            # exon starts: 0, then sorted distinct cut points; each exon 50..min(400, room) bp
            cuts = sorted(set(stream.integer(1, max(1, tx_len // 100 - 1)) * 100 for _ in range(n_ex - 1)))
            starts = [0, *cuts]
            exons = []
            for k, a in enumerate(starts):
                nxt = starts[k + 1] if k + 1 < len(starts) else tx_len
                if k + 1 == len(starts):
                    b_ = tx_len
                    a = max(a, tx_len - stream.integer(50, 400)) if k else a
                else:
                    b_ = a + min(stream.integer(50, 400), nxt - a - 1)
                exons.append((a, b_))
            tx_counter += 1
            txs.append(
                {
                    "transcript_id": f"ENST9{tx_counter:010d}",
                    "version": stream.integer(1, 9),
                    "canonical": t == 0,
                    "rel_exons": exons,
                    "rel_end": tx_len,
                }
            )
        g["transcripts"] = txs
        t0 = g["tss0"]
        for tx in txs:
            if g["strand"] == "+":
                tx["start"], tx["end"] = t0, t0 + tx["rel_end"]
                tx["exons"] = [[t0 + a, t0 + b_] for a, b_ in tx["rel_exons"]]
            else:
                tx["start"], tx["end"] = t0 + 1 - tx["rel_end"], t0 + 1
                tx["exons"] = [[t0 + 1 - b_, t0 + 1 - a] for a, b_ in tx["rel_exons"]]
        g["start"], g["end"] = txs[0]["start"], txs[0]["end"]
        exonic = sorted(sum(b_ - a for a, b_ in tx["exons"]) for tx in txs)
        m = len(exonic)
        g["len"] = float(exonic[m // 2]) if m % 2 else (exonic[m // 2 - 1] + exonic[m // 2]) / 2.0
    return {"chromosomes": chromosomes, "genes": genes}


def _motif_table(plan: dict[str, Any]) -> dict[str, list[tuple[int, str, str, str]]]:
    """Per chromosome, ``(centre, kind, orientation, gene_id)`` of every planted copy, sorted."""
    out: dict[str, list[tuple[int, str, str, str]]] = {c: [] for c in plan["chromosomes"]}
    for g in plan["genes"]:
        for m in g["promoter_motifs"]:
            out[g["chrom"]].append((m["centre"], "P", m["orientation"], g["gene_id"]))
        for e in g["enhancers"]:
            for m in e["motifs"]:
                out[g["chrom"]].append((m["centre"], "E", m["orientation"], g["gene_id"]))
    for v in out.values():
        v.sort()
    return out


# =================================================================================================
# Genome
# =================================================================================================


def _chromosome_codes(seed: int, index: int, length: int, copies: list[tuple[int, str, str, str]]) -> np.ndarray:
    stream = syn._Stream(seed, _STREAM_KEY, 1, index)
    u = stream.uniforms(length)
    codes = np.minimum((u * 4.0).astype(np.int64), 3).astype(np.uint8)
    c = law.MOTIF_LENGTH // 2
    protected = np.zeros(length, dtype=bool)
    planted = set()
    for q, kind, orientation, _gene in copies:
        motif = law.PROMOTER_MOTIF if kind == "P" else law.ENHANCER_MOTIF
        seq = syn.oriented_motif(motif, orientation)
        codes[q - c : q - c + law.MOTIF_LENGTH] = ["ACGT".index(ch) for ch in seq]
        protected[q - c : q - c + law.MOTIF_LENGTH] = True
        planted.add((q - c, motif, orientation))
    fixer = syn._Stream(seed, _STREAM_KEY, 2, index)
    for _round in range(1000):
        stray = sorted(syn._scan_all(codes) - planted)
        if not stray:
            break
        for start, _motif, _orientation in stray:
            free = [p for p in range(start, start + law.MOTIF_LENGTH) if not protected[p]]
            p = min(free, key=lambda x: (abs(x - (start + c)), x))
            codes[p] = (int(codes[p]) + fixer.integer(1, 3)) % 4
    else:  # pragma: no cover
        raise RuntimeError("could not remove stray motif occurrences")
    if syn._scan_all(codes) != planted:  # pragma: no cover
        raise AssertionError("motif occurrences differ from the planted copies")
    return codes


def _fasta_bytes(records: list[tuple[str, np.ndarray]]) -> tuple[bytes, bytes]:
    """FASTA (60 bp a line) and its samtools ``.fai`` index."""
    width = syn.FASTA_LINE_WIDTH
    parts: list[bytes] = []
    fai: list[str] = []
    offset = 0
    for name, codes in records:
        header = f">{name}\n".encode("ascii")
        parts.append(header)
        offset += len(header)
        fai.append(f"{name}\t{codes.size}\t{offset}\t{width}\t{width + 1}\n")
        seq = syn._BASES[codes]
        full = seq.size // width
        body = b""
        if full:
            lines = np.empty((full, width + 1), dtype=np.uint8)
            lines[:, :width] = seq[: full * width].reshape(full, width)
            lines[:, width] = ord("\n")
            body = lines.tobytes()
        rest = seq[full * width :]
        if rest.size:
            body += rest.tobytes() + b"\n"
        parts.append(body)
        offset += len(body)
    return b"".join(parts), "".join(fai).encode("ascii")


# =================================================================================================
# Tables
# =================================================================================================


def _split(genes: list[dict[str, Any]], regions: list[tuple[str, int, int, str]]) -> list[str | None]:
    """The authors' split by a plain loop (strict inequalities; spec §1.4 item 4)."""
    out: list[str | None] = []
    for g in genes:
        test = [(s, e) for c, s, e, k in regions if k == "test" and c == g["chrom"]]
        inside = any(s < g["start"] and e > g["end"] for s, e in test)
        cut = any(s < g["start"] < e or s < g["end"] < e for s, e in test)
        out.append("test" if inside else None if cut else "train")
    return out


def _regions(seed: int, plan: dict[str, Any]) -> tuple[list[tuple[str, int, int, str]], dict[str, Any]]:
    """Regions covering every chromosome but chrM, with two pinned boundaries at gene starts."""
    stream = syn._Stream(seed, _STREAM_KEY, 3)
    names = [k for k, _w in REGION_SET_WEIGHTS]
    weights = tuple(w for _k, w in REGION_SET_WEIGHTS)
    by_chrom: dict[str, list[dict[str, Any]]] = {}
    for g in plan["genes"]:
        by_chrom.setdefault(g["chrom"], []).append(g)
    # pinned: a test region ending exactly at a gene's start (gene stays train), and a test region
    # starting exactly at a gene's start (its end is inside: the gene is dropped)
    pin_train = by_chrom["chr1"][len(by_chrom["chr1"]) // 2]
    pin_drop = by_chrom["chr2"][len(by_chrom["chr2"]) // 2]
    pins = {("chr1", pin_train["start"]): ("test", "train"), ("chr2", pin_drop["start"]): ("train", "test")}
    spans: list[tuple[str, int, int]] = []
    for chrom, length in plan["chromosomes"].items():
        if chrom == "chrM":
            continue
        cuts = {0, length}
        x = 0
        while True:
            x += stream.integer(*REGION_LENGTH)
            if x >= length - REGION_LENGTH[0] // 2:
                break
            cuts.add(x)
        pinned = [p for (c, p) in pins if c == chrom]
        for p in pinned:  # no random cut within 20 kb of a pin
            cuts = {c for c in cuts if c in (0, length) or abs(c - p) > 20_000} | {p}
        edges = sorted(cuts)
        spans += [(chrom, edges[k], edges[k + 1]) for k in range(len(edges) - 1)]
    # labels in the exact proportions of REGION_SET_WEIGHTS, shuffled; then the pins' neighbours
    n = len(spans)
    counts = [round(n * w / sum(weights)) for w in weights]
    counts[0] = n - sum(counts[1:])
    labels = stream.shuffled([name for name, c in zip(names, counts, strict=True) for _ in range(c)])
    for k, (chrom, start, _end) in enumerate(spans):
        if (chrom, start) in pins:
            labels[k - 1], labels[k] = pins[(chrom, start)]
    regions = [(c, a, b, lab) for (c, a, b), lab in zip(spans, labels, strict=True)]
    pinned_genes = {
        "test_region_ends_at_gene_start": pin_train["gene_id"],
        "test_region_starts_at_gene_start": pin_drop["gene_id"],
    }
    return regions, pinned_genes


def _tsv(header: list[str] | None, rows: list[list[Any]], sep: str = "\t") -> bytes:
    lines = [sep.join(header)] if header is not None else []
    lines += [sep.join(syn._format_cell(v) for v in r) for r in rows]
    return ("\n".join(lines) + "\n").encode("ascii")


def _gtf_bytes(plan: dict[str, Any]) -> bytes:
    out = [
        "##description: seqbench synthetic expression demo (GENCODE-style, planted-v1)",
        "##provider: seqbench",
        "##format: gtf",
    ]
    for g in plan["genes"]:
        gid = f"{g['gene_id']}.{g['version']}"
        common = f'gene_id "{gid}"; gene_type "{g["gene_type"]}"; gene_name "{g["gene_name"]}";'
        row = f"{g['chrom']}\tSEQBENCH\t{{}}\t{{}}\t{{}}\t.\t{g['strand']}\t{{}}\t{{}}"
        out.append(row.format("gene", g["start"] + 1, g["end"], ".", f"{common} level 2;"))
        for tx in g["transcripts"]:
            tid = f"{tx['transcript_id']}.{tx['version']}"
            tags = ' tag "basic"; tag "Ensembl_canonical";' if tx["canonical"] else ' tag "basic";'
            tcommon = (
                f'gene_id "{gid}"; transcript_id "{tid}"; gene_type "{g["gene_type"]}"; gene_name "{g["gene_name"]}";'
                f' transcript_type "{g["gene_type"]}"; level 2;'
            )
            out.append(row.format("transcript", tx["start"] + 1, tx["end"], ".", tcommon + tags))
            for k, (a, b_) in enumerate(tx["exons"], start=1):  # in transcription order, as GENCODE
                attrs = f'{tcommon} exon_number {k}; exon_id "ENSE9{tx["transcript_id"][5:]}{k:02d}.1";'
                out.append(row.format("exon", a + 1, b_, ".", attrs))
                if tx["canonical"] and g["gene_type"] == "protein_coding" and k == 1 and b_ - a > 20:
                    cds = (a + 10, b_) if g["strand"] == "+" else (a, b_ - 10)
                    out.append(row.format("CDS", cds[0] + 1, cds[1], "0", attrs))
    return ("\n".join(out) + "\n").encode("ascii")


def _biomart_bytes(seed: int, plan: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    header = [
        "Transcript stable ID",
        "Transcript stable ID version",
        "Transcript type",
        "Chromosome/scaffold name",
        "Strand",
        "Transcript start (bp)",
        "Transcript end (bp)",
        "Transcription start site (TSS)",
        "Ensembl Canonical",
        "RefSeq match transcript (MANE Select)",
        "Transcript support level (TSL)",
        "Gene stable ID",
        "Gene name",
    ]
    rows = []
    for g in plan["genes"]:
        chrom = {"chrM": "MT"}.get(g["chrom"], g["chrom"][3:])
        for tx in g["transcripts"]:
            tss = tx["start"] + 1 if g["strand"] == "+" else tx["end"]
            rows.append(
                [
                    tx["transcript_id"],
                    f"{tx['transcript_id']}.{tx['version']}",
                    g["gene_type"],
                    chrom,
                    "1" if g["strand"] == "+" else "-1",
                    tx["start"] + 1,
                    tx["end"],
                    tss,
                    "1" if tx["canonical"] else "",
                    f"NM_9{tx['transcript_id'][5:]}.1" if tx["canonical"] else "",
                    "tsl1" if tx["canonical"] else "tsl2",
                    g["gene_id"],
                    g["gene_name"],
                ]
            )
    # canonical protein-coding transcripts on scaffolds: the chromosome filter drops them
    stream = syn._Stream(seed, _STREAM_KEY, 4)
    scaffold_ids = []
    for k, scaffold in enumerate(SCAFFOLDS):
        gid = f"ENSG8{k + 1:010d}"
        scaffold_ids.append(gid)
        start = stream.integer(1_000, 50_000)
        rows.append(
            [f"ENST8{k + 1:010d}", f"ENST8{k + 1:010d}.1", "protein_coding", scaffold, "1", start, start + 2_000,
             start, "1", "", "tsl1", gid, f"SCAF{k + 1}"]
        )  # fmt: skip
    return _tsv(header, rows), {"scaffold_gene_ids": scaffold_ids}


# =================================================================================================
# Build
# =================================================================================================


@dataclass(frozen=True)
class ExpressionInputs:
    """A built expression demo: its root, the path of every file (keys of :data:`RELPATHS` and
    ``"truth"``) and the truth (the parsed ``expression_truth.json``)."""

    root: Path
    paths: dict[str, Path]
    truth: dict[str, Any]


def _sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _up_to_date(root: Path, seed: int, n_genes: int) -> dict[str, Any] | None:
    truth_path = root / TRUTH_RELPATH
    try:
        truth = json.loads(truth_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(truth, dict) or (truth.get("format_version"), truth.get("seed"), truth.get("n_genes")) != (
        FORMAT_VERSION,
        seed,
        n_genes,
    ):
        return None
    for rel, digest in truth.get("sha256", {}).items():
        p = root / rel
        if not p.is_file() or _sha256(p.read_bytes()) != digest:
            return None
    return truth


def ensure_expression_inputs(
    root: Path, *, seed: int = DEFAULT_SEED, n_genes: int = DEFAULT_N_GENES
) -> ExpressionInputs:
    """Write the synthetic expression archive under ``root`` (see the module docstring) and return it.

    Deterministic (same bytes for the same ``seed`` and ``n_genes`` on every machine), idempotent (an
    unchanged file is not rewritten; when the truth's sha256 digests all match nothing is generated) and
    atomic per file, the truth last.  ``n_genes >= 30``.  About 2 s for the default 240 genes.
    """
    if n_genes < 30:
        raise ValueError(f"ensure_expression_inputs: n_genes must be >= 30, got {n_genes}")
    if seed < 0:
        raise ValueError(f"ensure_expression_inputs: seed must be >= 0, got {seed}")
    root = Path(root)
    paths = {k: root / rel for k, rel in RELPATHS.items()} | {"truth": root / TRUTH_RELPATH}
    truth = _up_to_date(root, seed, n_genes)
    if truth is not None:
        return ExpressionInputs(root, paths, truth)
    blobs, truth = build_expression_inputs(seed=seed, n_genes=n_genes)
    for key, blob in blobs.items():
        write_if_changed(root / key, blob)
    write_if_changed(paths["truth"], (json.dumps(truth, indent=1) + "\n").encode("ascii"))
    return ExpressionInputs(root, paths, truth)


def build_expression_inputs(*, seed: int = DEFAULT_SEED, n_genes: int = DEFAULT_N_GENES) -> tuple[dict, dict]:
    """Every file's bytes ``{relative path: bytes}`` and the truth dict (nothing is written)."""
    plan = _plan(seed, n_genes)
    genes = plan["genes"]
    motif_table = _motif_table(plan)
    blobs: dict[str, bytes] = {}

    # --- genome
    records = []
    for index, (chrom, length) in enumerate(plan["chromosomes"].items()):
        records.append((chrom, _chromosome_codes(seed, index, length, motif_table[chrom])))
    fasta, fai = _fasta_bytes(records)
    blobs[RELPATHS["fasta"].as_posix()] = fasta
    blobs[RELPATHS["fasta"].as_posix() + ".fai"] = fai

    # --- features (closed form), both construct conventions
    cache: dict = {}
    motifs_of = {c: [(q, kind) for q, kind, _o, _g in v] for c, v in motif_table.items()}
    for g in genes:
        near = [(q, k) for q, k in motifs_of[g["chrom"]] if abs(q - g["tss0"]) <= L]
        feats: dict[str, dict[str, float]] = {name: {} for name in CAGE_TRACKS}
        for w in WINDOWS:
            f_plus = planted_features(near, g["tss0"], w, "+", cache)
            f_minus = planted_features(near, g["tss0"], w, "-", cache)
            if f_plus != f_minus:  # pragma: no cover - the grid phase makes them equal
                raise AssertionError(f"{g['gene_id']}, window {w}: features differ between construct strands")
            for name in CAGE_TRACKS:
                feats[name][str(w)] = f_plus[name]
        g["features"] = feats
        g["x"] = {name: math.log10(feats[name]["0"] + 1.0) for name in CAGE_TRACKS}
        g["xpresso"] = xpresso_prediction(near, g["tss0"], g["strand"])
        for e in g["enhancers"]:
            offs = [m["centre"] - g["tss0"] for m in e["motifs"]]
            e["offsets"] = offs
            e["kept_in_windows"] = [w for w in WINDOWS if all(window_keeps(o, w) for o in offs)]

    # --- regions and split
    regions, pinned = _regions(seed, plan)
    for g, s in zip(genes, _split(genes, regions), strict=True):
        g["split"] = s
    blobs[RELPATHS["regions"].as_posix()] = _tsv(None, [list(r) for r in regions])

    # --- who is analysed: protein-coding, not chrY/chrM, not the silent gene
    stream = syn._Stream(seed, _STREAM_KEY, 5)
    candidates = [g for g in genes if g["chrom"] in MAIN_CHROMOSOMES and g["split"] == "train"]
    candidates = [g for g in candidates if g["gene_type"] == "protein_coding"]
    silent = candidates[stream.integer(0, len(candidates) - 1)]
    for g in genes:
        g["silent"] = g is silent
        g["analysis"] = g["gene_type"] == "protein_coding" and g["chrom"] not in ("chrY", "chrM") and not g["silent"]
    test_genes = [g for g in genes if g["analysis"] and g["split"] == "test"]
    if len(test_genes) < 3:  # pragma: no cover
        raise RuntimeError("too few test genes; use more genes")

    kx, hx = "PLANTED_CAGE_K562", "PLANTED_CAGE_HEPG2"

    def law_params(angle: float, length: float, intercept: float, r: float, extra=(0.0, 0.0, 0.0)) -> dict:
        wk = length * math.cos(math.radians(angle)) + extra[0]
        wh = length * math.sin(math.radians(angle)) + extra[1]
        a = intercept + extra[2]
        var_s = _var([a + wk * g["x"][kx] + wh * g["x"][hx] for g in test_genes])
        sigma = math.sqrt(var_s * (1.0 / (r * r) - 1.0))
        implied = math.sqrt(var_s / (var_s + sigma * sigma))
        with_ei = math.sqrt((var_s + (RHO * sigma) ** 2) / (var_s + sigma * sigma))
        return {
            "w_K562": wk,
            "w_HepG2": wh,
            "intercept": a,
            "sigma": sigma,
            "implied_r": implied,
            "implied_r_with_exon_intron": with_ei,
        }

    def signal(p: dict, g: dict) -> float:
        return p["intercept"] + p["w_K562"] * g["x"][kx] + p["w_HepG2"] * g["x"][hx]

    # --- GTEx
    gtex_params = {t: law_params(*TISSUES[t][:3], TISSUES[t][3]) for t in TISSUES}
    z_stream, u_stream = syn._Stream(seed, _STREAM_KEY, 6), syn._Stream(seed, _STREAM_KEY, 7)
    observed: dict[str, list[float]] = {}
    latent: dict[str, list[float]] = {}
    for t, p in gtex_params.items():
        z, u = _normals(z_stream, len(genes)), _normals(u_stream, len(genes))
        latent[t] = u
        observed[t] = []
        for i, g in enumerate(genes):
            s = signal(p, g)
            g.setdefault("signal_gtex", {})[t] = s
            noise = p["sigma"] * (RHO * u[i] + math.sqrt(1.0 - RHO * RHO) * z[i])
            observed[t].append(0.0 if g["silent"] else max(0.0, 10.0 ** (s + noise) - 1.0))
    par_y_gene = next(g for g in genes if g["chrom"] == "chrX")
    gct_rows = []
    for i, g in enumerate(genes):
        gct_rows.append([f"{g['gene_id']}.{g['version']}", g["gene_name"], *(observed[t][i] for t in TISSUES)])
        if g is par_y_gene:
            gct_rows.append(
                [f"{g['gene_id']}.{g['version']}_PAR_Y", g["gene_name"], *(observed[t][i] for t in TISSUES)]
            )
    gct = b"#1.2\n" + f"{len(gct_rows)}\t{len(TISSUES)}\n".encode("ascii")
    gct += _tsv(["Name", "Description", *TISSUES], gct_rows)
    blobs[RELPATHS["gtex"].as_posix()] = gct
    silent_everywhere = [g["gene_id"] for i, g in enumerate(genes) if all(observed[t][i] == 0.0 for t in TISSUES)]
    if silent_everywhere != [silent["gene_id"]]:  # pragma: no cover
        raise AssertionError(f"genes with TPM 0 in every tissue: {silent_everywhere}")

    # --- Kaessmann
    samples: list[tuple[str, str, str, int]] = []
    kae_params: dict[str, dict] = {}
    for organ, (angle, length, a) in ORGANS.items():
        for stage, (dwk, dwh, da, r, reps) in STAGES.items():
            p = law_params(angle, length, a, r, (dwk, dwh, da))
            for rep in range(1, reps + 1):
                name = f"{organ}.{stage}.{rep}"
                samples.append((name, organ, stage, rep))
                kae_params[name] = p
    k_stream = syn._Stream(seed, _STREAM_KEY, 8)
    kae_obs = {}
    for name, *_rest in samples:
        p = kae_params[name]
        z = _normals(k_stream, len(genes))
        kae_obs[name] = [
            0.0 if g["silent"] else max(0.0, 10.0 ** (signal(p, g) + p["sigma"] * z[i]) - 1.0)
            for i, g in enumerate(genes)
        ]
    kae_rows = [[g["gene_id"], *(kae_obs[s[0]][i] for s in samples)] for i, g in enumerate(genes)]
    blobs[RELPATHS["kaessmann"].as_posix()] = (
        " ".join(s[0] for s in samples) + "\n" + _tsv(None, kae_rows, sep=" ").decode("ascii")
    ).encode("ascii")

    # --- exon-intron ratio per transcript, gene2transcript
    ei_stream = syn._Stream(seed, _STREAM_KEY, 9)
    columns = [gtex_column(t) for t in TISSUES]
    no_ratio = {g["gene_id"] for g in stream.shuffled([g for g in genes if g["analysis"]])[: max(1, n_genes // 60)]}
    csv_rows = []
    n_nan = 0
    for i, g in enumerate(genes):
        if g["gene_id"] in no_ratio:
            continue
        for tx in g["transcripts"]:
            jitter = _normals(ei_stream, len(TISSUES))
            cells: list[Any] = []
            for j, t in enumerate(TISSUES):
                if ei_stream.integer(0, 999) < EI_NAN_PER_MILLE:
                    cells.append("")
                    n_nan += 1
                else:
                    cells.append(EI_BASE + EI_SCALE * latent[t][i] + EI_JITTER * jitter[j])
            utr = 2.0 + 0.5 * ei_stream.uniform()
            csv_rows.append([f"{tx['transcript_id']}.{tx['version']}", g["chrom"], utr, *cells])
    orphans = [f"ENST7{k + 1:010d}" for k in range(2)]
    for k, tid in enumerate(orphans):
        csv_rows.append([f"{tid}.1", "chr1", 2.0, *[EI_BASE + 0.1 * k] * len(TISSUES)])
    blobs[RELPATHS["exon_intron"].as_posix()] = _tsv(["", *EXTRA_CSV_COLUMNS, *columns], csv_rows, sep=",")
    g2t = [[g["gene_id"], tx["transcript_id"]] for g in genes for tx in g["transcripts"]]
    blobs[RELPATHS["gene2transcript"].as_posix()] = _tsv(["Gene stable ID", "Transcript stable ID"], g2t)

    # --- GTF, biomart, Xpresso
    blobs[RELPATHS["gtf"].as_posix()] = _gtf_bytes(plan)
    biomart, biomart_info = _biomart_bytes(seed, plan)
    blobs[RELPATHS["biomart"].as_posix()] = biomart
    xp_rows = [[g["gene_id"], g["xpresso"]] for g in genes if g["gene_type"] == "protein_coding"]
    blobs[RELPATHS["xpresso"].as_posix()] = _tsv(["gene_id", "Prediction"], xp_rows)

    # --- identifiability of the two features over the analysis genes
    xs = [g["x"][kx] for g in genes if g["analysis"]]
    ys = [g["x"][hx] for g in genes if g["analysis"]]
    rho_xy = _corr(xs, ys)
    identifiability = {
        "corr_log_features": rho_xy,
        "condition_number_standardised": (1.0 + abs(rho_xy)) / (1.0 - abs(rho_xy)),
    }

    # --- truth
    gene_out = []
    for g in genes:
        gene_out.append(
            {
                "gene_id": g["gene_id"],
                "gene_id_version": f"{g['gene_id']}.{g['version']}",
                "gene_name": g["gene_name"],
                "gene_type": g["gene_type"],
                "chrom": g["chrom"],
                "strand": g["strand"],
                "tss0": g["tss0"],
                "start": g["start"],
                "end": g["end"],
                "len": g["len"],
                "split": g["split"],
                "analysis": g["analysis"],
                "silent": g["silent"],
                "canonical_transcript": g["transcripts"][0]["transcript_id"],
                "transcripts": [tx["transcript_id"] for tx in g["transcripts"]],
                "promoter_offsets": g["promoter_offsets"],
                "promoter_motifs": g["promoter_motifs"],
                "enhancers": g["enhancers"],
                "features": g["features"],
                "log10_features": g["x"],
                "xpresso": g["xpresso"],
                "signal_gtex": g["signal_gtex"],
                "signal_kaessmann": {s[0]: signal(kae_params[s[0]], g) for s in samples},
            }
        )
    sha = {rel: _sha256(blob) for rel, blob in blobs.items()}
    split_counts = {
        k: sum(1 for g in genes if g["analysis"] and g["split"] == v)
        for k, v in (("test", "test"), ("train", "train"), ("dropped", None))
    }
    truth = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "n_genes": n_genes,
        "files": {k: rel.as_posix() for k, rel in RELPATHS.items()},
        "sha256": sha,
        "conventions": (
            "0-based half-open genome coordinates; tss0 = biomart tss - 1; a motif copy occupies "
            "[centre-5, centre+6); offsets are centre - tss0 (genome orientation); every TSS and motif centre "
            f"is {GRID_PHASE} mod 128; features = mean over members (+,-) x (-43, 0, 43) of the 3-bin landmark "
            "sum; window 0 = whole input ('ingenome'); identical for a construct on + or on the gene's strand"
        ),
        "law": {
            "promoter_motif": law.PROMOTER_MOTIF,
            "enhancer_motif": law.ENHANCER_MOTIF,
            "A": law.A,
            "P0": law.P0,
            "B_K562": law.B_K562,
            "B_HEPG2": law.B_HEPG2,
            "D0": law.D0,
            "expression": "log10(obs + 1) = max(0, a + w_K562 log10(F_K562 + 1) + w_HepG2 log10(F_HepG2 + 1) + noise)",
            "noise": "GTEx: sigma (rho u + sqrt(1 - rho^2) z), u the exon-intron latent; Kaessmann: sigma z",
            "rho": RHO,
        },
        "ensemble": {"strands": list(STRANDS), "shifts": list(SHIFTS), "bin_window": [-1, 1]},
        "windows": list(WINDOWS),
        "tracks": {name: idx for name, (idx, _g) in CAGE_TRACKS.items()},
        "chromosomes": plan["chromosomes"],
        "genes": gene_out,
        "motifs": [
            {"chrom": c, "centre": q, "kind": "promoter" if k == "P" else "enhancer", "orientation": o, "gene": gid}
            for c, v in motif_table.items()
            for q, k, o, gid in v
        ],
        "gtex": {
            "tissues": list(TISSUES),
            "csv_columns": {t: gtex_column(t) for t in TISSUES},
            "params": gtex_params,
            "par_y_gene": par_y_gene["gene_id"],
            "silent_gene": silent["gene_id"],
        },
        "kaessmann": {
            "samples": [s[0] for s in samples],
            "params": kae_params,
        },
        "exon_intron": {
            "base": EI_BASE,
            "scale": EI_SCALE,
            "jitter": EI_JITTER,
            "rho": RHO,
            "empty_cells": n_nan,
            "genes_without_ratio": sorted(no_ratio),
            "unmapped_transcripts": orphans,
            "extra_columns": list(EXTRA_CSV_COLUMNS),
        },
        "xpresso": {"length": XPRESSO_LENGTH, "anchor": XPRESSO_ANCHOR, "scale": "log10 (the twin's y)"},
        "biomart": biomart_info,
        "regions": {"pinned": pinned},
        "split_counts_analysis": split_counts,
        "identifiability": identifiability,
    }
    return blobs, truth
