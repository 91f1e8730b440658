"""Known answers of the planted law through the construct engine and the ensemble (no Ray).

Expected values are computed here from the demo's recorded truth (motif centres) and the
law's constants, independently of the model's TensorFlow code and its NumPy reference.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.multiplicativity import demo as mx_demo
from seqbench.experiments.multiplicativity import design as mx
from seqbench.genome import Genome
from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.models.planted import law
from seqbench.models.registry import ModelSpec, load_model
from seqbench.predict import materialize_shard, predict_shard
from seqbench.sequence.constructs import Construct, FromGenome, mask, materialize, replace, shuffle_region
from seqbench.sequence.ensemble import Ensemble
from seqbench.spec import parse_spec

ENS = Ensemble()  # the paper's: strands +/- x shifts -43/0/+43, 3-bin landmark sum


@pytest.fixture(scope="module")
def demo(cache_dir):
    layout = ensure_demo(cache_dir)
    truth = json.loads(layout.truth.read_text())
    return layout, truth, Genome(layout.fasta)


@pytest.fixture(scope="module")
def model(cache_dir):
    return load_model(ModelSpec(kind="planted", batch_size=6))


def law_cage(tss: int, window_start: int, promoter_centres, enhancer_centres) -> float:
    """K562 CAGE summed over the 3 output bins around the TSS's bin, from the law's formulas."""
    J0 = (tss - window_start) // law.BIN_SIZE
    p_bins = [(q - window_start) // law.BIN_SIZE for q in promoter_centres]
    e_bins = [(q - window_start) // law.BIN_SIZE for q in enhancer_centres]
    total = 0.0
    for J in (J0 - 1, J0, J0 + 1):
        prom = sum(1 for b in p_bins if abs(b - J) <= 1)
        enh = sum(law.decay(abs(b - J) * law.BIN_SIZE) for b in e_bins)
        total += law.A * (prom + law.P0) * (1 + law.B_K562 * enh)
    return total


def ensemble_mean(model, genome, constructs) -> np.ndarray:
    ids = list(range(len(constructs)))
    shard = materialize_shard(0, ids, constructs, genome.read_padded, model.geometry, ENS)
    rows = predict_shard(model, shard, ENS, {"cage": 0}).to_pandas()
    assert rows.groupby("construct_id")["cage"].std().max() < 1e-4  # members agree (planted grid)
    return rows.groupby("construct_id")["cage"].mean().to_numpy()


def _gene(truth, name):
    return next(g for g in truth["genes"] if g["gene"] == name)


def test_knockdown_follows_the_law(demo, model):
    layout, truth, genome = demo
    cons, want = [], []
    for e in truth["enhancers"]:
        g = _gene(truth, e["gene"])
        tss, ws = g["tss_centre"], g["sequence_start"]
        prom = [m["centre"] for m in g["promoter_motifs"]]
        others = [m["centre"] for x in truth["enhancers"] if x["gene"] == e["gene"] for m in x["motifs"]]
        own = [m["centre"] for m in e["motifs"]]
        rest = [c for c in others if c not in own]
        w0, w1 = e["fix_enhancer_wide_window"]
        base = dict(chrom=g["chromosome"], landmark=tss, window_start=ws)
        cons += [
            Construct(f"{e['ziga_key']}|ref", **base),
            Construct(f"{e['ziga_key']}|shuffle", edits=(shuffle_region(w0, w1, seed=11),), **base),
            Construct(f"{e['ziga_key']}|mask", edits=(mask(w0, w1),), **base),
        ]
        want += [law_cage(tss, ws, prom, others)] + [law_cage(tss, ws, prom, rest)] * 2
    got = ensemble_mean(model, genome, cons)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    ref, shuf = got[0::3], got[1::3]
    assert (shuf < ref).all()  # removing an enhancer always lowers the planted CAGE


def test_moving_an_enhancer_away_weakens_it_as_the_law_says(demo, model):
    layout, truth, genome = demo
    e = max(truth["enhancers"], key=lambda x: x["n_motifs"])
    g = _gene(truth, e["gene"])
    tss, ws, chrom = g["tss_centre"], g["sequence_start"], g["chromosome"]
    w0, w1 = e["fix_enhancer_wide_window"]
    side = 1 if e["signed_distance"] > 0 else -1
    prom = [m["centre"] for m in g["promoter_motifs"]]
    rest = [m["centre"] for x in truth["enhancers"] if x["gene"] == e["gene"] and x is not e for m in x["motifs"]]
    cons, want = [Construct("removed", chrom=chrom, landmark=tss, window_start=ws, edits=(mask(w0, w1),))], []
    want.append(law_cage(tss, ws, prom, rest))
    for d in (10_240, 20_480, 40_960, 81_920):  # whole bins, so the planted grid is kept
        new0 = tss + side * d - (w1 - w0) // 2
        new0 -= (new0 - w0) % 128  # same phase within the bin as the original window
        edits = sorted([mask(w0, w1), replace(new0, new0 + (w1 - w0), FromGenome(chrom, w0, w1))],
                       key=lambda x: x.start)
        cons.append(Construct(f"moved{d}", chrom=chrom, landmark=tss, window_start=ws, edits=tuple(edits)))
        moved = [c - w0 + new0 for c in (m["centre"] for m in e["motifs"])]
        want.append(law_cage(tss, ws, prom, rest + moved))
    got = ensemble_mean(model, genome, cons)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    effects = got[1:] - got[0]
    assert (np.diff(effects) < 0).all() and (effects > 0).all()


def test_background_with_its_own_elements_is_the_reference_window(demo):
    layout, truth, genome = demo
    spec = parse_spec(mx_demo.demo_spec(layout.root), origin="test", base_dir=layout.root)
    design = mx.expand(spec, genome, ENFORMER_GEOMETRY)
    t = design.table
    rows = mx.load_candidates(spec.inputs["candidates"])
    for r in rows[rows["test_location"]].itertuples():
        own = t[(t.location_key == r.ziga_key)
                & (t.promoter_id == f"{r.chromosome}:{r.main_tss_start}-{r.main_tss_end}")
                & (t.enhancer_id == f"{r.chromosome}:{r.fix_enhancer_wide_start}-{r.fix_enhancer_wide_end}")]
        assert len(own) == 1
        c = design.build(int(own.construct_id.iloc[0]))
        got, lm = materialize(c, genome.read_padded, sequence_length=393_216, min_shift=-43, max_shift=43)
        ref = genome.fetch(r.chromosome, r.sequence_start - 43, r.sequence_start + 393_216 + 43)
        assert np.array_equal(got, ref)
        # and the landmark lands in the table's TSS bin on the + strand at shift 0
        assert (lm - 43 - 139_264) // 128 == r.main_tss_bin


def test_rows_do_not_depend_on_the_batch_size(demo, model):
    """The device batch is a runtime choice: the same members give the same floats."""
    layout, truth, genome = demo
    spec = parse_spec(mx_demo.demo_spec(layout.root), origin="test", base_dir=layout.root)
    design = mx.expand(spec, genome, ENFORMER_GEOMETRY)
    ids = list(range(7))
    shard = materialize_shard(0, ids, design.constructs(ids), genome.read_padded, model.geometry, ENS)
    want = predict_shard(model, shard, ENS, {"cage": 0, "dnase": 1}).to_pandas()
    for bs in (1, 4, 13):
        other = load_model(ModelSpec(kind="planted", batch_size=bs))
        got = predict_shard(other, shard, ENS, {"cage": 0, "dnase": 1}).to_pandas()
        assert got.equals(want), bs
