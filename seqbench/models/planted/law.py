"""The planted biology: constants and the law the planted model implements.

The planted model is an instrument for checking the pipeline, never a stand-in for
Enformer's results.  Its truth is written here, once, and both the TensorFlow SavedModel
(:mod:`seqbench.models.planted.build`) and the NumPy reference (:func:`reference_output`)
follow it.  See ``docs/planted-model.md`` for the formulas in prose.

Geometry (Enformer's): input ``L = 393,216`` bp, 3,072 input bins of 128 bp, 896 output
bins; output bin ``j`` covers input bin ``J = j + 1088`` (first output bin starts at
139,264 bp).  Coordinates are 0-based positions within the model input.

Motif hits: an exact occurrence of a motif *or its reverse complement* (length 11), assigned
to its centre nucleotide ``q = start + 5``; ``h_M[i]`` counts hits of motif M whose centre
lies in input bin ``i = q // 128``.  ``N`` never matches.  Because the motif length is odd
and both orientations count, reversing-complementing the input mirrors the output bins
exactly (``j -> 895 - j``).

Per output bin ``j`` (``J = j + 1088``)::

    prom(j) = h_P[J-1] + h_P[J] + h_P[J+1]
    enh(j)  = sum_i h_E[i] * g(|i - J| * 128),     g(d) = 1 / (1 + d / D0)
    CAGE_c(j)  = A * (prom(j) + P0) * (1 + B_c * enh(j))      (c = K562, HepG2)
    DNASE(j)   = C0 + C1 * (h_P[J] + h_E[J])

Promoter and enhancer effects therefore combine multiplicatively, and an enhancer's effect
decays with distance as ``g``: proportionally to 1/d beyond a few D0.
"""

from __future__ import annotations

SEQUENCE_LENGTH = 393_216
BIN_SIZE = 128
N_INPUT_BINS = SEQUENCE_LENGTH // BIN_SIZE  # 3072
N_OUTPUT_BINS = 896
OUTPUT_OFFSET = 139_264  # bp before the first output bin
OUTPUT_BIN_OFFSET = OUTPUT_OFFSET // BIN_SIZE  # 1088

MOTIF_LENGTH = 11
PROMOTER_MOTIF = "GCTATAAAAGC"  # TATA-like; its reverse complement is GCTTTTATAGC
ENHANCER_MOTIF = "TGACTCAGGAT"  # AP-1-like core TGACTCA; reverse complement ATCCTGAGTCA

A = 1.0  # CAGE scale
P0 = 0.05  # basal promoter activity (no promoter motif)
B_K562 = 0.5  # enhancer gain of the K562 CAGE track
B_HEPG2 = 0.1  # enhancer gain of the HepG2 CAGE track
D0 = 5_000.0  # bp; distance scale of the enhancer decay g(d) = 1 / (1 + d / D0)
C0 = 0.01  # DNase baseline
C1 = 1.0  # DNase per motif hit in the bin
#: the scalar law of Xpresso's twin (log10 units): per promoter hit near the TSS, per unit enhancer activity
XP_PROMOTER = 1.0
XP_ENHANCER = 0.2

#: Track table of the planted model, in the column layout of Enformer's targets file.
#: (index, identifier, description)
TRACKS: tuple[tuple[int, str, str], ...] = (
    (0, "PLANTED_CAGE_K562", "CAGE:chronic myelogenous leukemia cell line:K562 planted"),
    (1, "PLANTED_DNASE_K562", "DNASE:K562 planted"),
    (2, "PLANTED_CAGE_HEPG2", "CAGE:hepatocellular carcinoma cell line:HepG2 planted"),
)


def decay(distance_bp: float) -> float:
    """g(d) = 1 / (1 + d / D0), d in bp (d >= 0)."""
    return 1.0 / (1.0 + distance_bp / D0)
