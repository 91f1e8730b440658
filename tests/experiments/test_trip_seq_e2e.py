"""End to end: the trip-seq embedded default through local Ray with the planted model (three windows), checked
against the planted law in closed form (motif positions only) and the NumPy reference on materialized inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.trip_seq import demo as td
from seqbench.experiments.trip_seq import design as tr
from seqbench.spec import parse_spec

pytestmark = pytest.mark.ray

WINDOWS = td.DEMO_WINDOWS


@pytest.fixture(scope="module")
def job(cache_dir, tmp_path_factory, local_ray):
    from seqbench.runtime.submit import submit

    layout = ensure_demo(cache_dir)
    spec = parse_spec(td.demo_spec(layout.root), origin="test", base_dir=cache_dir)
    result = submit(spec, job_dir=tmp_path_factory.mktemp("trip") / "job", progress=False)
    truth = json.loads((layout.root / td.TRIP_DIR / td.TRUTH_NAME).read_text())
    genome_truth = json.loads(layout.truth.read_text())
    return spec, result, truth, genome_truth


def _variant(result, window: int, model: str = "planted-v1") -> str:
    return next(n for n, v in result.summary["variants"].items()
                if v["window"] == window and n.startswith(model + "-"))


def _sites(result, name: str) -> pd.DataFrame:
    return pd.read_parquet(result.job_dir / "variants" / name / "tables" / "site_predictions.parquet")


def _closed_form(spec, truth, genome_truth, row, window: int, with_enhancers: bool = True) -> float:
    """The planted readout of a site from motif positions alone (the demo's closed form of the law)."""
    crs = truth["promoters"][row["promoter"]]["sequence"]
    f = truth["features"]
    parts = tr.plasmid_parts(spec.inputs["plasmid"], tr.FEATURES_DEFAULT)
    assert len(parts.tdtomato) == f["tdTomato"][1] - f["tdTomato"][0]
    seq, lm = tr.build_insert(crs, row["insert_type"], row["strand"], parts)
    prom, enh = td.site_motifs(genome_truth, row["chrom"], int(row["location"]), seq)
    return td.planted_readout(prom, enh if with_enhancers else [], int(row["location"]) + lm, window=window)


def test_variants_and_predictions_match_the_planted_law(job):
    spec, result, truth, genome_truth = job
    assert sorted(v["window"] for v in result.summary["variants"].values()) == sorted(WINDOWS)
    for w in WINDOWS:
        s = _sites(result, _variant(result, w))
        assert len(s) == 72 and set(s["insert_type"]) == {"minimal", "full"}
        expect = np.array([_closed_form(spec, truth, genome_truth, r, w) for _, r in s.iterrows()])
        np.testing.assert_allclose(s["pred"].to_numpy(), expect, rtol=2e-5)


def test_enhancer_raises_prediction_and_window_removes_it(job):
    spec, result, truth, genome_truth = job
    whole = _sites(result, _variant(result, 0)).set_index("key")
    small = _sites(result, _variant(result, 12501)).set_index("key")
    planted = {}
    for t in truth["sites"]:
        for itype in ("minimal", "full"):
            planted[f"{t['promoter']}|{t['chrom']}:{t['location']}|{t['strand']}|{itype}"] = (t, itype)
    n_removed = n_kept = 0
    for key, (t, itype) in planted.items():
        if t["kind"] != "near_enhancer":
            continue
        # whole input: the prediction exceeds the enhancer-free value by the planted amount
        raise_pred = whole.loc[key, "pred"] - t["planted"][f"{itype}_without_enhancers"]
        raise_law = t["planted"][itype] - t["planted"][f"{itype}_without_enhancers"]
        assert raise_pred == pytest.approx(raise_law, rel=1e-4) and raise_law > 0.1
        # 12,501-bp window: the enhancer counts exactly when its motifs lie in the window
        row = {**small.loc[key].to_dict(), "key": key}
        masked = _closed_form(spec, truth, genome_truth, row, 12501)
        bare = _closed_form(spec, truth, genome_truth, row, 12501, with_enhancers=False)
        assert small.loc[key, "pred"] == pytest.approx(masked, rel=2e-5)
        if abs(t["enhancer_distance"]) > 12501 // 2 + 500:
            assert small.loc[key, "pred"] == pytest.approx(bare, rel=2e-5)
            n_removed += 1
        elif masked > bare + 0.1:
            n_kept += 1
    assert n_removed >= 4 and n_kept >= 4


def test_promoters_rank_as_planted(job):
    _spec, result, truth, _g = job
    whole = _variant(result, 0)
    summ = result.summary["variants"][whole]
    assert summ["r_promoter_reduced"] > 0.95 and summ["rho_promoter_reduced"] == pytest.approx(1.0)
    assert summ["best_promoter"] in td.PROMOTERS and summ["n_sites"] == 36 and summ["n_promoters"] == 6
    sites = _sites(result, whole)
    med = sites[sites["insert_type"] == "minimal"].groupby("promoter")["pred"].median()
    order = [p for p, _k in sorted(zip(td.PROMOTERS, td.PROMOTER_MOTIFS, strict=True), key=lambda x: -x[1])]
    assert list(med.sort_values(ascending=False).index) == order


def test_combined_window_table_and_figures(job):
    _spec, result, _t, _g = job
    t = pd.read_csv(result.job_dir / "tables" / "r_by_window.csv")
    assert sorted(set(t["window"])) == sorted(WINDOWS)
    assert set(t["model"]) == {"planted-v1"}
    assert {"pooled", "promoter", "promoter_reduced", "within_promoter"} <= set(t["scope"])
    assert (result.job_dir / "figures" / "figS16_trip_r_by_window.png").is_file()
    whole = result.job_dir / "variants" / _variant(result, 0)
    for f in ("fig6c_trip_scatter.png", "fig6d_trip_r_per_promoter.png", "figS15_trip_promoter_medians.png",
              "trip_full_vs_minimal.png"):
        assert (whole / "figures" / f).is_file()
    # the location effect (within promoters) is the enhancer effect: well predicted on the whole input,
    # weaker once the window hides the enhancers
    r = t[(t["scope"] == "within_promoter") & (t["insert_type"] == "minimal") & (t["model"] == "planted-v1")]
    r = r.set_index("window")["pearson_r"]
    assert r[0] > 0.8 and r[0] > r[12501]
