"""The multiplicativity reduce on planted designs: every expected number is derived from the plant."""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from seqbench.experiments.multiplicativity import stats as multiplicativity
from seqbench.experiments.multiplicativity.stats import (
    REQUIRED_COLUMNS,
    SUMMARY_KEYS,
    TABLE_FILES,
    GroupFit,
    fit_background,
    reduce_multiplicativity,
    write_tables,
)


@dataclass
class Plant:
    """A complete location x promoter x enhancer grid with planted log-scale effects."""

    combos: pd.DataFrame
    a: np.ndarray  # promoter effects [P]
    e: np.ndarray  # enhancer effects [E]
    b: np.ndarray  # location effects [L]
    i: np.ndarray  # promoter index per row [n]
    j: np.ndarray  # enhancer index per row [n]
    k: np.ndarray  # location index per row [n]

    @property
    def signal(self) -> np.ndarray:
        return self.a[self.i] + self.e[self.j] + self.b[self.k]


def _ids(prefix: str, count: int, width: int) -> list[str]:
    # sorted order == index order (zero-padded), so index 0 is the treatment reference
    return [f"{prefix}:{1000 * (m + 1):07d}-{1000 * (m + 1) + width:07d}" for m in range(count)]


def plant(n_prom: int, n_enh: int, n_loc: int, seed: int) -> Plant:
    rng = np.random.default_rng(seed)
    grid = pd.MultiIndex.from_product([range(n_loc), range(n_prom), range(n_enh)]).to_frame(index=False)
    k, i, j = (grid[c].to_numpy() for c in grid.columns)
    a, e, b = rng.normal(0, 1.0, n_prom), rng.normal(0, 0.7, n_enh), rng.normal(0, 0.5, n_loc)
    combos = pd.DataFrame(
        {
            "location_key": np.array(_ids("chr9", n_loc, 2000))[k],
            "promoter_id": np.array(_ids("chr1", n_prom, 1000))[i],
            "enhancer_id": np.array(_ids("chr2", n_enh, 2000))[j],
            "y": a[i] + e[j] + b[k],
        }
    )
    return Plant(combos, a, e, b, i, j, k)


def _ss(x: np.ndarray) -> float:
    return float(np.sum((x - x.mean()) ** 2))


def test_exact_multiplicative_data_is_fitted_exactly() -> None:
    p = plant(6, 8, 5, seed=0)
    res = reduce_multiplicativity(p.combos)
    s = res.summary()
    assert s["r2_whole_multiplicative"] == pytest.approx(1.0, abs=1e-10)
    assert s["r2_background_multiplicative_median"] == pytest.approx(1.0, abs=1e-10)
    assert s["r2_promoter_multiplicative_median"] == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(res.per_background["r2_mult"], 1.0, atol=1e-10)
    np.testing.assert_allclose(res.per_promoter["r2_mult"], 1.0, atol=1e-10)
    for key in (
        "enhancer_coef_corr_across_backgrounds_median",
        "promoter_coef_corr_across_backgrounds_median",
        "enhancer_coef_corr_across_promoters_median",
        "enhancer_residual_corr_across_promoters_median",
        "enhancer_consistency_r2",
    ):
        assert s[key] == pytest.approx(1.0, abs=1e-9), key
    np.testing.assert_allclose(res.enhancer_coef_corr_across_backgrounds.to_numpy(), 1.0, atol=1e-9)

    # balanced design: the sums of squares of the three main effects add up, so the partial
    # models' R² follow from the plant
    n_loc, n_prom, n_enh = p.b.size, p.a.size, p.e.size
    ss_a = n_loc * n_enh * _ss(p.a)
    ss_e = n_loc * n_prom * _ss(p.e)
    ss_b = n_prom * n_enh * _ss(p.b)
    total = ss_a + ss_e + ss_b
    assert total == pytest.approx(_ss(p.signal), rel=1e-10)
    assert s["r2_whole_promoter"] == pytest.approx(ss_a / total, abs=1e-10)
    assert s["r2_whole_location"] == pytest.approx(ss_b / total, abs=1e-10)
    assert s["r2_whole_promoter_location"] == pytest.approx((ss_a + ss_b) / total, abs=1e-10)
    assert s["r2_whole_promoter_x_location"] == pytest.approx((ss_a + ss_b) / total, abs=1e-10)
    within_bg = n_enh * _ss(p.a) + n_prom * _ss(p.e)
    np.testing.assert_allclose(res.per_background["r2_prom"], n_enh * _ss(p.a) / within_bg, atol=1e-10)

    # the whole-data coefficients are the planted effects minus the reference's
    whole = res.params.loc[res.params["fit"] == "whole_multiplicative"].set_index(["term", "level"])["estimate"]
    ids = {"promoter_id": _ids("chr1", n_prom, 1000), "enhancer_id": _ids("chr2", n_enh, 2000)}
    for term, effects in (("promoter_id", p.a), ("enhancer_id", p.e)):
        for m in range(1, effects.size):
            assert whole[(term, ids[term][m])] == pytest.approx(effects[m] - effects[0], abs=1e-10)
    assert s["n_params_whole_multiplicative"] == 1 + (n_prom - 1) + (n_enh - 1) + (n_loc - 1)
    assert res.whole.set_index("model").loc["promoter_x_location", "n_params"] == n_prom * n_loc
    assert (s["n_backgrounds"], s["n_promoters"], s["n_enhancers"]) == (n_loc, n_prom, n_enh)
    assert s["n_combinations"] == n_loc * n_prom * n_enh
    assert s["is_complete_design"] is True
    assert (res.per_background["n_params_mult"] == 1 + (n_prom - 1) + (n_enh - 1)).all()


def test_noise_gives_the_expected_whole_r2() -> None:
    p = plant(20, 25, 12, seed=1)
    sigma = float(np.sqrt(np.var(p.signal)))  # noise variance == signal variance
    rng = np.random.default_rng(2)
    y = p.signal + rng.normal(0.0, sigma, size=p.signal.size)
    res = reduce_multiplicativity(p.combos.assign(y=y))
    n = y.size
    n_params = 1 + (p.a.size - 1) + (p.e.size - 1) + (p.b.size - 1)
    # E[SS_res] = (n - p) sigma², E[SS_tot] = SS_signal + (n - 1) sigma²
    ss_tot = _ss(p.signal) + (n - 1) * sigma**2
    expected = 1.0 - (n - n_params) * sigma**2 / ss_tot
    assert expected == pytest.approx(np.var(p.signal) / (np.var(p.signal) + sigma**2), abs=n_params / n)
    tolerance = 5.0 * sigma**2 * np.sqrt(2.0 * (n - n_params)) / ss_tot  # 5 sd of the chi² term
    assert res.summary()["r2_whole_multiplicative"] == pytest.approx(expected, abs=tolerance)


def test_enhancer_by_background_interaction_keeps_per_background_r2() -> None:
    p = plant(5, 9, 7, seed=3)
    rng = np.random.default_rng(4)
    g = rng.normal(0.0, 0.6, size=(p.e.size, p.b.size))
    g = g - g.mean(axis=0, keepdims=True) - g.mean(axis=1, keepdims=True) + g.mean()  # double-centred
    interaction = g[p.j, p.k]
    y = p.signal + interaction
    res = reduce_multiplicativity(p.combos.assign(y=y))
    np.testing.assert_allclose(res.per_background["r2_mult"], 1.0, atol=1e-10)
    # double-centred g is orthogonal to the additive space: it is exactly the whole-data residual
    expected = 1.0 - float(np.sum(interaction**2)) / _ss(y)
    assert res.summary()["r2_whole_multiplicative"] == pytest.approx(expected, abs=1e-10)
    np.testing.assert_allclose(res.fitted["residual"].to_numpy(), interaction, atol=1e-10)
    assert expected < 1.0 - 1e-3
    assert res.summary()["enhancer_coef_corr_across_backgrounds_median"] < 1.0 - 1e-3


def test_corr_with_ko_recovers_a_planted_relationship() -> None:
    p = plant(4, 12, 3, seed=5)
    rng = np.random.default_rng(6)
    ids = _ids("chr2", p.e.size, 2000)
    ko = pd.Series(-0.8 * p.e + rng.normal(0.0, 0.3, p.e.size), index=ids)
    res = reduce_multiplicativity(p.combos, ko)
    # coefficients are e - e[0] for enhancers 1.., so r is that of e and ko over those enhancers
    expected = float(np.corrcoef(p.e[1:], ko.to_numpy()[1:])[0, 1])
    np.testing.assert_allclose(res.per_background["corr_with_ko"], expected, atol=1e-10)
    assert (res.per_background["n_ko"] == p.e.size - 1).all()
    assert res.summary()["corr_with_ko_median"] == pytest.approx(expected, abs=1e-10)

    partial = ko.iloc[[0, 2, 3, 5, 7, 8]].copy()
    partial.iloc[-1] = np.nan  # NaN values are dropped
    res_partial = reduce_multiplicativity(p.combos, partial)
    keep = [2, 3, 5, 7]
    expected_partial = float(np.corrcoef(p.e[keep], ko.to_numpy()[keep])[0, 1])
    np.testing.assert_allclose(res_partial.per_background["corr_with_ko"], expected_partial, atol=1e-10)
    assert (res_partial.per_background["n_ko"] == len(keep)).all()

    no_ko = reduce_multiplicativity(p.combos)
    assert no_ko.per_background["corr_with_ko"].isna().all()
    assert no_ko.summary()["corr_with_ko_median"] is None


def test_map_fn_is_used_and_results_survive_pickling() -> None:
    p = plant(4, 5, 3, seed=7)
    p.combos["y"] += np.random.default_rng(8).normal(0.0, 0.2, len(p.combos))
    calls: list[tuple[str, int]] = []

    def pickling_map(fn, items):
        calls.append((fn.__name__, len(items)))
        fn2 = pickle.loads(pickle.dumps(fn))
        return [pickle.loads(pickle.dumps(fn2(pickle.loads(pickle.dumps(x))))) for x in items]

    res = reduce_multiplicativity(p.combos, map_fn=pickling_map)
    assert sorted(calls) == [("fit_background", p.b.size), ("fit_promoter", p.a.size)]
    ref = reduce_multiplicativity(p.combos)
    pd.testing.assert_frame_equal(res.per_background, ref.per_background)
    pd.testing.assert_frame_equal(res.per_promoter, ref.per_promoter)
    pd.testing.assert_frame_equal(res.params, ref.params)
    assert res.summary() == ref.summary()

    with pytest.raises(ValueError, match="map_fn returned 0 result"):
        reduce_multiplicativity(p.combos, map_fn=lambda fn, items: [])


def test_background_fit_matches_statsmodels() -> None:
    p = plant(4, 6, 2, seed=9)
    df = p.combos.assign(y=p.combos["y"] + np.random.default_rng(10).normal(0, 0.3, len(p.combos)))
    one = df.loc[df["location_key"] == df["location_key"].iloc[0]]
    fit = fit_background(one)
    assert isinstance(fit, GroupFit)
    ref = smf.ols("y ~ promoter_id + enhancer_id", data=one).fit()
    np.testing.assert_allclose(fit.params["estimate"].to_numpy(), ref.params.to_numpy(), atol=1e-10)
    assert fit.stats["r2_mult"] == pytest.approx(ref.rsquared, abs=1e-12)
    assert fit.stats["r2_prom"] == pytest.approx(smf.ols("y ~ promoter_id", data=one).fit().rsquared, abs=1e-12)
    sd = one.groupby("promoter_id")["y"].std()
    assert fit.stats["sd_promoter_median"] == pytest.approx(sd.median())
    assert fit.stats["sd_promoter_max"] == pytest.approx(sd.max())
    assert fit.stats["sd_total"] == pytest.approx(one["y"].std())


def test_fitted_is_aligned_with_combos_in_any_row_order() -> None:
    p = plant(3, 4, 3, seed=11)
    shuffled = p.combos.assign(y=p.combos["y"] + np.random.default_rng(12).normal(0, 0.1, len(p.combos)))
    shuffled = shuffled.sample(frac=1.0, random_state=13)
    shuffled.index = shuffled.index + 1000
    res = reduce_multiplicativity(shuffled)
    assert res.fitted.index.equals(shuffled.index)
    pd.testing.assert_series_equal(res.fitted["y"], shuffled["y"], check_names=False)
    pd.testing.assert_series_equal(
        res.fitted["enhancer_id"], shuffled["enhancer_id"], check_names=False, check_dtype=False
    )
    ref = smf.ols("y ~ promoter_id + enhancer_id + location_key", data=shuffled).fit()
    np.testing.assert_allclose(res.fitted["fitted"].to_numpy(), ref.fittedvalues.to_numpy(), atol=1e-10)


def test_summary_has_the_documented_keys_and_is_strict_json() -> None:
    p = plant(3, 4, 3, seed=14)
    s = reduce_multiplicativity(p.combos).summary()
    assert tuple(s) == SUMMARY_KEYS
    json.dumps(s, allow_nan=False)
    doc = multiplicativity.__doc__
    undocumented = [key for key in SUMMARY_KEYS if key not in doc]
    assert not undocumented, f"summary keys missing from the module docstring table: {undocumented}"


@pytest.mark.parametrize("column", REQUIRED_COLUMNS)
def test_missing_column_is_named(column: str) -> None:
    p = plant(2, 3, 2, seed=15)
    with pytest.raises(ValueError, match=f"required column '{column}' is missing"):
        reduce_multiplicativity(p.combos.drop(columns=column))


def test_duplicates_and_bad_values_are_refused() -> None:
    combos = plant(2, 3, 2, seed=16).combos
    dup = pd.concat([combos, combos.iloc[[4]]], ignore_index=True)
    row = combos.iloc[4]
    with pytest.raises(ValueError, match=f"2 rows share .*enhancer_id='{row['enhancer_id']}'"):
        reduce_multiplicativity(dup)
    with pytest.raises(ValueError, match=r"column 'y' has 1 non-finite value\(s\) \(first at index 2\)"):
        reduce_multiplicativity(combos.assign(y=combos["y"].where(combos.index != 2)))
    with pytest.raises(ValueError, match="column 'promoter_id' has 1 missing value"):
        reduce_multiplicativity(combos.assign(promoter_id=combos["promoter_id"].where(combos.index != 1)))
    ko = pd.Series([0.1, 0.2], index=[combos["enhancer_id"].iloc[0]] * 2)
    with pytest.raises(ValueError, match="ko: enhancer_id .* appears more than once"):
        reduce_multiplicativity(combos, ko)
    with pytest.raises(ValueError, match="no rows"):
        reduce_multiplicativity(combos.iloc[:0])


def test_write_tables_round_trips(tmp_path) -> None:
    p = plant(3, 4, 3, seed=17)
    res = reduce_multiplicativity(p.combos)
    paths = write_tables(res, tmp_path / "out")
    names = {path.name for path in paths}
    for stem, (_, csv) in TABLE_FILES.items():
        assert f"{stem}.parquet" in names
        assert (f"{stem}.csv" in names) == csv
    assert all(path.exists() and path.stat().st_size > 0 for path in paths)
    assert not [f for f in (tmp_path / "out").iterdir() if f.name.startswith(".")]  # no temp files left
    back = pd.read_parquet(tmp_path / "out" / "multiplicativity_per_background.parquet")
    pd.testing.assert_frame_equal(back, res.per_background, check_dtype=False)
    params = pd.read_parquet(tmp_path / "out" / "multiplicativity_params.parquet")
    assert list(params.columns) == ["fit", "group", "term", "level", "estimate"]
    assert len(params) == len(res.params)
    corr = pd.read_parquet(tmp_path / "out" / "multiplicativity_corr_enhancer_across_backgrounds.parquet")
    assert corr.columns[0] == "location_key"
    np.testing.assert_allclose(
        corr.drop(columns="location_key").to_numpy(), res.enhancer_coef_corr_across_backgrounds.to_numpy()
    )
    summary = json.loads((tmp_path / "out" / "multiplicativity_summary.json").read_text())
    assert summary == json.loads(json.dumps(res.summary()))
