"""The embedded demo data: a deterministic synthetic genome with planted promoters and enhancers.

:func:`generate_demo` writes, under a root directory, the files of the paper's data archive that
the multiplicativity experiment (spec §9) reads, in the same layout::

    root/Data/Genome/genome.fa                            FASTA, 60 bp a line (+ .fai by pyfaidx)
    root/Data/Fulco_CRISPRi/in_silico_candidate_locs.tsv  candidate table, spec §9.1 columns
    root/demo_truth.json                                  everything planted (written last)

and :func:`ensure_demo` builds it once into a cache directory.

The genome
----------
Three chromosomes (``chr1``..``chr3``, about 1.0-1.6 Mb each for the default 8 genes) of random
sequence whose GC fraction varies by 25-kb block (0.36-0.58), with 10-kb ``N`` runs at both
chromosome ends, a short ``N`` run inside every gene's model window (70-150 kb from the TSS, far
from any planted element), and soft-masked (lower-case) stretches.  One soft-masked stretch covers
the assayed element of the first enhancer on purpose (its motifs are lower-case in the file), so
a reader that forgets to upper-case loses a planted enhancer.  Neither planted motif
(:data:`~seqbench.models.planted.law.PROMOTER_MOTIF`,
:data:`~seqbench.models.planted.law.ENHANCER_MOTIF`, 11 bp) nor its reverse complement occurs
anywhere except at the planted copies (case-insensitive; verified after generation).

Coordinates
-----------
0-based, half-open everywhere (``[start, end)``), genome positions unless said otherwise.  A motif
copy is recorded by its *centre* ``q`` (its 6th nucleotide; it occupies ``[q - 5, q + 6)``) and
its orientation: ``"+"`` when the motif reads as written on the + strand, ``"-"`` when its
reverse complement does.

Genes and enhancers
-------------------
Every TSS centre ``c`` and every enhancer midpoint is ``64 (mod 128)``, so every gene's model
window starts at a multiple of 128, and all windows share one 128-bp bin grid.  Every planted
motif centre ``q`` satisfies ``43 <= q mod 128 <= 84``: shifting the window by -43, 0 or +43 bp
(the paper's augmentation offsets) never moves a hit to another bin, and the law mirrors bins
exactly under reverse complement, so the planted CAGE values in the table are exact for all six
augmentations (offset x orientation) of the reference and knocked-out windows.

The planted K562 CAGE value of a window with landmark (TSS) output bin ``b`` is the paper's
``_landmark_sum``: the sum over output bins ``b-1, b, b+1`` of the law of
:mod:`seqbench.models.planted.law`, counting every motif hit whose 11 bp lie inside the window.

The ``candidate_type`` column (spec §6.3) is assigned loosely, on the planted
``Predicted_Percent = |2**log2_fc_pred - 1| * 100`` (all candidates lie 4-60 kb from their TSS, so
the paper's distance conditions are ignored; its percentage cut-offs are scaled to the planted
effect sizes)::

    strong         Predicted_Percent >= 25
    intermediate   5 <= Predicted_Percent < 25 and the gene has a strong candidate
    weak_for_gene  Predicted_Percent < 5 and the gene has a strong candidate
    weak           otherwise

Determinism
-----------
All randomness comes from the raw 64-bit output of ``numpy.random.PCG64`` seeded through
``numpy.random.SeedSequence`` (both stable algorithms), turned into numbers by exact integer and
float arithmetic, and all floats written are Python ``repr`` of sums taken with ``math.fsum``: the
same arguments give the same bytes on every machine.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyfaidx

from seqbench.models.planted import law

#: Version of the demo's content; a cached demo with another version is rebuilt.
FORMAT_VERSION = 1
DEFAULT_SEED = 20230301

CHROMOSOMES: tuple[str, ...] = ("chr1", "chr2", "chr3")
FASTA_LINE_WIDTH = 60

#: Relative paths inside a demo root.
FASTA_RELPATH = Path("Data/Genome/genome.fa")
CANDIDATE_TABLE_RELPATH = Path("Data/Fulco_CRISPRi/in_silico_candidate_locs.tsv")
TRUTH_RELPATH = Path("demo_truth.json")

#: Columns of ``in_silico_candidate_locs.tsv``, in order (spec §9.1; ``<pred>`` = ``K562_CAGE``).
TABLE_COLUMNS: tuple[str, ...] = (
    "ziga_key",
    "gene",
    "chromosome",
    "main_tss_start",
    "main_tss_end",
    "main_tss_bin",
    "enhancer_start",
    "enhancer_end",
    "fix_enhancer_wide_start",
    "fix_enhancer_wide_end",
    "sequence_start",
    "sequence_end",
    "actual_tss_distance",
    "validated",
    "K562_CAGE_ref",
    "K562_CAGE_alt",
    "log2_fc_pred",
    "abs_log2_fc_pred",
    "candidate_type",
    "enhancer_size",
    "test_location",
)

# --- geometry (bp) -------------------------------------------------------------------------------
TSS_BIN_WIDTH = law.BIN_SIZE  # main_tss_end - main_tss_start
PROMOTER_HALF_WIDTH = 500  # promoter window [c - 500, c + 500)
ENHANCER_WIDE_HALF_WIDTH = 1_000  # fix_enhancer_wide window [mid - 1000, mid + 1000)
ENHANCER_ASSAY_HALF_WIDTH = 250  # assayed element [mid - 250, mid + 250)
MOTIF_CENTRE = law.MOTIF_LENGTH // 2  # 5: centre nucleotide within the motif

# --- design of the planted elements --------------------------------------------------------------
MIN_TSS_TO_CHROM_END = 200_000
MIN_TSS_SPACING = 420_000
MAIN_TSS_BIN_RANGE = (440, 456)  # inclusive
PROMOTER_MOTIF_COUNTS = (1, 2, 3, 4)
PROMOTER_MOTIF_REACH = 120  # promoter motif centres within c +- 120
ENHANCER_MOTIF_COUNTS = (1, 2, 3, 4, 5, 6)
ENHANCER_MOTIF_REACH = 400  # enhancer motif centres within mid +- 400
ENHANCER_DISTANCE_RANGE = (4_000, 60_000)  # |mid - c|, bp
MAX_ENHANCERS_PER_GENE = 12  # 2-kb windows + 1-kb gaps in 2 x 56 kb, with room to spare
MIN_MOTIF_CENTRE_SPACING = 14  # >= 11 (no overlap) + a 3-bp random gap
#: allowed ``q mod 128`` for planted motif centres: at least 43 bp from both bin edges
SAFE_PHASE = (43, 84)  # inclusive
CHROM_END_N_RUN = 10_000
ELEMENT_KEEPOUT = 5_000  # N runs and incidental soft-masking stay this far from elements

# --- candidate_type cut-offs on Predicted_Percent (loose version of spec §6.3) ---------------------
STRONG_PERCENT = 25.0
INTERMEDIATE_PERCENT = 5.0

_BASES = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


# =================================================================================================
# Coordinate helpers (pure; 0-based, half-open)
# =================================================================================================


def tss_bin_interval(tss_centre: int) -> tuple[int, int]:
    """The 128-bp TSS bin ``[main_tss_start, main_tss_end) = [c - 64, c + 64)`` of a TSS centre ``c``."""
    start = tss_centre - TSS_BIN_WIDTH // 2
    return start, start + TSS_BIN_WIDTH


def tss_centre(main_tss_start: int) -> int:
    """TSS centre ``c = main_tss_start + 64`` (genome position, bp)."""
    return main_tss_start + TSS_BIN_WIDTH // 2


def sequence_window(main_tss_start: int, main_tss_bin: int) -> tuple[int, int]:
    """The 393,216-bp model window ``[sequence_start, sequence_end)`` of a TSS bin.

    Chosen so that output bin ``main_tss_bin`` (0..895) of the window is exactly the TSS bin:
    ``main_tss_start == sequence_start + 139,264 + 128 * main_tss_bin``.
    """
    start = main_tss_start - law.OUTPUT_OFFSET - law.BIN_SIZE * main_tss_bin
    return start, start + law.SEQUENCE_LENGTH


def promoter_window(tss_centre_pos: int) -> tuple[int, int]:
    """The 1-kb promoter window ``[c - 500, c + 500)`` (spec §9.2)."""
    return tss_centre_pos - PROMOTER_HALF_WIDTH, tss_centre_pos + PROMOTER_HALF_WIDTH


def enhancer_wide_window(mid: int) -> tuple[int, int]:
    """The 2-kb knock-out/insert window ``[mid - 1000, mid + 1000)`` (``fix_enhancer_wide_*``)."""
    return mid - ENHANCER_WIDE_HALF_WIDTH, mid + ENHANCER_WIDE_HALF_WIDTH


def enhancer_assay_window(mid: int) -> tuple[int, int]:
    """The 500-bp assayed element ``[mid - 250, mid + 250)`` (``enhancer_start/end``)."""
    return mid - ENHANCER_ASSAY_HALF_WIDTH, mid + ENHANCER_ASSAY_HALF_WIDTH


def tss_distance(enhancer_mid: int, main_tss_start: int) -> int:
    """``actual_tss_distance = |enhancer mid - (main_tss_start + 64)|``, bp."""
    return abs(enhancer_mid - tss_centre(main_tss_start))


def motif_interval(centre: int) -> tuple[int, int]:
    """The 11 bp ``[q - 5, q + 6)`` occupied by a motif copy centred at ``q``."""
    return centre - MOTIF_CENTRE, centre - MOTIF_CENTRE + law.MOTIF_LENGTH


def input_bin(position: int, sequence_start: int) -> int:
    """The 128-bp input bin (0..3071) of genome ``position`` in the window starting at ``sequence_start``."""
    return (position - sequence_start) // law.BIN_SIZE


def landmark_input_bin(main_tss_bin: int) -> int:
    """Input bin ``J = main_tss_bin + 1088`` of output bin ``main_tss_bin``."""
    return main_tss_bin + law.OUTPUT_BIN_OFFSET


def reverse_complement(seq: str) -> str:
    """Reverse complement of an upper-case A/C/G/T string."""
    return "".join(_COMPLEMENT[ch] for ch in reversed(seq))


def oriented_motif(motif: str, orientation: str) -> str:
    """The bases written on the + strand for a motif copy: ``motif`` for ``"+"``, its RC for ``"-"``."""
    if orientation == "+":
        return motif
    if orientation == "-":
        return reverse_complement(motif)
    raise ValueError(f"orientation must be '+' or '-', got {orientation!r}")


def planted_cage_landmark_sum(
    promoter_hit_bins: Iterable[int],
    enhancer_hit_bins: Iterable[int],
    main_tss_bin: int,
    *,
    gain: float = law.B_K562,
) -> float:
    """The planted CAGE ``_landmark_sum`` of one window: sum over output bins ``b-1, b, b+1``.

    ``promoter_hit_bins`` / ``enhancer_hit_bins``: input bins (0..3071) of the centres of every
    promoter / enhancer motif hit in the window (one entry per hit).  ``main_tss_bin`` = ``b``.
    Per output bin ``j`` (``J = j + 1088``)::

        CAGE(j) = A * (prom(j) + P0) * (1 + gain * enh(j))
        prom(j) = #promoter hits in input bins J-1..J+1
        enh(j)  = sum over enhancer hits i of g(|i - J| * 128),  g(d) = 1 / (1 + d / D0)

    ``gain`` is ``law.B_K562`` for K562 (``law.B_HEPG2`` for HepG2).  Exactly rounded sums.
    """
    prom_bins = list(promoter_hit_bins)
    enh_bins = list(enhancer_hit_bins)
    centre = landmark_input_bin(main_tss_bin)
    terms = []
    for big_j in (centre - 1, centre, centre + 1):
        prom = sum(1 for i in prom_bins if abs(i - big_j) <= 1)
        enh = math.fsum(law.decay(abs(i - big_j) * law.BIN_SIZE) for i in enh_bins)
        terms.append(law.A * (prom + law.P0) * (1.0 + gain * enh))
    return math.fsum(terms)


def find_motif_occurrences(codes: np.ndarray, motif: str) -> list[tuple[int, str]]:
    """Every exact occurrence of ``motif`` or its reverse complement in ``codes``.

    ``codes``: uint8 codes (A,C,G,T,N = 0..4) of a sequence; ``N`` never matches.  Returns
    ``(start, orientation)`` pairs, 0-based starts in ``codes``, sorted; orientation ``"+"`` for
    the motif as written, ``"-"`` for its reverse complement.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    k = len(motif)
    n_starts = codes.size - k + 1
    if n_starts <= 0:
        return []
    clipped = np.minimum(codes, 3).astype(np.int64)
    values = np.zeros(n_starts, dtype=np.int64)
    for t in range(k):
        values <<= 2
        values |= clipped[t : t + n_starts]
    n_count = np.concatenate([[0], np.cumsum(codes == 4, dtype=np.int64)])
    values[(n_count[k:] - n_count[:-k]) > 0] = -1
    found: list[tuple[int, str]] = []
    for orientation in ("+", "-"):
        target = 0
        for ch in oriented_motif(motif, orientation):
            target = (target << 2) | "ACGT".index(ch)
        found.extend((int(s), orientation) for s in np.flatnonzero(values == target))
    return sorted(found)


def count_planted_hits(seq: str) -> tuple[int, int]:
    """``(promoter, enhancer)`` planted-motif occurrences in ``seq`` (upper-case), both orientations,
    overlaps counted: how the plasmid and oligo demos check that a sequence holds exactly the copies they
    planted."""
    motifs = (law.PROMOTER_MOTIF, reverse_complement(law.PROMOTER_MOTIF),
              law.ENHANCER_MOTIF, reverse_complement(law.ENHANCER_MOTIF))

    def occ(m: str) -> int:
        return sum(1 for i in range(len(seq) - len(m) + 1) if seq.startswith(m, i))

    counts = [occ(m) for m in motifs]
    return counts[0] + counts[1], counts[2] + counts[3]


def clean_random_sequence(rng: np.random.Generator, n: int, gc: float = 0.45) -> str:
    """``n`` random bases with GC fraction ``gc``, drawn from ``rng`` until no planted motif occurs."""
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    while True:
        seq = "".join(np.array(list("ACGT"))[rng.choice(4, size=n, p=p)])
        if count_planted_hits(seq) == (0, 0):
            return seq


# =================================================================================================
# Layout
# =================================================================================================


@dataclass(frozen=True)
class DemoLayout:
    """Paths of a built demo (all inside ``root``)."""

    root: Path
    fasta: Path
    candidate_table: Path
    truth: Path

    @classmethod
    def at(cls, root: Path) -> DemoLayout:
        """The layout of a demo rooted at ``root`` (nothing is checked)."""
        root = Path(root)
        return cls(
            root=root,
            fasta=root / FASTA_RELPATH,
            candidate_table=root / CANDIDATE_TABLE_RELPATH,
            truth=root / TRUTH_RELPATH,
        )

    @property
    def fasta_index(self) -> Path:
        """The pyfaidx index next to the FASTA."""
        return self.fasta.with_name(self.fasta.name + ".fai")

    def is_complete(self) -> bool:
        """Whether every file exists and the truth file has the current ``format_version``."""
        if not all(p.is_file() for p in (self.fasta, self.fasta_index, self.candidate_table, self.truth)):
            return False
        try:
            truth = json.loads(self.truth.read_text())
        except (OSError, ValueError):
            return False
        return isinstance(truth, dict) and truth.get("format_version") == FORMAT_VERSION


class _Stream:
    """Deterministic random numbers from PCG64's raw 64-bit output (machine- and version-stable)."""

    def __init__(self, seed: int, *key: int) -> None:
        self._bitgen = np.random.PCG64(np.random.SeedSequence([seed, *key]))

    def uniforms(self, n: int) -> np.ndarray:
        """``n`` float64 in [0, 1), exact multiples of 2**-53."""
        raw = np.asarray(self._bitgen.random_raw(n), dtype=np.uint64)
        return (raw >> np.uint64(11)).astype(np.float64) * (2.0**-53)

    def uniform(self) -> float:
        return float(self.uniforms(1)[0])

    def integer(self, low: int, high: int) -> int:
        """An integer in ``[low, high]`` (inclusive)."""
        span = high - low + 1
        return low + int(self._bitgen.random_raw()) % span

    def sign(self) -> int:
        return 1 if self.integer(0, 1) else -1

    def shuffled(self, items: Sequence[Any]) -> list[Any]:
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = self.integer(0, i)
            out[i], out[j] = out[j], out[i]
        return out


def _round_to_phase(x: float, phase: int = TSS_BIN_WIDTH // 2) -> int:
    """The position ``= phase (mod 128)`` nearest below ``x``."""
    return int(x) // law.BIN_SIZE * law.BIN_SIZE + phase


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _pick_motif_centres(stream: _Stream, centre: int, reach: int, count: int) -> list[int]:
    """``count`` centres in ``[centre - reach, centre + reach]`` with safe bin phase, >= 14 bp apart."""
    candidates = [
        q
        for q in range(centre - reach, centre + reach + 1)
        if SAFE_PHASE[0] <= q % law.BIN_SIZE <= SAFE_PHASE[1]
    ]
    for _attempt in range(100):
        chosen: list[int] = []
        for q in stream.shuffled(candidates):
            if all(abs(q - other) >= MIN_MOTIF_CENTRE_SPACING for other in chosen):
                chosen.append(q)
                if len(chosen) == count:
                    return sorted(chosen)
    raise RuntimeError(f"cannot place {count} motifs within {reach} bp of {centre}")  # pragma: no cover


def _counts_cycle(stream: _Stream, values: Sequence[int], n: int) -> list[int]:
    """``n`` values cycling through ``values`` (each used as evenly as possible), shuffled."""
    return stream.shuffled([values[i % len(values)] for i in range(n)])


def _ensure_both_orientations(motifs: list[dict[str, Any]]) -> None:
    """Flip the last motif's orientation if only one orientation was drawn (needs >= 2 motifs)."""
    if len(motifs) >= 2 and len({m["orientation"] for m in motifs}) == 1:
        motifs[-1]["orientation"] = "-" if motifs[-1]["orientation"] == "+" else "+"


def _motif_records(stream: _Stream, centres: list[int]) -> list[dict[str, Any]]:
    return [
        {"centre": q, "start": motif_interval(q)[0], "orientation": "+" if stream.sign() > 0 else "-"}
        for q in centres
    ]


def _plan(seed: int, n_genes: int, n_enhancers: int) -> dict[str, Any]:
    """Chromosome sizes, genes, enhancers, N runs and soft-masked stretches (no sequence yet)."""
    stream = _Stream(seed, 0)
    n_chrom = len(CHROMOSOMES)
    per_chrom = [n_genes // n_chrom + (1 if i < n_genes % n_chrom else 0) for i in range(n_chrom)]

    chromosomes: dict[str, int] = {}
    genes: list[dict[str, Any]] = []
    for chrom, n_here in zip(CHROMOSOMES, per_chrom, strict=True):
        pos = _round_to_phase(MIN_TSS_TO_CHROM_END + 10_000 + stream.integer(0, 50_000))
        for g in range(n_here):
            if g:
                pos = _round_to_phase(pos + MIN_TSS_SPACING + 20_000 + stream.integer(0, 100_000))
            genes.append({"chromosome": chrom, "tss_centre": pos})
        end_pad = MIN_TSS_TO_CHROM_END + 50_000 + stream.integer(0, 100_000)
        chromosomes[chrom] = (pos + end_pad) if n_here else 600_000 + stream.integer(0, 100_000)

    promoter_counts = _counts_cycle(stream, PROMOTER_MOTIF_COUNTS, n_genes)
    for idx, gene in enumerate(genes):
        c = gene["tss_centre"]
        b = stream.integer(*MAIN_TSS_BIN_RANGE)
        main_tss_start, main_tss_end = tss_bin_interval(c)
        seq_start, seq_end = sequence_window(main_tss_start, b)
        gene.update(
            gene=f"GENE{idx + 1}",
            main_tss_start=main_tss_start,
            main_tss_end=main_tss_end,
            main_tss_bin=b,
            sequence_start=seq_start,
            sequence_end=seq_end,
            promoter_window=list(promoter_window(c)),
            promoter_motifs=_motif_records(
                stream, _pick_motif_centres(stream, c, PROMOTER_MOTIF_REACH, promoter_counts[idx])
            ),
        )
    _ensure_both_orientations([m for g in genes for m in g["promoter_motifs"]])

    # enhancer -> gene: every gene one, the extra ones spread over distinct genes (shuffled)
    owners = list(range(n_genes))
    extra_order = stream.shuffled(range(n_genes))
    owners += [extra_order[i % n_genes] for i in range(n_enhancers - n_genes)]
    by_gene: dict[int, list[int]] = {g: [] for g in range(n_genes)}
    for e, g in enumerate(owners):
        by_gene[g].append(e)
    multi = [g for g in range(n_genes) if len(by_gene[g]) >= 2]
    ordered_genes = set(multi[: (len(multi) + 1) // 2])  # nearer enhancer gets more motifs here

    motif_counts = _counts_cycle(stream, ENHANCER_MOTIF_COUNTS, n_enhancers)
    lo, hi = ENHANCER_DISTANCE_RANGE
    placed: dict[int, dict[str, Any]] = {}
    for g in range(n_genes):
        c = genes[g]["tss_centre"]
        members = by_gene[g]
        dists: list[int] = []
        sides: list[int] = []
        for e in members:
            for attempt in range(400):
                u = stream.uniform()
                d = int(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))
                d = max(lo + 96, min(hi - 32, d // law.BIN_SIZE * law.BIN_SIZE))
                # enhancer 0 upstream, enhancer 1 downstream: both sides of a TSS are used
                side = -1 if e == 0 else 1 if e == 1 else stream.sign()
                wide = enhancer_wide_window(c + side * d)
                if any(
                    _overlaps((wide[0] - 1000, wide[1] + 1000), enhancer_wide_window(c + s_ * d_))
                    for s_, d_ in zip(sides, dists, strict=True)
                ):
                    continue
                # distinct distances where the nearer enhancer gets more motifs (relaxed if crowded)
                if g in ordered_genes and attempt < 200 and any(abs(d - d_) < 6_000 for d_ in dists):
                    continue
                dists.append(d)
                sides.append(side)
                break
            else:  # pragma: no cover
                raise RuntimeError(f"cannot place {len(members)} enhancers around gene {g}")
        mids = [c + s_ * d_ for s_, d_ in zip(sides, dists, strict=True)]
        counts = [motif_counts[e] for e in members]
        if g in ordered_genes:
            # strictly more motifs for the nearer enhancer (as far as 1..6 allows)
            ranked = sorted(counts, reverse=True)
            for i in range(len(ranked) - 2, -1, -1):
                ranked[i] = max(ranked[i], min(ENHANCER_MOTIF_COUNTS[-1], ranked[i + 1] + 1))
            by_distance = sorted(range(len(members)), key=lambda i: dists[i])
            counts = [0] * len(members)
            for rank, i in enumerate(by_distance):
                counts[i] = ranked[rank]
        for i, e in enumerate(members):
            placed[e] = {"gene_index": g, "mid": mids[i], "side": sides[i], "n_motifs": counts[i]}

    enhancers: list[dict[str, Any]] = []
    for g in range(n_genes):
        gene = genes[g]
        for e in sorted(by_gene[g], key=lambda k: placed[k]["mid"]):
            p = placed[e]
            mid = p["mid"]
            fix = enhancer_wide_window(mid)
            assay = enhancer_assay_window(mid)
            enhancers.append(
                {
                    "ziga_key": f"demo_{gene['gene']}_{assay[0]}-{assay[1]}",
                    "gene": gene["gene"],
                    "chromosome": gene["chromosome"],
                    "mid": mid,
                    "enhancer_window": list(assay),
                    "fix_enhancer_wide_window": list(fix),
                    "distance": tss_distance(mid, gene["main_tss_start"]),
                    "signed_distance": mid - gene["tss_centre"],
                    "motifs": _motif_records(
                        stream, _pick_motif_centres(stream, mid, ENHANCER_MOTIF_REACH, p["n_motifs"])
                    ),
                }
            )
    _ensure_both_orientations([m for e in enhancers for m in e["motifs"]])

    # element windows, for keep-outs and for the checks below
    element_windows: dict[str, list[tuple[int, int]]] = {ch: [] for ch in CHROMOSOMES}
    for gene in genes:
        element_windows[gene["chromosome"]].append(tuple(gene["promoter_window"]))
    for enh in enhancers:
        element_windows[enh["chromosome"]].append(tuple(enh["fix_enhancer_wide_window"]))

    def clear_of_elements(chrom: str, interval: tuple[int, int], margin: int) -> bool:
        return not any(
            _overlaps((interval[0] - margin, interval[1] + margin), w) for w in element_windows[chrom]
        )

    n_runs: list[dict[str, Any]] = []
    for chrom, length in chromosomes.items():
        n_runs.append({"chromosome": chrom, "start": 0, "end": CHROM_END_N_RUN})
        n_runs.append({"chromosome": chrom, "start": length - CHROM_END_N_RUN, "end": length})
    for gene in genes:
        for _attempt in range(100):
            start = gene["tss_centre"] + stream.sign() * stream.integer(70_000, 150_000)
            run = (start, start + stream.integer(500, 3_000))
            if clear_of_elements(gene["chromosome"], run, ELEMENT_KEEPOUT) and (
                gene["sequence_start"] < run[0] and run[1] < gene["sequence_end"]
            ):
                n_runs.append({"chromosome": gene["chromosome"], "start": run[0], "end": run[1]})
                break
    n_runs.sort(key=lambda r: (CHROMOSOMES.index(r["chromosome"]), r["start"]))

    soft: list[dict[str, Any]] = []
    if enhancers:
        first = enhancers[0]
        soft.append(
            {
                "chromosome": first["chromosome"],
                "start": first["enhancer_window"][0],
                "end": first["enhancer_window"][1],
                "note": f"covers the assayed element of {first['ziga_key']} on purpose",
            }
        )
    for chrom, length in chromosomes.items():
        n_soft = 0
        while n_soft < 12:
            start = stream.integer(CHROM_END_N_RUN, length - CHROM_END_N_RUN - 5_000)
            stretch = (start, start + stream.integer(200, 4_000))
            if not clear_of_elements(chrom, stretch, 1_000) or any(
                r["chromosome"] == chrom and _overlaps(stretch, (r["start"], r["end"])) for r in n_runs
            ):
                continue
            soft.append({"chromosome": chrom, "start": stretch[0], "end": stretch[1]})
            n_soft += 1
    soft.sort(key=lambda r: (CHROMOSOMES.index(r["chromosome"]), r["start"]))

    return {
        "chromosomes": chromosomes,
        "genes": genes,
        "enhancers": enhancers,
        "n_runs": n_runs,
        "soft_masked": soft,
    }


# =================================================================================================
# Sequence
# =================================================================================================


def _planted_copies(plan: dict[str, Any], chrom: str) -> list[tuple[int, str, str]]:
    """``(start, motif, orientation)`` of every planted copy on ``chrom``."""
    copies = []
    for gene in plan["genes"]:
        if gene["chromosome"] == chrom:
            copies += [(m["start"], law.PROMOTER_MOTIF, m["orientation"]) for m in gene["promoter_motifs"]]
    for enh in plan["enhancers"]:
        if enh["chromosome"] == chrom:
            copies += [(m["start"], law.ENHANCER_MOTIF, m["orientation"]) for m in enh["motifs"]]
    return sorted(copies)


def _scan_all(codes: np.ndarray) -> set[tuple[int, str, str]]:
    found = set()
    for motif in (law.PROMOTER_MOTIF, law.ENHANCER_MOTIF):
        found |= {(s, motif, o) for s, o in find_motif_occurrences(codes, motif)}
    return found


def _chromosome_codes(seed: int, index: int, chrom: str, length: int, plan: dict[str, Any]) -> np.ndarray:
    """Random bases (GC varying by 25-kb block), N runs, planted motifs, then cleaned of stray hits."""
    stream = _Stream(seed, 1, index)
    block = 25_000
    n_blocks = -(-length // block)
    gc = 0.36 + 0.22 * stream.uniforms(n_blocks)
    f = np.repeat(gc, block)[:length]
    u = stream.uniforms(length)
    # C (u < f/2), G (u < f), A (u < (1+f)/2), T
    codes = np.where(u < f / 2, 1, np.where(u < f, 2, np.where(u < (1.0 + f) / 2, 0, 3)))
    codes = codes.astype(np.uint8)
    for run in plan["n_runs"]:
        if run["chromosome"] == chrom:
            codes[run["start"] : run["end"]] = 4

    protected = np.zeros(length, dtype=bool)
    planted = set()
    for start, motif, orientation in _planted_copies(plan, chrom):
        seq = oriented_motif(motif, orientation)
        codes[start : start + len(seq)] = ["ACGT".index(ch) for ch in seq]
        protected[start : start + len(seq)] = True
        planted.add((start, motif, orientation))

    fixer = _Stream(seed, 2, index)
    for _round in range(1000):
        stray = sorted(_scan_all(codes) - planted)
        if not stray:
            break
        for start, _motif, _orientation in stray:
            free = [p for p in range(start, start + law.MOTIF_LENGTH) if not protected[p]]
            if not free:  # pragma: no cover - planted copies are >= 3 bp apart
                raise RuntimeError(f"{chrom}:{start}: a stray motif lies entirely on planted copies")
            p = min(free, key=lambda x: (abs(x - (start + MOTIF_CENTRE)), x))
            codes[p] = (int(codes[p]) + fixer.integer(1, 3)) % 4
    else:  # pragma: no cover
        raise RuntimeError(f"{chrom}: could not remove stray motif occurrences")
    return codes


def _write_fasta(path: Path, records: list[tuple[str, np.ndarray]]) -> None:
    """Write ASCII sequences (uint8 arrays) as FASTA, ``FASTA_LINE_WIDTH`` bp a line."""
    width = FASTA_LINE_WIDTH
    with open(path, "wb") as fh:
        for name, seq in records:
            fh.write(f">{name}\n".encode("ascii"))
            full = seq.size // width
            if full:
                body = np.empty((full, width + 1), dtype=np.uint8)
                body[:, :width] = seq[: full * width].reshape(full, width)
                body[:, width] = ord("\n")
                fh.write(body.tobytes())
            rest = seq[full * width :]
            if rest.size:
                fh.write(rest.tobytes() + b"\n")


# =================================================================================================
# Planted truth of the candidate table
# =================================================================================================


def _window_hits(
    plan: dict[str, Any], chrom: str, start: int, end: int, knocked_out: tuple[int, int] | None = None
) -> tuple[list[int], list[int]]:
    """Input bins of promoter and enhancer hits whose 11 bp lie in ``[start, end)``.

    Hits overlapping ``knocked_out`` (a genome interval) are left out.
    """
    prom: list[int] = []
    enh: list[int] = []
    for motif_start, motif, _orientation in _planted_copies(plan, chrom):
        span = (motif_start, motif_start + law.MOTIF_LENGTH)
        if span[0] < start or span[1] > end:
            continue
        if knocked_out is not None and _overlaps(span, knocked_out):
            continue
        b = input_bin(motif_start + MOTIF_CENTRE, start)
        (prom if motif == law.PROMOTER_MOTIF else enh).append(b)
    return prom, enh


def _candidate_rows(plan: dict[str, Any], seed: int, n_backgrounds: int) -> list[dict[str, Any]]:
    genes = {g["gene"]: g for g in plan["genes"]}
    rows: list[dict[str, Any]] = []
    for enh in plan["enhancers"]:
        gene = genes[enh["gene"]]
        chrom, b = gene["chromosome"], gene["main_tss_bin"]
        s0, s1 = gene["sequence_start"], gene["sequence_end"]
        ref = planted_cage_landmark_sum(*_window_hits(plan, chrom, s0, s1), b)
        ko = tuple(enh["fix_enhancer_wide_window"])
        alt = planted_cage_landmark_sum(*_window_hits(plan, chrom, s0, s1, knocked_out=ko), b)
        log2_fc = math.log2(alt + 1.0) - math.log2(ref + 1.0)
        rows.append(
            {
                "ziga_key": enh["ziga_key"],
                "gene": gene["gene"],
                "chromosome": chrom,
                "main_tss_start": gene["main_tss_start"],
                "main_tss_end": gene["main_tss_end"],
                "main_tss_bin": b,
                "enhancer_start": enh["enhancer_window"][0],
                "enhancer_end": enh["enhancer_window"][1],
                "fix_enhancer_wide_start": ko[0],
                "fix_enhancer_wide_end": ko[1],
                "sequence_start": s0,
                "sequence_end": s1,
                "actual_tss_distance": enh["distance"],
                "validated": False,
                "K562_CAGE_ref": ref,
                "K562_CAGE_alt": alt,
                "log2_fc_pred": log2_fc,
                "abs_log2_fc_pred": abs(log2_fc),
                "candidate_type": "",
                "enhancer_size": 2 * ENHANCER_WIDE_HALF_WIDTH,
                "test_location": False,
            }
        )

    # candidate_type (loose §6.3, see the module docstring)
    percent = {r["ziga_key"]: abs(2.0 ** r["log2_fc_pred"] - 1.0) * 100.0 for r in rows}
    strong_genes = {r["gene"] for r in rows if percent[r["ziga_key"]] >= STRONG_PERCENT}
    for r in rows:
        pct = percent[r["ziga_key"]]
        if pct >= STRONG_PERCENT:
            r["candidate_type"] = "strong"
        elif r["gene"] in strong_genes:
            r["candidate_type"] = "intermediate" if pct >= INTERMEDIATE_PERCENT else "weak_for_gene"
        else:
            r["candidate_type"] = "weak"

    # test locations: the n_backgrounds largest |log2_fc_pred| (ties: ziga_key)
    by_effect = sorted(rows, key=lambda r: (-r["abs_log2_fc_pred"], r["ziga_key"]))
    for r in by_effect[:n_backgrounds]:
        r["test_location"] = True

    # validated: a seeded draw, likelier for larger effects; both values present when possible
    stream = _Stream(seed, 3)
    n = len(by_effect)
    for rank, r in enumerate(by_effect):
        p = 0.8 - 0.6 * (rank / (n - 1) if n > 1 else 0.0)
        r["validated"] = stream.uniform() < p
    if n >= 2 and all(r["validated"] for r in rows):
        by_effect[-1]["validated"] = False
    if n >= 2 and not any(r["validated"] for r in rows):
        by_effect[0]["validated"] = True
    return rows


def _format_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    lines = ["\t".join(TABLE_COLUMNS)]
    lines += ["\t".join(_format_cell(r[c]) for c in TABLE_COLUMNS) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode("ascii"))


# =================================================================================================
# Entry points
# =================================================================================================


def generate_demo(
    root: Path,
    *,
    seed: int = DEFAULT_SEED,
    n_genes: int = 8,
    n_enhancers: int = 12,
    n_backgrounds: int = 4,
) -> DemoLayout:
    """Write the demo genome, candidate table and truth under ``root`` (created if needed).

    Deterministic: the same arguments give the same bytes on any machine.  ``n_genes`` TSSs
    (>= 1) on three chromosomes; ``n_enhancers`` (``n_genes``..12 x ``n_genes``) candidate enhancers,
    every gene at least one; ``n_backgrounds`` (1..``n_enhancers``) rows marked ``test_location``.  The truth
    file is written last.  Takes about a second for the defaults.
    """
    if n_genes < 1:
        raise ValueError(f"generate_demo: n_genes must be >= 1, got {n_genes}")
    if n_enhancers < n_genes:
        raise ValueError(f"generate_demo: n_enhancers ({n_enhancers}) must be >= n_genes ({n_genes})")
    if not 1 <= n_backgrounds <= n_enhancers:
        raise ValueError(f"generate_demo: n_backgrounds must be in 1..{n_enhancers}, got {n_backgrounds}")
    if n_enhancers > MAX_ENHANCERS_PER_GENE * n_genes:
        raise ValueError(
            f"generate_demo: at most {MAX_ENHANCERS_PER_GENE} enhancers per gene fit 4-60 kb from a TSS;"
            f" got n_enhancers={n_enhancers} for n_genes={n_genes}"
        )
    if seed < 0:
        raise ValueError(f"generate_demo: seed must be >= 0, got {seed}")

    layout = DemoLayout.at(Path(root))
    plan = _plan(seed, n_genes, n_enhancers)
    _check_plan(plan)

    records: list[tuple[str, np.ndarray]] = []
    for index, (chrom, length) in enumerate(plan["chromosomes"].items()):
        codes = _chromosome_codes(seed, index, chrom, length, plan)
        if _scan_all(codes) != set(_planted_copies(plan, chrom)):  # pragma: no cover
            raise AssertionError(f"{chrom}: motif occurrences differ from the planted copies")
        ascii_seq = _BASES[codes]
        lower = np.zeros(length, dtype=bool)
        for stretch in plan["soft_masked"]:
            if stretch["chromosome"] == chrom:
                lower[stretch["start"] : stretch["end"]] = True
        lower &= codes < 4
        ascii_seq[lower] |= 0x20
        records.append((chrom, ascii_seq))

    for path in (layout.fasta, layout.candidate_table, layout.truth):
        path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (layout.truth, layout.fasta_index):
        stale.unlink(missing_ok=True)
    _write_fasta(layout.fasta, records)
    pyfaidx.Faidx(str(layout.fasta)).close()

    rows = _candidate_rows(plan, seed, n_backgrounds)
    _write_table(layout.candidate_table, rows)

    by_key = {r["ziga_key"]: r for r in rows}
    genes_out = []
    for gene in plan["genes"]:
        prom_bins, _ = _window_hits(plan, gene["chromosome"], gene["sequence_start"], gene["sequence_end"])
        genes_out.append(
            {
                **gene,
                "n_promoter_motifs": len(gene["promoter_motifs"]),
                "promoter_landmark_sum_without_enhancers": planted_cage_landmark_sum(
                    prom_bins, [], gene["main_tss_bin"]
                ),
            }
        )
    enhancers_out = []
    for enh in plan["enhancers"]:
        r = by_key[enh["ziga_key"]]
        enhancers_out.append(
            {
                **enh,
                "n_motifs": len(enh["motifs"]),
                "K562_CAGE_ref": r["K562_CAGE_ref"],
                "K562_CAGE_alt": r["K562_CAGE_alt"],
                "log2_fc_pred": r["log2_fc_pred"],
            }
        )
    truth = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "parameters": {"n_genes": n_genes, "n_enhancers": n_enhancers, "n_backgrounds": n_backgrounds},
        "conventions": (
            "0-based, half-open genome coordinates; a motif copy occupies [centre-5, centre+6); "
            "orientation '+' = motif as written on the + strand, '-' = its reverse complement; "
            "every planted centre q has 43 <= q mod 128 <= 84"
        ),
        "law": {
            "promoter_motif": law.PROMOTER_MOTIF,
            "enhancer_motif": law.ENHANCER_MOTIF,
            "A": law.A,
            "P0": law.P0,
            "B_K562": law.B_K562,
            "D0": law.D0,
        },
        "files": {
            "fasta": FASTA_RELPATH.as_posix(),
            "candidate_table": CANDIDATE_TABLE_RELPATH.as_posix(),
        },
        "chromosomes": plan["chromosomes"],
        "genes": genes_out,
        "enhancers": enhancers_out,
        "n_runs": plan["n_runs"],
        "soft_masked": plan["soft_masked"],
    }
    layout.truth.write_text(json.dumps(truth, indent=1) + "\n", encoding="ascii")
    return layout


def _check_plan(plan: dict[str, Any]) -> None:
    """Assert the geometric rules of the design (a bug guard; the tests check them independently)."""
    genes = {g["gene"]: g for g in plan["genes"]}
    for gene in plan["genes"]:
        length = plan["chromosomes"][gene["chromosome"]]
        c = gene["tss_centre"]
        assert MIN_TSS_TO_CHROM_END <= c <= length - MIN_TSS_TO_CHROM_END, gene
        assert gene["sequence_start"] >= 0 and gene["sequence_end"] <= length, gene
        for other in plan["genes"]:
            if other is not gene and other["chromosome"] == gene["chromosome"]:
                assert abs(other["tss_centre"] - c) >= MIN_TSS_SPACING, (gene, other)
    for chrom in plan["chromosomes"]:
        wins = [tuple(g["promoter_window"]) for g in plan["genes"] if g["chromosome"] == chrom]
        wins += [tuple(e["fix_enhancer_wide_window"]) for e in plan["enhancers"] if e["chromosome"] == chrom]
        for i in range(len(wins)):
            for j in range(i):
                assert not _overlaps(wins[i], wins[j]), (chrom, wins[i], wins[j])
    for enh in plan["enhancers"]:
        gene = genes[enh["gene"]]
        lo, hi = ENHANCER_DISTANCE_RANGE
        assert lo <= enh["distance"] <= hi, enh
        fix = enh["fix_enhancer_wide_window"]
        assert gene["sequence_start"] + 1000 <= fix[0] and fix[1] <= gene["sequence_end"] - 1000, enh


def default_cache_dir() -> Path:
    """``$SEQBENCH_CACHE_DIR`` if set, else ``~/.cache/seqbench``."""
    env = os.environ.get("SEQBENCH_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "seqbench"


def ensure_demo(cache_dir: Path | None = None) -> DemoLayout:
    """The default demo under ``cache_dir/demo/v1`` (built once, with the default arguments).

    ``cache_dir`` defaults to :func:`default_cache_dir`.  A directory that is not complete (no
    truth file, a missing file, another ``format_version``) is rebuilt.  The demo is built in a
    temporary sibling directory and renamed into place, so a half-built demo never looks
    complete; concurrent callers may both build, and one rename wins.
    """
    base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = base / "demo" / f"v{FORMAT_VERSION}"
    layout = DemoLayout.at(target)
    if layout.is_complete():
        return layout
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        generate_demo(tmp)
        if target.exists() and not DemoLayout.at(target).is_complete():
            stale = Path(tempfile.mkdtemp(prefix=f".{target.name}.stale-", dir=target.parent))
            with contextlib.suppress(FileNotFoundError):  # another caller moved it first
                os.replace(target, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not DemoLayout.at(target).is_complete():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return layout
