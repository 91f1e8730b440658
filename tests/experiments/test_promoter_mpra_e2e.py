"""End to end: the promoter-mpra embedded default through local Ray with the planted model, checked
against the planted law (NumPy reference on the materialized windows) and its positional weighting."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.promoter_mpra import demo as pm_demo
from seqbench.experiments.promoter_mpra import design as pm
from seqbench.experiments.promoter_mpra.demo import CAT_BOX_START, TSS_IN_FRAGMENT
from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.models.planted import law
from seqbench.models.planted.reference import PLANTED_GEOMETRY, reference_output
from seqbench.sequence.constructs import materialize
from seqbench.sequence.ensemble import member_codes, member_landmarks
from seqbench.spec import parse_spec

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def job(cache_dir, tmp_path_factory, local_ray):
    from seqbench.runtime.submit import submit

    layout = ensure_demo(cache_dir)
    spec = parse_spec(pm_demo.demo_spec(layout.root), origin="test", base_dir=cache_dir)
    result = submit(spec, job_dir=tmp_path_factory.mktemp("pm") / "job", progress=False)
    return spec, result


@pytest.fixture(scope="module")
def full_design(job):
    """The job's design with its construct builder (expanded again from the spec, once per module)."""
    from seqbench.genome import Genome

    spec, _ = job
    return pm.expand(spec, Genome(spec.fasta), ENFORMER_GEOMETRY)


def _reference_readout(spec, design, ids):
    """Planted K562 CAGE landmark sum, mean over members, from the NumPy law on the materialized inputs."""
    from seqbench.genome import Genome
    from seqbench.models.base import Geometry

    genome = Genome(spec.fasta)
    ens = spec.ensemble
    geo = Geometry(law.SEQUENCE_LENGTH, law.BIN_SIZE, law.OUTPUT_OFFSET, law.N_OUTPUT_BINS)
    out = {}
    for i in ids:
        ext, lm = materialize(design.build(int(i)), genome.read_padded, sequence_length=geo.sequence_length,
                              min_shift=ens.min_shift, max_shift=ens.max_shift)
        codes = member_codes(ext, ens, geo.sequence_length)
        ref = reference_output(codes)[:, :, 0]
        _, bins = member_landmarks(lm, ens, geo)
        out[int(i)] = float(np.mean([ref[m, b - 1 : b + 2].sum() for m, b in enumerate(bins)]))
    return out


def _weight(c: int) -> float:
    """Closed form: mean over the 6 members of 3 - |hit bin - landmark bin| (fragment centred, 164 bp)."""
    L, off = 393_216, 139_264
    w = []
    for strand in "+-":
        for s in (-43, 0, 43):
            lm, x = L // 2 - s, L // 2 - s - 82 + c
            if strand == "-":
                lm, x = L - 1 - lm, L - 1 - x
            w.append(max(0, 3 - abs((x - off) // 128 - (lm - off) // 128)))
    return float(np.mean(w))


TWINS = ["planted-v1", "planted-basenji2-v1", "planted-basenji1-v1"]


def _out(result):
    """The planted Enformer twin's outputs (the embedded default runs three twins side by side)."""
    return result.job_dir / "variants" / "planted-v1"


def test_three_twins_side_by_side(job):
    _spec, result = job
    assert result.summary["models"] == TWINS
    compared = pd.read_csv(result.job_dir / "tables" / "models_compared.csv").set_index("variant")
    assert list(compared.index) == TWINS
    for name in TWINS:
        s = result.summary["variants"][name]
        assert s["model"] == name and compared.loc[name, "r_endogenous"] == pytest.approx(s["r_endogenous"])
        # the same law at each twin's geometry: each recovers the planted promoter strengths
        assert 0.8 < s["r_endogenous"] < 1.0, name
    assert (result.job_dir / "figures" / "models_compared.png").read_bytes()[:4] == b"\x89PNG"


def test_summary_and_report(job):
    spec, result = job
    s = result.summary["variants"]["planted-v1"]
    assert s["model"] == "planted-v1" and s["experiment"] == "promoter-mpra"
    # measured values are the planted law + 25 % log-normal noise: strong, not perfect, correlations
    assert 0.8 < s["r_endogenous"] < 1.0
    # the TF and core backgrounds carry a promoter motif (for the background ISM): their screens' fold
    # changes are ~2x, not ~20x, against the same noise, so these correlations are lower (about 0.8)
    assert s["r_tf_motifs"] > 0.7 and s["r_core_motifs"] > 0.7 and s["n_core_backgrounds_significant"] == 3
    assert s["n_ism_variants"] == 40 * 3 and s["n_occlusion_variants"] == 29
    assert s["n_ism_backgrounds"] == 6 and s["n_background_ism_variants"] == 6 * 6 * 3
    assert s["background_ism_note"] == "minimal insert" and s["background_ism_top_log2fc"] < -0.3
    assert s["n_constructs"] == 157 + 1 + 120 + 29 + 108 + 6
    assert [k for k, v in s.items() if v is None] == []  # every statistic of the default is defined
    rep = (_out(result) / "report.md").read_text()
    assert "planted" in rep
    for name in ("correlations", "endogenous_scatter", "tata_shift", "ism", "background_ism"):
        assert (_out(result) / "figures" / f"promoter_mpra_{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((_out(result) / "summary.json").read_text())["ism_top_position"] in range(62, 73)


def test_tata_shift_follows_planted_positional_weighting(job, full_design):
    spec, result = job
    tp = pd.read_parquet(_out(result) / "tables" / "promoter_mpra_tata_profile.parquet")
    tp = tp[tp["Background"] == "RPLP0_TATA_bg"].sort_values("TATA_position")
    design = pd.read_parquet(result.job_dir / "design.parquet")
    full = full_design
    ids = design.set_index(["oligo_index", "kind"]).loc[[(i, "oligo") for i in tp["Oligo_index"]], "construct_id"]
    expected = _reference_readout(spec, full, ids.to_numpy())
    np.testing.assert_allclose(tp["pred"].to_numpy(), [expected[int(i)] for i in ids], rtol=2e-5)

    # closed form: a + b * (w(TATA centre) + w(CAT centre) if the CAT box is intact)
    oligos = pm.load_oligos(spec.inputs["oligos"]).set_index("Oligo_index")["Oligo_sequence"]
    wsum = []
    for idx, pos in zip(tp["Oligo_index"], tp["TATA_position"], strict=True):
        seq = oligos[idx]
        cat = seq[CAT_BOX_START : CAT_BOX_START + 11] == law.PROMOTER_MOTIF
        wsum.append(_weight(TSS_IN_FRAGMENT + pos + 5) + (_weight(CAT_BOX_START + 5) if cat else 0.0))
    wsum = np.asarray(wsum)
    slope, icpt = np.polyfit(wsum, tp["pred"].to_numpy(), 1)
    resid = tp["pred"].to_numpy() - (slope * wsum + icpt)
    assert np.abs(resid).max() < 1e-3 * tp["pred"].max()
    assert slope == pytest.approx(law.A, rel=0.05)  # the enhancer term is ~1 this far from any gene
    assert len(np.unique(np.round(wsum, 6))) >= 4  # the profile really has steps


def test_ism_and_occlusion_hit_the_planted_motifs(job):
    spec, result = job
    ism = pd.read_parquet(_out(result) / "tables" / "promoter_mpra_ism.parquet")
    assert len(ism) == 120 and (ism["ref"] != ism["alt"]).all()
    assert (ism.groupby("position")["alt"].nunique() == 3).all()  # §13 B4 fixed: all three alternatives
    effect = ism["log2fc"].abs()
    on_motif = ism["position"].between(CAT_BOX_START, CAT_BOX_START + 10)
    assert effect[on_motif].min() > 0.3 and effect[~on_motif].max() < 1e-5
    assert np.ptp(ism.loc[on_motif, "log2fc"]) < 1e-5  # every substitution destroys the same hit
    occ = pd.read_parquet(_out(result) / "tables" / "promoter_mpra_occlusion.parquet")
    hits_cat = (occ["block_start"] < CAT_BOX_START + 11) & (occ["block_start"] + 8 > CAT_BOX_START)
    base = float(json.loads((_out(result) / "tables" / "promoter_mpra_summary.json").read_text())["ism_top_log2fc"])
    assert base < 0
    assert occ.loc[hits_cat, "pred"].max() < occ.loc[~hits_cat & (occ["TATA_position"] < -30), "pred"].min()


#: the NumPy reference of each planted model a job can report: (law, geometry).  The demo runs
#: planted-v1 today; another planted kind (e.g. graded motif scores) only needs its reference here.
REFERENCES = {"planted-v1": (reference_output, PLANTED_GEOMETRY)}


def test_background_ism_lights_up_exactly_each_backgrounds_planted_motifs(job, full_design):
    """Every background the authors ISM (core and TF backgrounds, oligo 12885): the job's ISM map equals a
    brute-force loop of the NumPy reference law over positions and bases (the background's materialized
    input with one base changed), and exactly the positions of that background's planted motifs light up."""
    from seqbench.genome import Genome
    from seqbench.sequence.codes import encode

    spec, result = job
    out = _out(result)
    model = json.loads((out / "summary.json").read_text())["model"]
    assert model in REFERENCES, f"no NumPy reference for the job's model {model!r}: add it to REFERENCES"
    law_fn, geo = REFERENCES[model]
    bg = pd.read_parquet(out / "tables" / "promoter_mpra_background_ism.parquet")
    truth = json.loads((spec.inputs["oligos"].parent / pm_demo.TRUTH_NAME).read_text())["oligos"]
    lo, hi = pm_demo.BACKGROUND_ISM_WINDOW
    assert list(dict.fromkeys(bg["background"])) == [
        "RPLP0_CE_bg", "HIV1_CE_bg", "C14orf166_CE_bg", "C14orf166_TF_bg", "PSMD3_TF_bg", "DNAse_example"]
    design = pd.read_parquet(result.job_dir / "design.parquet")
    full = full_design
    genome = Genome(spec.fasta)
    ens = spec.ensemble
    oligos = pm.load_oligos(spec.inputs["oligos"]).set_index("Oligo_index")["Oligo_sequence"]

    def readout(ext, lm):
        codes = member_codes(ext, ens, geo.sequence_length)
        ref = law_fn(codes)[:, :, 0]
        _, bins = member_landmarks(lm, ens, geo)
        return float(np.mean([ref[m, b - 1 : b + 2].sum() for m, b in enumerate(bins)]))

    for idx, g in bg.groupby("oligo_index", sort=False):
        seq = oligos[idx]
        # the unmutated background as predicted in the oligo block (minimal insert; geometry tested elsewhere)
        cid = int(design[(design["oligo_index"] == idx) & (design["kind"] == "oligo")]["construct_id"].iloc[0])
        ext, lm = materialize(full.build(cid), genome.read_padded, sequence_length=geo.sequence_length,
                              min_shift=ens.min_shift, max_shift=ens.max_shift)
        at = lm - len(seq) // 2  # fragment position 0 in the extended window
        assert bytes(ext[at : at + len(seq)]) == bytes(encode(seq))
        base = readout(ext, lm)
        expected = {}
        for p in range(lo, hi):
            for alt in "ACGT":
                if alt != seq[p]:
                    mutated = ext.copy()
                    mutated[at + p] = encode(alt)[0]
                    expected[(p, alt)] = np.log2(readout(mutated, lm) + 1) - np.log2(base + 1)
        assert sorted(zip(g["position"], g["alt"], strict=True)) == sorted(expected)
        got = g.set_index(["position", "alt"])["log2fc"]
        np.testing.assert_allclose([got[k] for k in expected], list(expected.values()), atol=1e-5)
        # the planted truth: a substitution inside a planted motif (promoter or enhancer) breaks it
        t = truth[str(idx)]
        motif = {q for s in t["promoter_motif_starts"] + t["enhancer_motif_starts"] for q in range(s, s + 11)}
        on = g["position"].isin(motif)
        assert on.any() and (~on).any(), idx  # the window shows both, for every background
        assert g.loc[on, "log2fc"].max() < -0.1 and g.loc[~on, "log2fc"].abs().max() < 1e-5, idx
