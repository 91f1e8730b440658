"""The embedded demo data: determinism, FASTA hygiene, table layout, geometry and planted truth.

The checks read the files back independently (pyfaidx, pandas, plain string search, and the
NumPy reference of the planted law) rather than trusting the generator's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyfaidx
import pytest

from seqbench.demo import synthetic
from seqbench.demo.synthetic import DemoLayout, ensure_demo, generate_demo
from seqbench.models.planted import law
from seqbench.models.planted.reference import reference_output
from seqbench.sequence.codes import encode, reverse_complement

L = law.SEQUENCE_LENGTH
EXPECTED_COLUMNS = [
    "ziga_key", "gene", "chromosome", "main_tss_start", "main_tss_end", "main_tss_bin",
    "enhancer_start", "enhancer_end", "fix_enhancer_wide_start", "fix_enhancer_wide_end",
    "sequence_start", "sequence_end", "actual_tss_distance", "validated", "K562_CAGE_ref",
    "K562_CAGE_alt", "log2_fc_pred", "abs_log2_fc_pred", "candidate_type", "enhancer_size",
    "test_location",
]  # fmt: skip

CONFIGS = {
    "default": {},
    "small": {"seed": 7, "n_genes": 5, "n_enhancers": 9, "n_backgrounds": 3},
}

#: sha256 of the default demo's files.  If the generator's output changes on purpose, bump
#: synthetic.FORMAT_VERSION (so cached demos are rebuilt) and update these digests.
GOLDEN_SHA256 = {
    "Data/Genome/genome.fa": "5e9950572c2f648a7f41bdeb3ba1c06e2b44745b1ec38bd07596ea1280eece86",
    "Data/Fulco_CRISPRi/in_silico_candidate_locs.tsv": (
        "4156bfb59363316ebd2f85f77aea3b9b3ff136f3ffe903764c10587845a01c14"
    ),
    "demo_truth.json": "d511d87a67d51fc8c7876d85841de029822a26956f058e2539da88ab4a853eeb",
}


def _rc(seq: str) -> str:
    return seq[::-1].translate(str.maketrans("ACGT", "TGCA"))


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module", params=list(CONFIGS))
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    kwargs = CONFIGS[request.param]
    layout = generate_demo(tmp_path_factory.mktemp(f"demo_{request.param}"), **kwargs)
    params = {"seed": 20230301, "n_genes": 8, "n_enhancers": 12, "n_backgrounds": 4, **kwargs}
    fasta = pyfaidx.Fasta(str(layout.fasta), sequence_always_upper=True)
    upper = {record.name: str(record[:]) for record in fasta}
    fasta.close()
    return {
        "name": request.param,
        "layout": layout,
        "params": params,
        "table": pd.read_csv(layout.candidate_table, sep="\t"),
        "truth": json.loads(layout.truth.read_text()),
        "upper": upper,
    }


# --- determinism -------------------------------------------------------------------------------


def test_two_builds_give_identical_bytes(demo: dict, tmp_path: Path) -> None:
    kwargs = CONFIGS[demo["name"]]
    again = generate_demo(tmp_path / "again", **kwargs)
    first, second = _files(demo["layout"].root), _files(again.root)
    assert sorted(first) == sorted(second) == sorted(
        ["Data/Genome/genome.fa", "Data/Genome/genome.fa.fai", "demo_truth.json",
         "Data/Fulco_CRISPRi/in_silico_candidate_locs.tsv"]
    )  # fmt: skip
    for name in first:
        assert first[name] == second[name], name


def test_other_seed_gives_other_genome(tmp_path: Path) -> None:
    a = generate_demo(tmp_path / "a", seed=1, n_genes=3, n_enhancers=3, n_backgrounds=1)
    b = generate_demo(tmp_path / "b", seed=2, n_genes=3, n_enhancers=3, n_backgrounds=1)
    assert a.fasta.read_bytes() != b.fasta.read_bytes()


def test_default_demo_matches_golden_digests(demo: dict) -> None:
    if demo["name"] != "default":
        pytest.skip("golden digests are for the default demo")
    for rel, digest in GOLDEN_SHA256.items():
        got = hashlib.sha256((demo["layout"].root / rel).read_bytes()).hexdigest()
        assert got == digest, f"{rel} changed: bump FORMAT_VERSION and update GOLDEN_SHA256"


def test_small_and_fast(tmp_path: Path) -> None:
    import time

    t0 = time.perf_counter()
    layout = generate_demo(tmp_path / "d")
    assert time.perf_counter() - t0 < 10.0
    total = sum(p.stat().st_size for p in layout.root.rglob("*") if p.is_file())
    assert total < 8_000_000


# --- FASTA --------------------------------------------------------------------------------------


def test_fasta_reads_and_upper_cases(demo: dict) -> None:
    layout: DemoLayout = demo["layout"]
    assert set(demo["upper"]) == {"chr1", "chr2", "chr3"}
    assert layout.fasta_index.is_file()
    lines = layout.fasta.read_text().splitlines()
    assert all(len(line) <= 60 for line in lines if not line.startswith(">"))
    raw = pyfaidx.Fasta(str(layout.fasta))
    try:
        n_lower = 0
        for stretch in demo["truth"]["soft_masked"]:
            seq = str(raw[stretch["chromosome"]][stretch["start"] : stretch["end"]])
            assert seq == seq.lower(), stretch
            n_lower += len(seq)
            assert demo["upper"][stretch["chromosome"]][stretch["start"] : stretch["end"]] == seq.upper()
        assert n_lower > 1000
        for name, upper in demo["upper"].items():
            assert str(raw[name][:]).upper() == upper
            assert set(upper) <= set("ACGTN")
            assert len(upper) == demo["truth"]["chromosomes"][name]
    finally:
        raw.close()


def test_n_runs_exist_inside_windows_and_away_from_elements(demo: dict) -> None:
    truth = demo["truth"]
    for run in truth["n_runs"]:
        seq = demo["upper"][run["chromosome"]]
        assert set(seq[run["start"] : run["end"]]) == {"N"}
        elements = [
            tuple(g["promoter_window"]) for g in truth["genes"] if g["chromosome"] == run["chromosome"]
        ]
        elements += [
            tuple(e["fix_enhancer_wide_window"])
            for e in truth["enhancers"]
            if e["chromosome"] == run["chromosome"]
        ]
        for s, e in elements:
            assert run["end"] + 5000 <= s or e + 5000 <= run["start"], (run, (s, e))
    n_total = sum(seq.count("N") for seq in demo["upper"].values())
    assert n_total == sum(r["end"] - r["start"] for r in truth["n_runs"])
    in_window = [
        g["gene"]
        for g in truth["genes"]
        if "N" in demo["upper"][g["chromosome"]][g["sequence_start"] : g["sequence_end"]]
    ]
    assert in_window, "some model window should contain an N run"


def test_no_motif_occurrence_outside_planted_copies(demo: dict) -> None:
    truth = demo["truth"]
    planted = set()
    for g in truth["genes"]:
        planted |= {
            (g["chromosome"], m["centre"] - 5, law.PROMOTER_MOTIF, m["orientation"])
            for m in g["promoter_motifs"]
        }
    for e in truth["enhancers"]:
        planted |= {
            (e["chromosome"], m["centre"] - 5, law.ENHANCER_MOTIF, m["orientation"]) for m in e["motifs"]
        }
    found = set()
    for name, seq in demo["upper"].items():
        for motif in (law.PROMOTER_MOTIF, law.ENHANCER_MOTIF):
            for orientation, word in (("+", motif), ("-", _rc(motif))):
                pos = seq.find(word)
                while pos != -1:
                    found.add((name, pos, motif, orientation))
                    pos = seq.find(word, pos + 1)
    assert found == planted


def test_planted_motifs_read_back_in_recorded_orientation(demo: dict) -> None:
    truth = demo["truth"]
    fasta = pyfaidx.Fasta(str(demo["layout"].fasta), sequence_always_upper=True)
    try:
        copies = [
            (g["chromosome"], law.PROMOTER_MOTIF, m) for g in truth["genes"] for m in g["promoter_motifs"]
        ]
        copies += [(e["chromosome"], law.ENHANCER_MOTIF, m) for e in truth["enhancers"] for m in e["motifs"]]
        for chrom, motif, m in copies:
            q = m["centre"]
            got = str(fasta[chrom][q - 5 : q + 6])
            assert got == (motif if m["orientation"] == "+" else _rc(motif)), (chrom, m)
            assert 43 <= q % 128 <= 84  # bin phase safe for offsets -43/0/+43
    finally:
        fasta.close()


def test_planted_design_varies(demo: dict) -> None:
    truth = demo["truth"]
    ks = [len(g["promoter_motifs"]) for g in truth["genes"]]
    ms = [len(e["motifs"]) for e in truth["enhancers"]]
    assert set(ks) <= {1, 2, 3, 4} and len(set(ks)) >= min(4, len(ks))
    assert set(ms) <= set(range(1, 7)) and len(set(ms)) >= min(6, len(ms))
    assert {m["orientation"] for g in truth["genes"] for m in g["promoter_motifs"]} == {"+", "-"}
    assert {m["orientation"] for e in truth["enhancers"] for m in e["motifs"]} == {"+", "-"}
    for g in truth["genes"]:
        centres = sorted(m["centre"] for m in g["promoter_motifs"])
        assert all(abs(q - g["tss_centre"]) <= 120 for q in centres)
        assert all(b - a >= 11 for a, b in zip(centres, centres[1:], strict=False))
    for e in truth["enhancers"]:
        centres = sorted(m["centre"] for m in e["motifs"])
        assert all(abs(q - e["mid"]) <= 400 for q in centres)
        assert all(b - a >= 11 for a, b in zip(centres, centres[1:], strict=False))
    assert truth["format_version"] == synthetic.FORMAT_VERSION
    assert truth["seed"] == demo["params"]["seed"]


# --- table layout and geometry ------------------------------------------------------------------


def test_table_layout(demo: dict) -> None:
    t, p = demo["table"], demo["params"]
    assert list(t.columns) == EXPECTED_COLUMNS
    assert len(t) == p["n_enhancers"]
    assert len(t.drop_duplicates(["main_tss_start", "main_tss_end"])) == p["n_genes"]
    assert t["gene"].nunique() == p["n_genes"]
    assert len(t.drop_duplicates(["fix_enhancer_wide_start", "fix_enhancer_wide_end"])) == p["n_enhancers"]
    assert t["ziga_key"].is_unique
    assert int(t["test_location"].sum()) == p["n_backgrounds"]
    assert t["validated"].dtype == bool and t["test_location"].dtype == bool
    assert t["validated"].any() and not t["validated"].all()
    assert set(t["candidate_type"]) <= {"strong", "weak", "weak_for_gene", "intermediate"}
    assert (t["enhancer_size"] == 2000).all()
    assert t.groupby("gene").size().min() >= 1 and t.groupby("gene").size().max() >= 2
    for row in t.itertuples():
        assert row.ziga_key == f"demo_{row.gene}_{row.enhancer_start}-{row.enhancer_end}"
    # test locations: the largest |log2_fc_pred|
    top = t.sort_values(["abs_log2_fc_pred", "ziga_key"], ascending=[False, True]).head(p["n_backgrounds"])
    assert set(top["ziga_key"]) == set(t.loc[t["test_location"], "ziga_key"])


def test_geometry_identities(demo: dict) -> None:
    t = demo["table"]
    assert (t["main_tss_end"] - t["main_tss_start"] == 128).all()
    assert t["main_tss_bin"].between(440, 456).all() and t["main_tss_bin"].nunique() > 1
    assert (t["main_tss_start"] == t["sequence_start"] + law.OUTPUT_OFFSET + 128 * t["main_tss_bin"]).all()
    assert (t["sequence_end"] - t["sequence_start"] == L).all()
    mid = (t["fix_enhancer_wide_start"] + t["fix_enhancer_wide_end"]) // 2
    assert (t["fix_enhancer_wide_end"] - t["fix_enhancer_wide_start"] == 2000).all()
    assert (t["enhancer_start"] == mid - 250).all() and (t["enhancer_end"] == mid + 250).all()
    assert (t["actual_tss_distance"] == (mid - (t["main_tss_start"] + 64)).abs()).all()
    assert t["actual_tss_distance"].between(4000, 60000).all()
    signed = mid - (t["main_tss_start"] + 64)
    assert (signed > 0).any() and (signed < 0).any()
    # the helpers agree with the table
    for row in t.itertuples():
        assert synthetic.sequence_window(row.main_tss_start, row.main_tss_bin) == (
            row.sequence_start,
            row.sequence_end,
        )
        assert synthetic.tss_bin_interval(row.main_tss_start + 64) == (row.main_tss_start, row.main_tss_end)


def test_windows_contained_and_disjoint(demo: dict) -> None:
    t, truth = demo["table"], demo["truth"]
    lengths = truth["chromosomes"]
    for chrom, rows in t.groupby("chromosome"):
        tss = rows.drop_duplicates("main_tss_start")
        windows = [(c + 64 - 500, c + 64 + 500) for c in tss["main_tss_start"]]
        windows += list(zip(rows["fix_enhancer_wide_start"], rows["fix_enhancer_wide_end"], strict=True))
        windows.sort()
        for (_, e1), (s2, _) in zip(windows, windows[1:], strict=False):
            assert e1 <= s2, (chrom, windows)
        starts = sorted(tss["main_tss_start"])
        assert all(b - a >= 420_000 for a, b in zip(starts, starts[1:], strict=False))
        assert min(starts) + 64 >= 200_000 and max(starts) + 64 <= lengths[chrom] - 200_000
    for row in t.itertuples():
        c = row.main_tss_start + 64
        for s, e in ((c - 500, c + 500), (row.fix_enhancer_wide_start, row.fix_enhancer_wide_end)):
            assert row.sequence_start + 1000 <= s and e <= row.sequence_end - 1000
        assert row.sequence_start >= 0 and row.sequence_end <= lengths[row.chromosome]


# --- planted truth in the table -----------------------------------------------------------------


def _window_codes(
    seq: str, start: int, offset: int = 0, knock_out: tuple[int, int] | None = None
) -> np.ndarray:
    s = seq[start + offset : start + offset + L]
    if knock_out is not None:
        a, b = knock_out[0] - start - offset, knock_out[1] - start - offset
        s = s[:a] + "N" * (b - a) + s[b:]
    return encode(s)


def _landmark_sum(out: np.ndarray, b: int) -> float:
    return float(out[b - 1 : b + 2, 0].sum())  # track 0 = planted K562 CAGE


def test_cage_values_follow_the_law(demo: dict) -> None:
    t = demo["table"]
    for row in t.itertuples():
        seq = demo["upper"][row.chromosome]
        ko = (row.fix_enhancer_wide_start, row.fix_enhancer_wide_end)
        codes = np.stack(
            [_window_codes(seq, row.sequence_start), _window_codes(seq, row.sequence_start, 0, ko)]
        )
        out = reference_output(codes)
        assert _landmark_sum(out[0], row.main_tss_bin) == pytest.approx(row.K562_CAGE_ref, rel=1e-9)
        assert _landmark_sum(out[1], row.main_tss_bin) == pytest.approx(row.K562_CAGE_alt, rel=1e-9)
        expected = math.log2(row.K562_CAGE_alt + 1) - math.log2(row.K562_CAGE_ref + 1)
        assert row.log2_fc_pred == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert row.abs_log2_fc_pred == pytest.approx(abs(row.log2_fc_pred), rel=1e-12)


def test_cage_values_hold_for_every_augmentation(demo: dict) -> None:
    """Offsets -43/0/+43 and both orientations give the recorded value (planted phases are safe)."""
    t = demo["table"]
    for row in t.head(3).itertuples():
        seq = demo["upper"][row.chromosome]
        ko = (row.fix_enhancer_wide_start, row.fix_enhancer_wide_end)
        for knock, expected in ((None, row.K562_CAGE_ref), (ko, row.K562_CAGE_alt)):
            fw = np.stack([_window_codes(seq, row.sequence_start, s, knock) for s in (-43, 0, 43)])
            out_fw = reference_output(fw)
            out_rv = reference_output(reverse_complement(fw))
            for k in range(3):
                assert _landmark_sum(out_fw[k], row.main_tss_bin) == pytest.approx(expected, rel=1e-9)
                assert _landmark_sum(out_rv[k], 895 - row.main_tss_bin) == pytest.approx(expected, rel=1e-9)


def test_knocking_out_an_enhancer_never_raises_cage(demo: dict) -> None:
    t = demo["table"]
    assert (t["log2_fc_pred"] < 0).all()
    assert (t["K562_CAGE_alt"] < t["K562_CAGE_ref"]).all()


def test_nearer_stronger_enhancers_have_larger_effects(demo: dict) -> None:
    """Within a gene: more motifs and nearer (every hit nearer) => more negative log2_fc_pred."""
    truth = demo["truth"]
    fc = demo["table"].set_index("ziga_key")["log2_fc_pred"]
    genes = {g["gene"]: g for g in truth["genes"]}
    compared = 0
    for a in truth["enhancers"]:
        for b in truth["enhancers"]:
            if a["gene"] != b["gene"] or a is b:
                continue
            c = genes[a["gene"]]["tss_centre"]
            far_a = max(abs(m["centre"] - c) for m in a["motifs"])
            near_b = min(abs(m["centre"] - c) for m in b["motifs"])
            if len(a["motifs"]) >= len(b["motifs"]) and far_a + 256 < near_b:
                assert fc[a["ziga_key"]] < fc[b["ziga_key"]], (a["ziga_key"], b["ziga_key"])
                compared += 1
    assert compared >= 1


def test_candidate_types_follow_the_loose_thresholds(demo: dict) -> None:
    t = demo["table"]
    pct = (2.0 ** t["log2_fc_pred"] - 1).abs() * 100
    strong = pct >= synthetic.STRONG_PERCENT
    assert ((t["candidate_type"] == "strong") == strong).all()
    strong_genes = set(t.loc[strong, "gene"])
    for row, p in zip(t.itertuples(), pct, strict=True):
        if p < synthetic.STRONG_PERCENT:
            if row.gene in strong_genes:
                assert row.candidate_type == ("intermediate" if p >= 5 else "weak_for_gene")
            else:
                assert row.candidate_type == "weak"


# --- ensure_demo -----------------------------------------------------------------------------------


def test_ensure_demo_is_idempotent_and_rebuilds_incomplete(tmp_path: Path) -> None:
    layout = ensure_demo(tmp_path)
    assert layout.root == tmp_path / "demo" / "v1"
    assert layout.is_complete()
    stamp = {p: p.stat().st_mtime_ns for p in layout.root.rglob("*")}
    again = ensure_demo(tmp_path)
    assert again == layout
    assert {p: p.stat().st_mtime_ns for p in layout.root.rglob("*")} == stamp
    reference = _files(layout.root)

    layout.truth.unlink()  # a half-built directory
    (layout.root / "junk.txt").write_text("left over")
    rebuilt = ensure_demo(tmp_path)
    assert rebuilt.is_complete()
    assert _files(rebuilt.root) == reference  # junk gone, same bytes
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["v1"]  # no temporary siblings


def test_ensure_demo_uses_env_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQBENCH_CACHE_DIR", str(tmp_path / "cache"))
    assert synthetic.default_cache_dir() == tmp_path / "cache"
    layout = ensure_demo()
    assert layout.root == tmp_path / "cache" / "demo" / "v1" and layout.is_complete()
    monkeypatch.delenv("SEQBENCH_CACHE_DIR")
    assert synthetic.default_cache_dir() == Path(os.path.expanduser("~")) / ".cache" / "seqbench"


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_enhancers"):
        generate_demo(tmp_path, n_genes=4, n_enhancers=3)
    with pytest.raises(ValueError, match="n_backgrounds"):
        generate_demo(tmp_path, n_genes=2, n_enhancers=3, n_backgrounds=4)
    with pytest.raises(ValueError, match="n_genes"):
        generate_demo(tmp_path, n_genes=0)


# --- helpers --------------------------------------------------------------------------------------


def test_coordinate_helpers() -> None:
    assert synthetic.tss_bin_interval(1064) == (1000, 1128)
    assert synthetic.tss_centre(1000) == 1064
    start, end = synthetic.sequence_window(500_000, 448)
    assert end - start == L and start + 139_264 + 128 * 448 == 500_000
    assert synthetic.promoter_window(10_000) == (9_500, 10_500)
    assert synthetic.enhancer_wide_window(10_000) == (9_000, 11_000)
    assert synthetic.enhancer_assay_window(10_000) == (9_750, 10_250)
    assert synthetic.tss_distance(20_064, 10_000) == 10_000
    assert synthetic.motif_interval(105) == (100, 111)
    assert synthetic.input_bin(1000 + 128 * 7 + 127, 1000) == 7
    assert synthetic.landmark_input_bin(448) == 1536
    seq = "AC" + law.ENHANCER_MOTIF + "GG" + _rc(law.ENHANCER_MOTIF) + "N" + law.ENHANCER_MOTIF[:-1] + "NA"
    assert synthetic.find_motif_occurrences(encode(seq), law.ENHANCER_MOTIF) == [(2, "+"), (15, "-")]
    # one promoter hit in the TSS bin, no enhancer: (1 + P0) in each of the 3 bins
    assert synthetic.planted_cage_landmark_sum([1536], [], 448) == pytest.approx(3 * (1 + law.P0))
    one_enh = synthetic.planted_cage_landmark_sum([1536], [1536], 448)
    g1 = law.decay(128)
    expected = (1 + law.P0) * ((1 + law.B_K562 * g1) * 2 + (1 + law.B_K562))
    assert one_enh == pytest.approx(expected)
