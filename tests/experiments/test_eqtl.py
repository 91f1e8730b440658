"""The eQTL experiment (spec §7) against independent known answers: the §7.1 filters against a brute-force
loop, indel constructs that keep the TSS in place, the ref check, ``--from`` a tissue-expression job, the
bad inputs, and one end-to-end job on the planted model whose effects equal the planted law (NumPy
reference on windows cut here straight from the genome, mapped through the demo's ridge matches)."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqbench.experiments.eqtl import demo, design
from seqbench.genome import Genome
from seqbench.inputs.tables import InputError
from seqbench.models.planted import law
from seqbench.models.planted.reference import PLANTED_GEOMETRY, reference_output
from seqbench.sequence.codes import COMPLEMENT, decode, encode
from seqbench.sequence.constructs import materialize
from seqbench.spec import deep_merge, parse_spec

L = law.SEQUENCE_LENGTH


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eqtl-demo")
    demo.ensure_eqtl_inputs(root)
    return root


def _spec(root: Path, tmp: Path, **inputs):
    raw = demo.demo_spec(root)
    if inputs:
        raw = deep_merge(raw, {"inputs": inputs})
    return parse_spec(raw, origin="test", base_dir=tmp)


def _truth(root: Path) -> dict:
    return json.loads((root / demo.TRUTH).read_text())


# ------------------------------------------------------------------------------------------ filters


def _brute_force(root: Path, truth: dict) -> dict[tuple[str, str, str], str]:
    """Each block's first failing rule, by plain loops over the raw files (no pandas grouping)."""
    canon = {}
    for line in (root / demo.CANONICAL).read_text().splitlines()[1:]:
        ts, gene, tss, chrom, _name = line.split("\t")
        canon[gene] = int(tss) - 1
    strand, tss_all = {}, {}
    for line in (root / demo.BIOMART).read_text().splitlines()[1:]:
        f = line.split("\t")
        if f[2] != "protein_coding":
            continue
        tss_all.setdefault(f[11], []).append(int(f[7]) - 1)
        if f[8] == "1":
            strand[f[11]] = 1 if f[4] == "1" else -1
    blocks: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for path in sorted((root / demo.SETS).iterdir()):
        tissue = demo.SUSIE[path.name[len("GTEx_ge_"):].split(".")[0]]
        rows = gzip.decompress(path.read_bytes()).decode().splitlines()[1:]
        for r in rows:
            gene, _v, _c, pos, ref, _alt, cs, _pip = r.split("\t")
            blocks.setdefault((cs, gene, tissue), []).append((int(pos), len(ref)))
    out = {}
    for (cs, gene, tissue), vs in blocks.items():
        t, s = canon[gene], strand[gene]
        d = [p - 1 - t for p, _ in vs]
        e = [p - 1 + n - 1 - t for p, n in vs]
        sgn = lambda x: (x > 0) - (x < 0)  # noqa: E731
        fails = ""
        checks = [
            ("not_5prime", not (s != sgn(min(d)) and sgn(min(d)) == sgn(max(d)))),
            ("alternative_5prime_tss", any((t - o if s == 1 else o - t) > 128 for o in tss_all[gene])),
            ("too_far", not max(abs(x) for x in d) < 95_000),
            ("at_tss", not min(abs(x) for x in d) > 0),
            ("crossing", any(sgn(a) != sgn(b) for a, b in zip(d, e, strict=True))),
            ("block_too_large", not max(p for p, _ in vs) - min(p for p, _ in vs) < 5_000),
        ]
        for name, failed in checks:
            if failed:
                fails = name
                break
        out[(cs, gene, tissue)] = fails
    return out


def test_filters_equal_brute_force_and_each_rule_fails_alone(demo_root, tmp_path):
    spec = _spec(demo_root, tmp_path)
    truth = _truth(demo_root)
    planned = design.plan(spec, Genome(spec.fasta), design.distance_cap(spec, PLANTED_GEOMETRY))
    got = {k: v for k, v in planned.table.drop_duplicates(["cs_id", "gene_id", "tissue"]).set_index(
        ["cs_id", "gene_id", "tissue"])["fails"].items()}
    want = _brute_force(demo_root, truth)
    assert got == want
    # every rule is exercised by a block that fails only it (the demo's plan), and nothing else fails
    for s in truth["sets"]:
        key = (s["cs_id"], s["gene_id"], s["gtex_tissue"])
        assert got[key] == ("" if s["expect"].startswith("kept") else s["expect"])
    assert sorted(v for v in got.values() if v) == sorted(design.RULES)
    # the cap comes from the geometry: half the input of a shorter model binds
    from seqbench.models.base import Geometry

    assert design.distance_cap(spec, Geometry(131_072, 128, 0, 1024)) == 65_536
    assert design.distance_cap(spec, PLANTED_GEOMETRY) == 95_000
    # a job of several models: the shortest input binds, whichever model comes first
    import dataclasses

    from seqbench.models.registry import ModelSpec

    both = dataclasses.replace(spec, models=(spec.model, ModelSpec(kind="planted-basenji2")))
    assert design.distance_cap(both, PLANTED_GEOMETRY) == 65_536


def test_ref_mismatch_is_skipped_and_counted(demo_root, tmp_path):
    spec = _spec(demo_root, tmp_path)
    planned = design.plan(spec, Genome(spec.fasta), 95_000)
    truth = _truth(demo_root)
    bad = [(s["gene_id"], v["pos0"]) for s in truth["sets"] for v in s["variants"] if v["kind"] == "ref_mismatch"]
    assert len(bad) == 1 and len(planned.skipped) == 1
    assert (planned.skipped["gene_id"].iloc[0], int(planned.skipped["pos0"].iloc[0])) == bad[0]
    assert planned.skipped["genome_ref"].iloc[0] != planned.skipped["ref"].iloc[0]
    assert not ((planned.kept["gene_id"] == bad[0][0]) & (planned.kept["pos0"] == bad[0][1])).any()


def test_indel_constructs_keep_the_tss_at_the_anchor(demo_root, tmp_path):
    spec = _spec(demo_root, tmp_path)
    genome = Genome(spec.fasta)
    d = design.expand(spec, genome, PLANTED_GEOMETRY)
    t = d.table
    indels = t[(t["allele"] == "alt") & (t["ref"].str.len() != t["alt"].str.len())]
    assert {"insertion", "deletion"} <= {("insertion" if len(a) > len(r) else "deletion")
                                         for r, a in zip(indels["ref"], indels["alt"], strict=True)}
    truth = {s["gene_id"]: s for s in _truth(demo_root)["sets"]}
    for row in indels.itertuples():
        c = d.build(row.construct_id)
        codes, lm = materialize(c, genome.read_padded, sequence_length=L)
        assert lm == L // 2
        tss = int(row.tss0)
        # the TSS base sits at the anchor, and the bases around it are the genome's
        assert decode(codes[lm - 50: lm + 51]) == genome.fetch_str(row.chrom, tss - 50, tss + 51)
        delta = len(row.alt) - len(row.ref)
        if truth[row.gene_id]["strand"] == "+":  # variant upstream: its edited start is before the TSS
            at = lm - (tss + delta - row.pos0)
            assert decode(codes[at: at + len(row.alt)]) == row.alt
            assert decode(codes[at + len(row.alt): lm]) == genome.fetch_str(row.chrom, row.pos0 + len(row.ref), tss)
            assert decode(codes[at - 30: at]) == genome.fetch_str(row.chrom, row.pos0 - 30, row.pos0)
        else:  # variant downstream in genome coordinates
            at = lm + (row.pos0 - tss)
            assert decode(codes[at: at + len(row.alt)]) == row.alt
            after = genome.fetch_str(row.chrom, row.pos0 + len(row.ref), row.pos0 + len(row.ref) + 30)
            assert decode(codes[at + len(row.alt): at + len(row.alt) + 30]) == after


def test_shared_variant_is_predicted_once(demo_root, tmp_path):
    spec = _spec(demo_root, tmp_path)
    planned = design.plan(spec, Genome(spec.fasta), 95_000)
    t = design.design_table(planned.kept)
    alt = t[t["allele"] == "alt"]
    n_distinct = len(planned.kept.drop_duplicates(["gene_id", "pos0", "ref", "alt"]))
    assert len(alt) == n_distinct < len(planned.kept)
    assert (t["allele"] == "ref").sum() == planned.kept["gene_id"].nunique()


# ---------------------------------------------------------------------------------------- bad input


def _copy_sets(root: Path, tmp: Path) -> Path:
    folder = tmp / "sets"
    folder.mkdir()
    for p in (root / demo.SETS).iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    return folder


def _rewrite(path: Path, fn) -> None:
    text = gzip.decompress(path.read_bytes()).decode()
    path.write_bytes(gzip.compress(fn(text).encode()))


def test_bad_position_is_refused(demo_root, tmp_path):
    folder = _copy_sets(demo_root, tmp_path)
    liver = folder / "GTEx_ge_liver.txt.gz"

    def zero_based(text: str) -> str:
        lines = text.splitlines()
        f = lines[2].split("\t")
        f[3] = f[3] + ".5"
        lines[2] = "\t".join(f)
        return "\n".join(lines) + "\n"

    _rewrite(liver, zero_based)
    spec = _spec(demo_root, tmp_path, credible_sets=str(folder))
    with pytest.raises(InputError, match=r"GTEx_ge_liver.txt.gz: row 2, column 'position': .*expected an integer"):
        design.expand(spec, Genome(spec.fasta), PLANTED_GEOMETRY)


def test_missing_column_is_refused(demo_root, tmp_path):
    folder = _copy_sets(demo_root, tmp_path)
    _rewrite(folder / "GTEx_ge_LCL.txt.gz", lambda t: t.replace("cs_id", "credible_set", 1))
    spec = _spec(demo_root, tmp_path, credible_sets=str(folder))
    with pytest.raises(InputError, match=r"GTEx_ge_LCL.txt.gz: SuSiE credible-set file lacks column 'cs_id'"):
        design.expand(spec, Genome(spec.fasta), PLANTED_GEOMETRY)


def test_matches_whose_features_the_model_lacks_are_refused(demo_root, tmp_path):
    from seqbench.models.base import TrackError

    raw = json.loads((demo_root / demo.RIDGE).read_text())
    raw["features"] = ["7|CAGE:nothing"] + raw["features"][1:]
    for m in raw["matches"]:
        m["features"] = raw["features"]
    bad = tmp_path / "matches.json"
    bad.write_text(json.dumps(raw))
    spec = _spec(demo_root, tmp_path, ridge_matches=str(bad))
    from seqbench.models.base import TrackTable

    table = TrackTable(pd.DataFrame({"index": [i for i, _, _ in law.TRACKS],
                                     "identifier": [x for _, x, _ in law.TRACKS],
                                     "description": [d for _, _, d in law.TRACKS]}))
    with pytest.raises(TrackError, match=r"feature '7\|CAGE:nothing': this model has no track 7"):
        design.extra_tracks(spec, table)
    assert design.extra_tracks(_spec(demo_root, tmp_path), table) == {f: int(f.split("|")[0])
                                                                      for f in demo.feature_labels()}


def test_from_a_tissue_expression_job(demo_root, tmp_path):
    from seqbench.runtime.submit import inputs_from_job

    job = tmp_path / "te"
    (job / "tables").mkdir(parents=True)
    (job / "manifest.json").write_text(json.dumps({"experiment": "tissue-expression"}))
    (job / "status.json").write_text(json.dumps({"state": "complete"}))
    m = job / "tables" / "gtex_ridge_matches.json"
    m.write_bytes((demo_root / demo.RIDGE).read_bytes())
    assert inputs_from_job("eqtl", job) == {"ridge_matches": str(m.resolve())}


# ---------------------------------------------------------------------------------------- end to end


def _expected_log10_features(genome: Genome, chrom: str, tss0: int, edit: tuple[int, str] | None) -> np.ndarray:
    """log10(mean over the six members of the planted 3-bin landmark sums + 1), tracks 0 and 2, by the
    NumPy reference on windows cut here from the genome (a SNV applied by hand)."""
    off, size = law.OUTPUT_OFFSET, law.BIN_SIZE
    inputs, bins = [], []
    for s in (-43, 0, 43):
        start = tss0 - L // 2 + s
        seq = genome.read_padded(chrom, start, start + L).copy()
        if edit is not None:
            seq[edit[0] - start] = encode(edit[1])[0]
        p = L // 2 - s
        inputs += [seq, COMPLEMENT[seq[::-1]]]
        bins += [(p - off) // size, (L - 1 - p - off) // size]
    out = reference_output(np.stack(inputs))
    sums = np.mean([out[m, b - 1: b + 2].sum(axis=0) for m, b in enumerate(bins)], axis=0)
    return np.log10(sums[list(demo.FEATURE_TRACKS)] + 1.0)


@pytest.mark.ray
def test_planted_eqtl_effects_end_to_end(demo_root, cache_dir, tmp_path, local_ray):
    from seqbench.experiments.class_imbalance.design import read_susie
    from seqbench.inputs.eqtl import read_ridge_matches
    from seqbench.runtime.submit import submit
    from seqbench.stats.ridge import RidgeMatch  # noqa: F401

    spec = _spec(demo_root, tmp_path)
    result = submit(spec, job_dir=tmp_path / "job", progress=False)
    job = Path(result.job_dir)
    s = result.summary
    truth = _truth(demo_root)
    assert s["n_ref_mismatch"] == 1
    assert all(s[f"fails_{r}"] == 1 for r in design.RULES)
    assert s["n_blocks_in"] == len(truth["sets"]) and s["n_blocks_kept"] == len(truth["sets"]) - len(design.RULES)
    eff = pd.read_csv(job / "tables" / "eqtl_variant_effects.tsv", sep="\t")
    features, matches = read_ridge_matches(demo_root / demo.RIDGE)
    genome = Genome(spec.fasta)
    kinds = {(x["gene_id"], v["pos0"]): v["kind"] for x in truth["sets"] for v in x["variants"]}
    n_motif = n_zero = 0
    expected_max: dict[tuple, tuple[float, int]] = {}
    for r in eff.itertuples():
        kind = kinds[(r.gene_id, r.pos0)]
        if kind not in ("motif", "off_motif"):
            continue
        ref = _expected_log10_features(genome, r.chrom, r.tss0, None)
        alt = _expected_log10_features(genome, r.chrom, r.tss0, (r.pos0, r.alt))
        m = matches[r.tissue]
        want = float(m.predict(alt[None, :], features)[0] - m.predict(ref[None, :], features)[0]) / math.log10(2)
        if kind == "off_motif":
            assert r.log2_fc == 0.0  # exactly: no motif changes, the same bases in every bin
            n_zero += 1
        else:
            assert want != 0.0
            assert r.log2_fc == pytest.approx(want, rel=1e-3, abs=1e-6)
            n_motif += 1
        pct = (2 ** want - 1) * 100
        key = (r.gene_id, r.cs_id, r.tissue)
        if abs(pct) > expected_max.get(key, (-1.0, 0))[0]:
            expected_max[key] = (abs(pct), r.abs_tss_distance)
    assert n_motif >= 12 and n_zero >= 5
    # OLS slope of log10 |%| on log10 distance: the planted decay's over the same distances
    import statsmodels.api as sm

    pts = np.array([v for v in expected_max.values() if v[0] > 0])
    want_slope = sm.OLS(np.log10(pts[:, 0]), sm.add_constant(np.log10(pts[:, 1]))).fit().params[1]
    assert s["ols_slope"] == pytest.approx(want_slope, abs=0.02)
    assert s["ols_slope"] < -0.2  # the planted g(d) = 1 / (1 + d / D0) decays
    assert s["median_max_abs_pct"] is not None and s["n_sets_far"] >= 2
    # the filtered table is what class-imbalance reads
    small = read_susie(job / "tables" / "susie_df_small_blocks.tsv")
    from seqbench.runtime.submit import inputs_from_job

    # `seqbench-ray submit class-imbalance --from EQTL_JOB` takes exactly that table
    assert inputs_from_job("class-imbalance", job) == {"susie_table": str(job / "tables" /
                                                                           "susie_df_small_blocks.tsv")}
    assert len(small) == int((pd.read_csv(job / "tables" / "eqtl_filters.tsv", sep="\t")["fails"].isna()).sum())
    skipped = pd.read_csv(job / "tables" / "eqtl_skipped_variants.tsv", sep="\t")
    assert list(skipped["reason"]) == ["ref_mismatch"]
    assert s["observed_n"] >= 10
    for f in ("eqtl_predicted_by_distance.png", "eqtl_observed_by_distance.png"):
        assert (job / "figures" / f).stat().st_size > 0


def test_demo_inputs_are_deterministic_and_idempotent(demo_root, tmp_path):
    import hashlib

    def digest(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((root / "Data/gtex_aFC").rglob("*")) if p.is_file()}

    before = digest(demo_root)
    mtimes = {p: p.stat().st_mtime_ns for p in (demo_root / "Data/gtex_aFC").rglob("*") if p.is_file()}
    demo.ensure_eqtl_inputs(demo_root)
    assert digest(demo_root) == before
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())  # unchanged files are not rewritten
    other = tmp_path / "again"
    demo.ensure_eqtl_inputs(other)
    assert digest(other) == before


def test_authors_no_revcomp_reads_the_forward_members_only(demo_root, tmp_path):
    spec = _spec(demo_root, tmp_path)
    flagged = _spec(demo_root, tmp_path, authors_no_revcomp=True)
    d = design.expand(spec, Genome(spec.fasta), PLANTED_GEOMETRY)
    members = spec.ensemble.members
    assert [s for s, _ in members].count("-") == 3
    rng = np.random.default_rng(7)
    rows = [(c, m) for c in d.table["construct_id"] for m in range(len(members))]
    preds = pd.DataFrame(rows, columns=["construct_id", "member"])
    for f in demo.feature_labels():
        preds[f] = rng.uniform(1, 10, len(preds))
    forward = preds[[members[m][0] == "+" for m in preds["member"]]]
    a = design.reduce(preds, d.table, flagged).effects["log2_fc"].to_numpy()
    b = design.reduce(forward, d.table, spec).effects["log2_fc"].to_numpy()
    c = design.reduce(preds, d.table, spec).effects["log2_fc"].to_numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.slow
@pytest.mark.ray
def test_from_a_real_tissue_expression_demo_job(cache_dir, tmp_path, local_ray):
    """A tissue-expression demo job (planted model, whole input) writes GTEx matches equal to the ones the
    eQTL demo fits itself (same genes, same function, features equal to float32 rounding), and an eQTL job
    --from it plans the embedded default's constructs."""
    from seqbench.experiments.tissue_expression import demo as te_demo
    from seqbench.inputs.eqtl import read_ridge_matches
    from seqbench.runtime.submit import inputs_from_job, submit

    root = tmp_path / "data"
    raw = te_demo.demo_spec(root)
    raw["models"] = [{"kind": "planted", "windows": [0]}]
    for k in ("exon_intron", "gene2transcript", "xpresso_predictions", "manual_keywords"):
        raw["inputs"][k] = ""
    te = submit(parse_spec(raw, origin="test", base_dir=root), job_dir=tmp_path / "te", progress=False)
    demo.ensure_eqtl_inputs(root)
    f_job, m_job = read_ridge_matches(Path(te.job_dir) / "tables" / "gtex_ridge_matches.json")
    f_demo, m_demo = read_ridge_matches(root / demo.RIDGE)
    assert f_job == f_demo and set(m_job) == set(m_demo)
    for t, m in m_demo.items():
        j = m_job[t]
        assert j.n_train == m.n_train and j.alpha == m.alpha
        np.testing.assert_allclose(j.coef, m.coef, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(j.scaler_mean, m.scaler_mean, rtol=1e-5)
    # an eQTL job --from it plans the same constructs as the embedded default, reading the job's matches
    spec = parse_spec(deep_merge(demo.demo_spec(root), {"inputs": inputs_from_job("eqtl", Path(te.job_dir))}),
                      origin="test", base_dir=root)
    assert Path(spec.inputs["ridge_matches"]) == (Path(te.job_dir) / "tables" / "gtex_ridge_matches.json").resolve()
    genome = Genome(spec.fasta)
    got = design.expand(spec, genome, PLANTED_GEOMETRY).table
    want = design.expand(_spec(root, tmp_path), genome, PLANTED_GEOMETRY).table
    pd.testing.assert_frame_equal(got, want)
