"""Reduce of the in silico enhancer shift (experiments-spec §10.3; paper Fig. S23).

Pure pandas/numpy/scipy/scikit-learn; no Ray.

Inputs
------
``values``: one row per construct (the design table of
:mod:`seqbench.experiments.enhancer_shift.design` plus ``value``):

===============  =======  ======================================================================
column           dtype    meaning
===============  =======  ======================================================================
ziga_key         str      the enhancer-gene pair
placement        str      ``removed`` (native element deleted), ``native`` or ``shifted``
insert           str      ``none`` (removed), ``enhancer``, ``neutral`` (N block) or ``shuffle``
signed_distance  int      bp; shifted: direction × test distance; native: element mid − TSS
value            float    the readout (K562 CAGE 3-bin landmark sum) averaged over the ensemble
                          members, linear scale
===============  =======  ======================================================================

``pairs``: one row per pair: ``ziga_key, validated, distance`` (native, bp), ``signed_distance``,
``observed_percent`` (the CRISPRi effect, %), ``shifted`` (True: a validated enhancer placed at
every test distance; False: placed at the ``all_enhancers_distances`` only).

Conventions (§10.3)
-------------------
* The mean in linear scale over constructs per (pair, placement, signed distance, insert) — for
  ``shuffle`` over the shuffles too — then ``log2(x + 1)``.
* ``log2_fc = log2(shuffle + 1) − log2(enhancer + 1)`` (negative for an activating enhancer);
  ``predicted_percent = |2^log2_fc − 1| · 100``.  Also against the N block (``_neutral``) and
  against the ``removed`` baseline (``_removed``).
* Per (pair, |distance|) the larger ``predicted_percent`` of the two directions (the authors'
  column-wise max; here ``log2_fc`` and ``direction`` are those of the direction kept).
* "shifted" without a distance means the maximum over every test distance (both directions): how
  large the effect can get by moving the element.
* Correlations of percentages use ``log10``; rows with a non-positive or missing value are left out.
* The bootstrap resamples pairs with replacement (raw PCG64 output seeded by the job, stable across
  NumPy versions), the same rows
  for both correlations.
* AUPRC is :func:`sklearn.metrics.average_precision_score`, ROC-AUC
  :func:`sklearn.metrics.roc_auc_score`, label ``validated``, over every pair placed at the compare
  distance; NaN when only one class is present.

Summary keys (:data:`SUMMARY_KEYS`; NaN is reported as ``None``)
-----------------------------------------------------------------
See ``docs/experiments/enhancer-shift.md`` for the meaning of each key.  ``notes`` maps every key
reported as ``None`` to one line saying why it is undefined (:func:`undefined_notes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.report.tables import write_frames, write_json
from seqbench.sequence.shuffles import RawStream
from seqbench.stats.common import MIN_PAIRS, correlate

__all__ = [
    "SUMMARY_KEYS",
    "EnhancerShiftResults",
    "best_direction",
    "bootstrap_delta_pearson",
    "classification",
    "distance_profile",
    "placement_effects",
    "reduce_enhancer_shift",
    "undefined_notes",
    "write_tables",
]

#: quantiles of the per-distance profile (besides the median)
QUANTILES = (0.1, 0.25, 0.75, 0.9)
#: thresholds of the paper's counts (cells 53, 69-72)
PERCENT_THRESHOLD = 10.0
FAR_STRONG_RANGE = (50_000, 96_000)  # native distance (bp), exclusive, for median_native_percent_far_strong

SUMMARY_KEYS = (
    "n_enhancers_shifted",
    "n_enhancers_other",
    "n_distances",
    "nearest_distance",
    "farthest_distance",
    "median_percent_nearest",
    "median_percent_10kb",
    "median_percent_compare",
    "median_percent_farthest",
    "median_native_percent",
    "median_observed_percent",
    "median_profile_is_decreasing",
    "spearman_native_observed",
    "spearman_native_observed_p",
    "pearson_log_native_observed",
    "pearson_log_shifted_observed",
    "delta_r",
    "bootstrap_delta_r_q025",
    "bootstrap_delta_r_p_positive",
    "n_bootstrap",
    "n_native_exceeds_observed",
    "n_shifted_exceeds_observed",
    "n_far",
    "n_far_native_exceeds_observed",
    "n_far_shifted_exceeds_observed",
    "n_native_above_10pct",
    "n_shifted_above_10pct",
    "n_far_native_above_10pct",
    "n_far_shifted_above_10pct",
    "shifted_minus_observed_mean",
    "shifted_minus_observed_sd",
    "shifted_minus_observed_min",
    "shifted_minus_observed_q25",
    "shifted_minus_observed_median",
    "shifted_minus_observed_q75",
    "shifted_minus_observed_max",
    "median_native_percent_far_strong",
    "n_classified",
    "prevalence",
    "auprc_native",
    "auprc_shifted",
    "roc_auc_native",
    "roc_auc_shifted",
    "notes",
)


def percent(log2_fc):
    """``|2^log2_fc − 1| · 100`` (elementwise)."""
    return np.abs(np.exp2(log2_fc) - 1.0) * 100.0


def placement_effects(values: pd.DataFrame) -> pd.DataFrame:
    """One row per (pair, placement, signed distance) of the ``native`` and ``shifted`` placements.

    Columns: ``ziga_key, placement, signed_distance, distance, direction`` (−1, +1; 0 for a native
    distance of 0), the linear means ``enhancer, neutral, shuffle, removed`` and ``n_shuffles``,
    ``log2_enhancer, log2_neutral, log2_shuffle, log2_removed`` (``log2(x + 1)``), ``log2_fc``
    (shuffle − enhancer), ``log2_fc_neutral``, ``log2_fc_removed``, ``predicted_percent``,
    ``predicted_percent_neutral``, ``predicted_percent_removed``.
    """
    need = ("ziga_key", "placement", "insert", "signed_distance", "value")
    missing = [c for c in need if c not in values.columns]
    if missing:
        raise ValueError(f"values: missing column(s) {missing}; need {list(need)}")
    v = values.loc[:, list(need)].copy()
    for c in ("ziga_key", "placement", "insert"):
        v[c] = v[c].astype(str)
    v["value"] = v["value"].astype(np.float64)
    if not np.isfinite(v["value"].to_numpy()).all():
        raise ValueError("values: column 'value' has non-finite entries")
    removed = v[v["placement"] == "removed"].groupby("ziga_key")["value"].mean()
    rest = v[v["placement"].isin(["native", "shifted"])]
    keys = ["ziga_key", "placement", "signed_distance"]
    wide = rest.groupby([*keys, "insert"], sort=True)["value"].mean().unstack("insert")
    for c in ("enhancer", "neutral", "shuffle"):
        if c not in wide.columns:
            wide[c] = np.nan
    n_shuf = rest[rest["insert"] == "shuffle"].groupby(keys).size()
    out = wide[["enhancer", "neutral", "shuffle"]].reset_index()
    out.columns.name = None
    out["n_shuffles"] = n_shuf.reindex(pd.MultiIndex.from_frame(out[keys])).fillna(0).to_numpy(np.int64)
    out["removed"] = removed.reindex(out["ziga_key"]).to_numpy(np.float64)
    out["distance"] = out["signed_distance"].abs().astype(np.int64)
    out["direction"] = np.sign(out["signed_distance"]).astype(np.int64)
    for c in ("enhancer", "neutral", "shuffle", "removed"):
        out[f"log2_{c}"] = np.log2(out[c].to_numpy(np.float64) + 1.0)
    out["log2_fc"] = out["log2_shuffle"] - out["log2_enhancer"]
    out["log2_fc_neutral"] = out["log2_neutral"] - out["log2_enhancer"]
    out["log2_fc_removed"] = out["log2_removed"] - out["log2_enhancer"]
    out["predicted_percent"] = percent(out["log2_fc"].to_numpy())
    out["predicted_percent_neutral"] = percent(out["log2_fc_neutral"].to_numpy())
    out["predicted_percent_removed"] = percent(out["log2_fc_removed"].to_numpy())
    return out


def best_direction(effects: pd.DataFrame) -> pd.DataFrame:
    """Per (pair, |distance|) of the shifted placements: the direction with the larger effect.

    Columns: ``ziga_key, distance, predicted_percent, log2_fc, direction`` (of the kept direction),
    ``predicted_percent_upstream``, ``predicted_percent_downstream`` (NaN where not placed there).
    """
    s = effects[effects["placement"] == "shifted"]
    cols = ["ziga_key", "distance", "predicted_percent", "log2_fc", "direction"]
    if s.empty:
        return pd.DataFrame(columns=[*cols, "predicted_percent_upstream", "predicted_percent_downstream"])
    idx = s.groupby(["ziga_key", "distance"], sort=True)["predicted_percent"].idxmax()
    best = s.loc[idx.to_numpy(), cols].reset_index(drop=True)
    by_dir = s.pivot_table(index=["ziga_key", "distance"], columns="direction", values="predicted_percent")
    mi = pd.MultiIndex.from_frame(best[["ziga_key", "distance"]])
    best["predicted_percent_upstream"] = by_dir.get(-1, pd.Series(np.nan, index=by_dir.index)).reindex(mi).to_numpy()
    best["predicted_percent_downstream"] = by_dir.get(1, pd.Series(np.nan, index=by_dir.index)).reindex(mi).to_numpy()
    return best


def distance_profile(best: pd.DataFrame, keys: pd.Index | None = None, quantiles=QUANTILES) -> pd.DataFrame:
    """Per |distance|: ``n``, ``median``, ``q10 .. q90`` (:data:`QUANTILES`) and ``mean`` of
    ``predicted_percent`` over the pairs in ``keys`` (default: all)."""
    b = best if keys is None else best[best["ziga_key"].isin(keys)]
    rows = []
    for d, grp in b.groupby("distance", sort=True):
        x = grp["predicted_percent"].to_numpy(np.float64)
        row = {"distance": int(d), "n": int(x.size), "median": float(np.median(x)), "mean": float(np.mean(x))}
        for q in quantiles:
            row[f"q{round(q * 100):02d}"] = float(np.quantile(x, q))
        rows.append(row)
    cols = ["distance", "n", "median", *(f"q{round(q * 100):02d}" for q in quantiles), "mean"]
    return pd.DataFrame(rows, columns=cols)


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair of ``x, y`` ``[n, m]`` (NaN where a row has no variance)."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    num = (xc * yc).sum(axis=1)
    den = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def bootstrap_delta_pearson(
    a: np.ndarray, b: np.ndarray, y: np.ndarray, n: int, seed: int, *, block: int = 1000
) -> np.ndarray:
    """``r(a, y) − r(b, y)`` on ``n`` resamples of the rows (with replacement; the same rows for both).

    Rows come from the raw output of PCG64 seeded with ``seed`` (:class:`seqbench.sequence.shuffles.RawStream`,
    stable across NumPy versions): row ``floor(u * m)`` for ``u`` the top 53 bits of a raw word over 2**53;
    ``block`` resamples at a time (the result does not depend on ``block``).  Returns float64 ``[n]``
    (NaN for a resample without variance, and all NaN for fewer than
    :data:`~seqbench.stats.common.MIN_PAIRS` rows, as :func:`~seqbench.stats.common.correlate`).
    """
    a, b, y = (np.asarray(v, dtype=np.float64) for v in (a, b, y))
    m = a.size
    if not (b.size == m and y.size == m):
        raise ValueError(f"bootstrap: a, b and y must have the same length, got {a.size}, {b.size}, {y.size}")
    if m < MIN_PAIRS:
        return np.full(n, np.nan)
    rng = RawStream(seed)
    out = np.empty(n, dtype=np.float64)
    for i0 in range(0, n, block):
        k = min(block, n - i0)
        u = (rng.words(k * m) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        idx = np.minimum((u * m).astype(np.int64), m - 1).reshape(k, m)
        ya = y[idx]
        out[i0 : i0 + k] = _pearson_rows(a[idx], ya) - _pearson_rows(b[idx], ya)
    return out


def classification(labels: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, float]:
    """AUPRC (average precision) and ROC-AUC of each score for ``labels``; ``prevalence``, ``n``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(labels, dtype=bool)
    out: dict[str, float] = {"n": float(y.size), "prevalence": float(y.mean()) if y.size else math.nan}
    both = y.any() and not y.all()
    for name, s in scores.items():
        s = np.asarray(s, dtype=np.float64)
        out[f"auprc_{name}"] = float(average_precision_score(y, s)) if both else math.nan
        out[f"roc_auc_{name}"] = float(roc_auc_score(y, s)) if both else math.nan
    return out


def _log_valid(*cols: np.ndarray) -> np.ndarray:
    ok = np.ones(cols[0].shape, dtype=bool)
    for c in cols:
        ok &= np.isfinite(c) & (c > 0)
    return ok


def pair_summary(effects: pd.DataFrame, best: pd.DataFrame, pairs: pd.DataFrame, compare_distance: int) -> pd.DataFrame:
    """``pairs`` plus ``native_log2_fc, native_percent`` (the element in place vs its shuffles),
    ``shifted_percent_compare`` (best direction at ``compare_distance``; NaN if not placed there),
    ``shifted_percent_max`` and ``shifted_distance_max`` (the largest effect over every placement)."""
    out = pairs.copy()
    out["ziga_key"] = out["ziga_key"].astype(str)
    nat = effects[effects["placement"] == "native"].set_index("ziga_key")
    out["native_log2_fc"] = nat["log2_fc"].reindex(out["ziga_key"]).to_numpy(np.float64)
    out["native_percent"] = nat["predicted_percent"].reindex(out["ziga_key"]).to_numpy(np.float64)
    at = best[best["distance"] == compare_distance].set_index("ziga_key")
    out["shifted_percent_compare"] = at["predicted_percent"].reindex(out["ziga_key"]).to_numpy(np.float64)
    if best.empty:
        out["shifted_percent_max"] = np.nan
        out["shifted_distance_max"] = np.nan
    else:
        imax = best.groupby("ziga_key")["predicted_percent"].idxmax()
        mx = best.loc[imax.to_numpy()].set_index("ziga_key")
        out["shifted_percent_max"] = mx["predicted_percent"].reindex(out["ziga_key"]).to_numpy(np.float64)
        out["shifted_distance_max"] = mx["distance"].reindex(out["ziga_key"]).to_numpy(np.float64)
    return out


@dataclass(frozen=True)
class EnhancerShiftResults:
    """Tables of the enhancer-shift reduce.

    effects:  :func:`placement_effects` (every placement of every pair).
    best:     :func:`best_direction` (per pair and |distance|: the per-enhancer trajectories).
    profile:  :func:`distance_profile` over the shifted (validated) set.
    pairs:    :func:`pair_summary`.
    bootstrap: the ``n_bootstrap`` resampled correlation differences.
    stats:    the scalar statistics (the summary's values before NaN -> None).
    """

    effects: pd.DataFrame
    best: pd.DataFrame
    profile: pd.DataFrame
    pairs: pd.DataFrame
    bootstrap: np.ndarray
    stats: dict[str, Any]
    compare_distance: int
    far_distance: int

    def summary(self) -> dict[str, Any]:
        """Flat, strict-JSON dict with the keys :data:`SUMMARY_KEYS` (NaN becomes ``None``; ``notes``
        says why, :func:`undefined_notes`)."""
        out: dict[str, Any] = {}
        for k in SUMMARY_KEYS:
            if k == "notes":
                continue
            v = self.stats.get(k, math.nan)
            if isinstance(v, (np.floating, float)):
                v = float(v)
                v = None if not math.isfinite(v) else v
            elif isinstance(v, (np.integer,)):
                v = int(v)
            elif isinstance(v, np.bool_):
                v = bool(v)
            out[k] = v
        out["notes"] = undefined_notes(out, self)
        return out


def undefined_notes(summary: dict[str, Any], results: EnhancerShiftResults) -> dict[str, str]:
    """``{key: why}`` for every ``None`` value of ``summary`` (one line each, in the user's terms)."""
    S = results.pairs[results.pairs["shifted"].astype(bool)]
    n_log = int(_log_valid(*(S[c].to_numpy(np.float64) for c in
                             ("native_percent", "observed_percent", "shifted_percent_compare"))).sum())
    distances = set(results.profile["distance"])
    few = (f"{n_log} validated pairs have positive native, shifted and observed effects; a correlation needs"
           " >= 3 of them and both sides varying")
    why: dict[str, str] = {}
    for k, v in summary.items():
        if v is not None:
            continue
        if not len(S):
            why[k] = "no validated pair was shifted"
        elif k == "median_percent_10kb" and 10_000 not in distances:
            why[k] = "10 kb is not one of inputs.distances"
        elif k in ("spearman_native_observed", "spearman_native_observed_p"):
            why[k] = "fewer than 3 validated pairs with both native and observed effects, or a constant side"
        elif k in ("pearson_log_native_observed", "pearson_log_shifted_observed", "delta_r",
                   "bootstrap_delta_r_q025", "bootstrap_delta_r_p_positive"):
            why[k] = few
        elif k == "median_native_percent_far_strong":
            lo, hi = FAR_STRONG_RANGE
            why[k] = (f"no validated enhancer lies {lo // 1000}-{hi // 1000} kb from its TSS with an observed"
                      f" effect > {PERCENT_THRESHOLD:g} %")
        elif k.startswith("shifted_minus_observed"):
            why[k] = "too few validated pairs with both a shifted and an observed effect (sd needs 2)"
        elif k in ("prevalence", "auprc_native", "auprc_shifted", "roc_auc_native", "roc_auc_shifted"):
            why[k] = ("the pairs placed at the compare distance are all validated or all not: AUPRC and"
                      " ROC-AUC need both classes")
        else:
            why[k] = "undefined for this job's pairs and distances (see docs/experiments/enhancer-shift.md)"
    return why


def _profile_at(profile: pd.DataFrame, distance: int | None) -> float:
    if distance is None:
        return math.nan
    row = profile.loc[profile["distance"] == distance, "median"]
    return float(row.iloc[0]) if len(row) else math.nan


def reduce_enhancer_shift(
    values: pd.DataFrame,
    pairs: pd.DataFrame,
    *,
    compare_distance: int,
    far_distance: int,
    n_bootstrap: int,
    bootstrap_seed: int,
) -> EnhancerShiftResults:
    """All §10.3 statistics (see the module docstring and ``docs/experiments/enhancer-shift.md``)."""
    effects = placement_effects(values)
    best = best_direction(effects)
    ps = pair_summary(effects, best, pairs, compare_distance)
    shift_keys = pd.Index(ps.loc[ps["shifted"].astype(bool), "ziga_key"])
    profile = distance_profile(best, shift_keys)
    S = ps[ps["shifted"].astype(bool)]

    native = S["native_percent"].to_numpy(np.float64)
    obs = S["observed_percent"].to_numpy(np.float64)
    smax = S["shifted_percent_max"].to_numpy(np.float64)
    scmp = S["shifted_percent_compare"].to_numpy(np.float64)
    far = S["distance"].to_numpy(np.float64) > far_distance

    st: dict[str, Any] = {
        "n_enhancers_shifted": int(len(S)),
        "n_enhancers_other": int((~ps["shifted"].astype(bool)).sum()),
        "n_distances": int(profile.shape[0]),
        "nearest_distance": int(profile["distance"].min()) if len(profile) else None,
        "farthest_distance": int(profile["distance"].max()) if len(profile) else None,
    }
    st["median_percent_nearest"] = float(profile["median"].iloc[0]) if len(profile) else math.nan
    st["median_percent_farthest"] = float(profile["median"].iloc[-1]) if len(profile) else math.nan
    st["median_percent_10kb"] = _profile_at(profile, 10_000)
    st["median_percent_compare"] = _profile_at(profile, compare_distance)
    st["median_native_percent"] = float(np.nanmedian(native)) if native.size else math.nan
    st["median_observed_percent"] = float(np.nanmedian(obs)) if obs.size else math.nan
    st["median_profile_is_decreasing"] = bool(len(profile) > 1 and (np.diff(profile["median"].to_numpy()) < 0).all())

    c = correlate(native, obs)
    st["spearman_native_observed"], st["spearman_native_observed_p"] = c.spearman_r, c.spearman_p

    ok = _log_valid(native, obs, scmp)
    ln, lo, ls = np.log10(native[ok]), np.log10(obs[ok]), np.log10(scmp[ok])
    st["pearson_log_native_observed"] = correlate(ln, lo).pearson_r
    st["pearson_log_shifted_observed"] = correlate(ls, lo).pearson_r
    st["delta_r"] = st["pearson_log_shifted_observed"] - st["pearson_log_native_observed"]
    boot = bootstrap_delta_pearson(ls, ln, lo, n_bootstrap, bootstrap_seed)
    fin = boot[np.isfinite(boot)]
    st["bootstrap_delta_r_q025"] = float(np.quantile(fin, 0.025)) if fin.size else math.nan
    st["bootstrap_delta_r_p_positive"] = float(np.mean(fin > 0)) if fin.size else math.nan
    st["n_bootstrap"] = int(n_bootstrap)

    st["n_native_exceeds_observed"] = int((native > obs).sum())
    st["n_shifted_exceeds_observed"] = int((smax > obs).sum())
    st["n_far"] = int(far.sum())
    st["n_far_native_exceeds_observed"] = int((native > obs)[far].sum())
    st["n_far_shifted_exceeds_observed"] = int((smax > obs)[far].sum())
    st["n_native_above_10pct"] = int((native > PERCENT_THRESHOLD).sum())
    st["n_shifted_above_10pct"] = int((smax > PERCENT_THRESHOLD).sum())
    st["n_far_native_above_10pct"] = int((native > PERCENT_THRESHOLD)[far].sum())
    st["n_far_shifted_above_10pct"] = int((smax > PERCENT_THRESHOLD)[far].sum())
    diff = (smax - obs)[np.isfinite(smax - obs)]
    for name, fn in (
        ("mean", np.mean),
        ("sd", lambda x: np.std(x, ddof=1) if x.size > 1 else math.nan),
        ("min", np.min),
        ("q25", lambda x: np.quantile(x, 0.25)),
        ("median", np.median),
        ("q75", lambda x: np.quantile(x, 0.75)),
        ("max", np.max),
    ):
        st[f"shifted_minus_observed_{name}"] = float(fn(diff)) if diff.size else math.nan
    lo_d, hi_d = FAR_STRONG_RANGE
    d = S["distance"].to_numpy(np.float64)
    sel = (d > lo_d) & (d < hi_d) & (obs > PERCENT_THRESHOLD)
    st["median_native_percent_far_strong"] = float(np.median(native[sel])) if sel.any() else math.nan

    cl = ps[np.isfinite(ps["shifted_percent_compare"].to_numpy(np.float64))
            & np.isfinite(ps["native_percent"].to_numpy(np.float64))]
    c = classification(
        cl["validated"].to_numpy(bool),
        {
            "native": cl["native_percent"].to_numpy(np.float64),
            "shifted": cl["shifted_percent_compare"].to_numpy(np.float64),
        },
    )
    st["n_classified"] = int(c["n"])
    for k in ("prevalence", "auprc_native", "auprc_shifted", "roc_auc_native", "roc_auc_shifted"):
        st[k] = c[k]
    return EnhancerShiftResults(effects, best, profile, ps, boot, st, int(compare_distance), int(far_distance))


# ---------------------------------------------------------------- tables

#: file stems written by :func:`write_tables` -> (attribute, also CSV?)
TABLE_FILES: dict[str, tuple[str, bool]] = {
    "enhancer_shift_effects": ("effects", False),
    "enhancer_shift_trajectories": ("best", True),
    "enhancer_shift_profile": ("profile", True),
    "enhancer_shift_pairs": ("pairs", True),
}
SUMMARY_FILE = "enhancer_shift_summary.json"


def write_tables(results: EnhancerShiftResults, out_dir: Path) -> list[Path]:
    """Write the tables as Parquet (the small ones also as CSV), the bootstrap draws and the summary.

    Each file goes to a hidden temporary name and is moved into place (:func:`os.replace`).
    Returns the paths written, in a fixed order.
    """
    frames = {stem: getattr(results, attr).reset_index(drop=True) for stem, (attr, _) in TABLE_FILES.items()}
    frames["enhancer_shift_bootstrap"] = pd.DataFrame({"delta_r": results.bootstrap})
    written = write_frames(frames, out_dir, csv=[stem for stem, (_, csv) in TABLE_FILES.items() if csv])
    written.append(write_json(Path(out_dir) / SUMMARY_FILE, results.summary()))
    return written
