"""Every figure of every experiment is readable and honest at the size it is written.

The shared helpers (``seqbench.report.figures``) are checked on hand-made axes: a zero on a log
axis sits in a band whose tick reads "0" and which counts it; a missing bar reads "no data"; a log
axis always has two labelled ticks.  Then each built-in experiment's figures, drawn (through its
``draw_figures``) from its reduce run on seeded random predictions as in the contract test, are
checked Axes by Axes: both axes labelled (or an image with tick labels, or a text-only panel), every
text at least 7 pt, every log axis with two labelled ticks, n stated in a title.
"""

from __future__ import annotations

import importlib
import math
import re
from functools import cache

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from seqbench.registry import BUILTINS
from seqbench.report.figures import (
    MIN_FONT,
    NO_DATA,
    ZeroBand,
    bars_with_no_data,
    ensure_log_ticks,
    label_every,
    log_ticks,
    mark_zeros_on_log_axis,
    new_figure,
)

N_RE = re.compile(r"\bn = [\d,]+")


def _labels(axis) -> list[str]:
    """The non-empty major tick labels of ``axis`` inside its view limits (after a draw)."""
    axis.figure.canvas.draw()
    lo, hi = sorted(axis.get_view_interval())
    return [
        t.label1.get_text()
        for t in axis.get_major_ticks()
        if t.label1.get_visible() and t.label1.get_text() and lo <= t.get_loc() <= hi
    ]


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


# ------------------------------------------------------------------------------------ the helpers


def test_zero_on_a_log_axis_is_marked_zero_and_counted():
    fig = new_figure(5, 4)
    ax = fig.add_subplot()
    y = np.array([0.0, 0.5, 3.0, 40.0, 0.0, np.nan])
    band = ZeroBand.below(y)
    assert band.position == pytest.approx(0.05)
    shown = band.place(y)
    assert band.n == 2 and band.label == "0"
    assert np.array_equal(shown[[0, 4]], [0.05, 0.05]) and np.isnan(shown[5]) and shown[1] == 0.5
    ax.scatter(np.arange(y.size), shown)
    mark_zeros_on_log_axis(ax, band, "y", what="effects")
    labels = _labels(ax.yaxis)
    assert "0" in labels and len(labels) >= 3  # the "0" tick and two labelled positive ticks
    ticks = [(t.get_loc(), t.label1.get_text()) for t in ax.yaxis.get_major_ticks()]
    assert [lab for loc, lab in ticks if loc == pytest.approx(band.position)] == ["0"]
    assert all(loc > band.position * 3 for loc, lab in ticks if lab != "0")  # no value tick near the band
    assert any("n = 2 effects at 0" in t for t in _texts(ax))
    assert ax.get_ylim()[0] < band.position


def test_negative_values_are_marked_at_most_zero_and_no_band_without_zeros():
    band = ZeroBand.below([-1.0, 2.0, 5.0])
    band.place([-1.0, 2.0])
    assert band.label == "≤ 0"
    fig = new_figure(5, 4)
    ax = fig.add_subplot()
    clean = ZeroBand.below([2.0, 50.0])
    ax.plot([1, 2], clean.place([2.0, 50.0]))
    mark_zeros_on_log_axis(ax, clean, "y")
    assert "0" not in _labels(ax.yaxis) and not ax.texts and len(_labels(ax.yaxis)) >= 2


def test_quantile_curves_in_the_band_are_not_counted_as_values():
    band = ZeroBand.below([1.0, 3.0])
    band.place([0.0, 1.0], count=False)
    assert band.placed and band.n == 0


@pytest.mark.parametrize(("lo", "hi"), [(3.0, 4.0), (5200.0, 31000.0), (8.0, 70.0), (1e-4, 1e6), (0.9, 1.2)])
def test_log_ticks_are_at_least_two_and_inside(lo, hi):
    t = log_ticks(lo, hi)
    assert len(t) >= 2 and all(lo <= v <= hi for v in t) and len(t) <= 9


def test_ensure_log_ticks_labels_two_ticks_on_a_narrow_log_log_panel():
    fig = new_figure(4, 4)
    ax = fig.add_subplot()
    ax.scatter([12.0, 18.0], [13.0, 16.0])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ensure_log_ticks(ax)
    assert len(_labels(ax.xaxis)) >= 2 and len(_labels(ax.yaxis)) >= 2


def test_missing_bar_reads_no_data_not_zero():
    fig = new_figure(5, 4)
    ax = fig.add_subplot()
    missing = bars_with_no_data(ax, [0, 1, 2], [0.4, np.nan, 0.0], 0.5, color=["r", "g", "b"], yerr=[0.1, 0.1, 0.1])
    assert missing == 1
    assert len(ax.patches) == 2  # the 0.0 bar is a value and is drawn; the NaN one is not
    no_data = [t for t in ax.texts if NO_DATA in t.get_text()]
    assert len(no_data) == 1 and no_data[0].get_position()[0] == 1


def test_bars_without_any_value_still_keep_the_legend_entry():
    fig = new_figure(5, 4)
    ax = fig.add_subplot()
    assert bars_with_no_data(ax, [0, 1], [np.nan, np.nan], label="ABC") == 2
    assert [t.get_text() for t in ax.legend().get_texts()] == ["ABC"]
    assert sum(NO_DATA in t for t in _texts(ax)) == 2


def test_label_every_kth_says_so():
    fig = new_figure(5, 4)
    ax = fig.add_subplot()
    note = label_every(ax, "x", [f"g{i}" for i in range(130)], max_labels=60)
    assert note == " (every 3rd of 130 labelled)"
    assert len(ax.get_xticks()) == 44 and all(t.get_fontsize() >= MIN_FONT for t in ax.get_xticklabels())
    assert label_every(ax, "y", ["a", "b"]) == ""


# ------------------------------------------------------------- every figure of every experiment


def _random_predictions(n_constructs: int, n_members: int, labels: list[str], seed: int) -> pd.DataFrame:
    """As ``tests/test_experiment_contract.py`` makes them: log-normal values for every track."""
    rng = np.random.default_rng(seed)
    n = n_constructs * n_members
    frame = pd.DataFrame(
        {
            "construct_id": np.repeat(np.arange(n_constructs, dtype=np.int64), n_members),
            "member": np.tile(np.arange(n_members, dtype=np.int16), n_constructs),
            "landmark_bin": np.full(n, 448, dtype=np.int32),
        }
    )
    for label in labels:
        frame[label] = rng.lognormal(1.0, 1.0, n).astype(np.float32)
    return frame


@cache
def _results(name: str):
    """An experiment's results on seeded random predictions, as the contract test makes them."""
    from seqbench.demo.synthetic import ensure_demo
    from seqbench.runtime.submit import plan_job
    from seqbench.spec import parse_spec
    exp = next(e for e in BUILTINS if e.name == name)
    layout = ensure_demo(_CACHE[0])
    spec = parse_spec(exp.demo_spec(layout.root), origin="embedded demo", base_dir=layout.root)
    plan = plan_job(spec)
    preds = _random_predictions(plan.design.n_constructs, spec.ensemble.n_members, list(plan.tracks), seed=1)
    return exp.reduce(preds, plan.design.table, spec)


_CACHE: list = []


@pytest.fixture
def results_of(cache_dir):
    if not _CACHE:
        _CACHE.append(cache_dir)
    return _results


def _module(exp):
    return importlib.import_module(exp.write_figures.__module__.removesuffix(".figures") + ".figures")


def _is_colorbar(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None


def _shared_label(ax, which: str) -> str:
    """The axis label of ``ax`` or of an Axes sharing that axis with it (a twin)."""
    group = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    for other in [ax, *group.get_siblings(ax)]:
        label = other.get_xlabel() if which == "x" else other.get_ylabel()
        if label.strip():
            return label
    return ""


def _check_figure(name: str, fig) -> list[str]:
    problems = []
    fig.canvas.draw()
    titles = [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
    if not any(N_RE.search(t) for t in titles):
        problems.append(f"{name}: no 'n = ...' in any title: {titles}")
    for k, ax in enumerate(fig.axes):
        where = f"{name} axes {k} ({ax.get_title()[:40]!r})"
        if _is_colorbar(ax):
            if not (ax.get_ylabel() or ax.get_xlabel()):
                problems.append(f"{where}: colorbar without a label")
            continue
        if not ax.axison:
            if not ax.texts:
                problems.append(f"{where}: an empty panel without text")
            continue
        if ax.images and not (_labels(ax.xaxis) and _labels(ax.yaxis)):
            problems.append(f"{where}: an image without tick labels")
        for which in ("x", "y"):
            if not _shared_label(ax, which):
                problems.append(f"{where}: no {which} label")
            axis = ax.xaxis if which == "x" else ax.yaxis
            if axis.get_scale() == "log" and len(_labels(axis)) < 2:
                problems.append(f"{where}: log {which} axis with fewer than two labelled ticks")
    small = {
        (t.get_text()[:30], t.get_fontsize())
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < MIN_FONT
    }
    if small:
        problems.append(f"{name}: text under {MIN_FONT} pt: {sorted(small)[:5]}")
    return problems


def test_the_check_finds_unlabelled_axes_small_text_and_no_n():
    fig = new_figure(4, 3)
    ax = fig.add_subplot()
    ax.plot([1, 2], [1, 2])
    ax.set_title("no count here")
    ax.tick_params(labelsize=5)
    problems = "\n".join(_check_figure("bad.png", fig))
    assert "no x label" in problems and "no y label" in problems
    assert "under 7 pt" in problems and "no 'n = ...'" in problems


@pytest.mark.parametrize("exp", BUILTINS, ids=lambda e: e.name)
def test_every_figure_is_labelled_readable_and_states_n(exp, results_of, tmp_path):
    module = _module(exp)
    figures = module.draw_figures(results_of(exp.name), title_suffix="random-test")
    assert figures
    problems = [p for name, fig in figures for p in _check_figure(name, fig)]
    assert not problems, "\n".join(problems)
    # and write_figures writes exactly these
    paths = exp.write_figures(results_of(exp.name), tmp_path, title_suffix="random-test")
    assert [p.name for p in paths] == [name for name, _ in figures]


# ------------------------------------------------- zeros and empty bins in the experiments' figures


def test_knockdown_zero_effects_are_marked_and_empty_auprc_bins_read_no_data(results_of):
    from seqbench.experiments.enhancer_knockdown.figures import draw_figures

    r = results_of("enhancer-knockdown")
    e = r.effects.copy()
    idx = e.index[e["validated"].astype(bool) & (e["distance"] > 0)][:3]
    e.loc[idx, "predicted_percent"] = 0.0
    a = r.auprc.copy()
    a.loc[(a["dataset"] == "combined") & (a["distance_bin"] == "3-12.5"), "auprc_abc"] = math.nan
    figs = dict(draw_figures(_replace(r, effects=e, auprc=a), title_suffix="zeros planted"))
    ax = figs["knockdown_effect_vs_distance.png"].axes[0]
    assert "0" in _labels(ax.yaxis)
    assert any("n = 3 effects at 0" in t for t in _texts(ax))
    ax = figs["knockdown_auprc_by_distance.png"].axes[0]
    assert any(t == f" {NO_DATA}" for t in _texts(ax))  # the one missing bar among the others
    assert all(p.get_height() > 0 for p in ax.patches)  # no bar stands for a missing AUPRC


def test_enhancer_shift_zero_effects_are_marked(results_of):
    from seqbench.experiments.enhancer_shift.figures import draw_figures

    r = results_of("enhancer-shift")
    p = r.pairs.copy()
    shifted = p.index[p["shifted"].astype(bool)]
    p.loc[shifted[:2], "native_percent"] = 0.0
    p.loc[shifted[2:3], "observed_percent"] = 0.0
    figs = dict(draw_figures(_replace(r, pairs=p), title_suffix="zeros planted"))
    ax = figs["enhancer_shift_effect_vs_distance.png"].axes[0]
    assert "0" in _labels(ax.yaxis) and any("n = 2 native effects at 0" in t for t in _texts(ax))
    native = figs["enhancer_shift_vs_observed.png"].axes[0]
    assert "0" in _labels(native.xaxis) and "0" in _labels(native.yaxis)
    assert any("n = 1 observed at 0" in t for t in _texts(native))
    assert any("n = 2 predicted at 0" in t for t in _texts(native))


def test_saturation_locus_without_r_reads_no_data(results_of):
    from seqbench.experiments.saturation_mutagenesis.figures import draw_figures

    r = results_of("saturation-mutagenesis")
    pl = r.per_locus.copy()
    pl.loc[pl.index[0], "pearson_r"] = math.nan
    fig = dict(draw_figures(_replace(r, per_locus=pl), title_suffix="NaN planted"))[
        "saturation_mutagenesis_per_locus_r.png"
    ]
    ax = fig.axes[0]
    assert sum(NO_DATA in t for t in _texts(ax)) == 1
    assert len(ax.patches) == len(pl) - 1


def _replace(results, **changes):
    import dataclasses

    if dataclasses.is_dataclass(results):
        return dataclasses.replace(results, **changes)
    import copy

    out = copy.copy(results)
    for k, v in changes.items():
        setattr(out, k, v)
    return out
