"""Bergman promoter x enhancer MPRA: loaders, plasmid geometry, the planted readout and the job end to end.

Expected predictions are computed here from the law's formulas and the motif offsets recorded in the
demo's truth file, independently of the planted model's TensorFlow code.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst
from sklearn.metrics import r2_score

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.promoter_enhancer_mpra import demo as bx_demo
from seqbench.experiments.promoter_enhancer_mpra import demo as demo
from seqbench.experiments.promoter_enhancer_mpra import design as bx
from seqbench.genome import Genome
from seqbench.inputs.tables import InputError
from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.models.planted import law
from seqbench.models.planted.reference import reference_output
from seqbench.sequence.codes import decode
from seqbench.sequence.constructs import materialize
from seqbench.spec import deep_merge, parse_spec

L = law.SEQUENCE_LENGTH


@pytest.fixture(scope="module")
def layout(cache_dir):
    lay = ensure_demo(cache_dir)
    bx_demo.demo_spec(lay.root)  # writes the Bergman inputs
    return lay


@pytest.fixture(scope="module")
def truth(layout):
    return json.loads((layout.root / demo.TRUTH_RELPATH).read_text())


def _spec(layout, tmp_root: Path | None = None, runtime: dict | None = None, **inputs):
    raw = bx_demo.demo_spec(layout.root)
    if tmp_root is not None:
        raw["data_root"] = str(tmp_root)
    raw = deep_merge(raw, {"inputs": inputs, "runtime": runtime or {}})
    return parse_spec(raw, origin="test", base_dir=layout.root)


def _copy_inputs(layout, tmp_path: Path) -> Path:
    """A writable copy of the demo root's Bergman inputs and genome (for bad-input tests)."""
    root = tmp_path / "root"
    shutil.copytree(layout.root / "Data" / "Bergman_compatibility_logic", root / demo.BERGMAN_DIR)
    (root / "Data" / "Genome").mkdir(parents=True)
    for f in (layout.fasta, layout.fasta_index):
        (root / "Data" / "Genome" / f.name).symlink_to(f)
    return root


# ---------------------------------------------------------------- inputs


def test_genbank_parser_and_plasmid_slices(layout, tmp_path):
    path = layout.root / demo.PLASMID_RELPATH
    seq = bx.parse_genbank(path)
    assert len(seq) == demo.PLASMID_LEN and set(seq) <= set("ACGT")
    parts = bx.plasmid_parts(path)
    assert parts.tgfp == seq[119:372] and len(parts.tgfp) == 253
    assert parts.left == seq[:17] and parts.right == seq[1838:]
    assert bx.plasmid_parts(path, left="authors").left == seq[17:]  # §13 B8, as the authors

    bad = tmp_path / "bad.gbk"
    text = path.read_text()
    bad.write_text(text.replace("ORIGIN", "ORIGINAL").replace("ORIGINAL", "NOPE"))
    with pytest.raises(InputError, match="no ORIGIN line"):
        bx.parse_genbank(bad)
    lines = text.splitlines()
    k = lines.index("ORIGIN") + 3
    lines[k] = lines[k][:12] + "x" + lines[k][13:]
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"line {k + 1}: character 'X'"):
        bx.parse_genbank(bad)
    bad.write_text(text.replace(f"{demo.PLASMID_LEN} bp", "6000 bp"))
    with pytest.raises(InputError, match="LOCUS says 6000 bp but the ORIGIN section holds 6243 bp"):
        bx.parse_genbank(bad)


def test_loaders_name_file_row_and_column(layout, tmp_path):
    counts = layout.root / demo.COUNTS_RELPATH
    frame = pd.read_csv(counts, sep="\t")
    bad = tmp_path / "counts.txt"
    f2 = frame.copy()
    f2["DNA_input"] = f2["DNA_input"].astype(object)
    f2.loc[6, "DNA_input"] = "lots"
    f2.to_csv(bad, sep="\t", index=False)
    with pytest.raises(InputError, match=r"counts.txt: row 7, column 'DNA_input': 'lots'; expected a number >= 0"):
        bx.load_counts(bad)
    f2 = frame.copy()
    f2.loc[2, "weighted_reads_rep3"] = -1
    f2.to_csv(bad, sep="\t", index=False)
    with pytest.raises(InputError, match=r"row 3, column 'weighted_reads_rep3': '-1'; expected a number >= 0"):
        bx.load_counts(bad)
    frame.drop(columns=["weighted_reads_rep4"]).to_csv(bad, sep="\t", index=False)
    with pytest.raises(InputError, match="lacks column 'weighted_reads_rep4'"):
        bx.load_counts(bad)

    frags = pd.read_csv(layout.root / demo.PROMOTERS_RELPATH, sep="\t")
    badf = tmp_path / "promoters.txt"
    f3 = frags.copy()
    f3.loc[1, "seq"] = f3.loc[1, "seq"][:10] + "R" + f3.loc[1, "seq"][11:]
    f3.to_csv(badf, sep="\t", index=False)
    with pytest.raises(InputError, match=r"promoters.txt: row 2, column 'seq': character 'R'"):
        bx.load_fragments(badf, "promoter")
    f3 = pd.concat([frags, frags.iloc[[0]]])
    f3.to_csv(badf, sep="\t", index=False)
    with pytest.raises(InputError, match=rf"row {len(frags) + 1}, column 'fragment': .* is already row 1"):
        bx.load_fragments(badf, "promoter")


def test_expand_refuses_unknown_fragments_and_baselines(layout, tmp_path):
    root = _copy_inputs(layout, tmp_path)
    genome = Genome(layout.fasta)
    with pytest.raises(InputError, match="inputs.base_enhancer = 'chrX:1-2-enhancer' is not the enhancer of any pair"):
        bx.expand(_spec(layout, root, base_enhancer="chrX:1-2-enhancer"), genome, ENFORMER_GEOMETRY)
    counts = root / demo.COUNTS_RELPATH
    frame = pd.read_csv(counts, sep="\t")
    frame.loc[9, "promoter"] = "chr9:1-265-promoter"
    frame.to_csv(counts, sep="\t", index=False)
    with pytest.raises(InputError, match=r"row 10, column 'promoter': 'chr9:1-265-promoter' is not a fragment of"):
        bx.expand(_spec(layout, root), genome, ENFORMER_GEOMETRY)


# ---------------------------------------------------------------- geometry


def _offsets():
    """Start of the promoter and of the enhancer fragment inside the minimal plasmid."""
    p0 = len(bx.PROMOTER_5P)
    e0 = (p0 + demo.FRAGMENT_LEN + len(bx.PROMOTER_3P) + (bx.TGFP_SLICE[1] - bx.TGFP_SLICE[0])
          + len(bx.BARCODE_LEFT) + bx.BARCODE_N + len(bx.BARCODE_RIGHT) + len(bx.ENHANCER_5P))
    return p0, e0


def test_min_plasmid_geometry(layout):
    spec = _spec(layout, insert_types=["min_plasmid"], promoter_only=False)
    assert spec.ensemble.shifts == (0, 32, 64) and spec.ensemble.strands == ("+",)
    genome = Genome(layout.fasta)
    design = bx.expand(spec, genome, ENFORMER_GEOMETRY)
    t = design.table
    assert (t["construct_id"] == np.arange(len(t))).all()
    assert list(t.sort_values(["promoter", "enhancer"]).construct_id) == list(t.construct_id)
    prom = dict(pd.read_csv(layout.root / demo.PROMOTERS_RELPATH, sep="\t").values)
    enh = dict(pd.read_csv(layout.root / demo.ENHANCERS_RELPATH, sep="\t").values)
    tgfp = bx.parse_genbank(layout.root / demo.PLASMID_RELPATH)[119:372]
    p0, e0 = _offsets()
    for cid in (0, len(t) // 2, len(t) - 1):
        row = t.iloc[cid]
        c = design.build(cid)
        assert c.key == f"{row.promoter}|{row.enhancer}|min_plasmid"
        codes, lm = materialize(c, None, sequence_length=L, min_shift=0, max_shift=64)
        seq = decode(codes)
        # shift s: input = codes[s : s + L]; the landmark (promoter midpoint) sits at L/2 - s
        assert lm == L // 2
        start = lm - p0 - 132  # first base of the 5'P adaptor
        assert seq[start : start + p0] == bx.PROMOTER_5P
        assert seq[lm - 132 : lm + 132] == prom[row.promoter]
        assert seq[start + e0 : start + e0 + 264] == enh[row.enhancer]
        assert tgfp in seq and "N" * bx.BARCODE_N in seq
        assert set(seq[:start]) == {"N"} and set(seq[start + e0 + 264 + len(bx.ENHANCER_3P) :]) == {"N"}
        # + strand bins of the three members: 448 (s = 0), 447 (s = 32, 64): the authors' offsets 0, -32, -64
        assert [(L // 2 - s - law.OUTPUT_OFFSET) // 128 for s in (0, 32, 64)] == [448, 447, 447]


def test_full_plasmid_and_aavs1_geometry(layout):
    genome = Genome(layout.fasta)
    plasmid = bx.parse_genbank(layout.root / demo.PLASMID_RELPATH)
    minimal = bx.expand(_spec(layout, insert_types=["min_plasmid"]), genome, ENFORMER_GEOMETRY).build(3)
    seq_min = minimal.literal
    for left, want_left in (("fixed", plasmid[:17]), ("authors", plasmid[17:])):
        full = _spec(layout, insert_types=["full_plasmid"], full_plasmid_left=left)
        c = bx.expand(full, genome, ENFORMER_GEOMETRY).build(3)
        assert c.literal == want_left + seq_min + plasmid[1838:]
        assert c.landmark == len(want_left) + minimal.landmark
    spec = _spec(layout, insert_types=["aavs1"])
    chrom, start, end = bx.parse_landing_pad(spec.inputs["landing_pad"])
    c = bx.expand(spec, genome, ENFORMER_GEOMETRY).build(3)
    codes, lm = materialize(c, genome.read_padded, sequence_length=L)
    split = (start + end) // 2
    assert lm == L // 2
    ins0 = lm - minimal.landmark
    assert decode(codes[ins0 : ins0 + len(seq_min)]) == seq_min
    np.testing.assert_array_equal(codes[:ins0], genome.fetch(chrom, split - ins0, split))
    tail = L - ins0 - len(seq_min)
    np.testing.assert_array_equal(codes[ins0 + len(seq_min) :], genome.fetch(chrom, split, split + tail))
    # the demo landing pad is >= 200 kb from every planted TSS (only distant enhancers reach it)
    gt = json.loads(layout.truth.read_text())
    assert min(abs(g["tss_centre"] - split) for g in gt["genes"] if g["chromosome"] == chrom) >= 200_000


def test_ids_insert_types_landmark_and_fragments_alone(layout):
    """construct_id = item * n_types + t, pairs first, then the fragments alone (promoters, then enhancers);
    the enhancer landmark is the enhancer midpoint; a fragment alone is 5'P + fragment + 3'P + tGFP."""
    genome = Genome(layout.fasta)
    types = ["aavs1", "min_plasmid"]
    spec = _spec(layout, insert_types=types, promoter_only=True, landmark="enhancer", max_promoters=5,
                 max_enhancers=4)
    design = bx.expand(spec, genome, ENFORMER_GEOMETRY)
    t = design.table
    pairs = t[t["kind"] == "pair"]
    alone = t[t["kind"] == "alone"]
    n_pairs = len(pairs) // 2
    assert (t["construct_id"] == np.arange(len(t))).all()
    assert list(t["insert_type"][:4]) == ["aavs1", "min_plasmid", "aavs1", "min_plasmid"]
    assert list(pairs["promoter"][::2]) == list(pairs["promoter"][1::2])  # both types of a pair side by side
    p_ids, e_ids = sorted(pairs["promoter"].unique()), sorted(pairs["enhancer"].unique())
    assert list(alone["fragment"][::2]) == [*p_ids, *e_ids]
    assert list(alone["fragment_kind"][::2]) == ["promoter"] * len(p_ids) + ["enhancer"] * len(e_ids)
    assert alone["log_ratio"].isna().all() and pairs["log_ratio"].notna().all()
    prom = dict(pd.read_csv(layout.root / demo.PROMOTERS_RELPATH, sep="\t").values)
    enh = dict(pd.read_csv(layout.root / demo.ENHANCERS_RELPATH, sep="\t").values)
    tgfp = bx.parse_genbank(layout.root / demo.PLASMID_RELPATH)[119:372]
    p0, e0 = _offsets()
    c = design.build(1)  # the first pair, min_plasmid: landmark at the enhancer midpoint
    assert c.key == f"{pairs.promoter.iloc[0]}|{pairs.enhancer.iloc[0]}|min_plasmid"
    assert c.landmark == e0 + 132 and c.literal[c.landmark - 132 : c.landmark + 132] == enh[pairs.enhancer.iloc[0]]
    for k, frag in ((0, p_ids[0]), (len(p_ids), e_ids[0])):
        c = design.build(2 * n_pairs + 2 * k + 1)
        seq = prom.get(frag) or enh[frag]
        assert c.key == f"{frag}|alone|min_plasmid"
        assert c.literal == bx.PROMOTER_5P + seq + bx.PROMOTER_3P + tgfp and c.landmark == p0 + 132
        a = design.build(2 * n_pairs + 2 * k)  # aavs1: the same insert at the pad
        codes, lm = materialize(a, genome.read_padded, sequence_length=L)
        assert decode(codes[lm - p0 - 132 : lm - p0 - 132 + len(c.literal)]) == c.literal
    with pytest.raises(InputError, match=r"inputs.insert_types = \['aavs1', 'aavs1'\]; expected distinct"):
        bx.expand(_spec(layout, insert_types=["aavs1", "aavs1"]), genome, ENFORMER_GEOMETRY)
    # an older spec's single insert_type is insert_types = [that type]; both at once are refused
    old = bx.expand(_spec(layout, insert_type="aavs1", max_promoters=5, max_enhancers=4), genome, ENFORMER_GEOMETRY)
    new = bx.expand(_spec(layout, insert_types=["aavs1"], max_promoters=5, max_enhancers=4), genome,
                    ENFORMER_GEOMETRY)
    assert old.table.equals(new.table) and set(old.table["insert_type"]) == {"aavs1"}
    with pytest.raises(InputError, match=r"inputs.insert_type = 'aavs1' and inputs.insert_types = \['min_plasmid'\]"
                       " are both set"):
        bx.expand(_spec(layout, insert_type="aavs1", insert_types=["min_plasmid"]), genome, ENFORMER_GEOMETRY)


def _law_readout(prom_centres, enh_centres, landmark: int, shifts=(0, 32, 64)) -> float:
    """Ensemble mean of the K562 CAGE 3-bin landmark sum of a literal construct (positions in the literal)."""
    out = []
    for s in shifts:
        to_input = L // 2 - s - landmark
        J = (landmark + to_input) // law.BIN_SIZE
        pb = [(q + to_input) // law.BIN_SIZE for q in prom_centres]
        eb = [(q + to_input) // law.BIN_SIZE for q in enh_centres]
        total = 0.0
        for j in (J - 1, J, J + 1):
            prom = sum(1 for b in pb if abs(b - j) <= 1)
            enh = sum(law.decay(abs(b - j) * law.BIN_SIZE) for b in eb)
            total += law.A * (prom + law.P0) * (1 + law.B_K562 * enh)
        out.append(total)
    return float(np.mean(out))


def _layout(truth, row, *, landmark: str = "promoter", left: str = "fixed", genome_motifs=((), ())):
    """The planted motifs of a construct and its landmark, as positions in the construct's literal frame
    (for aavs1: the minimal insert's frame, the genome's motifs at their offsets from the insertion point,
    ``genome_motifs`` = promoter and enhancer motif positions relative to the split)."""
    p0, e0 = _offsets()
    tp = {p["fragment"]: p for p in truth["promoters"]}
    te = {e["fragment"]: e for e in truth["enhancers"]}
    tgfp = bx.TGFP_SLICE[1] - bx.TGFP_SLICE[0]
    if row["kind"] == "pair":
        prom = [p0 + q for q in tp[row["promoter"]]["motif_offsets"]]
        enh = [e0 + q for q in te[row["enhancer"]]["motif_offsets"]]
        lm = e0 + 132 if landmark == "enhancer" else p0 + 132
        n = e0 + 264 + len(bx.ENHANCER_3P)
    else:
        frag = row["fragment"]
        own = [p0 + q for q in (tp.get(frag) or te[frag])["motif_offsets"]]
        prom, enh = (own, []) if frag in tp else ([], own)
        lm, n = p0 + 132, p0 + 264 + len(bx.PROMOTER_3P) + tgfp
    if row["insert_type"] == "full_plasmid":
        vec = truth["vector_enhancer_offsets"]
        k = 17 if left == "fixed" else demo.PLASMID_LEN - 17
        prom, enh, lm = [k + q for q in prom], [k + q for q in enh], k + lm
        enh += [k + n + v - bx.RIGHT_START for v in vec]
        if left == "authors":  # plasmid[17:] holds the vector motifs too
            enh += [v - 17 for v in vec]
    elif row["insert_type"] == "aavs1":
        gp, ge = genome_motifs
        prom = prom + [q if q < 0 else n + q for q in gp]
        enh = enh + [q if q < 0 else n + q for q in ge]
    return prom, enh, lm


def pad_motifs(layout, spec) -> tuple[list[int], list[int]]:
    """Planted motifs in the genome within 200 kb of the landing pad's split point (by the demo's scanner),
    relative to it (negative: before the insert)."""
    from seqbench.demo.synthetic import find_motif_occurrences

    chrom, start, end = bx.parse_landing_pad(spec.inputs["landing_pad"])
    split = (start + end) // 2
    codes = Genome(layout.fasta).fetch(chrom, split - 200_000, split + 200_000)
    rel = [[q - 200_000 for q, _ in find_motif_occurrences(codes, m)] for m in (law.PROMOTER_MOTIF, law.ENHANCER_MOTIF)]
    return rel[0], rel[1]


def planted_predictions(truth, table: pd.DataFrame, **kw) -> np.ndarray:
    """The law's readout of every design row (the test's closed form, independent of the model code)."""
    return np.array([_law_readout(*_layout(truth, row, **kw)) for _, row in table.iterrows()])


def test_law_readout_matches_the_numpy_reference(layout, truth):
    """The test's closed form agrees with the model's NumPy reference on materialized members: pairs and
    fragments alone, every insert type, both landmarks and both full-plasmid left flanks."""
    genome = Genome(layout.fasta)
    spec = _spec(layout, max_promoters=4, max_enhancers=4)
    gm = pad_motifs(layout, spec)
    cases = [(spec, {}), (_spec(layout, landmark="enhancer", insert_types=["min_plasmid", "full_plasmid"],
                                full_plasmid_left="authors", max_promoters=4, max_enhancers=4),
                          {"landmark": "enhancer", "left": "authors"})]
    for sp, kw in cases:
        design = bx.expand(sp, genome, ENFORMER_GEOMETRY)
        t = design.table
        n_t = len(sp.inputs["insert_types"])
        ids = [*range(n_t), *range(len(t) - 2 * n_t, len(t) - n_t)]  # a pair and a fragment alone, every type
        for cid in ids:
            codes, lm = materialize(design.build(cid), genome.read_padded, sequence_length=L, min_shift=0,
                                    max_shift=64)
            members = np.stack([codes[s : s + L] for s in (0, 32, 64)])
            out = reference_output(members)
            vals = []
            for k, s in enumerate((0, 32, 64)):
                b = (lm - s - law.OUTPUT_OFFSET) // law.BIN_SIZE
                vals.append(out[k, b - 1 : b + 2, 0].sum())
            want = _law_readout(*_layout(truth, t.iloc[cid], genome_motifs=gm, **kw))
            assert np.mean(vals) == pytest.approx(want, rel=1e-12), (cid, kw)


def test_demo_is_deterministic_and_motifs_are_where_the_truth_says(layout, truth):
    files, again = demo.generate()
    for rel, text in files.items():
        assert (layout.root / rel).read_text() == text, rel
    assert again["promoters"] == truth["promoters"]
    prom = dict(pd.read_csv(layout.root / demo.PROMOTERS_RELPATH, sep="\t").values)
    for p in truth["promoters"]:
        seq = prom[p["fragment"]]
        assert _scan(seq) == (p["n_motifs"], 0)
        for q, st in zip(p["motif_offsets"], p["strands"], strict=True):
            want = law.PROMOTER_MOTIF if st == "+" else demo._rc(law.PROMOTER_MOTIF)
            assert seq[q - 5 : q + 6] == want
            assert abs(q - 132) <= demo.PROMOTER_REACH


# ---------------------------------------------------------------- end to end


@pytest.mark.ray
def test_job_recovers_the_planted_strengths(layout, truth, tmp_path, local_ray):
    """The embedded default's design (every insert type, fragments alone) on 8 x 8 elements, through local Ray."""
    from seqbench.runtime.submit import submit

    spec = _spec(layout, runtime={"shard_size": 64}, max_promoters=8, max_enhancers=8, min_partners=4)
    assert spec.inputs["promoter_only"] and list(spec.inputs["insert_types"]) == list(bx.INSERT_TYPES)
    result = submit(spec, job_dir=tmp_path / "job", progress=False)
    s = result.summary
    assert s["model"] == "planted-v1" and s["all_converged"] is True
    assert s["primary_insert"] == "min_plasmid" and s["landmark"] == "promoter" and s["promoter_only"] is True
    assert s["undefined"] == {} and all(v is not None for v in s.values())  # the default exercises every key
    job = result.job_dir
    tables = job / "tables"
    every = pd.read_parquet(tables / "promoter_enhancer_mpra_pairs.parquet")
    alone = pd.read_parquet(tables / "promoter_enhancer_mpra_alone.parquet")

    # the predictions are the law's readout of each construct (exact up to float32): pairs and fragments alone
    gm = pad_motifs(layout, spec)
    exact_all = planted_predictions(truth, every.assign(kind="pair"), genome_motifs=gm)
    np.testing.assert_allclose(every["pred"], exact_all, rtol=2e-6)
    np.testing.assert_allclose(alone["pred"], planted_predictions(truth, alone.assign(kind="alone")), rtol=2e-6)
    by_type = {t: every[every.insert_type == t].reset_index(drop=True) for t in bx.INSERT_TYPES}
    pairs = by_type["min_plasmid"]
    assert s["n_pairs"] == len(pairs) and s["n_promoters"] <= 8 and s["n_enhancers"] <= 8
    exact = exact_all[(every.insert_type == "min_plasmid").to_numpy()]

    P = pd.read_parquet(tables / "promoter_enhancer_mpra_promoters.parquet")
    E = pd.read_parquet(tables / "promoter_enhancer_mpra_enhancers.parquet")
    Pm, Em = P[P.insert_type == "min_plasmid"], E[E.insert_type == "min_plasmid"]
    tp = {p["fragment"]: p for p in truth["promoters"]}
    te = {e["fragment"]: e for e in truth["enhancers"]}
    p_log = [tp[x]["log_strength"] for x in Pm.promoter]
    e_log = [te[x]["log_strength"] for x in Em.enhancer]
    e_meas = [te[x]["log_strength_measured"] for x in Em.enhancer]
    # Gamma on the predictions vs the planted strengths log(k + P0), log(1 + B m g)
    assert np.corrcoef(Pm["coef_gamma_mult"], p_log)[0, 1] >= 0.95
    assert np.corrcoef(Em["coef_gamma_mult"], e_log)[0, 1] >= 0.95
    # Poisson on the simulated counts vs the simulated truth
    assert np.corrcoef(Pm["coef_poisson_mult"], p_log)[0, 1] >= 0.95
    assert np.corrcoef(Em["coef_poisson_mult"], e_meas)[0, 1] >= 0.95

    # promoter-only variance explained vs the planted share: the Gamma promoter-only MLE is the
    # per-promoter mean, so the share is computed from the law's exact readout (tolerance 0.01)
    group_mean = pd.Series(exact).groupby(pairs.promoter.to_numpy()).transform("mean").to_numpy()
    share = r2_score(np.log2(exact + 1), np.log2(group_mean + 1))
    assert s["varexpl_predicted_promoter"] == pytest.approx(share, abs=0.01)
    # the measured side was planted with 4x the enhancer gain: promoters explain less of it
    assert s["varexpl_measured_promoter"] < s["varexpl_predicted_promoter"] - 0.05
    assert s["varexpl_measured_promoter_enhancer"] > 0.95 and s["varexpl_predicted_promoter_enhancer"] > 0.99
    assert s["poisson_log_dna_coef"] == pytest.approx(math.log(2), abs=0.1)

    # minimal vs full.  What the law implies: aavs1 reads the same motifs as min_plasmid (none of the genome's
    # lies within 200 kb of the pad), so the same predictions; the full plasmid's vector adds a constant
    # enhancer activity, which compresses the enhancer effects (already 4x weaker than the simulated
    # measurements), so its pair-level Pearson with the measurements is lower.
    assert gm == ([], [])
    np.testing.assert_allclose(by_type["aavs1"]["pred"], pairs["pred"], rtol=1e-6)
    assert s["pred_pearson_aavs1_vs_min"] == pytest.approx(1.0, abs=1e-9)
    law_r = {}
    for t in bx.INSERT_TYPES:
        x = exact_all[(every.insert_type == t).to_numpy()]
        law_r[t] = np.corrcoef(np.log2(x + 1), by_type[t]["log_ratio"])[0, 1]
        assert s[f"pair_pearson_log_{t}"] == pytest.approx(law_r[t], abs=1e-5)
    assert law_r["min_plasmid"] > law_r["full_plasmid"] + 0.005  # the law's answer, then the job's
    assert s["best_insert_pair_pearson"] == "min_plasmid"
    ef = E[E.insert_type == "full_plasmid"]
    assert ef["coef_gamma_mult"].std() < 0.8 * Em["coef_gamma_mult"].std()
    inserts = pd.read_csv(tables / "promoter_enhancer_mpra_inserts.csv")
    assert list(inserts.insert_type) == list(bx.INSERT_TYPES) and (inserts.n_pairs == len(pairs)).all()

    # fragments alone: the promoters' predictions follow the planted promoter strengths' order (every promoter
    # with more motifs above every one with fewer), the enhancer fragments (no promoter motif) stay at the
    # basal level times their enhancer gain, below every promoter with a motif
    am = alone[alone.insert_type == "min_plasmid"]
    ap = am[am.fragment_kind == "promoter"]
    k = ap.fragment.map(lambda f: tp[f]["n_motifs"]).to_numpy()
    pred = ap["pred"].to_numpy()
    assert all(pred[k == a].max() < pred[k == b].min() for a in set(k) for b in set(k) if a < b)
    ae = am[am.fragment_kind == "enhancer"]
    assert ae["pred"].max() < pred[k > 0].min() and ae["pred"].min() >= 3 * law.A * law.P0 * (1 - 1e-6)
    meas = Pm.set_index("promoter")["coef_poisson_mult"].reindex(ap.fragment).to_numpy()
    assert s["promoteronly_promoter_spearman"] == pytest.approx(sst.spearmanr(pred, meas)[0], abs=1e-9)
    assert s["n_fragments_alone"] == len(am) == s["n_promoters"] + s["n_enhancers"]

    report = (job / "report.md").read_text()
    assert "planted" in report and "promoter strength" in report
    for name in ("promoter_strength", "enhancer_strength", "variance_explained", "induced_variation", "inserts",
                 "promoter_only"):
        assert (job / "figures" / f"promoter_enhancer_mpra_{name}.png").read_bytes()[:4] == b"\x89PNG"


def _scan(seq: str) -> tuple[int, int]:
    """(promoter, enhancer) planted-motif hits, both orientations, by the genome demo's scanner on codes
    (independent of the string counter the demo generator uses)."""
    from seqbench.demo.synthetic import find_motif_occurrences
    from seqbench.sequence.codes import encode

    codes = encode(seq)
    return (len(find_motif_occurrences(codes, law.PROMOTER_MOTIF)),
            len(find_motif_occurrences(codes, law.ENHANCER_MOTIF)))
