"""Statistics of the class-imbalance analysis (experiments-spec §2.2, paper Fig. 3B), as pure functions.

All coordinates are 0-based, half-open; distances are in bp.  The inputs are the frames of
:mod:`seqbench.experiments.class_imbalance.design`'s readers:

* ``ccres``: ``chrom, start, end, cre_type`` (ENCODE cCREs; ``cre_type`` the class string, e.g.
  ``dELS``, ``pELS,CTCF-bound``, ``PLS``);
* ``susie``: one row per credible-set variant, ``gene_id, cs_id, tissue, chrom, position`` (1-based,
  as in the eQTL Catalogue), ``tss`` (the gene's canonical TSS, 0-based) and ``strand`` (+1 / -1);
* ``pairs``: one row per CRISPRi enhancer-gene pair, ``ziga_key, gene, chrom, main_tss_start,
  main_tss_end`` (the 128-bp TSS bin), ``fix_start, fix_end`` (the 2-kb element window),
  ``distance`` (the table's ``actual_tss_distance``) and ``validated``;
* ``regions``: the Basenji2 regions ``Chromosome, Start, End, set``.

Region types (the paper's legend) and what each distance is:

* ``eQTL Credible Set``: per credible set ``(gene_id, cs_id, tissue)`` the mean over its variants of
  ``|position - 1 - tss|`` (the authors' ``abs_tss_distance_mean``; computed from the integer sum, so
  the same set in two tissues gives bit-identical means), kept if every variant is within
  ``|d| < window``; then unique ``(distance, gene_id)``, as the authors' ``max_effects[[...]]
  .drop_duplicates()``;
* ``Enhancer-Like CRE``: every cCRE overlapping (half-open, >= 1 bp) a gene window ``[tss - window,
  tss + window)``, kept if it lies 5' of the gene (:func:`five_prime_ccres`) and ``"ELS"`` is in its
  class; distance ``|(start + end) / 2 - tss|``; unique ``(gene_id, cre_mid)``;
* ``Valid Enhancer`` / ``Non-valid Enhancer``: CRISPRi pairs with ``distance < window`` (both sides of
  the TSS), split by ``validated``; one row per pair.

Per type: the ECDF (:func:`ecdf_points`) and counts and quantiles (:func:`type_summary`).  The
training-overlap analysis (:func:`fully_seen`) asks, for each validated CRISPRi pair and each eQTL
credible set, whether its element was seen together with the TSS in every training region.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.report.tables import write_frames

EQTL = "eQTL Credible Set"
ELS = "Enhancer-Like CRE"
VALID = "Valid Enhancer"
NON_VALID = "Non-valid Enhancer"
#: the region types in the order of the paper's legend, and the suffix of their summary keys
REGION_TYPES: dict[str, str] = {EQTL: "eqtl", ELS: "els", VALID: "crispri_valid", NON_VALID: "crispri_nonvalid"}
#: distance bins (bp, [lo, hi)) of the training-overlap table and figure
SEEN_BIN_EDGES = (0, 5_000, 10_000, 20_000, 40_000, math.inf)
SEEN_BIN_LABELS = ("0-5", "5-10", "10-20", "20-40", ">40")

#: keys of :meth:`ClassImbalanceResults.summary`, in order (documented in docs/experiments/class-imbalance.md)
SUMMARY_KEYS = (
    "gene_window",
    "near_tss_distance",
    "distal_distance",
    "n_genes",
    "n_ccres",
    "n_ccre_gene_pairs_5prime",
    "n_eqtl_sets",
    "n_eqtl_sets_beyond_window",
    "n_crispri_pairs",
    "n_crispri_pairs_beyond_window",
    "n_crispri_pairs_unmatched_gene",
    *(
        f"{stat}_{slug}"
        for slug in REGION_TYPES.values()
        for stat in ("n", "median_distance", "fraction_near_tss", "fraction_distal", "ks_uniform")
    ),
    "n_train_regions",
    "n_validated_pairs",
    "n_validated_tss_in_train",
    "n_validated_fully_seen",
    "fraction_validated_fully_seen",
    "n_eqtl_sets_tss_in_train",
    "n_eqtl_sets_fully_seen",
    "fraction_eqtl_sets_fully_seen",
)


@dataclass(frozen=True)
class Params:
    """The analysis' numbers (bp): gene window half-width, the "near" and "distal" cut-offs of the
    summary, and how a training region is trimmed (predicted part) and extended (seen part)."""

    window: int = 95_000
    near_tss: int = 10_000
    distal: int = 32_768
    predicted_trim: int = 8_192
    seen_extension: int = 32_768


# ------------------------------------------------------------------------------------- interval join


def overlap_join(
    a_chrom: np.ndarray, a_start: np.ndarray, a_end: np.ndarray,
    b_chrom: np.ndarray, b_start: np.ndarray, b_end: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``(i, j)`` of intervals ``a[i]``, ``b[j]`` on the same chromosome that overlap by at
    least 1 bp (half-open: ``a_start < b_end and b_start < a_end``), as two index arrays sorted by
    ``(i, j)``.  Negative starts are fine.

    Per chromosome, ``b`` is sorted by start; the candidates of ``a[i]`` are the ``b`` that start
    before ``a_end[i]`` and after ``a_start[i] - (longest b)``; the exact test then filters them.
    """
    a_chrom, b_chrom = np.asarray(a_chrom, dtype=object), np.asarray(b_chrom, dtype=object)
    a_start, a_end = np.asarray(a_start, dtype=np.int64), np.asarray(a_end, dtype=np.int64)
    b_start, b_end = np.asarray(b_start, dtype=np.int64), np.asarray(b_end, dtype=np.int64)
    out_a: list[np.ndarray] = []
    out_b: list[np.ndarray] = []
    for chrom in sorted(set(a_chrom.tolist()) & set(b_chrom.tolist())):
        ia = np.flatnonzero(a_chrom == chrom)
        ib = np.flatnonzero(b_chrom == chrom)
        order = np.argsort(b_start[ib], kind="stable")
        ib = ib[order]
        bs, be = b_start[ib], b_end[ib]
        longest = int((be - bs).max())
        lo = np.searchsorted(bs, a_start[ia] - longest, side="right")
        hi = np.searchsorted(bs, a_end[ia], side="left")
        counts = np.maximum(hi - lo, 0)
        if counts.sum() == 0:
            continue
        rep_a = np.repeat(ia, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        cand = np.repeat(lo, counts) + offsets
        keep = be[cand] > a_start[rep_a]
        out_a.append(rep_a[keep])
        out_b.append(ib[cand[keep]])
    if not out_a:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ra, rb = np.concatenate(out_a), np.concatenate(out_b)
    order = np.lexsort((rb, ra))
    return ra[order].astype(np.int64), rb[order].astype(np.int64)


# ------------------------------------------------------------------------------------- distances


def gene_windows(susie: pd.DataFrame, window: int) -> pd.DataFrame:
    """One row per gene of the credible-set table: ``gene_id, chrom, tss, strand, start, end`` with the
    window ``[tss - window, tss + window)`` (not clipped at 0: no cCRE starts below 0, so the overlaps
    are the same)."""
    genes = susie[["gene_id", "chrom", "tss", "strand"]].drop_duplicates("gene_id").reset_index(drop=True)
    genes["start"] = genes["tss"].astype(np.int64) - int(window)
    genes["end"] = genes["tss"].astype(np.int64) + int(window)
    return genes


def five_prime_ccres(genes: pd.DataFrame, ccres: pd.DataFrame) -> pd.DataFrame:
    """Every (gene, cCRE) pair whose cCRE overlaps the gene's window and lies 5' of the gene.

    The authors' rule (``EE.py:L8839``), with ``tss`` the 0-based TSS base and ``end`` exclusive:

    * ``strand != sign(cre_mid - tss)``, ``cre_mid = (start + end) / 2``: upstream of a + strand gene
      (mid < tss), downstream of a - strand gene (mid > tss);
    * ``sign(start - tss) == sign(end - tss)``: both edges on the same side.  A cCRE that holds the TSS
      base is excluded, and so is one that ends exactly at it (``end == tss``: sign 0 vs -1), as the
      authors' code does.

    Columns ``gene_id, chrom, tss, strand, cre_start, cre_end, cre_type, cre_mid, distance`` (``|cre_mid -
    tss|``, bp, may end in .5) and ``is_enhancer`` (``"ELS"`` in the class), in gene then cCRE order.
    """
    ig, ic = overlap_join(
        genes["chrom"].to_numpy(), genes["start"].to_numpy(), genes["end"].to_numpy(),
        ccres["chrom"].to_numpy(), ccres["start"].to_numpy(), ccres["end"].to_numpy(),
    )
    g = genes.iloc[ig].reset_index(drop=True)
    c = ccres.iloc[ic].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "gene_id": g["gene_id"],
            "chrom": g["chrom"],
            "tss": g["tss"].astype(np.int64),
            "strand": g["strand"].astype(np.int64),
            "cre_start": c["start"].astype(np.int64),
            "cre_end": c["end"].astype(np.int64),
            "cre_type": c["cre_type"].astype(str),
        }
    )
    out["cre_mid"] = (out["cre_start"] + out["cre_end"]) / 2.0
    out["distance"] = (out["cre_mid"] - out["tss"]).abs()
    sign_mid = np.sign(out["cre_mid"] - out["tss"]).astype(np.int64)
    sign_left = np.sign(out["cre_start"] - out["tss"])
    sign_right = np.sign(out["cre_end"] - out["tss"])
    keep = (out["strand"] != sign_mid) & (sign_left == sign_right)
    out = out[keep].reset_index(drop=True)
    out["is_enhancer"] = out["cre_type"].str.contains("ELS", regex=False)
    return out


def els_distances(five_prime: pd.DataFrame) -> pd.DataFrame:
    """``gene, distance`` of the enhancer-like 5' cCREs, unique per ``(gene_id, cre_mid)``."""
    e = five_prime[five_prime["is_enhancer"]].drop_duplicates(["gene_id", "cre_mid"])
    return pd.DataFrame({"gene": e["gene_id"].to_numpy(), "distance": e["distance"].to_numpy(dtype=np.float64)})


def eqtl_credible_sets(susie: pd.DataFrame) -> pd.DataFrame:
    """One row per credible set ``(gene_id, cs_id, tissue)`` in order of first appearance: ``chrom, tss,
    strand, n_variants``, ``max_abs_distance`` (bp) and ``distance`` = the mean of ``|position - 1 -
    tss|`` over its variants (exact integer sum / count)."""
    d = susie.assign(abs_d=(susie["position"].astype(np.int64) - 1 - susie["tss"].astype(np.int64)).abs())
    keys = ["gene_id", "cs_id", "tissue"]
    grouped = d.groupby(keys, sort=False)
    sets = grouped.agg(
        chrom=("chrom", "first"),
        tss=("tss", "first"),
        strand=("strand", "first"),
        n_variants=("abs_d", "size"),
        sum_abs=("abs_d", "sum"),
        max_abs_distance=("abs_d", "max"),
    ).reset_index()
    sets["distance"] = [int(s) / int(n) for s, n in zip(sets["sum_abs"], sets["n_variants"], strict=True)]
    return sets.drop(columns="sum_abs")


def eqtl_distances(sets: pd.DataFrame, window: int) -> tuple[pd.DataFrame, int]:
    """``gene, distance`` of the credible sets whose every variant is within ``|d| < window``, unique per
    ``(distance, gene_id)``; and the number of sets dropped as beyond the window."""
    inside = sets["max_abs_distance"] < window
    kept = sets[inside].drop_duplicates(["distance", "gene_id"])
    frame = pd.DataFrame({"gene": kept["gene_id"].to_numpy(), "distance": kept["distance"].to_numpy(np.float64)})
    return frame, int((~inside).sum())


def crispri_distances(pairs: pd.DataFrame, window: int) -> tuple[pd.DataFrame, int]:
    """``region_type, gene, distance`` of the CRISPRi pairs with ``distance < window``; and how many
    pairs lie at or beyond it."""
    inside = pairs["distance"] < window
    p = pairs[inside]
    frame = pd.DataFrame(
        {
            "region_type": np.where(p["validated"].to_numpy(bool), VALID, NON_VALID),
            "gene": p["gene"].to_numpy(),
            "distance": p["distance"].to_numpy(np.float64),
        }
    )
    return frame, int((~inside).sum())


def distance_table(eqtl: pd.DataFrame, els: pd.DataFrame, crispri: pd.DataFrame) -> pd.DataFrame:
    """The long table ``region_type, gene, distance`` of all four region types, in legend order."""
    parts = [eqtl.assign(region_type=EQTL), els.assign(region_type=ELS), crispri]
    out = pd.concat([p[["region_type", "gene", "distance"]] for p in parts], ignore_index=True)
    order = {t: k for k, t in enumerate(REGION_TYPES)}
    out["_order"] = out["region_type"].map(order)
    out = out.sort_values(["_order"], kind="stable").drop(columns="_order").reset_index(drop=True)
    out["distance"] = out["distance"].astype(np.float64)
    return out


# ------------------------------------------------------------------------------------- per type


def ecdf_points(distances: pd.DataFrame) -> pd.DataFrame:
    """The ECDF of distance per region type: one row per distinct distance ``x`` of a type, with
    ``ecdf = #(d <= x) / n`` and ``n`` the type's count.  Types in legend order, ``x`` ascending."""
    rows = []
    for rtype in REGION_TYPES:
        d = np.sort(distances.loc[distances["region_type"] == rtype, "distance"].to_numpy(np.float64))
        if d.size == 0:
            continue
        x, first = np.unique(d, return_index=True)
        last = np.append(first[1:], d.size)  # index after the last copy of each value
        rows.append(pd.DataFrame({"region_type": rtype, "distance": x, "ecdf": last / d.size, "n": d.size}))
    if not rows:
        return pd.DataFrame({"region_type": [], "distance": [], "ecdf": [], "n": []})
    return pd.concat(rows, ignore_index=True)


def ks_from_uniform(distance: np.ndarray, window: float) -> float:
    """Kolmogorov distance ``sup |F(x) - U(x)|`` between the ECDF of ``distance`` and the uniform CDF on
    ``[0, window]`` (``U(x) = min(x / window, 1)``); NaN for no distance.  Descriptive, no p-value."""
    d = np.sort(np.asarray(distance, dtype=np.float64))
    n = d.size
    if n == 0:
        return math.nan
    u = np.clip(d / float(window), 0.0, 1.0)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - u), np.max(u - (i - 1) / n)))


def type_summary(distances: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Per region type (all four, legend order): ``n, n_genes, min, q25, median, q75, max, mean``
    (distance, bp; linear-interpolated quantiles), ``fraction_near_tss`` (``d <= near_tss``),
    ``fraction_distal`` (``d > distal``) and ``ks_uniform`` (:func:`ks_from_uniform` on ``[0, window]``).
    A type without elements has ``n = 0`` and NaN statistics."""
    rows = []
    for rtype in REGION_TYPES:
        sel = distances[distances["region_type"] == rtype]
        d = sel["distance"].to_numpy(np.float64)
        row: dict[str, Any] = {"region_type": rtype, "n": int(d.size), "n_genes": int(sel["gene"].nunique())}
        if d.size:
            q = np.quantile(d, [0.0, 0.25, 0.5, 0.75, 1.0])
            row.update(min=q[0], q25=q[1], median=q[2], q75=q[3], max=q[4], mean=float(d.mean()))
            row["fraction_near_tss"] = float(np.mean(d <= params.near_tss))
            row["fraction_distal"] = float(np.mean(d > params.distal))
        else:
            row.update({k: math.nan for k in ("min", "q25", "median", "q75", "max", "mean")})
            row.update(fraction_near_tss=math.nan, fraction_distal=math.nan)
        row["ks_uniform"] = ks_from_uniform(d, params.window)
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------- training overlap


def train_parts(regions: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The ``set == "train"`` regions with their predicted part ``[Start + trim, End - trim)`` and seen
    part ``[Start - extension, End + extension)``; a region too short to keep a predicted part is dropped."""
    t = regions[regions["set"] == "train"]
    out = pd.DataFrame(
        {
            "chrom": t["Chromosome"].astype(str).to_numpy(),
            "pred_start": t["Start"].to_numpy(np.int64) + params.predicted_trim,
            "pred_end": t["End"].to_numpy(np.int64) - params.predicted_trim,
            "seen_start": t["Start"].to_numpy(np.int64) - params.seen_extension,
            "seen_end": t["End"].to_numpy(np.int64) + params.seen_extension,
        }
    )
    return out[out["pred_start"] < out["pred_end"]].reset_index(drop=True)


def fully_seen(items: pd.DataFrame, parts: pd.DataFrame) -> pd.DataFrame:
    """For each item (``chrom, tss_start, tss_end, el_start, el_end``; 0-based half-open):

    * ``tss_seen_count``: the training regions whose predicted part overlaps the TSS interval;
    * ``element_seen_count``: of those, the ones whose seen part holds the whole element
      (``seen_start <= el_start`` and ``el_end <= seen_end``; the authors: overlap == 2,000 bp of a
      2-kb window);
    * ``tss_in_train`` = ``tss_seen_count > 0``; ``fully_seen`` = ``tss_in_train`` and the two counts
      are equal (the element lies in the seen part of every region that predicts the TSS).

    Returns ``items`` with these four columns added.
    """
    ii, ir = overlap_join(
        items["chrom"].to_numpy(), items["tss_start"].to_numpy(), items["tss_end"].to_numpy(),
        parts["chrom"].to_numpy(), parts["pred_start"].to_numpy(), parts["pred_end"].to_numpy(),
    )
    inside = (parts["seen_start"].to_numpy()[ir] <= items["el_start"].to_numpy()[ii]) & (
        items["el_end"].to_numpy()[ii] <= parts["seen_end"].to_numpy()[ir]
    )
    n = len(items)
    tss_count = np.bincount(ii, minlength=n).astype(np.int64)
    el_count = np.bincount(ii[inside], minlength=n).astype(np.int64)
    out = items.copy()
    out["tss_seen_count"] = tss_count
    out["element_seen_count"] = el_count
    out["tss_in_train"] = tss_count > 0
    out["fully_seen"] = (tss_count > 0) & (el_count == tss_count)
    return out


def _seen_bin(distance: pd.Series) -> pd.Series:
    return pd.cut(
        pd.Series(distance, dtype=np.float64), list(SEEN_BIN_EDGES), right=False, labels=list(SEEN_BIN_LABELS)
    ).astype(str)


def crispri_training_overlap(pairs: pd.DataFrame, parts: pd.DataFrame) -> pd.DataFrame:
    """:func:`fully_seen` for every validated CRISPRi pair (all distances, as the authors): TSS = the
    128-bp bin ``[main_tss_start, main_tss_end)``, element = the 2-kb window ``[fix_start, fix_end)``."""
    v = pairs[pairs["validated"]].reset_index(drop=True)
    items = pd.DataFrame(
        {
            "ziga_key": v["ziga_key"],
            "gene": v["gene"],
            "chrom": v["chrom"],
            "distance": v["distance"].astype(np.float64),
            "tss_start": v["main_tss_start"].astype(np.int64),
            "tss_end": v["main_tss_end"].astype(np.int64),
            "el_start": v["fix_start"].astype(np.int64),
            "el_end": v["fix_end"].astype(np.int64),
        }
    )
    out = fully_seen(items, parts)
    out["distance_bin"] = _seen_bin(out["distance"])
    return out


def eqtl_training_overlap(susie: pd.DataFrame, sets: pd.DataFrame, parts: pd.DataFrame, window: int) -> pd.DataFrame:
    """Per credible set within the window: :func:`fully_seen` of each variant (TSS ``[tss, tss + 1)``,
    element ``[position - 1, position)``, as the authors), then the set is ``fully_seen`` when its TSS
    is predicted in some training region and every variant is fully seen.

    The authors score only the strongest *predicted* variant of each set; without predictions this
    analysis requires all of them (the sets are < 5 kb, so the two rarely differ).
    """
    items = pd.DataFrame(
        {
            "gene_id": susie["gene_id"],
            "cs_id": susie["cs_id"],
            "tissue": susie["tissue"],
            "chrom": susie["chrom"],
            "tss_start": susie["tss"].astype(np.int64),
            "tss_end": susie["tss"].astype(np.int64) + 1,
            "el_start": susie["position"].astype(np.int64) - 1,
            "el_end": susie["position"].astype(np.int64),
        }
    )
    per_variant = fully_seen(items, parts)
    keys = ["gene_id", "cs_id", "tissue"]
    agg = per_variant.groupby(keys, sort=False).agg(
        tss_seen_count=("tss_seen_count", "first"),
        n_variants_fully_seen=("fully_seen", "sum"),
    ).reset_index()
    out = sets[sets["max_abs_distance"] < window][[*keys, "chrom", "tss", "distance", "n_variants"]]
    out = out.merge(agg, on=keys, how="left", validate="one_to_one")
    out["n_variants_fully_seen"] = out["n_variants_fully_seen"].astype(np.int64)
    out["tss_in_train"] = out["tss_seen_count"] > 0
    out["fully_seen"] = out["tss_in_train"] & (out["n_variants_fully_seen"] == out["n_variants"])
    out["distance_bin"] = _seen_bin(out["distance"])
    return out.reset_index(drop=True)


def seen_by_bin(crispri: pd.DataFrame, eqtl: pd.DataFrame) -> pd.DataFrame:
    """``what, distance_bin, n_tss_in_train, n_fully_seen, fraction_fully_seen`` for validated pairs and
    eQTL credible sets per distance bin (:data:`SEEN_BIN_LABELS`, kb), among items whose TSS is in a
    training region (the authors drop the others); the fraction is NaN for an empty bin."""
    rows = []
    for what, frame in (("validated CRISPRi pairs", crispri), ("eQTL credible sets", eqtl)):
        t = frame[frame["tss_in_train"]]
        for label in SEEN_BIN_LABELS:
            b = t[t["distance_bin"] == label]
            n, k = len(b), int(b["fully_seen"].sum())
            rows.append({"what": what, "distance_bin": label, "n_tss_in_train": n, "n_fully_seen": k,
                         "fraction_fully_seen": k / n if n else math.nan})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------- results


@dataclass
class ClassImbalanceResults:
    distances: pd.DataFrame
    ecdf: pd.DataFrame
    by_type: pd.DataFrame
    ccre_classes: pd.DataFrame
    crispri_seen: pd.DataFrame
    eqtl_seen: pd.DataFrame
    seen_bins: pd.DataFrame
    params: Params = field(default_factory=Params)
    counts: dict[str, int | None] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Flat, strict-JSON dict with the keys :data:`SUMMARY_KEYS` (NaN becomes ``None``)."""

        def num(v: Any) -> float | None:
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

        p = self.params
        s: dict[str, Any] = {"gene_window": p.window, "near_tss_distance": p.near_tss, "distal_distance": p.distal}
        for k in ("n_genes", "n_ccres", "n_ccre_gene_pairs_5prime", "n_eqtl_sets", "n_eqtl_sets_beyond_window",
                  "n_crispri_pairs", "n_crispri_pairs_beyond_window", "n_crispri_pairs_unmatched_gene"):
            v = self.counts.get(k)
            s[k] = None if v is None else int(v)
        by = self.by_type.set_index("region_type")
        for rtype, slug in REGION_TYPES.items():
            r = by.loc[rtype]
            s[f"n_{slug}"] = int(r["n"])
            s[f"median_distance_{slug}"] = num(r["median"])
            s[f"fraction_near_tss_{slug}"] = num(r["fraction_near_tss"])
            s[f"fraction_distal_{slug}"] = num(r["fraction_distal"])
            s[f"ks_uniform_{slug}"] = num(r["ks_uniform"])
        s["n_train_regions"] = int(self.counts.get("n_train_regions") or 0)
        c, e = self.crispri_seen, self.eqtl_seen
        n_in, n_full = int(c["tss_in_train"].sum()), int(c["fully_seen"].sum())
        s["n_validated_pairs"] = int(len(c))
        s["n_validated_tss_in_train"] = n_in
        s["n_validated_fully_seen"] = n_full
        s["fraction_validated_fully_seen"] = n_full / n_in if n_in else None
        n_in, n_full = int(e["tss_in_train"].sum()), int(e["fully_seen"].sum())
        s["n_eqtl_sets_tss_in_train"] = n_in
        s["n_eqtl_sets_fully_seen"] = n_full
        s["fraction_eqtl_sets_fully_seen"] = n_full / n_in if n_in else None
        return s


def reduce_class_imbalance(
    ccres: pd.DataFrame,
    susie: pd.DataFrame,
    pairs: pd.DataFrame,
    regions: pd.DataFrame,
    params: Params,
    *,
    n_crispri_unmatched: int | None = None,
) -> ClassImbalanceResults:
    """Every table of the analysis from the four inputs (see the module docstring).

    ``pairs`` are the CRISPRi pairs after the optional gene match; ``n_crispri_unmatched`` is how many
    that match dropped (``None``: no gene table given).
    """
    genes = gene_windows(susie, params.window)
    five = five_prime_ccres(genes, ccres)
    sets = eqtl_credible_sets(susie)
    eqtl, n_sets_beyond = eqtl_distances(sets, params.window)
    crispri, n_pairs_beyond = crispri_distances(pairs, params.window)
    distances = distance_table(eqtl, els_distances(five), crispri)
    parts = train_parts(regions, params)
    crispri_seen = crispri_training_overlap(pairs, parts)
    eqtl_seen = eqtl_training_overlap(susie, sets, parts, params.window)
    classes = (
        five.groupby("cre_type", sort=True)
        .agg(n_gene_pairs=("gene_id", "size"), is_enhancer=("is_enhancer", "first"))
        .reset_index()
    )
    counts = {
        "n_genes": len(genes),
        "n_ccres": len(ccres),
        "n_ccre_gene_pairs_5prime": len(five),
        "n_eqtl_sets": len(sets),
        "n_eqtl_sets_beyond_window": n_sets_beyond,
        "n_crispri_pairs": len(pairs),
        "n_crispri_pairs_beyond_window": n_pairs_beyond,
        "n_crispri_pairs_unmatched_gene": n_crispri_unmatched,
        "n_train_regions": len(parts),
    }
    return ClassImbalanceResults(
        distances=distances,
        ecdf=ecdf_points(distances),
        by_type=type_summary(distances, params),
        ccre_classes=classes,
        crispri_seen=crispri_seen,
        eqtl_seen=eqtl_seen,
        seen_bins=seen_by_bin(crispri_seen, eqtl_seen),
        params=params,
        counts=counts,
    )


def write_tables(results: ClassImbalanceResults, out_dir: Path) -> list[Path]:
    """TSV tables under ``out_dir`` (distances in bp)."""
    frames = {
        "class_imbalance_distances": results.distances,
        "class_imbalance_ecdf": results.ecdf,
        "class_imbalance_by_type": results.by_type,
        "class_imbalance_ccre_classes": results.ccre_classes,
        "class_imbalance_training_crispri": results.crispri_seen,
        "class_imbalance_training_eqtl": results.eqtl_seen,
        "class_imbalance_training_by_distance": results.seen_bins,
    }
    return write_frames(frames, out_dir, parquet=False, tsv=True)
