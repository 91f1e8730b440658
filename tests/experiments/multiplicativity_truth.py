"""The multiplicativity demo's answer under planted-v2, from the NumPy reference (no TensorFlow, no Ray).

For every construct of the embedded default (backgrounds x promoters x enhancers) the construct
engine materializes the extended window, :func:`~seqbench.models.planted.reference.position_weights`
gives planted-v2's motif weights, and :func:`~seqbench.models.planted.reference.output_from_weights_v2`
the K562 CAGE of each member, read as ``docs/experiments/multiplicativity.md`` says: the 3-bin sum
around the landmark bin, averaged over the members, ``y = log2(mean + 1)``.

Two shortcuts, both checked by :func:`check_shortcuts` against the plain reference on whole members:

* the per-bin weights of a construct are its background's plus the change of every 11-mer that
  overlaps an edit (the elements are swapped in with their own length, so nothing else moves);
* the - strand member equals the + strand member of the same shift: the law is strand-symmetric
  (``tests/models/test_planted_v2.py``) and the landmark bin mirrors (``docs/geometry.md``).

The fits use statsmodels' formula OLS, independently of :mod:`seqbench.stats.indicator_ols`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.multiplicativity import demo as mx_demo
from seqbench.experiments.multiplicativity import design as mx
from seqbench.genome import Genome
from seqbench.models.planted import law
from seqbench.models.planted.reference import (
    output_from_hits,
    output_from_weights_v2,
    position_weights,
    reference_output_v2,
)
from seqbench.sequence.codes import reverse_complement
from seqbench.sequence.constructs import Construct, materialize
from seqbench.spec import parse_spec

L = law.SEQUENCE_LENGTH
BIN = law.BIN_SIZE
HALF = law.MOTIF_LENGTH // 2
CAGE_K562 = next(i for i, ident, _d in law.TRACKS if ident == "PLANTED_CAGE_K562")


@functools.lru_cache(maxsize=2)
def demo(cache_dir: Path):
    """(spec, genome, design) of the embedded default."""
    layout = ensure_demo(cache_dir)
    spec = parse_spec(mx_demo.demo_spec(layout.root), origin="test", base_dir=layout.root)
    genome = Genome(spec.fasta)
    return spec, genome, mx.expand(spec, genome, spec.model.declared_geometry)


def _member_weights(w: tuple[np.ndarray, np.ndarray], off: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin weights of the member whose input is ``[off, off + L)`` of the extended window: centres
    within 5 bp of the input's ends belong to windows that cross them, and count nothing."""
    out = []
    for arr in w:
        sub = arr[off : off + L].copy()
        sub[:HALF] = 0.0
        sub[L - HALF :] = 0.0
        out.append(sub.reshape(L // BIN, BIN).sum(axis=1))
    return out[0], out[1]


def _landmark_bin(landmark: int, off: int, offset: int) -> int:
    return (landmark - off - offset) // BIN


def _edit_deltas(c: Construct, ext: np.ndarray, background: tuple[np.ndarray, np.ndarray],
                 first: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(positions, delta_P, delta_E)`` per edit: the change of the per-position weights from the
    background's, for every centre whose 11-mer overlaps the edit (``first``: source position of ``ext[0]``)."""
    out = []
    for e in c.edits:
        lo, hi = e.start - first - HALF, e.end - first + HALF  # centres whose 11-mer overlaps the edit
        s_p, s_e = position_weights(ext[lo - HALF : hi + HALF][None, :])
        q = np.arange(lo, hi)
        out.append((q, s_p[0, HALF : HALF + hi - lo] - background[0][lo:hi],
                    s_e[0, HALF : HALF + hi - lo] - background[1][lo:hi]))
    return out


@functools.lru_cache(maxsize=4)
def reference_members(cache_dir: Path, saturated: bool = True) -> pd.DataFrame:
    """The job's prediction rows as planted-v2's NumPy reference gives them: ``construct_id, member, cage``
    (the 3-bin K562 CAGE sum around the landmark bin), members in the ensemble's strand-major order.

    ``saturated=False``: the same graded weights through the multiplicative v1 formulas
    (:func:`~seqbench.models.planted.reference.output_from_hits`), i.e. planted-v2 without its saturation:
    what the statistics would read if the law were multiplicative."""
    spec, genome, design = demo(cache_dir)
    geometry = spec.model.declared_geometry
    ens = spec.ensemble
    ids = list(range(design.n_constructs))
    constructs = design.constructs(ids)
    backgrounds: dict[tuple[str, int | None], tuple[tuple[np.ndarray, np.ndarray], list]] = {}
    h_p, h_e, lm_bins = [], [], []
    for c in constructs:
        ext, lm = materialize(c, genome.read_padded, sequence_length=L, min_shift=ens.min_shift,
                              max_shift=ens.max_shift)
        first = c.window_start + ens.min_shift
        key = (c.chrom, c.window_start)
        if key not in backgrounds:
            own = Construct(key=f"bg:{c.chrom}:{c.window_start}", chrom=c.chrom, landmark=c.landmark,
                            window_start=c.window_start)
            bg_ext, _ = materialize(own, genome.read_padded, sequence_length=L, min_shift=ens.min_shift,
                                    max_shift=ens.max_shift)
            w = tuple(a[0] for a in position_weights(bg_ext[None, :]))
            backgrounds[key] = (w, [_member_weights(w, s - ens.min_shift) for s in ens.shifts])
        w_bg, bins_bg = backgrounds[key]
        deltas = _edit_deltas(c, ext, w_bg, first)
        for k, shift in enumerate(ens.shifts):
            off = shift - ens.min_shift
            p, e = bins_bg[k][0].copy(), bins_bg[k][1].copy()
            for q, d_p, d_e in deltas:
                inside = (q >= off + HALF) & (q < off + L - HALF)  # 11-mers inside this member's input
                idx = (q[inside] - off) // BIN
                np.add.at(p, idx, d_p[inside])
                np.add.at(e, idx, d_e[inside])
            h_p.append(p)
            h_e.append(e)
            lm_bins.append(_landmark_bin(lm, off, geometry.offset))
    law_fn = output_from_weights_v2 if saturated else output_from_hits
    out = law_fn(np.stack(h_p), np.stack(h_e))[:, :, CAGE_K562]
    lo, hi = ens.bin_window
    plus = np.array([out[i, b + lo : b + hi + 1].sum() for i, b in enumerate(lm_bins)]).reshape(len(ids), -1)
    by_shift = dict(zip(ens.shifts, plus.T, strict=True))
    rows = [  # the - strand member of a shift equals its + strand member
        pd.DataFrame({"construct_id": ids, "member": m, "cage": by_shift[shift]})
        for m, (_strand, shift) in enumerate(ens.members)
    ]
    return pd.concat(rows, ignore_index=True).sort_values(["construct_id", "member"], ignore_index=True)


def reference_combos(cache_dir: Path, saturated: bool = True) -> pd.DataFrame:
    """One row per construct: ``construct_id, location_key, promoter_id, enhancer_id, cage`` (the member
    mean of the 3-bin K562 CAGE sum) and ``y = log2(cage + 1)``, from planted-v2's NumPy reference."""
    _spec, _genome, design = demo(cache_dir)
    cage = reference_members(cache_dir, saturated).groupby("construct_id")["cage"].mean()
    table = design.table[["construct_id", "location_key", "promoter_id", "enhancer_id"]].astype(
        {"location_key": str, "promoter_id": str, "enhancer_id": str})
    mean = cage.loc[table["construct_id"]].to_numpy()
    return table.assign(cage=mean, y=np.log2(mean + 1.0))


def check_shortcuts(cache_dir: Path, construct_ids: list[int]) -> None:
    """The shortcuts of :func:`reference_combos` against :func:`reference_output_v2` on whole members,
    both strands, every shift (raises AssertionError)."""
    spec, genome, design = demo(cache_dir)
    geometry, ens = spec.model.declared_geometry, spec.ensemble
    combos = reference_combos(cache_dir).set_index("construct_id")
    n = geometry.n_bins
    lo, hi = ens.bin_window
    for cid in construct_ids:
        c = design.build(cid)
        ext, lm = materialize(c, genome.read_padded, sequence_length=L, min_shift=ens.min_shift,
                              max_shift=ens.max_shift)
        members = []
        for strand, shift in ens.members:
            off = shift - ens.min_shift
            x = ext[off : off + L]
            b = _landmark_bin(lm, off, geometry.offset)
            if strand == "-":
                x, b = reverse_complement(x), n - 1 - b
            out = reference_output_v2(x[None, :])[0, :, CAGE_K562]
            members.append(out[b + lo : b + hi + 1].sum())
        np.testing.assert_allclose(np.mean(members), combos.loc[cid, "cage"], rtol=1e-10)


def ols_r2(frame: pd.DataFrame, formula: str) -> float:
    import statsmodels.formula.api as smf

    return float(smf.ols(formula, data=frame).fit().rsquared)


def implied_statistics(combos: pd.DataFrame) -> dict[str, float]:
    """The headline statistics the job must report for ``combos``, fitted with statsmodels."""
    import statsmodels.formula.api as smf

    full = "y ~ C(promoter_id) + C(enhancer_id) + C(location_key)"
    per_bg_mult, per_bg_prom, coefs = [], [], {}
    for key, g in combos.groupby("location_key"):
        fit = smf.ols("y ~ C(promoter_id) + C(enhancer_id)", data=g).fit()
        per_bg_mult.append(fit.rsquared)
        per_bg_prom.append(ols_r2(g, "y ~ C(promoter_id)"))
        coefs[key] = fit.params.filter(like="C(enhancer_id)")
    corr = pd.DataFrame(coefs).corr().to_numpy()
    off_diag = corr[~np.eye(len(corr), dtype=bool)]
    return {
        "r2_whole_multiplicative": ols_r2(combos, full),
        "r2_whole_promoter": ols_r2(combos, "y ~ C(promoter_id)"),
        "r2_background_multiplicative_median": float(np.median(per_bg_mult)),
        "r2_background_promoter_median": float(np.median(per_bg_prom)),
        "enhancer_coef_corr_across_backgrounds_median": float(np.median(off_diag)),
    }
