"""Enhancer knock-down: loaders (bad input), construct geometry, and the planted known answers end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import curve_fit
from sklearn.metrics import average_precision_score

from seqbench.demo.crispri import ensure_crispri_inputs
from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.enhancer_knockdown import demo as kd_demo
from seqbench.experiments.enhancer_knockdown import design as kd
from seqbench.experiments.enhancer_knockdown import figures as kd_figures
from seqbench.experiments.multiplicativity import demo as mx_demo
from seqbench.experiments.multiplicativity import design as mx
from seqbench.genome import Genome
from seqbench.inputs import crispri
from seqbench.inputs.tables import InputError
from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.models.planted import law
from seqbench.sequence.codes import N
from seqbench.sequence.constructs import materialize
from seqbench.spec import deep_merge, parse_spec


@pytest.fixture(scope="module")
def demo(cache_dir):
    layout = ensure_demo(cache_dir)
    ensure_crispri_inputs(layout.root)
    return layout


def _spec(layout, **inputs):
    raw = deep_merge(kd_demo.demo_spec(layout.root), {"inputs": inputs})
    return parse_spec(raw, origin="test", base_dir=layout.root)


def _copy_inputs(layout, tmp_path: Path) -> dict[str, Path]:
    out = {}
    for k, key in crispri.INPUT_KEYS.items():
        dst = tmp_path / Path(key.default).name
        shutil.copy(layout.root / key.default, dst)
        out[k] = dst
    return out


# ---------------------------------------------------------------- loaders


def test_load_pairs_joins_both_datasets(demo):
    pairs = crispri.load_pairs({k: demo.root / v.default for k, v in crispri.INPUT_KEYS.items()})
    assert list(pairs.columns) == list(crispri.PAIR_COLUMNS)
    assert set(pairs["dataset"]) == {"fulco2019", "gasperini2019"}
    assert pairs["observed_log2fc"].notna().all()
    assert (pairs["tss"] == pairs["main_tss_start"] + 64).all()
    assert (pairs["fix_end"] - pairs["fix_start"] == 2000).all()
    assert (pairs["ko_start"] == pairs["fix_start"]).all() and (pairs["ko_end"] == pairs["fix_end"]).all()
    # observed percent and log2 FC are the two views of one measurement
    f = pairs[pairs["dataset"] == "fulco2019"]
    assert np.allclose(np.abs(2 ** f["observed_log2fc"] - 1) * 100, f["observed_percent"])
    g = pairs[pairs["dataset"] == "gasperini2019"]
    assert np.allclose(np.abs(1 - 2 ** g["observed_log2fc"]) * 100, g["observed_percent"])


@pytest.mark.parametrize(
    ("table", "edit", "message"),
    [
        ("crispri_table", lambda df: df.drop(columns=["validated"]), "lacks column 'validated'"),
        (
            "crispri_table",
            lambda df: df.assign(main_tss_bin=["x"] + list(df.main_tss_bin[1:])),
            "column 'main_tss_bin'",
        ),
        ("crispri_table", lambda df: df.assign(dataset_name=["other"] + list(df.dataset_name[1:])), "expected one of"),
        ("crispri_table", lambda df: pd.concat([df, df.iloc[[0]]]), "already the key of row 1"),
        ("crispri_table", lambda df: df.assign(validated=["maybe"] + list(df.validated[1:])), "expected a boolean"),
        (
            "fulco_effects",
            lambda df: df.assign(**{"Fraction change in gene expr": ["x"] + list(df.iloc[1:, 2])}),
            "row 1",
        ),
        ("fulco_effects", lambda df: df.assign(Gene="nope"), "no fulco2019 pair"),
        ("gasperini_table", lambda df: df.iloc[:-1], "lifted coordinates for"),
        ("gasperini_table", lambda df: df.assign(Diff_expression_test_fold_change=-1.0), "expected a positive number"),
    ],
)
def test_loader_errors_name_file_row_and_column(demo, tmp_path, table, edit, message):
    paths = _copy_inputs(demo, tmp_path)
    df = pd.read_csv(paths[table], sep="\t")
    edit(df).to_csv(paths[table], sep="\t", index=False)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as exc:
        crispri.load_pairs(paths)
    assert str(paths[table].name) in str(exc.value) or "hglft" in str(exc.value)
    assert "\n" not in str(exc.value)


# ---------------------------------------------------------------- design and constructs


def test_design_is_gene_major_with_one_reference_per_window(demo):
    spec = _spec(demo, shuffles=3)
    genome = Genome(spec.fasta)
    design = kd.expand(spec, genome, ENFORMER_GEOMETRY)
    t = design.table
    pairs = kd.select_pairs(spec)
    n_win = pairs["window"].nunique()
    n_enh = len(pairs.drop_duplicates(["chrom", "enhancer_start", "enhancer_end"]))
    n_basal = pairs["tss"].nunique() + len(pairs.drop_duplicates(["chrom", "fix_start", "fix_end"]))
    assert len(t) == n_win + len(pairs) * (1 + 3) + n_enh + 2 * n_basal
    assert (t["modification"] == "none").sum() == n_win
    kd_block = t[t["element"] < 0]
    assert kd_block["window"].is_monotonic_increasing  # all constructs of a window contiguous
    assert (t.loc[t["element"] >= 0, "construct_id"] > kd_block["construct_id"].max()).all()  # extras come last
    for i in kd_block.index:
        c = design.build(i)
        assert c.key.endswith(
            {"none": "none", "replace_with_n": "replace_with_n", "shuffle": str(t.replicate[i])}[str(t.modification[i])]
        )


@pytest.mark.parametrize(("kind", "window"), [("mono", "fixed"), ("di", "fixed"), ("mono", "avsec")])
def test_constructs_edit_exactly_the_knocked_down_window(demo, kind, window):
    spec = _spec(demo, shuffles=2, shuffle_kind=kind, max_genes=1, enhancer_window=window)
    genome = Genome(spec.fasta)
    design = kd.expand(spec, genome, ENFORMER_GEOMETRY)
    pairs = kd.select_pairs(spec)
    p = pairs.iloc[1]  # a planted enhancer of GENE1
    # the window the spec names, read from the table itself (fixed: mid +- 1 kb; avsec: enhancer_wide_*)
    ztab = pd.read_csv(demo.root / crispri.INPUT_KEYS["crispri_table"].default, sep="\t").set_index("ziga_key")
    cols = {"fixed": "fix_enhancer_wide", "avsec": "enhancer_wide"}[window]
    row = ztab.loc[p.ziga_key]
    assert (p.ko_start, p.ko_end) == (row[f"{cols}_start"], row[f"{cols}_end"])
    assert (window == "fixed") == (p.ko_end - p.ko_start == 2000)
    ws = int(p.sequence_start)
    L = 393_216

    def win(i):
        codes, lm = materialize(design.build(i), genome.read_padded, sequence_length=L)
        assert lm == int(p.tss) - ws  # the landmark is the TSS-bin centre in the table's window
        return codes

    ref = win(0)
    assert np.array_equal(ref, genome.read_padded(p.chrom, ws, ws + L))
    first = int(design.table.index[(design.table["pair"] == 1) & (design.table["modification"] == "replace_with_n")][0])
    a, b = int(p.ko_start) - ws, int(p.ko_end) - ws
    masked = win(first)
    assert (masked[a:b] == N).all() and np.array_equal(masked[:a], ref[:a]) and np.array_equal(masked[b:], ref[b:])
    for r in (1, 2):
        s = win(first + r)
        assert np.array_equal(s[:a], ref[:a]) and np.array_equal(s[b:], ref[b:])
        assert not np.array_equal(s[a:b], ref[a:b])
        assert np.array_equal(np.bincount(s[a:b], minlength=5), np.bincount(ref[a:b], minlength=5))
        if kind == "di":
            pairs_ref = np.bincount(ref[a : b - 1] * 5 + ref[a + 1 : b], minlength=25)
            assert np.array_equal(np.bincount(s[a : b - 1] * 5 + s[a + 1 : b], minlength=25), pairs_ref)
    assert not np.array_equal(win(first + 1)[a:b], win(first + 2)[a:b])  # replicates differ


def test_enhancer_centred_and_inserted_alone_constructs(demo):
    """Enformer-ABC: the reference window centred on the element midpoint; basal expression: the element
    alone in N (npad) and replacing the landing pad (aavs1), its midpoint at the window centre."""
    spec = _spec(demo, shuffles=1, max_genes=1)
    genome = Genome(spec.fasta)
    design = kd.expand(spec, genome, ENFORMER_GEOMETRY)
    t, pairs, L = design.table, kd.select_pairs(spec), 393_216
    r = pairs.iloc[1]
    mid = r.enhancer_start + (r.enhancer_end - r.enhancer_start) // 2
    i = int(t.index[t["modification"] == "enhancer_centred"][1])
    codes, lm = materialize(design.build(i), genome.read_padded, sequence_length=L)
    assert lm == L // 2 and np.array_equal(codes, genome.read_padded(r.chrom, mid - L // 2, mid + L // 2))
    pchrom, span = spec.inputs["landing_pad"].split(":")
    p0, p1 = (int(v) for v in span.split("-"))
    tss = int(r.tss)
    element = genome.read_padded(r.chrom, tss - 1000, tss + 1000)  # the gene's promoter is basal element 0
    npad = int(t.index[(t["modification"] == "npad") & (t["element"] == 0)][0])
    aavs = int(t.index[(t["modification"] == "aavs1") & (t["element"] == 0)][0])
    codes, lm = materialize(design.build(npad), genome.read_padded, sequence_length=L)
    a = L // 2 - 1000
    assert lm == L // 2 and np.array_equal(codes[a : a + 2000], element)
    assert (codes[:a] == N).all() and (codes[a + 2000 :] == N).all()
    codes, lm = materialize(design.build(aavs), genome.read_padded, sequence_length=L)
    assert lm == L // 2 and np.array_equal(codes[a : a + 2000], element)
    assert np.array_equal(codes[:a], genome.read_padded(pchrom, p0 - a, p0))
    assert np.array_equal(codes[a + 2000 :], genome.read_padded(pchrom, p1, p1 + L - a - 2000))
    # analyses off: no extra constructs
    off = kd.expand(_spec(demo, shuffles=1, max_genes=1, analyses=[]), genome, ENFORMER_GEOMETRY)
    assert (off.table["element"] < 0).all() and off.n_constructs == (t["element"] < 0).sum()


def test_enformer_abc_tracks_by_description(demo):
    from seqbench.models.base import TrackError, TrackTable

    # rows of Enformer's targets file (index, description), as experiments-spec §0.2 lists them
    rows = [(33, "DNASE:K562 treated with 1 uM vorinostat for 72 hours"), (121, "DNASE:K562"), (122, "DNASE:K562"),
            (123, "DNASE:K562"), (625, "DNASE:K562"), (700, "DNASE:HepG2"), (688, "CHIP:H3K27ac:GM12878"),
            (705, "CHIP:H3K27ac:endothelial cell of umbilical vein male newborn"), (800, "CHIP:H3K4me3:K562"),
            (5111, "CAGE:chronic myelogenous leukemia cell line:K562 ENCODE, biol_")]
    frame = pd.DataFrame({"index": [i for i, _ in rows], "identifier": [f"t{i}" for i, _ in rows],
                          "description": [d for _, d in rows]})
    table = TrackTable(frame)
    got = kd.extra_tracks(_spec(demo, enformer_abc_marks="h3k27ac_dnase"), table)
    assert sorted(i for k, i in got.items() if k.startswith(kd.ABC_DNASE)) == [33, 121, 122, 123, 625]
    assert sorted(i for k, i in got.items() if k.startswith(kd.ABC_H3K27AC)) == [688, 705]
    no_h3 = TrackTable(frame[~frame["description"].str.contains("H3K27ac")])
    with pytest.raises(TrackError, match="enformer_abc_marks = 'dnase'"):
        kd.extra_tracks(_spec(demo, enformer_abc_marks="h3k27ac_dnase"), no_h3)
    assert not any(k.startswith(kd.ABC_H3K27AC) for k in kd.extra_tracks(_spec(demo), no_h3))  # demo: dnase
    assert kd.extra_tracks(_spec(demo, analyses=["basal_expression"]), table) == {}


def test_avsec_window_needs_its_columns(demo, tmp_path):
    paths = _copy_inputs(demo, tmp_path)
    df = pd.read_csv(paths["crispri_table"], sep="\t")
    df.drop(columns=["enhancer_wide_end"]).to_csv(paths["crispri_table"], sep="\t", index=False)
    spec = _spec(demo, enhancer_window="avsec", **{k: str(v) for k, v in paths.items()})
    with pytest.raises(InputError, match="lacks column 'enhancer_wide_end'; expected it for inputs.enhancer_window"):
        kd.expand(spec, Genome(spec.fasta), ENFORMER_GEOMETRY)
    fixed = _spec(demo, **{k: str(v) for k, v in paths.items()})  # the default window does not need them
    assert kd.expand(fixed, Genome(fixed.fasta), ENFORMER_GEOMETRY).n_constructs > 0
    with pytest.raises(Exception, match="enhancer_window"):
        _spec(demo, enhancer_window="wide")


def test_bad_tss_bin_is_refused(demo, tmp_path):
    paths = _copy_inputs(demo, tmp_path)
    df = pd.read_csv(paths["crispri_table"], sep="\t")
    df.loc[0, "main_tss_bin"] += 1
    df.to_csv(paths["crispri_table"], sep="\t", index=False)
    spec = _spec(demo, **{k: str(v) for k, v in paths.items()})
    with pytest.raises(InputError, match="main_tss_bin"):
        kd.expand(spec, Genome(spec.fasta), ENFORMER_GEOMETRY)


# ---------------------------------------------------------------- end to end, planted known answers


def _submit(demo, job_dir, **runtime):
    from seqbench.runtime.submit import submit

    raw = deep_merge(kd_demo.demo_spec(demo.root), {"inputs": {"shuffles": 3, "max_genes": 4}, "runtime": runtime})
    return submit(parse_spec(raw, origin="test", base_dir=demo.root), job_dir=job_dir, progress=False)


def _landmark_terms(truth, gene_name):
    """Per pair of a gene: the law's promoter factor A (prom_J + P0) of the 3 landmark bins J."""
    g = next(x for x in truth["genes"] if x["gene"] == gene_name)
    ws = g["sequence_start"]
    J0 = (g["tss_centre"] - ws) // law.BIN_SIZE
    pb = [(m["centre"] - ws) // law.BIN_SIZE for m in g["promoter_motifs"]]
    return g, ws, [(J, law.A * (sum(abs(b - J) <= 1 for b in pb) + law.P0)) for J in (J0 - 1, J0, J0 + 1)]


@pytest.mark.ray
def test_knockdown_follows_the_planted_distance_law(demo, tmp_path, local_ray):
    res = _submit(demo, tmp_path / "job", replicas=1, shard_size=16)
    job = res.job_dir
    e = pd.read_csv(job / "tables" / "knockdown_pairs.tsv", sep="\t")
    truth = json.loads(demo.truth.read_text())
    by_fix = {tuple(x["fix_enhancer_wide_window"]): x for x in truth["enhancers"]}
    planted = e[[(a, b) in by_fix for a, b in zip(e.fix_start, e.fix_end, strict=False)]]
    ztab = pd.read_csv(demo.root / crispri.INPUT_KEYS["crispri_table"].default, sep="\t").set_index("ziga_key")
    kind = ztab.loc[e["ziga_key"], "element_type"].to_numpy()
    null, proximal = e[kind == "null_region"], e[kind == "proximal"]
    assert len(planted) >= 5 and len(null) >= 10 and len(proximal) == 4
    assert len(planted) + len(null) + len(proximal) == len(e)

    # regions without a planted motif: shuffling (or masking) them changes nothing
    assert null["log2_fc_pred"].abs().max() < 1e-3 and null["log2_fc_pred_n"].abs().max() < 1e-3
    # promoter-proximal elements: the window holds the whole promoter, so the knock-down leaves the
    # basal P0 of the law: (3 P0 (1 + B enh) + 1) / (ref + 1), enh of the gene's enhancers
    for r in proximal.itertuples():
        g, ws, terms = _landmark_terms(truth, r.gene)
        enh = [
            (m["centre"] - ws) // law.BIN_SIZE for x in truth["enhancers"] if x["gene"] == r.gene for m in x["motifs"]
        ]
        alt = sum(law.A * law.P0 * (1 + law.B_K562 * sum(law.decay(abs(h - J) * law.BIN_SIZE) for h in enh))
                  for J, _t in terms)
        assert r.pred_n == pytest.approx(alt, rel=1e-5) and r.pred_shuffle == pytest.approx(alt, rel=1e-5)

    # planted enhancers: the removed signal Delta = ref - N, fitted with the law's form, gives back D0 and B
    xs, ys, mid_x, mid_y = [], [], [], []
    for r in planted.itertuples():
        enh = by_fix[(r.fix_start, r.fix_end)]
        g, ws, terms = _landmark_terms(truth, r.gene)
        hits = [(m["centre"] - ws) // law.BIN_SIZE for m in enh["motifs"]]
        xs.append((terms, hits))
        ys.append(r.pred_ref - r.pred_n)
        mid_x.append(r.distance)
        mid_y.append((r.pred_ref - r.pred_shuffle) / (sum(t for _, t in terms) * len(hits)))

    def exact(idx, B, D0):
        return np.array(
            [
                B * sum(t * sum(1 / (1 + abs(h - J) * law.BIN_SIZE / D0) for h in hits) for J, t in xs[int(i)][0])
                for i in idx
                for hits in [xs[int(i)][1]]
            ]
        )

    (B, D0), _ = curve_fit(exact, np.arange(len(xs)), np.asarray(ys), p0=(1.0, 2000.0))
    assert pytest.approx(law.D0, rel=1e-3) == D0 and pytest.approx(law.B_K562, rel=1e-3) == B
    # the same law from the job's distance column alone (motifs counted at the element midpoint)
    dist, per_motif = np.asarray(mid_x, float), np.asarray(mid_y)
    (_b2, D02), _ = curve_fit(lambda d, b, d0: b / (1 + d / d0), dist, per_motif, p0=(1, 2000))
    assert pytest.approx(law.D0, rel=0.10) == D02

    # the candidate table is exactly what multiplicativity reads, and it expands
    cand = job / kd.CANDIDATES_RELPATH
    frame = mx.load_candidates(cand)
    from seqbench.inputs.crispri import CANDIDATE_COLUMNS

    assert list(pd.read_csv(cand, sep="\t").columns) == list(CANDIDATE_COLUMNS)
    assert "strong" in set(frame["candidate_type"])
    raw = {**mx_demo.demo_spec(demo.root), "inputs": {"candidates": str(cand)}}
    spec = parse_spec(raw, origin="t", base_dir=demo.root)
    design = mx.expand(spec, Genome(spec.fasta), ENFORMER_GEOMETRY)
    assert design.n_constructs == (
        frame["test_location"].sum()
        * len(frame.drop_duplicates(["chromosome", "main_tss_start"]))
        * len(frame.drop_duplicates(["chromosome", "fix_enhancer_wide_start"]))
    )
    s = res.summary
    assert s["n_pairs"] == len(e) and s["pearson_shuffle_vs_n"] > 0.99
    for fig in kd_figures.FIGURE_FILES:
        assert (job / "figures" / fig).read_bytes()[:4] == b"\x89PNG"
    shifts = parse_spec(kd_demo.demo_spec(demo.root), origin="t", base_dir=demo.root).ensemble.shifts
    _check_enformer_abc(e, truth, kind, shifts, s)
    _check_basal_expression(e, truth, job, shifts, kd_demo.demo_spec(demo.root)["inputs"]["landing_pad"])


def _motif_centres(truth, chrom):
    """``(centre, kind)`` of every planted motif copy on ``chrom`` (kind P or E)."""
    out = [(m["centre"], "P") for g in truth["genes"] if g["chromosome"] == chrom for m in g["promoter_motifs"]]
    return out + [(m["centre"], "E") for x in truth["enhancers"] if x["chromosome"] == chrom for m in x["motifs"]]


def _in_window(pos, w):
    return w <= pos - 5 and pos + 6 <= w + law.SEQUENCE_LENGTH


def _check_enformer_abc(e, truth, kind, shifts, s):
    """The element-centred DNase readout is the law's, and Enformer-ABC ranks planted elements above the
    motif-free null regions in every distance bin as the law implies."""
    L, bs = law.SEQUENCE_LENGTH, law.BIN_SIZE
    expected = []
    for r in e.itertuples():
        mid = r.enhancer_start + (r.enhancer_end - r.enhancer_start) // 2
        per_shift = []
        for sh in shifts:  # member shift s: window [mid - L/2 + s, ...), landmark input bin (L/2 - s) // 128
            w, big_j = mid - L // 2 + sh, (L // 2 - sh) // bs
            near = [q for q, _k in _motif_centres(truth, r.chrom) if _in_window(q, w)]
            n = sum(1 for q in near if abs((q - w) // bs - big_j) <= 1)
            per_shift.append(3 * law.C0 + law.C1 * n)  # DNASE(j) = C0 + C1 (h_P + h_E), 3 bins; both strands alike
        expected.append(np.mean(per_shift))
    expected = np.asarray(expected)
    assert np.allclose(e["enh_dnase"], expected, rtol=1e-5)
    assert np.allclose(e["enformer_abc"], expected / e["distance"], rtol=1e-5)
    planted = kind != "null_region"
    for label in ("0-3", "3-12.5", "12.5-34.5", "34.5-131"):
        b = (e["distance_bin"] == label).to_numpy()
        y = planted[b]
        assert y.any() and not y.all()
        want = average_precision_score(y, expected[b] / e["distance"].to_numpy()[b])
        assert average_precision_score(y, e["enformer_abc"].to_numpy()[b]) == pytest.approx(want)
        # the law's answer on the demo: each planted element has a motif in its 3 midpoint bins, so its
        # activity (>= 3 C0 + C1) over its distance beats every null's 3 C0 over a distance in the same bin
        assert want == 1.0
    assert s["enformer_abc_n_dnase_tracks"] == 1 and s["enformer_abc_n_h3k27ac_tracks"] == 0
    assert s["enformer_abc_marks"] == "dnase" and any("DNase alone" in n for n in s["notes"])
    lo, a, hi = (s[f"enformer_abc_auprc_enformer_abc{x}"] for x in ("_ci_low", "", "_ci_high"))
    assert lo <= a <= hi


def _check_basal_expression(e, truth, job, shifts, landing_pad):
    """Promoter strength at the landing pad and the predicted % from the law; the job's OLS equals
    statsmodels' on those law values."""
    import statsmodels.formula.api as smf

    from seqbench.demo.crispri import planted_knockdown
    from seqbench.demo.synthetic import planted_cage_landmark_sum

    L, bs = law.SEQUENCE_LENGTH, law.BIN_SIZE
    pchrom, span = landing_pad.split(":")
    p0, p1 = (int(v) for v in span.split("-"))
    genes = {g["gene"]: g for g in truth["genes"]}

    def strength(g):  # the promoter [tss - 1000, tss + 1000) replacing the pad, landmark at its midpoint
        tss, lm = g["tss_centre"], p0 + 1000
        placed = [(p0 + (q - (tss - 1000)), "P") for q in (m["centre"] for m in g["promoter_motifs"])]
        placed += [(q if q < p0 else q + 2000 - (p1 - p0), k) for q, k in _motif_centres(truth, pchrom)]
        vals = []
        for sh in shifts:
            w, big_j = lm - L // 2 + sh, (L // 2 - sh) // bs
            bins = {k: [(q - w) // bs for q, kk in placed if kk == k and _in_window(q, w)] for k in "PE"}
            vals.append(planted_cage_landmark_sum(bins["P"], bins["E"], big_j - law.OUTPUT_BIN_OFFSET))
        return float(np.mean(vals))

    rows = []
    for r in e.itertuples():
        g = genes[r.gene]
        ref, alt = planted_knockdown(truth, g, (r.ko_start, r.ko_end))
        rows.append({"distance": r.distance, "validated": float(r.validated), "prom": strength(g),
                     "pct": abs((alt + 1) / (ref + 1) - 1) * 100})
    law_f = pd.DataFrame(rows)
    assert np.allclose(e["promoter_strength"], law_f["prom"], rtol=1e-5)
    sub = law_f[(law_f.distance > 999) & (law_f.distance < 100_000)]
    fit = smf.ols("np.log10(pct + 0.001) ~ np.log10(distance) + np.log10(prom + 1) + validated", data=sub).fit()
    ols = pd.read_csv(job / "tables" / "knockdown_basal_ols.tsv", sep="\t").set_index("response")
    got = ols.loc["predicted_percent"]
    assert got["n"] == len(sub)
    assert got["coef_log10_promoter"] == pytest.approx(fit.params["np.log10(prom + 1)"], rel=1e-3, abs=1e-4)
    assert got["coef_log10_distance"] == pytest.approx(fit.params["np.log10(distance)"], rel=1e-3, abs=1e-4)
    assert got["r2"] == pytest.approx(fit.rsquared, rel=1e-3)


@pytest.mark.ray
@pytest.mark.slow
def test_rows_identical_across_replica_counts(demo, tmp_path, local_ray):
    import pyarrow.parquet as pq

    def rows(job):
        parts = sorted((job / "parts").glob("part-*.parquet"))
        df = pd.concat([pq.read_table(p).to_pandas() for p in parts])
        return df.sort_values(["construct_id", "member"]).reset_index(drop=True)

    a = _submit(demo, tmp_path / "a", replicas=1, shard_size=5)
    b = _submit(demo, tmp_path / "b", replicas=2, shard_size=9)
    pd.testing.assert_frame_equal(rows(a.job_dir), rows(b.job_dir), check_exact=True)
    ta = pd.read_csv(a.job_dir / "tables" / "knockdown_pairs.tsv", sep="\t")
    tb = pd.read_csv(b.job_dir / "tables" / "knockdown_pairs.tsv", sep="\t")
    pd.testing.assert_frame_equal(ta, tb, check_exact=True)
