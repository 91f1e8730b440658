"""Statistics of the eQTL experiment (experiments-spec §7.3).

Per construct: the mean over ensemble members of every feature track (natural scale; the authors'
CAGE ``_landmark_sum``), then ``X = log10(mean + 1)`` in the matches' feature order; per variant and
tissue of its credible set: ``log_pred = match.predict(X)`` for the alt construct and the gene's ref
construct (log10, centred by the training mean, which cancels), ``log2_fc = (alt - ref) / log10(2)``,
``pct_change = (2^log2_fc - 1) * 100``.  Per block (``gene_id, cs_id, tissue``): the variant of
maximal ``|pct_change|`` ("strongest").  Reported: the median of the strongest ``|%|`` overall and over
blocks whose strongest variant lies beyond ``far_distance`` bp; OLS (statsmodels) of ``log10 |%|`` on
``log10 abs_tss_distance`` over the strongest variants with a non-zero effect (a zero effect has no
logarithm; the number left out is reported); observed (GTEx pairs): max ``|slope|`` per
(``gene_id, cs_id, tissue``) vs ``abs_tss_distance_min`` of the block, with Spearman's rho (and the
same rho for the predictions) as the decay summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import construct_means
from seqbench.files import write_if_changed
from seqbench.inputs.eqtl import tissue_key
from seqbench.inputs.tables import InputError

SUMMARY_KEYS = (
    "n_variants_in", "n_blocks_in", "n_blocks_kept", "n_variants_kept", "n_ref_mismatch", "n_no_canonical_tss",
    "n_constructs_ref", "n_constructs_alt", "max_distance",
    "fails_not_5prime", "fails_alternative_5prime_tss", "fails_too_far", "fails_at_tss", "fails_crossing",
    "fails_block_too_large",
    "n_sets", "median_max_abs_pct", "median_max_abs_pct_far", "n_sets_far",
    "ols_slope", "ols_intercept", "ols_r2", "ols_n", "ols_n_zero",
    "predicted_spearman_distance", "observed_n", "observed_spearman_distance",
)
LOG10_2 = math.log10(2.0)
#: the filter rules in the order they are reported (a block's ``fails`` is the first it fails)
RULES = ("not_5prime", "alternative_5prime_tss", "too_far", "at_tss", "crossing", "block_too_large")
BLOCK = ["gene_id", "cs_id", "tissue"]
#: columns of susie_df_small_blocks.tsv, as the authors' file (class-imbalance reads gene_id, cs_id,
#: tissue, chromosome, position, tss, Strand, abs_tss_distance_mean)
SMALL_BLOCK_COLUMNS = (
    "molecular_trait_id", "gene_id", "variant", "chromosome", "position", "ref", "alt", "cs_id", "tissue",
    "tss", "Strand", "tss_distance", "end_distance", "crossing", "abs_tss_distance", "abs_tss_distance_min",
    "abs_tss_distance_max", "abs_tss_distance_mean", "block_size",
)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rho on the finite pairs (NaN with fewer than 3 or a constant side): the shared helper."""
    from seqbench.stats.common import correlate

    return float(correlate(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)).spearman_r)


def ols_log_log(distance: np.ndarray, effect: np.ndarray) -> dict[str, float]:
    """OLS ``log10 effect ~ 1 + log10 distance`` (statsmodels) over the pairs with both > 0."""
    import statsmodels.api as sm

    d = np.asarray(distance, dtype=np.float64)
    e = np.asarray(effect, dtype=np.float64)
    ok = (d > 0) & (e > 0) & np.isfinite(e)
    out = {"slope": math.nan, "intercept": math.nan, "r2": math.nan, "n": int(ok.sum()), "n_zero": int((~ok).sum())}
    if ok.sum() >= 3 and np.ptp(np.log10(d[ok])) > 0:
        fit = sm.OLS(np.log10(e[ok]), sm.add_constant(np.log10(d[ok]))).fit()
        out.update(intercept=float(fit.params[0]), slope=float(fit.params[1]), r2=float(fit.rsquared))
    return out


@dataclass
class EqtlResults:
    filtered: pd.DataFrame  # every variant with its filter outcome
    small_blocks: pd.DataFrame
    skipped: pd.DataFrame
    effects: pd.DataFrame  # per (variant, block)
    max_effects: pd.DataFrame  # per block
    observed: pd.DataFrame  # per block, GTEx slopes
    ols: dict[str, float]
    counts: dict[str, int]
    far_distance: int

    def summary(self) -> dict[str, Any]:
        m = self.max_effects
        a = m["max_abs_pct"].to_numpy(np.float64)
        far = m["abs_tss_distance"].to_numpy() > self.far_distance
        obs = self.observed

        def f(x: float) -> float | None:
            return None if not math.isfinite(x) else float(x)

        out: dict[str, Any] = dict(self.counts)
        out.update({
            "n_sets": int(len(m)),
            "median_max_abs_pct": f(float(np.median(a))) if len(a) else None,
            "median_max_abs_pct_far": f(float(np.median(a[far]))) if far.any() else None,
            "n_sets_far": int(far.sum()),
            "ols_slope": f(self.ols["slope"]), "ols_intercept": f(self.ols["intercept"]),
            "ols_r2": f(self.ols["r2"]), "ols_n": int(self.ols["n"]), "ols_n_zero": int(self.ols["n_zero"]),
            "predicted_spearman_distance": f(_spearman(m["abs_tss_distance"].to_numpy(np.float64), a)),
            "observed_n": int(len(obs)),
            "observed_spearman_distance": f(_spearman(obs["abs_tss_distance_min"].to_numpy(np.float64),
                                                      obs["max_abs_slope"].to_numpy(np.float64)))
            if len(obs) else None,
        })
        return out


def small_blocks_table(kept: pd.DataFrame) -> pd.DataFrame:
    """The filtered credible sets in the layout of the authors' ``susie_df_small_blocks.tsv`` (``tss``
    0-based, ``position`` 1-based)."""
    t = kept.rename(columns={"variant_id": "variant"}).copy()
    t["molecular_trait_id"] = t["gene_id"]
    return t[list(SMALL_BLOCK_COLUMNS)].reset_index(drop=True)


def analyse(predictions: pd.DataFrame, design: pd.DataFrame, planned, pairs: pd.DataFrame | None, *,
            far_distance: int) -> EqtlResults:
    features = list(planned.features)
    missing = [c for c in features if c not in predictions.columns]
    if missing:
        raise InputError(f"eqtl: the predictions lack feature {missing[0]!r} of the ridge matches; expected the"
                         " tracks extra_tracks requested")
    means = construct_means(predictions, design, features, labels=["key", "gene_id", "allele", "chrom", "pos0", "ref",
                                                                    "alt"])
    X = np.log10(means[features].to_numpy(np.float64) + 1.0)
    kept = planned.kept
    tissues = sorted(kept["tissue"].unique())
    logp = {t: planned.matches[t].predict(X, features) for t in tissues}
    ref_row = {g: i for i, (g, a) in enumerate(zip(means["gene_id"], means["allele"], strict=True)) if a == "ref"}
    alt_row = {(g, c, int(p), r, a): i for i, (g, c, p, r, a, al) in enumerate(zip(
        means["gene_id"], means["chrom"], means["pos0"], means["ref"], means["alt"], means["allele"], strict=True))
        if al == "alt"}
    rows_ref, rows_alt = [], []
    for g, c, p, r, a in zip(kept["gene_id"], kept["chrom"], kept["pos0"], kept["ref"], kept["alt"], strict=True):
        rows_ref.append(ref_row.get(g, -1))
        rows_alt.append(alt_row.get((g, c, int(p), r, a), -1))
    eff = kept[["gene_id", "cs_id", "tissue", "susie_tissue", "variant_id", "chrom", "position", "pos0", "ref", "alt",
                "tss0", "strand", "tss_distance", "abs_tss_distance", "abs_tss_distance_min",
                "abs_tss_distance_mean"]].copy()
    ri, ai = np.asarray(rows_ref), np.asarray(rows_alt)
    have = (ri >= 0) & (ai >= 0)
    eff = eff.loc[have].reset_index(drop=True)
    ri, ai = ri[have], ai[have]
    lr = np.array([logp[t][i] for t, i in zip(eff["tissue"], ri, strict=True)], dtype=np.float64)
    la = np.array([logp[t][i] for t, i in zip(eff["tissue"], ai, strict=True)], dtype=np.float64)
    eff["log_pred_ref"], eff["log_pred_alt"] = lr, la
    eff["log2_fc"] = (la - lr) / LOG10_2
    eff["pct_change"] = (np.power(2.0, eff["log2_fc"]) - 1.0) * 100.0
    eff["abs_pct_change"] = eff["pct_change"].abs()
    idx = eff.groupby(BLOCK, sort=True)["abs_pct_change"].idxmax()
    mx = eff.loc[idx.to_numpy()].reset_index(drop=True)
    max_effects = mx[BLOCK + ["variant_id", "abs_tss_distance", "abs_tss_distance_min", "abs_tss_distance_mean",
                              "log2_fc", "pct_change"]].assign(max_abs_pct=mx["abs_pct_change"].to_numpy())
    ols = ols_log_log(max_effects["abs_tss_distance"].to_numpy(), max_effects["max_abs_pct"].to_numpy())
    observed = observed_effects(kept, pairs)
    f = planned.table
    blocks = f.drop_duplicates(BLOCK)
    counts = {
        "n_variants_in": int(len(f) + planned.n_no_tss), "n_blocks_in": int(len(blocks)),
        "n_blocks_kept": int((blocks["fails"] == "").sum()),
        "n_variants_kept": int(len(kept)), "n_ref_mismatch": int(len(planned.skipped)),
        "n_no_canonical_tss": int(planned.n_no_tss),
        "n_constructs_ref": int((design["allele"] == "ref").sum()),
        "n_constructs_alt": int((design["allele"] == "alt").sum()),
        "max_distance": int(planned.max_distance),
    }
    for r in RULES:
        counts[f"fails_{r}"] = int((blocks["fails"] == r).sum())
    small = small_blocks_table(f[f["fails"] == ""].rename(columns={}))
    return EqtlResults(f, small, planned.skipped, eff, max_effects, observed, ols, counts, far_distance)


def observed_effects(kept: pd.DataFrame, pairs: pd.DataFrame | None) -> pd.DataFrame:
    """Max ``|slope|`` per block of the GTEx pairs (joined on variant, unversioned gene and tissue)."""
    cols = BLOCK + ["abs_tss_distance_min", "max_abs_slope", "n_pairs"]
    if pairs is None or kept.empty:
        return pd.DataFrame(columns=cols)
    k = kept.assign(tissue_key=kept["tissue"].map(tissue_key))
    j = k.merge(pairs, on=["variant_id", "gene_id", "tissue_key"], how="inner")
    if j.empty:
        return pd.DataFrame(columns=cols)
    j["abs_slope"] = j["slope"].abs()
    g = j.groupby(BLOCK, sort=True)
    return pd.DataFrame({"abs_tss_distance_min": g["abs_tss_distance_min"].first(),
                         "max_abs_slope": g["abs_slope"].max(), "n_pairs": g.size()}).reset_index()[cols]


def _tsv(frame: pd.DataFrame, path: Path) -> Path:
    write_if_changed(path, frame.to_csv(sep="\t", index=False))
    return path


def write_tables(results: EqtlResults, out_dir: Path) -> list[Path]:
    """``susie_df_small_blocks.tsv`` (the filtered sets, the authors' layout; class-imbalance reads it),
    ``eqtl_filters.tsv`` (every variant, its block's figures and the rule it fails), ``eqtl_skipped_variants.tsv``,
    ``eqtl_variant_effects.tsv``, ``eqtl_max_effects.tsv``, ``effect_by_dist.tsv`` (observed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    skipped = results.skipped
    cols = ["file", "row", "gene_id", "cs_id", "tissue", "variant_id", "chrom", "position", "ref", "genome_ref",
            "reason"]
    skipped = skipped[cols] if len(skipped) else pd.DataFrame(columns=cols)
    filt = results.filtered.drop(columns=[c for c in ("susie_tissue",) if c in results.filtered.columns])
    return [
        _tsv(results.small_blocks, out / "susie_df_small_blocks.tsv"),
        _tsv(filt, out / "eqtl_filters.tsv"),
        _tsv(skipped, out / "eqtl_skipped_variants.tsv"),
        _tsv(results.effects, out / "eqtl_variant_effects.tsv"),
        _tsv(results.max_effects, out / "eqtl_max_effects.tsv"),
        _tsv(results.observed, out / "effect_by_dist.tsv"),
    ]
