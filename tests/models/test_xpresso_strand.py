"""Xpresso reads the window on the construct's (gene's) strand: 7,000 bp upstream, 3,500 downstream.

Known answer from the scalar law of its twin: an enhancer 5 kb downstream of a + strand TSS is
outside the window (no effect); the same base pairs are 5 kb *upstream* of a - strand TSS and
inside it, with the law's effect ``XP_ENHANCER * g(40 * 128)`` in log10 units.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqbench.models.planted import law
from seqbench.models.registry import ModelSpec, load_model
from seqbench.predict import materialize_shard, predict_shard
from seqbench.sequence.constructs import Construct, mask
from seqbench.sequence.ensemble import Ensemble

HALF = law.MOTIF_LENGTH // 2


@pytest.fixture(scope="module")
def xpresso(cache_dir):
    return load_model(ModelSpec(kind="planted-xpresso"))


def _literal(lm: int, enhancer: int, length: int = 100_000) -> str:
    seq = bytearray(b"ACGT" * (length // 4))  # period 4: no planted motif occurs by chance
    for centre, motif in ((lm, law.PROMOTER_MOTIF), (enhancer, law.ENHANCER_MOTIF)):
        seq[centre - HALF : centre - HALF + law.MOTIF_LENGTH] = motif.encode()
    return seq.decode()


def test_the_window_follows_the_gene_strand(xpresso):
    lm, d = 50_000, 5_000
    seq = _literal(lm, lm + d)
    ko = (mask(lm + d - HALF, lm + d + HALF + 1),)
    constructs = [Construct("plus", lm, literal=seq), Construct("plus_ko", lm, literal=seq, edits=ko),
                  Construct("minus", lm, literal=seq, strand="-"),
                  Construct("minus_ko", lm, literal=seq, edits=ko, strand="-")]
    ens = Ensemble((0,), ("+", "-"))  # Xpresso evaluates the construct's own strand only
    shard = materialize_shard(0, list(range(4)), constructs, None, xpresso.geometry, ens)
    rows = predict_shard(xpresso, shard, ens, {"expr": 0}).to_pandas()
    assert list(rows["member"]) == [0, 0, 0, 0]  # one member each: strand + of the construct
    y = np.log10(rows.sort_values("construct_id")["expr"].to_numpy(np.float64))
    prom_only = math.log10(law.P0) + law.XP_PROMOTER * 1
    # + strand: the enhancer is 5 kb downstream, past the 3.5 kb the model sees
    assert y[0] == pytest.approx(prom_only, abs=1e-5) and y[1] == pytest.approx(prom_only, abs=1e-5)
    # - strand: 5 kb upstream, inside; 128-bp bins from the TSS: the enhancer's centre is in bin -40
    assert y[3] == pytest.approx(prom_only, abs=1e-5)
    assert y[2] - y[3] == pytest.approx(law.XP_ENHANCER * law.decay(40 * law.BIN_SIZE), abs=1e-5)
