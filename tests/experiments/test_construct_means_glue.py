"""Every experiment's reduce glue takes its per-construct means from seqbench.experiment.construct_means:
rows are matched to the design by ``construct_id``, never by position."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqbench.experiment import InputError, construct_means
from seqbench.experiments.enhancer_knockdown import design as kd
from seqbench.experiments.enhancer_shift import design as es
from seqbench.experiments.multiplicativity import design as mx
from seqbench.experiments.promoter_enhancer_mpra import design as bx


def _preds(values: dict[int, list[float]], tracks=("cage",)) -> pd.DataFrame:
    """Member rows in a scrambled order (ids descending, members reversed)."""
    rows = [
        {"construct_id": cid, "member": m, "landmark_bin": 447}
        | {t: np.float32(v * (k + 1)) for k, t in enumerate(tracks)}
        for cid in sorted(values, reverse=True)
        for m, v in reversed(list(enumerate(values[cid])))
    ]
    return pd.DataFrame(rows)


# construct 2 has no predictions; the design's rows are not in construct_id order
VALUES = {0: [1.0, 3.0], 1: [0.0, 8.0], 3: [5.0, 7.0]}
MEANS = {0: 2.0, 1: 4.0, 3: 6.0}


def test_shared_helper_joins_by_key_and_refuses_unknown_ids():
    design = pd.DataFrame({"construct_id": [3, 2, 1, 0], "label": ["d", "c", "b", "a"]})
    out = construct_means(_preds(VALUES, ("cage", "dnase")), design, ["cage", "dnase"])
    assert list(out.columns) == ["construct_id", "label", "cage", "dnase"]
    assert out["construct_id"].tolist() == [0, 1, 3] and out["label"].tolist() == ["a", "b", "d"]
    assert out["cage"].tolist() == [MEANS[i] for i in (0, 1, 3)]
    assert out["dnase"].tolist() == [2 * MEANS[i] for i in (0, 1, 3)]
    with pytest.raises(InputError, match="construct_id 3 have no row in the design"):
        construct_means(_preds(VALUES), design[design["construct_id"] != 3], ["cage"])


def test_multiplicativity_combinations():
    design = pd.DataFrame(
        {
            "construct_id": [3, 2, 1, 0],
            "location_key": pd.Categorical(["L1", "L1", "L0", "L0"]),
            "promoter_id": pd.Categorical(["P1", "P0", "P1", "P0"]),
            "enhancer_id": pd.Categorical(["E1", "E1", "E0", "E0"]),
        }
    )
    combos = mx.combinations(_preds(VALUES), design)
    assert list(combos.columns) == ["construct_id", "location_key", "promoter_id", "enhancer_id", "y"]
    assert combos["promoter_id"].tolist() == ["P0", "P1", "P1"] and combos["location_key"].map(type).eq(str).all()
    np.testing.assert_array_equal(combos["y"], np.log2(np.array([MEANS[i] for i in (0, 1, 3)]) + 1.0))


def test_knockdown_readout_means():
    design = pd.DataFrame(
        {
            "construct_id": [3, 2, 1, 0],
            "window": [1, 1, 0, 0],
            "pair": [1, 1, 0, 0],
            "ziga_key": pd.Categorical(["k1", "k1", "k0", "k0"]),
            "modification": pd.Categorical(["shuffle", "none", "shuffle", "none"]),
            "replicate": [0, 0, 0, 0],
            "element": [-1, -1, -1, -1],
        }
    )
    out = kd.readout_means(_preds(VALUES), design)
    assert list(out.columns) == ["construct_id", "window", "pair", "modification", "replicate", "element", "value"]
    assert out["modification"].tolist() == ["none", "shuffle", "shuffle"]
    assert out["value"].tolist() == [MEANS[i] for i in (0, 1, 3)]


def test_enhancer_shift_construct_values():
    design = pd.DataFrame({"construct_id": [3, 2, 1, 0], "distance": [30, 20, 10, 0]})
    out = es.construct_values(_preds(VALUES), design)
    assert list(out.columns) == ["construct_id", "distance", "value"]
    assert out["distance"].tolist() == [0, 10, 30] and out["value"].tolist() == [MEANS[i] for i in (0, 1, 3)]


def test_promoter_enhancer_pair_predictions():
    design = pd.DataFrame(
        {
            "construct_id": [3, 2, 1, 0],
            "promoter": pd.Categorical(["p3", "p2", "p1", "p0"]),
            "enhancer": pd.Categorical(["e3", "e2", "e1", "e0"]),
        }
    )
    out = bx.pair_predictions(_preds(VALUES, ("cage", "dnase")), design)
    assert list(out.columns) == ["construct_id", "promoter", "enhancer", "pred", "dnase"]
    assert out["promoter"].tolist() == ["p0", "p1", "p3"]
    assert out["pred"].tolist() == [MEANS[i] for i in (0, 1, 3)]
    assert out["dnase"].tolist() == [2 * MEANS[i] for i in (0, 1, 3)]
