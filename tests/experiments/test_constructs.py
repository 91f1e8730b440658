"""The `constructs` experiment: the edit notation, bad tables, and a tile scan on the planted model.

Known answers: the notation against hand-built edits; a shuffled tile changes the planted model's
prediction exactly when it changes the motif hits in the window (the planted law: only motif hits
matter), so tiles whose shuffle leaves every hit in place have |log2 FC| < 1e-3, and the largest
effect of each gene falls on a tile that held a planted motif.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqbench.demo.synthetic import ensure_demo, find_motif_occurrences
from seqbench.experiments.constructs.design import Where, parse_edit
from seqbench.experiments.constructs.sweeps import distance_sweep, tile_scan
from seqbench.inputs.tables import InputError
from seqbench.models.planted import law
from seqbench.sequence.constructs import Edit, FromGenome, Literal, Masked, Shuffled
from seqbench.sequence.shuffles import derive_seed

W = Where(Path("t.tsv"), 3, "edits")


@pytest.mark.parametrize(
    ("text", "edit"),
    [
        ("replace:10-20=ACGTn", Edit(10, 20, Literal("ACGTN"))),
        ("replace:10-20=chr2:5-9:-", Edit(10, 20, FromGenome("chr2", 5, 9, "-"))),
        ("insert:7=chr1:100-200", Edit(7, 7, FromGenome("chr1", 100, 200, "+"))),
        ("insert:7=GG", Edit(7, 7, Literal("GG"))),
        ("delete:5-8", Edit(5, 8, Literal(""))),
        ("substitute:12=A>TT", Edit(12, 13, Literal("TT"), expect="A")),
        ("mask:0-4", Edit(0, 4, Masked())),
        ("shuffle:30-40:di:3", Edit(30, 40, Shuffled(derive_seed(7, "constructs|chr9:30-40|di", 3), "di"))),
    ],
)
def test_edit_notation(text, edit):
    assert parse_edit(text, source="chr9", seed=7, where=W) == edit


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("flip:1-2", "unknown edit 'flip:1-2'"),
        ("shuffle:30-40:mono", "expected shuffle:START-END:KIND:R"),
        ("shuffle:30-40:tri:1", "kind 'tri'"),
        ("replace:20-10=A", "empty or reversed"),
        ("replace:1-5=ACGU", "found 'U'"),
        ("substitute:3=A", "expected substitute:POS=REF>ALT"),
        ("insert:x=A", "insert position 'x' is not an integer"),
    ],
)
def test_bad_edits_name_file_row_and_column(text, needle):
    with pytest.raises(InputError) as err:
        parse_edit(text, source="chr1", seed=1, where=W)
    msg = str(err.value)
    assert msg.startswith("t.tsv: row 3, column 'edits': ") and needle in msg


def test_shuffle_replicates_differ_and_regions_share_seeds():
    a = parse_edit("shuffle:0-100:mono:0", source="chr1", seed=1, where=W)
    b = parse_edit("shuffle:0-100:mono:1", source="chr1", seed=1, where=W)
    c = parse_edit("shuffle:0-100:mono:0", source="chr1", seed=1, where=W)
    assert a.payload.seed != b.payload.seed and a == c


def test_sweeps_layout():
    genes = pd.DataFrame({"gene": ["G"], "chrom": ["chr1"], "tss": [30_000], "strand": ["-"]})
    t = tile_scan(genes, flank=20_000, tile=5_000, replicates=2, lengths={"chr1": 45_000})
    tiles = t[t["edits"] != ""]
    # 8 tiles from 10,000 to 50,000; the last, [45,000, 50,000), runs past 45,000 and is left out
    assert sorted(set(tiles["tile_start"])) == [10_000, 15_000, 20_000, 25_000, 30_000, 35_000, 40_000]
    assert len(tiles) == 7 * 2 and (tiles["reference"] == "G|reference").all()
    # minus strand: a tile upstream in genome coordinates is downstream along the gene
    assert int(tiles.loc[tiles["tile_start"] == 10_000, "tile_offset"].iloc[0]) == 17_500
    d = distance_sweep(chrom="chr1", tss=1000, element=(5000, 5500), distances=[-300, 2000])
    assert list(d["placement"]) == ["removed", "native", "inserted", "inserted"]
    assert d["edits"].iloc[2] == "mask:5000-5500;insert:700=chr1:5000-5500"
    with pytest.raises(ValueError, match="inside the element"):
        distance_sweep(chrom="chr1", tss=5000, element=(5000, 5500), distances=[100])


# ---- bad tables: one line naming file, row and column; exit 2; no job directory ----------------


def _cli(args: list[str], cache_dir: Path, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEQBENCH_CACHE_DIR": str(cache_dir), "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run([sys.executable, "-m", "seqbench.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


def _job(tmp: Path, layout, rows: list[dict], name: str = "t") -> tuple[Path, Path]:
    table = tmp / f"{name}.tsv"
    pd.DataFrame(rows).to_csv(table, sep="\t", index=False)
    spec = tmp / f"{name}.toml"
    spec.write_text(
        f'experiment = "constructs"\ndata_root = "{layout.root}"\njob_dir = "{tmp / "job"}"\n'
        f'[model]\nkind = "planted"\n[inputs]\ntable = "{table}"\n'
    )
    return spec, table


def _row(name: str, **kw) -> dict:
    return {"name": name, "chrom": kw.pop("chrom", "chr1"), "sequence": kw.pop("sequence", ""),
            "landmark": kw.pop("landmark", 215_232), "edits": kw.pop("edits", ""),
            "reference": kw.pop("reference", ""), **kw}


BAD_TABLES = [
    ([_row("a", edits="invert:1-2")], "row 1, column 'edits': unknown edit 'invert:1-2'"),
    ([_row("a", edits="mask:100-200;delete:150-300")],
     "row 1, column 'edits': edits [100, 200) and [150, 300) overlap"),
    ([_row("a", landmark=9_999_999)], "row 1, column 'landmark': 9999999 is outside"),
    ([_row("a"), _row("b", reference="c")], "row 2, column 'reference': 'c' names no construct"),
    ([_row("a", edits="shuffle:100-200:mono")], "row 1, column 'edits': shuffle: 'shuffle:100-200:mono'"),
    ([_row("a", chrom="", sequence="ACGTXACGT", landmark=2)], "row 1, column 'sequence': 'X' is not A, C, G, T or N"),
    ([_row("a"), _row("a")], "row 2, column 'name': 'a' is already the name of row 1"),
    ([_row("a", chrom="chrZ")], "row 1, column 'chrom'"),
    ([_row("a", strand="x")], "row 1, column 'strand': 'x'; expected '+' or '-'"),
]


@pytest.mark.parametrize(("rows", "needle"), BAD_TABLES, ids=range(len(BAD_TABLES)))
def test_bad_construct_tables_are_refused_before_anything_runs(rows, needle, cache_dir, tmp_path):
    from seqbench.runtime.submit import plan_job
    from seqbench.spec import load_spec

    layout = ensure_demo(cache_dir)
    spec, table = _job(tmp_path, layout, rows)
    with pytest.raises((InputError, ValueError)) as err:
        plan_job(load_spec(spec))
    assert str(err.value).startswith(f"{table}: ") and needle in str(err.value), str(err.value)


def test_bad_table_through_the_cli_exits_2_and_leaves_no_job(cache_dir, tmp_path):
    layout = ensure_demo(cache_dir)
    spec, table = _job(tmp_path, layout, [_row("a", edits="mask:100-200;delete:150-300")])
    res = _cli(["submit", "constructs", "--spec", str(spec)], cache_dir, tmp_path)
    assert res.returncode == 2
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"seqbench-ray: error: {table}: row 1, column 'edits'")
    assert not (tmp_path / "job").exists()


# ---- the tile scan on the planted model -----------------------------------------------------------


def _hits(codes: np.ndarray) -> set[tuple[int, str, str]]:
    return {(p, m, o) for m in (law.PROMOTER_MOTIF, law.ENHANCER_MOTIF) for p, o in find_motif_occurrences(codes, m)}


@pytest.mark.ray
def test_tile_scan_effects_fall_on_planted_motifs(cache_dir, tmp_path):
    from seqbench.genome import Genome
    from seqbench.registry import get_experiment
    from seqbench.runtime.submit import plan_job
    from seqbench.sequence.constructs import materialize
    from seqbench.spec import load_spec

    layout = ensure_demo(cache_dir)
    truth = json.loads(layout.truth.read_text())
    genes = pd.DataFrame([{"gene": g["gene"], "chrom": g["chromosome"], "tss": g["tss_centre"]}
                          for g in truth["genes"][:2]])
    table = tile_scan(genes, flank=20_000, tile=5_000, replicates=2, lengths=truth["chromosomes"])
    path = tmp_path / "tiles.tsv"
    table.to_csv(path, sep="\t", index=False)
    spec_file = tmp_path / "tiles.toml"
    spec_file.write_text(f'experiment = "constructs"\ndata_root = "{layout.root}"\n[model]\nkind = "planted"\n'
                         f'[inputs]\ntable = "{path}"\n[runtime]\nnum_cpus = 4\n')
    job = tmp_path / "job"
    args = ["submit", "constructs", "--spec", str(spec_file), "--job-dir", str(job), "--quiet"]
    res = _cli(args, cache_dir, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    out = pd.read_csv(job / "tables" / "constructs.tsv", sep="\t")
    summary = json.loads((job / "summary.json").read_text())
    assert summary["n_constructs"] == len(table) and summary["n_compared"] == len(table) - 2
    assert set(summary) >= set(get_experiment("constructs").summary_keys)
    assert (job / "tables" / "by_tile_offset.tsv").is_file() and (job / "figures" / "constructs_log2fc.png").is_file()

    # the motif hits of every member window, reference vs tile: equal hits -> no effect
    spec = load_spec(spec_file)
    plan = plan_job(spec)
    genome = Genome(spec.fasta)
    shifts = spec.ensemble.shifts
    windows = {}
    for i in range(plan.design.n_constructs):
        c = plan.design.build(i)
        codes, _ = materialize(c, genome.read_padded, sequence_length=plan.geometry.sequence_length,
                               min_shift=min(shifts), max_shift=max(shifts))
        windows[c.key] = _hits(codes)
    tiles = out[out["reference"].notna()]
    same = tiles["key"].map(lambda k: windows[k] == windows[tiles.loc[tiles["key"] == k, "reference"].iloc[0]])
    assert same.sum() > 0 and (~same).sum() > 0  # both kinds occur, so both assertions below bite
    assert tiles.loc[same, "log2fc_cage"].abs().max() < 1e-3
    # every tile whose shuffle removed or added a hit moves the prediction
    assert (tiles.loc[~same, "log2fc_cage"].abs() > 1e-3).all()
    # and each gene's largest effect is on a tile that holds a planted motif of the truth file
    planted = [(g["chromosome"], m["start"]) for g in truth["genes"] for m in g["promoter_motifs"]]
    planted += [(e["chromosome"], m["start"]) for e in truth["enhancers"] for m in e["motifs"]]
    for gene, grp in tiles.groupby("gene"):
        top = grp.loc[grp["log2fc_cage"].abs().idxmax()]
        chrom = genes.loc[genes["gene"] == gene, "chrom"].iloc[0]
        assert any(c == chrom and top["tile_start"] <= s and s + 11 <= top["tile_end"] for c, s in planted), gene


@pytest.mark.parametrize("name", ["tile-scan", "distance-sweep"])
def test_examples_plan_on_the_demo_genome(name, cache_dir):
    """jobs/examples/*.toml: the tables are valid designs on the demo genome (the spec's fasta points at the
    default cache; here it is redirected to the test's demo)."""
    from seqbench.runtime.submit import plan_job
    from seqbench.spec import load_spec

    layout = ensure_demo(cache_dir)
    path = Path(__file__).resolve().parents[2] / "jobs" / "examples" / f"{name}.toml"
    spec = load_spec(path, overrides={"genome": {"fasta": str(layout.fasta)}})
    plan = plan_job(spec)
    table = pd.read_csv(path.with_suffix(".tsv"), sep="\t")
    assert plan.design.n_constructs == len(table) and list(plan.design.table["key"]) == list(table["name"])
