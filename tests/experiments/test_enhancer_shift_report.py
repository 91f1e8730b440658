"""Figures of the enhancer shift from hand-made results (no Ray, no model)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from seqbench.experiments.enhancer_shift.figures import FIGURE_FILES, write_figures
from seqbench.experiments.enhancer_shift.stats import reduce_enhancer_shift

# the hand-made planted-decay data of the statistics tests
_path = Path(__file__).resolve().parents[1] / "stats" / "test_enhancer_shift.py"
_spec = importlib.util.spec_from_file_location("_enhancer_shift_stats_data", _path)
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
_planted_values = _mod._planted_values


@pytest.mark.parametrize("with_others", [True, False])
def test_figures_are_written_and_name_the_model(tmp_path, with_others):
    values, pairs = _planted_values()
    if not with_others:  # one class only: the classification figure says so instead of failing
        keep = pairs[pairs["shifted"]]
        values, pairs = values[values["ziga_key"].isin(keep["ziga_key"])], keep
    r = reduce_enhancer_shift(values, pairs, compare_distance=20000, far_distance=50000, n_bootstrap=20,
                              bootstrap_seed=0)
    paths = write_figures(r, tmp_path, title_suffix="planted-v1")
    assert [p.name for p in paths] == list(FIGURE_FILES)
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="naming the model"):
        write_figures(r, tmp_path, title_suffix=" ")
