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

Version 2 (model ``planted-v2``; ``docs/planted-model.md``, section "planted-v2") keeps the
geometry, the motifs, ``prom``, ``enh`` and the constants above, and changes two things:

* **graded motif scores**: a start position scores ``w(m)`` by the number ``m`` of mismatching
  positions of its 11-mer with a motif orientation (``N`` and an all-zero one-hot row are
  mismatches): ``w(0) = 1``, ``w(1) = W1``, ``w(m >= 2) = 0``; ``h_P[i]``, ``h_E[i]`` are the sums
  of the weights of both orientations over the start positions whose centre lies in bin ``i``;
* **promoter saturation**, a known departure from multiplicativity::

      X_c(j)    = (prom(j) + P0) * (1 + B_c * enh(j))        (the v1 CAGE, over A)
      CAGE_c(j) = A * X_c(j) / (1 + X_c(j) / K_SAT)           (at most A * K_SAT)
      DNASE(j)  = C0 + C1 * (h_P[J] + h_E[J])                 (graded weights)

  so an enhancer's fold change, ``(1 + B e) (1 + X0 / K_SAT) / (1 + X0 (1 + B e) / K_SAT)`` for a
  promoter term ``X0 = prom + P0``, falls towards 1 as the promoter gets stronger.
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
#: planted-v2: weight of a motif occurrence with exactly one mismatching position (an exact one weighs 1,
#: two or more mismatches weigh 0); between 0 and 1, so a single substitution in a motif has a graded effect
W1 = 0.4
#: planted-v2: CAGE saturation level over A (dimensionless, the units of ``X = (prom + P0)(1 + B enh)``);
#: CAGE = A X / (1 + X / K_SAT) is halfway to its ceiling A K_SAT at X = K_SAT, i.e. at two promoter
#: motifs without enhancers, so the demo's promoters (1-4 motifs) span the linear and the saturated range
K_SAT = 2.0
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
