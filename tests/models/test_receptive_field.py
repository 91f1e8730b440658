"""Receptive-field restriction (``ensemble.windows``): only ``w`` bp centred on the landmark are kept.

Known answers from the planted law: an enhancer outside the window has exactly no effect, one
inside it has the planted effect, computed here from the law's constants.
"""

from __future__ import annotations

import numpy as np
import pytest

from seqbench.models.planted import law
from seqbench.models.registry import ModelSpec, load_model
from seqbench.predict import materialize_shard, predict_shard
from seqbench.sequence.codes import N, encode
from seqbench.sequence.constructs import Construct, keep_window, mask
from seqbench.sequence.ensemble import Ensemble

HALF = law.MOTIF_LENGTH // 2


def test_keep_window_masks_exactly_outside_the_window():
    ext = np.arange(100, dtype=np.uint8) % 4
    for lm, w in ((50, 11), (50, 10), (3, 11), (97, 21), (50, 1)):
        out = keep_window(ext, lm, w)
        lo = lm - w // 2
        kept = [i for i in range(100) if lo <= i < lo + w]
        assert [i for i in range(100) if out[i] != N] == kept, (lm, w)
        assert np.array_equal(out[kept], ext[kept])
        assert lm in kept  # the landmark is always inside, odd widths centred exactly
    assert ext.max() < N  # the input itself is untouched


@pytest.fixture(scope="module")
def model(cache_dir):
    return load_model(ModelSpec(kind="planted", batch_size=4))


def _literal(landmark: int, enhancers: list[int], length: int = 500_000) -> str:
    seq = bytearray(b"ACGT" * (length // 4))  # period 4: no planted motif occurs by chance
    for centre, motif in [(landmark, law.PROMOTER_MOTIF)] + [(c, law.ENHANCER_MOTIF) for c in enhancers]:
        seq[centre - HALF : centre - HALF + law.MOTIF_LENGTH] = motif.encode()
    return seq.decode()


def _law_cage(enhancer_distances: list[int]) -> float:
    """K562 CAGE over the 3 bins around the landmark bin (the landmark starts its bin), from the law."""
    total = 0.0
    for j in (-1, 0, 1):  # bins relative to the landmark's
        prom = 1  # the promoter motif sits in the landmark's bin
        enh = sum(law.decay(abs(d // law.BIN_SIZE - j) * law.BIN_SIZE) for d in enhancer_distances)
        total += law.A * (prom + law.P0) * (1 + law.B_K562 * enh)
    return total


def test_an_enhancer_outside_the_window_has_no_effect(model):
    lm, near, far, w = 250_000, 3_000, 30_000, 20_001
    seq = _literal(lm, [lm + near, lm + far])
    constructs = [
        Construct("both", landmark=lm, literal=seq),
        Construct("no_far", landmark=lm, literal=seq, edits=(mask(lm + far - HALF, lm + far + HALF + 1),)),
        Construct("no_near", landmark=lm, literal=seq, edits=(mask(lm + near - HALF, lm + near + HALF + 1),)),
        Construct("none", landmark=lm, literal=seq, edits=(mask(lm + near - HALF, lm + near + HALF + 1),
                                                            mask(lm + far - HALF, lm + far + HALF + 1))),
    ]
    ens = Ensemble((0,), ("+", "-"))
    shard = materialize_shard(0, [0, 1, 2, 3], constructs, None, model.geometry, ens)

    def cage(window):
        rows = predict_shard(model, shard, ens, {"cage": 0}, window=window).to_pandas()
        assert set(rows["window"]) == {window or 0}
        return rows.groupby("construct_id")["cage"].mean().to_numpy()

    full, cut = cage(None), cage(w)
    # the whole input: both enhancers act, as the law says
    np.testing.assert_allclose(full, [_law_cage([near, far]), _law_cage([near]), _law_cage([far]), _law_cage([])],
                               rtol=1e-5)
    # the window keeps the near enhancer and loses the far one: knocking the far one out changes nothing
    assert cut[0] == cut[1] and cut[2] == cut[3]
    np.testing.assert_allclose(cut, [_law_cage([near]), _law_cage([near]), _law_cage([]), _law_cage([])], rtol=1e-5)
    assert cut[0] > cut[2]  # the near enhancer still has its planted effect


def test_window_rows_are_the_manual_masking(model):
    """The window edit equals masking the sequence by hand outside the window (every member, both strands)."""
    lm = 250_000
    seq = _literal(lm, [lm + 3_000, lm - 7_000])
    w = 10_001
    manual = "N" * (lm - w // 2) + seq[lm - w // 2 : lm - w // 2 + w] + "N" * (len(seq) - (lm - w // 2 + w))
    ens = Ensemble((-43, 0, 43), ("+", "-"))
    a = materialize_shard(0, [0], [Construct("a", landmark=lm, literal=seq)], None, model.geometry, ens)
    b = materialize_shard(0, [0], [Construct("b", landmark=lm, literal=manual)], None, model.geometry, ens)
    assert np.array_equal(keep_window(a.windows[0], int(a.landmarks[0]), w), b.windows[0])
    ra = predict_shard(model, a, ens, {"cage": 0}, window=w).to_pandas()
    rb = predict_shard(model, b, ens, {"cage": 0}).to_pandas()
    assert np.array_equal(ra["cage"].to_numpy(), rb["cage"].to_numpy())
    assert encode(manual[lm - HALF : lm + HALF + 1]).max() < N
