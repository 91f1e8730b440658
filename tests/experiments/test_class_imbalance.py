"""Class imbalance (Fig. 3B): distances and ECDFs against an independent brute-force loop over the demo's
files, the 5' rule and the fully-seen rule on hand-made cases, one job through the runtime without Ray,
and the readers' one-line errors."""

from __future__ import annotations

import csv
import json
import shutil
import statistics
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.class_imbalance import design as ci
from seqbench.experiments.class_imbalance import stats as st
from seqbench.experiments.class_imbalance.demo import FILES, demo_spec, ensure_class_imbalance_inputs
from seqbench.inputs.tables import InputError
from seqbench.spec import deep_merge, parse_spec

W = 95_000


@pytest.fixture(scope="module")
def demo(cache_dir):
    layout = ensure_demo(cache_dir)
    ensure_class_imbalance_inputs(layout.root)
    return layout


def _spec(root: Path, **inputs):
    raw = deep_merge(demo_spec(root), {"inputs": inputs})
    return parse_spec(raw, origin="test", base_dir=root)


@pytest.fixture(scope="module")
def results(demo):
    return ci.reduce(pd.DataFrame({"construct_id": []}), pd.DataFrame(), _spec(demo.root))


# ------------------------------------------------------------ known answer: an independent brute-force loop


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _brute_force(root: Path) -> dict[str, list[float]]:
    """The four distance lists, computed with plain loops from the files (csv module, no pandas)."""
    genes = {}
    sets: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for r in _rows(root / FILES["susie_table"]):
        chrom = r["chromosome"] if r["chromosome"].startswith("chr") else "chr" + r["chromosome"]
        tss, strand = int(r["tss"]), int(r["Strand"])
        genes[r["gene_id"]] = (chrom, tss, strand)
        sets[(r["gene_id"], r["cs_id"], r["tissue"])].append(abs(int(r["position"]) - 1 - tss))
    eqtl = set()
    for (gene, _cs, _tissue), ds in sets.items():
        if max(ds) < W:
            eqtl.add((sum(ds) / len(ds), gene))
    els = set()
    for line in (root / FILES["ccre_bed"]).read_text().splitlines():
        f = line.split("\t")
        chrom, s, e, cls = f[0], int(f[1]), int(f[2]), f[5]
        for gene, (gchrom, tss, strand) in genes.items():
            if gchrom != chrom or not (s < tss + W and e > tss - W):
                continue
            mid = (s + e) / 2
            if strand != _sign(mid - tss) and _sign(s - tss) == _sign(e - tss) and "ELS" in cls:
                els.add((gene, mid, abs(mid - tss)))
    names = {r["gene_name"] for r in _rows(root / FILES["gene_table"])}
    renames = {r["gene_name"]: r["crispri_gene"] for r in _rows(root / FILES["gene_renames"])}
    names = {renames.get(n, n) for n in names}
    valid, nonvalid = [], []
    for r in _rows(root / FILES["crispri_table"]):
        d = float(r["actual_tss_distance"])
        if r["gene"] in names and d < W:
            (valid if r["validated"] == "True" else nonvalid).append(d)
    return {
        st.EQTL: [d for d, _g in eqtl],
        st.ELS: [d for _g, _m, d in els],
        st.VALID: valid,
        st.NON_VALID: nonvalid,
    }


def test_distances_and_ecdfs_equal_a_brute_force_loop(demo, results):
    expected = _brute_force(demo.root)
    for rtype, want in expected.items():
        got = results.distances.loc[results.distances["region_type"] == rtype, "distance"].tolist()
        assert sorted(got) == sorted(want), rtype
        assert len(want) > 20, rtype  # the demo holds every type
        # ECDF: at each distinct distance x, the fraction of distances <= x
        e = results.ecdf[results.ecdf["region_type"] == rtype]
        xs = sorted(set(want))
        assert e["distance"].tolist() == xs
        assert e["ecdf"].tolist() == pytest.approx([sum(d <= x for d in want) / len(want) for x in xs], abs=1e-15)
        row = results.by_type.set_index("region_type").loc[rtype]
        assert row["n"] == len(want) and row["median"] == pytest.approx(statistics.median(want))
        assert row["fraction_near_tss"] == pytest.approx(sum(d <= 10_000 for d in want) / len(want))
        assert row["fraction_distal"] == pytest.approx(sum(d > 32_768 for d in want) / len(want))


def test_demo_shows_the_paper_claim(results):
    s = results.summary()
    assert set(s) == set(st.SUMMARY_KEYS)
    json.dumps(s, allow_nan=False)
    # bona fide elements cluster near the TSS; candidate ELS are about uniform in distance
    for slug in ("eqtl", "crispri_valid"):
        assert s[f"median_distance_{slug}"] < 0.5 * s["median_distance_els"]
        assert s[f"ks_uniform_{slug}"] > 0.3
    assert s["ks_uniform_els"] < 0.08
    assert 40_000 < s["median_distance_els"] < 55_000
    # the gene match: one renamed symbol kept, one gene absent from the gene table dropped with its 3 pairs
    assert s["n_crispri_pairs_unmatched_gene"] == 3
    assert s["n_crispri_pairs_beyond_window"] > 0
    assert 0 < s["fraction_validated_fully_seen"] <= 1 and s["n_validated_tss_in_train"] > 0


def test_demo_files_are_stable_bytes(demo, tmp_path):
    root = tmp_path / "again"
    (root / "Data").mkdir(parents=True)
    shutil.copy(demo.truth, root / demo.truth.name)
    ensure_class_imbalance_inputs(root)
    for rel in FILES.values():
        assert (root / rel).read_bytes() == (demo.root / rel).read_bytes(), rel


# ------------------------------------------------------------ the 5' rule and the window, by hand


def _genes(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["gene_id", "chrom", "tss", "strand"])
    return st.gene_windows(frame, W)


def _ccres(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "cre_type"])


def test_five_prime_rule_plus_and_minus_strand():
    genes = _genes(("plus", "chr1", 100_000, 1), ("minus", "chr1", 500_000, -1), ("edge", "chr2", 1_000, 1))
    ccres = _ccres(
        ("chr1", 90_000, 90_300, "dELS"),  # plus: upstream -> kept, 9,850
        ("chr1", 110_000, 110_300, "dELS"),  # plus: downstream -> out
        ("chr1", 99_900, 100_100, "pELS"),  # plus: holds the TSS base -> out
        ("chr1", 99_700, 100_000, "dELS"),  # plus: ends exactly at the TSS (end == tss) -> out (the authors' rule)
        ("chr1", 99_699, 99_999, "dELS"),  # plus: ends one base before -> kept, 151
        ("chr1", 4_700, 5_000, "dELS"),  # plus: ends at the window start tss - W -> no overlap, out
        ("chr1", 4_701, 5_001, "dELS"),  # plus: 1 bp inside -> kept, distance 95,149 (> W: overlap, not midpoint)
        ("chr1", 95_000, 95_300, "PLS"),  # plus: upstream but not enhancer-like -> 5', not ELS
        ("chr1", 510_000, 510_300, "dELS,CTCF-bound"),  # minus: downstream = 5' -> kept, 10,150
        ("chr1", 490_000, 490_300, "dELS"),  # minus: upstream = 3' -> out
        ("chr1", 500_000, 500_200, "dELS"),  # minus: starts at the TSS base -> out
        ("chr1", 500_001, 500_201, "dELS"),  # minus: next base -> kept, 101
        ("chr1", 595_000, 595_300, "dELS"),  # minus: starts at tss + W (window end, exclusive) -> out
        ("chr1", 594_999, 595_299, "dELS"),  # minus: 1 bp inside -> kept, 95,149
        ("chr2", 100, 400, "dELS"),  # edge: window starts below 0 (pyranges 0.1.7 would drop it) -> kept, 750
        ("chr3", 90_000, 90_300, "dELS"),  # another chromosome -> never joined
    )
    five = st.five_prime_ccres(genes, ccres)
    got = {(r.gene_id, r.cre_start): r.distance for r in five.itertuples()}
    assert got == {
        ("plus", 90_000): 9_850.0,
        ("plus", 99_699): 151.0,
        ("plus", 4_701): 95_149.0,
        ("plus", 95_000): 4_850.0,
        ("minus", 510_000): 10_150.0,
        ("minus", 500_001): 101.0,
        ("minus", 594_999): 95_149.0,
        ("edge", 100): 750.0,
    }
    els = st.els_distances(five)
    assert sorted(els["distance"]) == [101.0, 151.0, 750.0, 9_850.0, 10_150.0, 95_149.0, 95_149.0]


def test_els_unique_per_gene_and_midpoint():
    genes = _genes(("g", "chr1", 100_000, 1), ("h", "chr1", 120_000, 1))
    ccres = _ccres(("chr1", 90_000, 90_300, "dELS"), ("chr1", 90_050, 90_250, "pELS"))  # same midpoint 90,150
    els = st.els_distances(st.five_prime_ccres(genes, ccres))
    assert sorted(zip(els["gene"], els["distance"], strict=True)) == [("g", 9_850.0), ("h", 29_850.0)]


def test_crispri_and_eqtl_window_is_strict():
    pairs = pd.DataFrame({"gene": ["a", "b", "c", "d"], "distance": [94_999.0, 95_000.0, 10.0, 95_000.5],
                          "validated": [True, True, False, False]})
    frame, beyond = st.crispri_distances(pairs, W)
    assert frame["distance"].tolist() == [94_999.0, 10.0] and beyond == 2
    assert frame["region_type"].tolist() == [st.VALID, st.NON_VALID]
    # credible sets: mean |position - 1 - tss|; a set with a variant at |d| = W is out
    susie = pd.DataFrame(
        {
            "gene_id": ["g", "g", "g", "g", "g"],
            "cs_id": ["L1", "L1", "L2", "L2", "L1"],
            "tissue": ["Lung", "Lung", "Lung", "Lung", "Liver"],
            "chrom": "chr1",
            "position": [100_000 - 1_000 + 1, 100_000 - 3_002 + 1, 100_000 - 94_999 + 1, 100_000 - W + 1,
                         100_000 - 2_001 + 1],
            "tss": 100_000,
            "strand": 1,
        }
    )
    sets = st.eqtl_credible_sets(susie)
    assert sets["distance"].tolist() == [2_001.0, (94_999 + W) / 2, 2_001.0]
    frame, beyond = st.eqtl_distances(sets, W)
    assert frame["distance"].tolist() == [2_001.0] and beyond == 1  # Lung L1 and Liver L1: one (distance, gene)


def test_ks_from_uniform_by_hand():
    assert st.ks_from_uniform([50.0], 100) == pytest.approx(0.5)
    assert st.ks_from_uniform([25.0, 75.0], 100) == pytest.approx(0.25)
    assert st.ks_from_uniform([0.0, 0.0], 100) == pytest.approx(1.0)


# ------------------------------------------------------------ the fully-seen rule, by hand

R1 = ("chr1", 100_000, 231_072, "train")  # predicted [108_192, 222_880), seen [67_232, 263_840)
R2 = ("chr1", 165_536, 296_608, "train")  # predicted [173_728, 288_416), seen [132_768, 329_376)


def _regions(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["Chromosome", "Start", "End", "set"])


def _items(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["name", "chrom", "tss_start", "tss_end", "el_start", "el_end"])


def test_fully_seen_rule_on_hand_made_regions():
    parts = st.train_parts(_regions(R1, R2, ("chr1", 0, 600_000, "valid")), st.Params())
    assert parts[["pred_start", "pred_end", "seen_start", "seen_end"]].values.tolist() == [
        [108_192, 222_880, 67_232, 263_840], [173_728, 288_416, 132_768, 329_376]]
    items = _items(
        ("one region, inside", "chr1", 150_000, 150_128, 240_000, 242_000),
        ("one region, 160 bp out", "chr1", 150_000, 150_128, 262_000, 264_000),
        ("one region, ends at the seen end", "chr1", 150_000, 150_128, 261_840, 263_840),
        ("no train region predicts the TSS", "chr1", 50_000, 50_128, 60_000, 62_000),
        ("two regions, seen in one", "chr1", 200_000, 200_128, 70_000, 72_000),
        ("two regions, seen in both", "chr1", 200_000, 200_128, 140_000, 142_000),
        ("TSS bin overlaps the predicted start by 36 bp", "chr1", 108_100, 108_228, 100_000, 102_000),
        ("TSS bin ends at the predicted start", "chr1", 108_064, 108_192, 100_000, 102_000),
        ("another chromosome", "chr2", 150_000, 150_128, 151_000, 153_000),
    )
    out = st.fully_seen(items, parts).set_index("name")
    table = {n: (r.tss_seen_count, r.element_seen_count, r.tss_in_train, r.fully_seen) for n, r in out.iterrows()}
    assert table == {
        "one region, inside": (1, 1, True, True),
        "one region, 160 bp out": (1, 0, True, False),
        "one region, ends at the seen end": (1, 1, True, True),
        "no train region predicts the TSS": (0, 0, False, False),
        "two regions, seen in one": (2, 1, True, False),
        "two regions, seen in both": (2, 2, True, True),
        "TSS bin overlaps the predicted start by 36 bp": (1, 1, True, True),
        "TSS bin ends at the predicted start": (0, 0, False, False),
        "another chromosome": (0, 0, False, False),
    }


def test_eqtl_set_is_fully_seen_only_if_every_variant_is():
    parts = st.train_parts(_regions(R1), st.Params())
    susie = pd.DataFrame(
        {
            "gene_id": "g", "cs_id": ["L1", "L1", "L2", "L2"], "tissue": "Lung", "chrom": "chr1",
            "position": [240_001, 241_001, 263_840, 263_841],  # [263_839, 263_840) in; [263_840, 263_841) out
            "tss": 200_000, "strand": -1,
        }
    )
    sets = st.eqtl_credible_sets(susie)
    out = st.eqtl_training_overlap(susie, sets, parts, W).set_index("cs_id")
    assert out.loc["L1", "fully_seen"] and out.loc["L1", "n_variants_fully_seen"] == 2
    assert not out.loc["L2", "fully_seen"] and out.loc["L2", "n_variants_fully_seen"] == 1
    assert out["tss_seen_count"].tolist() == [1, 1]


def test_overlap_join_matches_a_loop():
    import numpy as np

    rng = np.random.default_rng(7)
    a_start = rng.integers(-50, 1_000, 60)
    a_end = a_start + rng.integers(1, 200, 60)
    b_start = rng.integers(0, 1_000, 80)
    b_end = b_start + rng.integers(1, 300, 80)
    a_chrom = rng.choice(["chr1", "chr2"], 60)
    b_chrom = rng.choice(["chr1", "chr2", "chr3"], 80)
    ia, ib = st.overlap_join(a_chrom, a_start, a_end, b_chrom, b_start, b_end)
    want = [(i, j) for i in range(60) for j in range(80)
            if a_chrom[i] == b_chrom[j] and a_start[i] < b_end[j] and b_start[j] < a_end[i]]
    assert list(zip(ia.tolist(), ib.tolist(), strict=True)) == want


# ------------------------------------------------------------ one job through the runtime, no Ray


def test_job_runs_through_submit_without_ray(demo, tmp_path):
    import ray

    from seqbench.runtime.submit import plan_job, submit

    spec = _spec(demo.root)
    plan = plan_job(spec)
    assert plan.design.n_constructs == 0 and list(plan.design.table.columns) == ["construct_id", "key"]
    with pytest.raises(IndexError, match="no constructs"):
        plan.design.build(0)
    result = submit(spec, job_dir=tmp_path / "job", progress=False)
    assert not ray.is_initialized()
    job = result.job_dir
    summary = json.loads((job / "summary.json").read_text())
    assert set(st.SUMMARY_KEYS) <= set(summary) and summary["n_members"] == 0
    assert json.loads((job / "status.json").read_text())["state"] == "complete"
    assert "Ray not started" in (job / "log.txt").read_text()
    tables = {p.name for p in (job / "tables").iterdir()}
    assert {"class_imbalance_distances.tsv", "class_imbalance_ecdf.tsv", "class_imbalance_by_type.tsv",
            "class_imbalance_training_crispri.tsv", "class_imbalance_training_eqtl.tsv"} <= tables
    figures = sorted(p.name for p in (job / "figures").iterdir())
    assert figures == ["class_imbalance_distance_ecdf.png", "class_imbalance_training_overlap.png"]
    report = (job / "report.md").read_text()
    assert report.startswith("# Class imbalance") and "(`median_distance_crispri_valid`)" in report
    assert "Receptive field" not in report  # the summary has no key 'window' (the runtime's model window)
    assert "**Model:** none" in report and "**Tracks:**" not in report and "forward passes" not in report
    assert [k for k, _label, _v in result.headline][0] == "median_distance_crispri_valid"


def test_cli_plans_zero_passes_and_submits_the_embedded_default_without_ray(demo, tmp_path):
    import ray
    from typer.testing import CliRunner

    from seqbench.cli import app

    plan = CliRunner().invoke(app, ["plan", "class-imbalance"])
    assert plan.exit_code == 0, plan.output
    assert "forward passes:    0" in plan.output and "0.0 GPU-hours" in plan.output
    job = tmp_path / "job"
    res = CliRunner().invoke(app, ["submit", "class-imbalance", "--job-dir", str(job), "--quiet"])
    assert res.exit_code == 0, res.output
    assert not ray.is_initialized()
    summary = json.loads((job / "summary.json").read_text())
    assert summary["experiment"] == "class-imbalance" and summary["n_constructs"] == 0
    assert (job / "report.md").is_file() and (job / "figures" / "class_imbalance_distance_ecdf.png").is_file()


# ------------------------------------------------------------ bad input: one line naming file, row, column


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chr1\t10\t20\tEH1\tEH2\n", "row 1 has 5 tab-separated column(s); expected at least 6"),
        ("chr1\t10\t20\tEH1\tEH2\tdELS\nchr1 30 40 EH3 EH4 pELS\n", "row 2 has 1 tab-separated column(s) (it looks"),
        ("#c\nchr1\tten\t20\tEH1\tEH2\tdELS\n", "row 2, column 2 ('start'): 'ten'; expected an integer >= 0"),
        ("chr1\t10\t-20\tEH1\tEH2\tdELS\n", "row 1, column 3 ('end'): '-20'; expected an integer >= 0"),
        ("chr1\t30\t20\tEH1\tEH2\tdELS\n", "row 1, column 3 ('end'): 20 is not after start = 30"),
        ("chr1\t10\t20\tEH1\tEH2\t\n", "row 1, column 6 (the cCRE class): the cell is empty"),
        ("", "is empty"),
    ],
)
def test_bad_ccre_bed(tmp_path, text, expected):
    path = _write(tmp_path / "cres.bed", text)
    with pytest.raises(InputError) as exc:
        ci.read_ccre_bed(path)
    msg = _one_line(exc)
    assert msg.startswith(f"{path}: ") and expected in msg


SUSIE_HEADER = "gene_id\tcs_id\ttissue\tchromosome\tposition\ttss\tStrand\tabs_tss_distance_mean\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("gene_id\tcs_id\ttissue\tchromosome\tposition\tStrand\ng\tL1\tLung\t1\t10\t1\n",
         "eQTL credible-set table lacks column 'tss'"),
        (SUSIE_HEADER + "g\tL1\tLung\t1\t1000\t5000\t1\t4001\ng\tL1\tLung\t1\tabc\t5000\t1\t4001\n",
         "row 2, column 'position': 'abc'; expected an integer"),
        (SUSIE_HEADER + "g\tL1\tLung\t1\t1000\t5000\tplus\t4001\n", "row 1, column 'Strand': 'plus'; expected 1 or -1"),
        (SUSIE_HEADER + "g\tL1\tLung\t1\t0\t5000\t1\t5001\n",
         "row 1, column 'position': 0; expected a 1-based position"),
        (SUSIE_HEADER + "g\tL1\tLung\t1\t1000\t5001\t1\t4001\n",
         "row 1, column 'abs_tss_distance_mean': '4001'; expected 4002.0, the mean of |position - 1 - tss|"),
        (SUSIE_HEADER + "g\tL1\tLung\t1\t1000\t5000\t1\t4001\ng\tL2\tLung\t1\t2000\t6000\t1\t4001\n",
         "row 2, column 'tss': gene g has tss 6000 here and 5000 in row 1; expected one canonical TSS per gene"),
        (SUSIE_HEADER + "g\t\tLung\t1\t1000\t5000\t1\t4001\n", "row 1, column 'cs_id': the cell is empty"),
    ],
)
def test_bad_susie_table(tmp_path, body, expected):
    path = _write(tmp_path / "susie.tsv", body)
    with pytest.raises(InputError) as exc:
        ci.read_susie(path)
    msg = _one_line(exc)
    assert msg.startswith(f"{path}: ") and expected in msg


ZIGA_HEADER = ("ziga_key\tchromosome\tgene\tmain_tss_start\tmain_tss_end\tfix_enhancer_wide_start\t"
               "fix_enhancer_wide_end\tactual_tss_distance\tvalidated\n")
ZIGA_ROW = "k1\tchr1\tGATA1\t1000\t1128\t5000\t7000\t4936\tTrue\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (ZIGA_HEADER + ZIGA_ROW + ZIGA_ROW.replace("k1", "k2").replace("4936", "far"),
         "row 2, column 'actual_tss_distance': 'far'; expected a distance in bp (a number >= 0)"),
        (ZIGA_HEADER + ZIGA_ROW.replace("4936", "-3"), "row 1, column 'actual_tss_distance': '-3'"),
        (ZIGA_HEADER + ZIGA_ROW.replace("True", "yes"), "row 1, column 'validated': 'yes'; expected a boolean"),
        (ZIGA_HEADER + ZIGA_ROW.replace("\t7000", "\t4000"),
         "row 1, column 'fix_enhancer_wide_end': 4000 is not after fix_enhancer_wide_start = 5000"),
        (ZIGA_HEADER + ZIGA_ROW + ZIGA_ROW, "row 2, column 'ziga_key': 'k1' is already the key of row 1"),
        (ZIGA_HEADER.replace("\tgene", "\tsymbol") + ZIGA_ROW, "CRISPRi pair table lacks column 'gene' (or 'Gene')"),
        (ZIGA_HEADER.replace("\tvalidated", "") + ZIGA_ROW.replace("\tTrue", ""),
         "CRISPRi pair table lacks column 'validated'"),
    ],
)
def test_bad_crispri_table(tmp_path, body, expected):
    path = _write(tmp_path / "ziga.tsv", body)
    with pytest.raises(InputError) as exc:
        ci.read_crispri(path)
    msg = _one_line(exc)
    assert msg.startswith(f"{path}: ") and expected in msg


def test_bad_optional_gene_tables(demo, tmp_path):
    renames = _write(tmp_path / "renames.tsv", "gene_name\tcrispri_gene\nA\tB\nA\tC\n")
    with pytest.raises(InputError) as exc:
        ci.load_inputs(_spec(demo.root, gene_table="", gene_renames=str(renames)))
    assert "inputs.gene_renames is given but inputs.gene_table is not" in _one_line(exc)
    genes = _write(tmp_path / "genes.tsv", "gene_name\nA\n")
    with pytest.raises(InputError) as exc:
        ci.load_inputs(_spec(demo.root, gene_table=str(genes), gene_renames=str(renames)))
    assert _one_line(exc).startswith(f"{renames}: row 2, column 'gene_name': 'A' is already renamed in row 1")


def test_no_gene_table_keeps_every_pair(demo):
    inputs = ci.load_inputs(_spec(demo.root, gene_table="", gene_renames=""))
    assert inputs.n_crispri_unmatched is None
    assert len(inputs.pairs) == len(_rows(demo.root / FILES["crispri_table"]))


def test_bad_input_is_refused_at_planning(demo, tmp_path):
    from seqbench.runtime.submit import plan_job

    bad = _write(tmp_path / "cres.bed", "chr1\t10\t20\n")
    with pytest.raises(InputError, match=r"row 1 has 3 tab-separated column\(s\)"):
        plan_job(_spec(demo.root, ccre_bed=str(bad)))
