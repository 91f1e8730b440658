"""Patch-MPRA (experiments-spec §8.3): the landing-pad parser, the construct geometry against a
hand-built sequence, bad input (one line, exit 2), and one end-to-end job on the embedded default.

Known answers come from outside the experiment's code: the planted law evaluated here in closed
form from the motif positions recorded in the demo truth files (cross-checked against the NumPy
reference model on materialized members), statsmodels for the OLS, and the authors' own flank
formulas (experiments-spec §0.3) for the geometry.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from seqbench.cli import app
from seqbench.demo.synthetic import ensure_demo, planted_cage_landmark_sum
from seqbench.experiments.patch_mpra import demo
from seqbench.experiments.patch_mpra import design as pm
from seqbench.experiments.patch_mpra.figures import FIGURE_FILES
from seqbench.genome import Genome
from seqbench.inputs.tables import InputError
from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.models.planted import law
from seqbench.models.planted.reference import reference_output
from seqbench.sequence.codes import decode
from seqbench.sequence.constructs import materialize
from seqbench.spec import deep_merge, parse_spec

L = law.SEQUENCE_LENGTH
OFFSETS = (-64, -32, 0)  # the authors' offsets; seqbench shift s = -offset


@pytest.fixture(scope="module")
def layout(cache_dir):
    lay = ensure_demo(cache_dir)
    demo.demo_spec(lay.root)
    return lay


@pytest.fixture(scope="module")
def truth(layout):
    return json.loads((layout.root / demo.TRUTH_RELPATH).read_text())


@pytest.fixture(scope="module")
def genome_truth(layout):
    return json.loads(layout.truth.read_text())


def _spec(layout, root: Path | None = None, runtime: dict | None = None, **inputs):
    raw = demo.demo_spec(layout.root)
    if root is not None:
        raw["data_root"] = str(root)
    raw = deep_merge(raw, {"inputs": inputs, "runtime": runtime or {}})
    return parse_spec(raw, origin="test", base_dir=layout.root)


def _copy_inputs(layout, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(layout.root / demo.PATCH_DIR, root / demo.PATCH_DIR)
    (root / "Data" / "Genome").mkdir(parents=True)
    for f in (layout.fasta, layout.fasta_index):
        shutil.copy(f, root / "Data" / "Genome" / f.name)
    return root


# ---------------------------------------------------------------- landing-pad parser


@pytest.mark.parametrize(
    ("text", "coords", "want"),
    [
        ("chr1:1,234,567-1,234,600", "one_based", ("chr1", 1_234_566, 1_234_600)),  # UCSC: 34 bp
        ("chr1:1,234,567-1,234,600", "authors", ("chr1", 1_234_567, 1_234_600)),
        ("chrX:1001-1010", "one_based", ("chrX", 1000, 1010)),
        ("chr2:5-5", "one_based", ("chr2", 4, 5)),  # a single base, 1-based inclusive
        (" chr3:999-1,000 ", "one_based", ("chr3", 998, 1000)),
    ],
)
def test_liftover_strings_parse_to_zero_based_half_open(text, coords, want):
    assert pm.parse_liftover(text, where="f: row 1, column 'Liftover'", coordinates=coords) == want


@pytest.mark.parametrize(
    "text", ["chr1:1,234,567", "chr1 1234-1300", "chr1:1,2345-1,300", "chr1:1,300-1,200", "chr1:0-10", 12, "chr1:a-b"]
)
def test_liftover_strings_that_do_not_parse_are_refused_in_one_line(text):
    with pytest.raises(InputError) as exc:
        pm.parse_liftover(text, where="pads.tsv: row 3, column 'Liftover'")
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(f"pads.tsv: row 3, column 'Liftover': found {text!r}; expected chrN:start-end")
    assert "1-based, inclusive" in msg


def test_landing_pad_table_drops_incomplete_rows_and_names_the_bad_row(layout, tmp_path):
    path = layout.root / demo.LANDING_PADS_RELPATH
    pads = pm.load_landing_pads(path)
    # the demo table's fifth row has no Liftover (the authors' .dropna() drops it)
    assert [p.name for p in pads] == ["LP1", "LP2", "LP3", "LP4"]
    # the demo writes 0-based [start, end) as the UCSC string "chrom:start+1-end"; "authors" reads it one base later
    for p, raw, a in zip(pads, pd.read_csv(path, sep="\t").dropna()["Liftover"], pm.load_landing_pads(
            path, coordinates="authors"), strict=True):
        chrom, rest = raw.split(":")
        one, end = (int(x.replace(",", "")) for x in rest.split("-"))
        assert (p.chrom, p.start, p.end) == (chrom, one - 1, end) and (a.start, a.end) == (one, end)
    frame = pd.read_csv(path, sep="\t")
    bad = tmp_path / "pads.tsv"
    frame.loc[2, "Liftover"] = "chr1:12,00-1,300"
    frame.to_csv(bad, sep="\t", index=False)
    with pytest.raises(InputError, match=r"pads.tsv: row 3, column 'Liftover': found 'chr1:12,00-1,300'; expected"):
        pm.load_landing_pads(bad)


# ---------------------------------------------------------------- construct geometry


def test_construct_is_the_authors_sequence_for_every_offset(layout, truth):
    """Member s = -offset equals the authors' ``insert_sequence_at_landing_pad`` (mode center), built by hand."""
    genome = Genome(layout.fasta)
    design = pm.expand(_spec(layout), genome, ENFORMER_GEOMETRY)
    seqs = pm.load_sequences(layout.root / demo.SEQUENCES_RELPATH)
    mscarlet_lines = (layout.root / demo.MSCARLET_RELPATH).read_text().splitlines()[1:]
    mscarlet = "".join(mscarlet_lines)
    t = design.table
    for cid in (0, int(len(t) // 2) + 1, len(t) - 1):
        row = t.iloc[cid]
        pad = next(p for p in truth["landing_pads"] if p["name"] == row.LP_name)
        crs = seqs[row.oligo_id]
        ins = pm.ENHANCER + crs + mscarlet
        n, lm = len(ins), len(pm.ENHANCER) + len(crs) // 2
        m = (pad["start"] + pad["end"]) // 2
        assert m == pad["split"]
        codes, lm_ext = materialize(design.build(cid), genome.read_padded, sequence_length=L, min_shift=0,
                                    max_shift=64)
        for off in OFFSETS:
            s = -off
            ideal = n // 2 - lm
            f5 = math.ceil((L - n) / 2) + ideal + off
            f3 = (L - n) // 2 - ideal - off
            want = (decode(genome.fetch(pad["chrom"], m - f5, m)) + ins
                    + decode(genome.fetch(pad["chrom"], m, m + f3)))
            member = codes[s : s + L]
            assert decode(member) == want
            assert f5 + lm == L // 2 + off == lm_ext - s  # the landmark sits at L/2 + offset


# ---------------------------------------------------------------- the planted readout, in closed form


def _hit_bins_genome(genome_truth, chrom: str, kind: str) -> list[int]:
    if kind == "promoter":
        return [m["centre"] for g in genome_truth["genes"] if g["chromosome"] == chrom for m in g["promoter_motifs"]]
    return [m["centre"] for e in genome_truth["enhancers"] if e["chromosome"] == chrom for m in e["motifs"]]


def planted_readout(truth, genome_truth, oligo: str, pad_name: str) -> float:
    """Ensemble mean (shifts 0, 32, 64) of the K562 CAGE 3-bin landmark sum, from motif positions only."""
    p = next(x for x in truth["promoters"] if x["oligo_id"] == oligo)
    pad = next(x for x in truth["landing_pads"] if x["name"] == pad_name)
    e_len = truth["enhancer_length"]
    crs_len = demo.CRS_LEN
    n = e_len + crs_len + truth["mscarlet_length"]
    split = pad["split"]
    lm_edit = split + e_len + crs_len // 2  # landmark in edited-sequence coordinates
    vals = []
    for s in (0, 32, 64):
        x0 = lm_edit - L // 2 + s  # edited coordinate of input position 0

        def to_input(q_edit: int, x0: int = x0) -> int | None:
            pos = q_edit - x0
            return pos if pos >= 5 and pos + 6 <= L else None  # the whole motif inside the input

        prom = [to_input(split + e_len + q) for q in p["motif_offsets"]]
        for kind, out in (("promoter", prom), ("enhancer", enh := [])):
            for q in _hit_bins_genome(genome_truth, pad["chrom"], kind):
                out.append(to_input(q if q < split else q + n))
        pb = [i // law.BIN_SIZE for i in prom if i is not None]
        eb = [i // law.BIN_SIZE for i in enh if i is not None]
        b = (L // 2 - s - law.OUTPUT_OFFSET) // law.BIN_SIZE
        vals.append(planted_cage_landmark_sum(pb, eb, b))
    return float(np.mean(vals))


def test_closed_form_matches_the_numpy_reference(layout, truth, genome_truth):
    genome = Genome(layout.fasta)
    design = pm.expand(_spec(layout), genome, ENFORMER_GEOMETRY)
    t = design.table
    for cid in (0, 1, 2, 3, 4 * 7 + 3):  # one promoter at all four pads, and a stronger one
        codes, lm = materialize(design.build(cid), genome.read_padded, sequence_length=L, min_shift=0, max_shift=64)
        members = np.stack([codes[s : s + L] for s in (0, 32, 64)])
        out = reference_output(members)
        vals = [out[k, (lm - s - law.OUTPUT_OFFSET) // law.BIN_SIZE + np.arange(-1, 2), 0].sum()
                for k, s in enumerate((0, 32, 64))]
        row = t.iloc[cid]
        assert np.mean(vals) == pytest.approx(planted_readout(truth, genome_truth, row.oligo_id, row.LP_name),
                                              rel=1e-12)


def test_demo_is_deterministic_and_motifs_are_where_the_truth_says(layout, truth, genome_truth):
    files, again = demo.generate(genome_truth)
    for rel, text in files.items():
        assert (layout.root / rel).read_text() == text, rel
    assert again["promoters"] == truth["promoters"]
    seqs = pm.load_sequences(layout.root / demo.SEQUENCES_RELPATH)
    for p in truth["promoters"]:
        seq = seqs[p["oligo_id"]]
        assert _scan(seq) == (p["n_motifs"], 0)
        for q, st in zip(p["motif_offsets"], p["strands"], strict=True):
            want = law.PROMOTER_MOTIF if st == "+" else demo._rc(law.PROMOTER_MOTIF)
            assert seq[q - 5 : q + 6] == want
    # the pads' planted environment strictly increases LP1 < LP2 < LP3 < LP4
    e = [p["environment_activity"] for p in truth["landing_pads"]]
    assert e == sorted(e) and len(set(e)) == 4


# ---------------------------------------------------------------- bad input: one line, exit 2


def _refused(tmp_path: Path, root: Path) -> str:
    spec = tmp_path / "spec.toml"
    spec.write_text(f'experiment = "patch-mpra"\ndata_root = "{root}"\n[model]\nkind = "planted"\n')
    args = ["submit", "patch-mpra", "--spec", str(spec), "--job-dir", str(tmp_path / "job"), "-q"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, (res.exit_code, res.output, res.exc_info)
    assert "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqbench-ray: error: "), res.stderr
    return lines[0].removeprefix("seqbench-ray: error: ")


def _edit(root: Path, rel: Path, fn) -> Path:
    path = root / rel
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    fn(frame).to_csv(path, sep="\t", index=False)
    return path


def test_bad_input_is_one_line_and_exit_2(layout, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = [
        (demo.LANDING_PADS_RELPATH, lambda f: f.assign(Liftover=f.Liftover.where(f.index != 1, "chr1-100-200")),
         "row 2, column 'Liftover': found 'chr1-100-200'; expected chrN:start-end"),
        (demo.SEQUENCES_RELPATH, lambda f: f.assign(sequence=f.sequence.where(f.index != 4, "ACGTXACGT")),
         "row 5, column 'sequence': character 'X' at position 5; expected only A, C, G, T or N"),
        (demo.EXPRESSION_RELPATH, lambda f: f.assign(oligo_id=f.oligo_id.where(f.index != 6, "nope")),
         "row 7, column 'oligo_id': found 'nope'; expected one of the 40 promoters of sequences.tsv"),
        (demo.EXPRESSION_RELPATH, lambda f: f.assign(LP=f.LP.where(f.index != 8, "LP5")),
         "row 9, column 'LP': found 'LP5'; expected one of the 4 landing pads of landing_pad_locations.tsv"),
    ]
    for k, (rel, fn, want) in enumerate(cases):
        root = _copy_inputs(layout, tmp_path / f"case{k}")
        path = _edit(root, rel, fn)
        msg = _refused(tmp_path / f"case{k}", root)
        assert msg.startswith(f"{path}: {want}"), msg
        assert not (tmp_path / f"case{k}" / "job").exists()


# ---------------------------------------------------------------- end to end


@pytest.mark.ray
def test_job_recovers_planted_promoters_and_landing_pads(layout, truth, genome_truth, tmp_path, local_ray):
    import statsmodels.formula.api as smf

    from seqbench.runtime.submit import submit

    result = submit(_spec(layout, runtime={"shard_size": 64}), job_dir=tmp_path / "job", progress=False)
    s = result.summary
    job = result.job_dir
    pairs = pd.read_parquet(job / "tables" / "patch_mpra_pairs.parquet")
    n_pairs = len(truth["promoters"]) * 4 - len(truth["missing_pairs"])
    assert s["n_pairs"] == len(pairs) == n_pairs and s["n_members"] == 3 * n_pairs
    assert s["n_promoters"] == 40 and s["n_landing_pads"] == 4

    # predictions = the law's readout of each construct (exact up to float32)
    exact = [planted_readout(truth, genome_truth, o, lp) for o, lp in zip(pairs.oligo_id, pairs.LP_name, strict=True)]
    np.testing.assert_allclose(pairs["pred"], exact, rtol=2e-6)

    # the OLS agrees with statsmodels on the same rows
    P = pd.read_parquet(job / "tables" / "patch_mpra_promoters.parquet").set_index("oligo_id")
    LP = pd.read_parquet(job / "tables" / "patch_mpra_landing_pads.parquet").set_index("LP_name")
    for side, y in (("predicted", "log_pred"), ("measured", "mean_exp")):
        fit = smf.ols(f"{y} ~ oligo_id + LP_name", data=pairs).fit()
        for lp in LP.index[1:]:
            assert LP.loc[lp, f"coef_{side}"] == pytest.approx(fit.params[f"LP_name[T.{lp}]"], abs=1e-9)
        for o in P.index[1:]:
            assert P.loc[o, f"coef_{side}"] == pytest.approx(fit.params[f"oligo_id[T.{o}]"], abs=1e-9)
        assert s[f"r2_{side}_full"] == pytest.approx(fit.rsquared, abs=1e-10)
        only = smf.ols(f"{y} ~ oligo_id", data=pairs).fit()
        assert s[f"r2_{side}_promoter"] == pytest.approx(only.rsquared, abs=1e-10)

    # promoter coefficients recover the planted strengths log2(k + P0)
    tp = {p["oligo_id"]: p for p in truth["promoters"]}
    planted = np.array([tp[o]["log2_strength"] for o in P.index])
    assert np.corrcoef(P["coef_predicted"], planted)[0, 1] >= 0.95
    assert np.corrcoef(P["coef_measured"], planted)[0, 1] >= 0.95
    assert s["promoter_coef_pearson"] >= 0.95

    # landing-pad effects: the planted order, and ratios from the law (1 + B * E), LP1 the reference (E = 0)
    pads = {p["name"]: p for p in truth["landing_pads"]}
    assert pads["LP1"]["environment_activity"] == 0.0 and LP.index[0] == "LP1"
    coef = LP["coef_predicted"].to_numpy()
    law_effect = np.array([math.log2(1 + law.B_K562 * pads[n]["environment_activity"]) for n in LP.index])
    assert list(np.argsort(coef)) == list(np.argsort(law_effect)) == [0, 1, 2, 3]
    np.testing.assert_allclose(coef[1:] / coef[-1], law_effect[1:] / law_effect[-1], atol=0.05)
    # the measured side recovers the simulated effects (noise SD 0.15 over ~40 promoters each)
    meas = np.array([pads[n]["log2_effect_measured"] for n in LP.index])
    np.testing.assert_allclose(LP["coef_measured"].to_numpy(), meas, atol=0.1)
    assert s["landing_pad_coef_spearman"] == 1.0

    figs = sorted(p.name for p in (job / "figures").iterdir())
    assert figs == sorted(FIGURE_FILES)


def _scan(seq: str) -> tuple[int, int]:
    """(promoter, enhancer) planted-motif hits, both orientations, by the genome demo's scanner on codes
    (independent of the string counter the demo generator uses)."""
    from seqbench.demo.synthetic import find_motif_occurrences
    from seqbench.sequence.codes import encode

    codes = encode(seq)
    return (len(find_motif_occurrences(codes, law.PROMOTER_MOTIF)),
            len(find_motif_occurrences(codes, law.ENHANCER_MOTIF)))
