"""The multiplicativity statistics at the values planted-v2 implies (docs/planted-model.md, "planted-v2").

The embedded default's constructs go through planted-v2's NumPy reference
(``tests/experiments/multiplicativity_truth.py``; no TensorFlow, no Ray), the experiment's own reduce
turns those rows into its summary, and statsmodels fits the same models independently.  Saturation is
a known departure from multiplicativity, so the statistics are checked away from 1, and in the
direction of the paper's Fig. 5D: the stronger the promoter, the smaller the enhancer effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqbench.experiments.multiplicativity import design as mx
from seqbench.models.planted import law
from tests.experiments.multiplicativity_truth import (
    check_shortcuts,
    demo,
    implied_statistics,
    reference_combos,
    reference_members,
)


@pytest.fixture(scope="module")
def truth(cache_dir):
    spec, _genome, design = demo(cache_dir)
    results = mx.reduce(reference_members(cache_dir), design.table, spec)
    return spec, design, reference_combos(cache_dir), results


def test_the_demo_runs_planted_v2(cache_dir):
    spec, _genome, _design = demo(cache_dir)
    assert spec.model.kind == "planted-v2" and spec.model.display_name == "planted-v2"


def test_reference_shortcuts_equal_whole_members(cache_dir, truth):
    _spec, design, _combos, _results = truth
    n = design.n_constructs
    check_shortcuts(cache_dir, [0, n // 3, n - 1])


def test_reduce_reports_the_statistics_the_law_implies(cache_dir, truth):
    _spec, _design, combos, results = truth
    summary = results.summary()
    implied = implied_statistics(combos)
    for key, value in implied.items():
        assert summary[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    # saturation is the departure from multiplicativity: the same weights through the multiplicative
    # formulas fit better by more than 1e-3 (visible at the report's 3 decimals; per background the
    # multiplicative law reads 1.000 there); the promoter still explains most, the enhancers the rest
    plain = implied_statistics(reference_combos(cache_dir, saturated=False))
    for key in ("r2_whole_multiplicative", "r2_background_multiplicative_median"):
        assert implied[key] < plain[key] - 1e-3, key
    per_background = "r2_background_multiplicative_median"
    assert round(plain[per_background], 3) == 1.0 and round(implied[per_background], 3) < 1.0
    assert implied["r2_whole_promoter"] < implied["r2_whole_multiplicative"]
    assert implied["r2_background_promoter_median"] < implied["r2_background_multiplicative_median"]
    # enhancers keep their order in every background (saturation is monotone), so their coefficients
    # still correlate, though no longer perfectly
    assert 0.9 < implied["enhancer_coef_corr_across_backgrounds_median"] < 1.0 - 1e-6


def test_enhancer_effects_shrink_with_promoter_strength(truth):
    """Fig. 5D's direction: per promoter, the spread of its enhancer coefficients (y ~ location + enhancer)
    falls as the promoter's strength (its mean CAGE) rises; in the job's own params table."""
    _spec, _design, combos, results = truth
    params = results.params
    enh = params[(params["fit"] == "promoter_multiplicative") & (params["term"] == "enhancer_id")]
    spread = enh.groupby("group")["estimate"].std()
    strength = combos.groupby("promoter_id")["cage"].mean()
    frame = pd.DataFrame({"strength": strength, "spread": spread}).sort_values("strength")
    # promoters with the same motifs differ by the few one-mismatch windows of their random flanks: under
    # 1 % of strength, and a spread as close; one per strength class
    distinct = frame.loc[(frame["strength"].pct_change().fillna(1.0) > 0.01).to_numpy()]
    assert len(distinct) >= 4
    assert (np.diff(distinct["spread"].to_numpy()) < 0).all(), distinct
    assert distinct["spread"].iloc[-1] < 0.75 * distinct["spread"].iloc[0]


def test_fold_change_formula_of_the_law():
    """The closed form of docs/planted-model.md: FC(X0) = (1 + B e)(1 + X0/K) / (1 + X0 (1 + B e)/K) falls
    from 1 + B e (X0 -> 0) towards 1 (X0 -> infinity), monotonically."""
    from seqbench.models.planted.reference import saturate

    gain_enh = law.B_K562 * 1.0
    x0 = np.array([1e-9, 0.05, 1.05, 2.05, 4.05, 1e9])
    fc = saturate(x0 * (1 + gain_enh)) / saturate(x0)
    closed = (1 + gain_enh) * (1 + x0 / law.K_SAT) / (1 + x0 * (1 + gain_enh) / law.K_SAT)
    np.testing.assert_allclose(fc, closed, rtol=1e-12)
    assert fc[0] == pytest.approx(1 + gain_enh, rel=1e-6) and fc[-1] == pytest.approx(1.0, abs=1e-6)
    assert (np.diff(fc) < 0).all()
