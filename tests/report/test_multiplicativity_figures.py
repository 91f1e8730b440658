"""The multiplicativity figures are written as valid, non-empty PNGs under fixed names."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from seqbench.experiments.multiplicativity.figures import FIGURE_FILES, HEXBIN_THRESHOLD, write_figures
from seqbench.experiments.multiplicativity.stats import reduce_multiplicativity

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _combos(n_prom: int, n_enh: int, n_loc: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    grid = pd.MultiIndex.from_product([range(n_loc), range(n_prom), range(n_enh)]).to_frame(index=False)
    k, i, j = (grid[c].to_numpy() for c in grid.columns)
    a, e, b = rng.normal(0, 1, n_prom), rng.normal(0, 0.7, n_enh), rng.normal(0, 0.5, n_loc)
    g = rng.normal(0, 0.2, (n_enh, n_loc))
    return pd.DataFrame(
        {
            "location_key": [f"chr9:{m * 1000}-{m * 1000 + 2000}" for m in k],
            "promoter_id": [f"chr1:{m * 1000}-{m * 1000 + 1000}" for m in i],
            "enhancer_id": [f"chr2:{m * 1000}-{m * 1000 + 2000}" for m in j],
            "y": a[i] + e[j] + b[k] + g[j, k] + rng.normal(0, 0.1, k.size),
        }
    )


@pytest.mark.parametrize(("shape", "hexbin"), [((4, 5, 3), False), ((12, 25, 20), True)])
def test_write_figures_writes_valid_pngs(tmp_path, shape: tuple[int, int, int], hexbin: bool) -> None:
    combos = _combos(*shape, seed=0)
    assert (len(combos) > HEXBIN_THRESHOLD) == hexbin  # both plot paths are exercised
    results = reduce_multiplicativity(combos)
    paths = write_figures(results, tmp_path / "fig", title_suffix="planted model (test)")
    assert [p.name for p in paths] == list(FIGURE_FILES)
    for path in paths:
        data = path.read_bytes()
        assert len(data) > len(PNG_MAGIC)
        assert data[: len(PNG_MAGIC)] == PNG_MAGIC, path.name
    assert not [f for f in (tmp_path / "fig").iterdir() if f.name.startswith(".")]


def test_title_suffix_is_required(tmp_path) -> None:
    results = reduce_multiplicativity(_combos(3, 4, 3, seed=1))
    with pytest.raises(ValueError, match="title_suffix: expected a non-empty string"):
        write_figures(results, tmp_path, title_suffix="  ")


def test_no_pyplot_state_is_touched(tmp_path) -> None:
    results = reduce_multiplicativity(_combos(3, 4, 3, seed=2))
    had_pyplot = "matplotlib.pyplot" in sys.modules
    write_figures(results, tmp_path, title_suffix="planted model (test)")
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot
