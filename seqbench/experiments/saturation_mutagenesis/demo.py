"""Synthetic CAGI5-like saturation-mutagenesis tables on the demo genome (experiments-spec §4.1 layout).

:func:`ensure_tables` writes, under a demo root (:func:`seqbench.demo.synthetic.ensure_demo`)::

    Data/Kircher_saturation_mutagenesis/CAGI5_train_test_hg19_to_hg38_liftover/
        test/demo_test_<LOCUS>.tsv     no header: Chromosome, Pos_hg38 (1-based), Ref, Alt, log2FC, Variance
        train/demo_train_<LOCUS>.tsv
    Data/Kircher_saturation_mutagenesis/demo_loci.json   the loci, their genes and windows (written last)

Loci (:data:`DEMO_LOCI`): each is an 80-bp window (0-based, half-open) in the promoter of one planted
gene of the demo genome, centred on the planted promoter-motif copies nearest its TSS (every copy
whose 11 bp fit in the window with 10 bp to spare), saturated: every position, every other base.
"F9" and "LDLR" sit at genes with one and four promoter motifs (weak and strong promoters, both
matched to the HepG2 CAGE track; LDLR is also the locus of the authors' aggregate-then-log vs
log-then-aggregate comparison), "HBB" at a K562 gene with one promoter motif, and "IRF4" ("mel")
matches no planted track, so it falls back to the average of all CAGE tracks.  A variant that would *create* a motif
copy (a hit in the alternative sequence that the reference lacks) is left out, so every variant's
planted effect is "breaks these planted copies, or nothing".

Measured values are simulated from the planted law: the CAGE 5-bin landmark sum of the variant-
centred window (bins -2..+2 around the variant's bin, mean over the shifts -43/0/+43; the law is
strand-symmetric, so the - strand members are equal), for the locus' matched track(s) (HepG2 gain
for "hepg2", K562 gain for "k562", the mean of the two sums otherwise), ``log2FC = slope_locus *
(log2(alt + 1) - log2(ref + 1)) + noise``, noise ~ sd :data:`NOISE_SD` (Irwin-Hall: the sum of 12
uniforms minus 6).  The per-locus slopes differ on purpose (F9 0.35, LDLR 2.5): the planted model
is then "miscalibrated across loci" like Enformer's CAGE in Fig. 4E.  F9's large predicted effects
are measured small and LDLR's small ones measured large, so neither has a variant that is strong
on both sides; HBB (one motif, slope 1) has: breaking its motif moves CAGE by about -1.8 and DNASE
by about -1 (log2), measured about -1.8, so the strong-effect precision and recall of both assays
count true positives.  Rows go to ``train`` or
``test`` at random (probability 1/2), so a locus spans two files.

Deterministic (PCG64 raw output, exact arithmetic, fixed-precision formatting); files are written
to a temporary name and renamed, and only when their content differs, so concurrent callers agree.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqbench.demo import synthetic as syn
from seqbench.experiments.saturation_mutagenesis.design import NAME
from seqbench.files import write_if_changed
from seqbench.models.planted import law

KIRCHER_DIR = Path("Data/Kircher_saturation_mutagenesis")
TABLES_RELPATH = KIRCHER_DIR / "CAGI5_train_test_hg19_to_hg38_liftover"
LOCI_RELPATH = KIRCHER_DIR / "demo_loci.json"
SEED = 20230302
WINDOW = 80  # bp saturated per locus
MOTIF_MARGIN = 10  # bp between a covered motif copy and the window's ends
NOISE_SD = 0.12
SHIFTS = (-43, 0, 43)
BIN_WINDOW = (-2, 2)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class DemoLocus:
    """A synthetic locus: its CAGI5 name, the demo gene it sits in, and its measurement slope."""

    name: str
    gene: str
    slope: float


DEMO_LOCI: tuple[DemoLocus, ...] = (
    DemoLocus("F9", "GENE1", 0.35),
    DemoLocus("LDLR", "GENE6", 2.5),
    DemoLocus("HBB", "GENE5", 1.0),
    DemoLocus("IRF4", "GENE8", 1.0),
)
#: planted CAGE gains per descriptor of :data:`seqbench.experiments.saturation_mutagenesis.design.LOCUS_CELL_TYPES`
_GAINS = {"hepg2": (law.B_HEPG2,), "k562": (law.B_K562,)}


def locus_window(gene: dict[str, Any]) -> tuple[int, int]:
    """The saturated window ``[start, end)`` of a gene (see the module docstring)."""
    tss = gene["tss_centre"]
    copies = sorted(gene["promoter_motifs"], key=lambda m: (abs(m["centre"] - tss), m["centre"]))
    lo, hi = copies[0]["start"], copies[0]["start"] + law.MOTIF_LENGTH
    for m in copies[1:]:
        a, b = min(lo, m["start"]), max(hi, m["start"] + law.MOTIF_LENGTH)
        if b - a <= WINDOW - 2 * MOTIF_MARGIN:
            lo, hi = a, b
    mid = (lo + hi) // 2
    return mid - WINDOW // 2, mid - WINDOW // 2 + WINDOW


def planted_sums(
    variant: int, promoter_centres: list[int], enhancer_centres: list[int], gain: float
) -> tuple[float, float]:
    """Planted ``(CAGE, DNASE)`` 5-bin landmark sums of the window centred on ``variant``.

    Mean over :data:`SHIFTS` of the sums over output bins ``b-2..b+2`` around the landmark bin
    ``b`` of the member (+ strand; the law is strand-symmetric).  ``*_centres``: genome
    positions of the centres of the intact motif copies (0-based); a copy counts if its 11 bp lie
    in the member's input.
    """
    L, off, size = law.SEQUENCE_LENGTH, law.OUTPUT_OFFSET, law.BIN_SIZE
    cage, dnase = [], []
    for s in SHIFTS:
        w0 = variant - L // 2 + s
        b = (L // 2 - s - off) // size

        def bins(centres: list[int], w0: int = w0) -> list[int]:
            return [(q - w0) // size for q in centres if w0 <= q - 5 and q + 6 <= w0 + L]

        p_bins, e_bins = bins(promoter_centres), bins(enhancer_centres)
        c_terms, d_terms = [], []
        for j in range(b + BIN_WINDOW[0], b + BIN_WINDOW[1] + 1):
            if not 0 <= j < law.N_OUTPUT_BINS:
                continue
            big_j = j + law.OUTPUT_BIN_OFFSET
            prom = sum(1 for i in p_bins if abs(i - big_j) <= 1)
            enh = math.fsum(law.decay(abs(i - big_j) * size) for i in e_bins)
            c_terms.append(law.A * (prom + law.P0) * (1.0 + gain * enh))
            d_terms.append(law.C0 + law.C1 * (p_bins.count(big_j) + e_bins.count(big_j)))
        cage.append(math.fsum(c_terms))
        dnase.append(math.fsum(d_terms))
    return math.fsum(cage) / len(SHIFTS), math.fsum(dnase) / len(SHIFTS)


def _gains(descriptor: str) -> tuple[float, ...]:
    return _GAINS.get(descriptor, (law.B_K562, law.B_HEPG2))


def _new_hits(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether ``after`` has a motif occurrence that ``before`` lacks (same length, codes)."""
    for motif in (law.PROMOTER_MOTIF, law.ENHANCER_MOTIF):
        if set(syn.find_motif_occurrences(after, motif)) - set(syn.find_motif_occurrences(before, motif)):
            return True
    return False


def demo_rows(root: Path) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The table files (relative path -> lines) and the loci description, from the demo at ``root``."""
    from seqbench.experiments.saturation_mutagenesis.design import LOCUS_CELL_TYPES
    from seqbench.genome import Genome

    layout = syn.DemoLayout.at(root)
    truth = json.loads(layout.truth.read_text())
    genome = Genome(layout.fasta)
    genes = {g["gene"]: g for g in truth["genes"]}
    files: dict[str, list[str]] = {}
    loci_out = []
    for k, loc in enumerate(DEMO_LOCI):
        gene = genes[loc.gene]
        chrom = gene["chromosome"]
        start, end = locus_window(gene)
        descriptor = LOCUS_CELL_TYPES[loc.name]
        prom = list(gene["promoter_motifs"])
        enh = [m["centre"] for e in truth["enhancers"] if e["chromosome"] == chrom for m in e["motifs"]]
        stream = syn._Stream(SEED, k)
        ctx = genome.fetch(chrom, start - 10, end + 10)
        for pos in range(start, end):
            ref = "ACGT"[ctx[pos - start + 10]]
            intact_ref = [m["centre"] for m in prom]
            intact_alt = [m["centre"] for m in prom if not m["start"] <= pos < m["start"] + law.MOTIF_LENGTH]
            ref_sum = math.fsum(planted_sums(pos, intact_ref, enh, g)[0] for g in _gains(descriptor))
            alt_sum = math.fsum(planted_sums(pos, intact_alt, enh, g)[0] for g in _gains(descriptor))
            n = len(_gains(descriptor))
            effect = math.log2(alt_sum / n + 1.0) - math.log2(ref_sum / n + 1.0)
            for alt in "ACGT":
                if alt == ref:
                    continue
                u = stream.uniforms(14)
                before = ctx[pos - start : pos - start + 21]
                after = before.copy()
                after[10] = "ACGT".index(alt)
                if _new_hits(before, after):
                    continue
                noise = NOISE_SD * (math.fsum(float(x) for x in u[:12]) - 6.0)
                fc = loc.slope * effect + noise
                variance = NOISE_SD**2 * (0.5 + float(u[12]))
                split = "train" if u[13] < 0.5 else "test"
                rel = f"{split}/demo_{split}_{loc.name}.tsv"
                files.setdefault(rel, []).append(f"{chrom}\t{pos + 1}\t{ref}\t{alt}\t{fc:.6f}\t{variance:.6f}")
        loci_out.append(
            {"locus": loc.name, "gene": loc.gene, "descriptor": descriptor, "chromosome": chrom,
             "window": [start, end], "slope": loc.slope,
             "promoter_motifs": [{"centre": m["centre"], "start": m["start"]} for m in prom]}
        )
    meta = {"format_version": FORMAT_VERSION, "seed": SEED, "noise_sd": NOISE_SD, "window_bp": WINDOW,
            "conventions": "0-based half-open windows; Pos_hg38 in the tables is 1-based", "loci": loci_out}
    return files, meta


def ensure_tables(root: Path) -> Path:
    """Write the synthetic tables under the demo ``root`` (if missing or different); return the folder."""
    root = Path(root)
    files, meta = demo_rows(root)
    folder = root / TABLES_RELPATH
    for rel, lines in sorted(files.items()):
        write_if_changed(folder / rel, "\n".join(lines) + "\n")
    write_if_changed(root / LOCI_RELPATH, json.dumps(meta, indent=1) + "\n")
    return folder


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: synthetic CAGI5-like tables on the demo genome, the planted model."""

    ensure_tables(Path(data_root))
    return {"experiment": NAME, "data_root": str(data_root), "model": {"kind": "planted"}}
