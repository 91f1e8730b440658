"""Saturation mutagenesis (Kircher CAGI5): loader, construct geometry, track matching and the
per-variant reduce, without Ray or TensorFlow."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from seqbench.experiments.saturation_mutagenesis import design as sm
from seqbench.genome import Genome
from seqbench.inputs.tables import InputError
from seqbench.models.base import ENFORMER_GEOMETRY, TrackTable
from seqbench.sequence.codes import encode
from seqbench.sequence.constructs import ConstructError, materialize
from tests.conftest import random_dna, write_fasta

CHR1 = random_dna(3_000, seed=5)


def _write(folder: Path, rel: str, lines: list[str]) -> Path:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _snv(pos1: int, alt: str, fc: float = 0.5, chrom: str = "chr1", ref: str | None = None) -> str:
    """A table line for the 1-based position ``pos1`` (Ref read from CHR1 unless given)."""
    return f"{chrom}\t{pos1}\t{ref or CHR1[pos1 - 1]}\t{alt}\t{fc}\t0.01"


def _other(base: str) -> str:
    return next(b for b in "ACGT" if b != base)


@pytest.fixture
def genome(tmp_path) -> Genome:
    return Genome(write_fasta(tmp_path / "g.fa", {"chr1": CHR1}))


@pytest.fixture
def tables(tmp_path) -> Path:
    folder = tmp_path / "cagi5"
    p1, p2 = 1001, 1002
    _write(folder, "train/x_train_LDLR.tsv", [_snv(p2, _other(CHR1[p2 - 1]), 1.5), _snv(p1, _other(CHR1[p1 - 1]))])
    _write(folder, "test/x_test_F9.tsv", [_snv(2001, _other(CHR1[2000]), -0.25)])
    _write(folder, "test/x_test_LDLR.tsv", [_snv(p1, "ACGT".replace(CHR1[p1 - 1], "")[1], 0.75)])
    return folder


def test_loader_converts_positions_and_orders_files(tables):
    """1-based Pos_hg38 -> 0-based pos; files sorted by relative path; locus = last '_' token."""
    f = sm.load_tables(tables)
    assert list(f["file"]) == ["test/x_test_F9.tsv", "test/x_test_LDLR.tsv", "train/x_train_LDLR.tsv",
                               "train/x_train_LDLR.tsv"]
    assert list(f["locus"]) == ["F9", "LDLR", "LDLR", "LDLR"]
    assert list(f["pos"]) == [2000, 1000, 1001, 1000] and list(f["row"]) == [1, 1, 1, 2]
    assert f["ref"].iloc[0] == CHR1[2000] and f["log2FC"].iloc[0] == -0.25
    assert sm.locus_of(Path("a/CAGI5_release_TERT-HEK293T.tsv")) == "TERT-HEK293T"


@pytest.mark.parametrize(
    ("line", "match"),
    [
        (f"chr1\t11\t{CHR1[10]}\tAT\t0.1\t0.01", r"row 2, column 'Alt': 'AT'; expected one base A, C, G or T"),
        (f"chr1\t11\t-\t{CHR1[10]}\t0.1\t0.01", r"column 'Ref': '-'; .*only SNVs"),
        (f"chr1\t0\t{CHR1[10]}\tA\t0.1\t0.01", r"column 'Pos_hg38': '0'; expected a 1-based position"),
        (f"chr1\t1.5\t{CHR1[10]}\tA\t0.1\t0.01", r"column 'Pos_hg38': '1.5'"),
        (f"chr1\t11\t{CHR1[10]}\t{_other(CHR1[10])}\tnan\t0.01", r"column 'log2FC': 'nan'; expected a finite"),
        (f"chr1\t11\t{CHR1[10]}\t{CHR1[10]}\t0.1\t0.01", r"column 'Alt'.*expected a base other than Ref"),
        (f"chr1\t11\t{CHR1[10]}\tA\t0.1", r"5 columns; expected 6 without a header"),
    ],
)
def test_loader_refuses_bad_rows(tmp_path, line, match):
    """Bad rows are refused with file, 1-based row and column."""
    good = _snv(5, _other(CHR1[4]))
    _write(tmp_path / "t", "s/a_F9.tsv", [good, line] if line.count("\t") == 5 else [line])
    with pytest.raises(InputError, match=match) as err:
        sm.load_tables(tmp_path / "t")
    assert "a_F9.tsv" in str(err.value)
    if line.count("\t") == 5:
        assert "row 2" in str(err.value)


def test_tables_directly_in_the_folder_are_read_as_in_the_authors_archive(tmp_path):
    """The authors' archive holds CAGI5_train_test_hg19_to_hg38_liftover/*.tsv with no subfolder."""
    _write(tmp_path / "flat", "x_train_LDLR.tsv", [_snv(1001, _other(CHR1[1000]))])
    _write(tmp_path / "flat", "x_test_F9.tsv", [_snv(2001, _other(CHR1[2000])), _snv(2002, _other(CHR1[2001]))])
    _write(tmp_path / "flat", "more/x_test_HBB.tsv", [_snv(5, _other(CHR1[4]))])
    files = sm.table_files(tmp_path / "flat")
    assert [f.relative_to(tmp_path / "flat").as_posix() for f in files] == [
        "more/x_test_HBB.tsv", "x_test_F9.tsv", "x_train_LDLR.tsv"]
    frame = sm.load_tables(tmp_path / "flat")
    assert sorted(frame["locus"].value_counts().items()) == [("F9", 2), ("HBB", 1), ("LDLR", 1)]


def test_loader_refuses_duplicates_unknown_loci_and_empty_folders(tmp_path):
    dup = _snv(5, _other(CHR1[4]))
    _write(tmp_path / "d", "s/a_F9.tsv", [dup])
    _write(tmp_path / "d", "t/b_F9.tsv", [dup])
    with pytest.raises(InputError, match=r"t/b_F9.tsv: row 1: locus F9 variant chr1:5 .* already given at s/a_F9"):
        sm.load_tables(tmp_path / "d")
    _write(tmp_path / "r", "s/a_F9.tsv", [_snv(5, "A", ref="C"), _snv(5, "T", ref="G")])
    with pytest.raises(InputError, match=r"row 2, column 'Ref'.*has Ref C, G in different rows"):
        sm.load_tables(tmp_path / "r")
    _write(tmp_path / "u", "s/a_NOPE.tsv", [dup])
    with pytest.raises(InputError, match=r"locus 'NOPE'.*inputs.cell_types"):
        sm.load_tables(tmp_path / "u")
    assert len(sm.load_tables(tmp_path / "u", {"NOPE": "liver"})) == 1
    (tmp_path / "e" / "sub").mkdir(parents=True)
    with pytest.raises(InputError, match=r"no tables; expected .*\(\*\.tsv, \*/\*\.tsv\)"):
        sm.load_tables(tmp_path / "e")
    with pytest.raises(InputError, match="folder not found"):
        sm.load_tables(tmp_path / "missing")


def test_reference_base_is_checked_against_the_genome(tmp_path, genome):
    """§13 B21 fixed: a Ref that is not the genome's base is refused, naming file, row and both bases."""
    wrong = _other(CHR1[99])
    _write(tmp_path / "t", "s/a_F9.tsv", [_snv(50, _other(CHR1[49])), _snv(100, CHR1[99], ref=wrong)])
    frame = sm.load_tables(tmp_path / "t")
    with pytest.raises(InputError, match=rf"a_F9.tsv: row 2, column 'Ref': '{wrong}' but g.fa has '{CHR1[99]}'"
                                         r" at chr1:100 \(1-based\)"):
        sm.check_reference(frame, genome, tmp_path / "t")
    ok = frame.iloc[:1]
    sm.check_reference(ok, genome, tmp_path / "t")  # no error
    _write(tmp_path / "c", "s/a_F9.tsv", [_snv(5, "A", chrom="chr9", ref="C")])
    with pytest.raises(ValueError, match=r"row 1, column 'Chromosome'.*'chr9' is not in g.fa"):
        sm.check_reference(sm.load_tables(tmp_path / "c"), genome, tmp_path / "c")


def _spec(tables: Path, **inputs) -> SimpleNamespace:
    return SimpleNamespace(
        inputs={"tables": tables, "cell_types": {}, "calibration_loci": ["F9", "LDLR"], "max_loci": 0, **inputs},
        source="test",
    )


def test_design_order_and_constructs_put_the_allele_at_the_window_centre(tables, genome):
    """Per locus: positions ascending, the reference construct then the alts in A,C,G,T order;
    the construct is the genome window centred on the variant with the allele substituted."""
    design = sm.expand(_spec(tables), genome, ENFORMER_GEOMETRY)
    t = design.table
    assert list(t["construct_id"]) == list(range(len(t)))
    assert list(t["locus"]) == ["F9"] * 2 + ["LDLR"] * 5
    assert list(t["allele"]) == ["ref", "alt", "ref", "alt", "alt", "ref", "alt"]
    ldlr = t[t["locus"] == "LDLR"]
    assert list(ldlr["pos"]) == [1000, 1000, 1000, 1001, 1001]
    alts = ldlr[(ldlr["pos"] == 1000) & (ldlr["allele"] == "alt")]["nucleotide"].tolist()
    assert alts == sorted(alts, key="ACGT".index) and len(alts) == 2
    assert (t.loc[t["allele"] == "ref", "nucleotide"] == t.loc[t["allele"] == "ref", "ref"]).all()
    assert t["log2FC"].isna().tolist() == (t["allele"] == "ref").tolist()
    assert set(t["descriptor"]) == {"hepg2"}

    L, lo, hi = 1_000, -43, 43
    for cid in t.index:
        row = t.loc[cid]
        codes, lm = materialize(design.build(int(cid)), genome.read_padded, sequence_length=L, min_shift=lo,
                                max_shift=hi)
        assert lm == L // 2 - lo  # shift 0: the variant at input position L/2
        assert codes[lm] == encode(row["nucleotide"])[0]
        pos = int(row["pos"])
        want = genome.read_padded("chr1", pos - L // 2 + lo, pos + L // 2 + hi).copy()
        want[lm] = encode(row["nucleotide"])[0]
        np.testing.assert_array_equal(codes, want)


def test_a_reference_construct_checks_the_genome_base(tables, genome):
    design = sm.expand(_spec(tables), genome, ENFORMER_GEOMETRY)
    c = design.build(0)
    bad = sm.SaturationBuilder(("k",), ("chr1",), (c.landmark,), _other(CHR1[c.landmark]), "A")
    with pytest.raises(ConstructError, match="expected"):
        materialize(bad(0), genome.read_padded, sequence_length=200)


def _tracks() -> TrackTable:
    desc = [
        "CAGE:hepatocellular carcinoma cell line:HepG2 ENCODE",
        "CAGE:Hep G2 FANTOM",
        "CAGE:HepG2 rep2",
        "DNASE:HepG2",
        "DNASE:K562",
        "CHIP:H3K27ac:HepG2",
        "cage lower-case hepg2",
    ]
    return TrackTable(pd.DataFrame({"index": range(len(desc)), "identifier": desc, "description": desc}))


def test_extra_tracks_match_by_descriptor_with_fallback(tables):
    """§4.3: CAGE/DNASE tracks containing the descriptor (case-insensitive), else all of the assay."""
    spec = _spec(tables, cell_types={"F9": "mel"})
    got = sm.extra_tracks(spec, _tracks())
    assert got == {
        "cage:mel:0": 0, "cage:mel:1": 1, "cage:mel:2": 2,  # no CAGE 'mel': every CAGE track (case-sensitive)
        "dnase:mel:3": 3, "dnase:mel:4": 4,
        "cage:hepg2:0": 0, "cage:hepg2:2": 2,  # 'Hep G2' does not contain 'hepg2'
        "dnase:hepg2:3": 3,
    }
    labels = sm.label_map(["construct_id", "member", "cage", *got])
    assert labels[("cage", "hepg2")] == ["cage:hepg2:0", "cage:hepg2:2"] and ("cage", "k562") not in labels


def test_variant_effects_average_members_then_tracks_then_log(tables, genome):
    """pred = mean over tracks of (mean over members), delta = log2(alt + 1) - log2(ref + 1)."""
    design = sm.expand(_spec(tables, cell_types={"LDLR": "k562"}), genome, ENFORMER_GEOMETRY).table
    rng = np.random.default_rng(3)
    labels = ["cage:hepg2:7", "cage:hepg2:9", "dnase:hepg2:1", "cage:k562:4", "dnase:k562:5", "dnase:k562:6"]
    rows = []
    for cid in design["construct_id"]:
        for m in range(4):
            rows.append({"construct_id": cid, "member": m, **{lab: rng.uniform(0, 10) for lab in labels}})
    preds = pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # order must not matter
    eff = sm.variant_effects(preds, design)
    assert len(eff) == 2 * int((design["allele"] == "alt").sum())
    mean = preds.groupby("construct_id")[labels].mean()
    n_checked = 0
    for r in eff.itertuples():
        d = design.set_index("construct_id")
        keys = (d["locus"] == r.locus) & (d["pos"] == r.pos)
        ref_id = d.index[keys & (d["allele"] == "ref")][0]
        alt_id = d.index[keys & (d["allele"] == "alt") & (d["nucleotide"] == r.alt)][0]
        cols = [lab for lab in labels if lab.startswith(f"{r.assay}:{r.descriptor}:")]
        ref_v, alt_v = mean.loc[ref_id, cols].mean(), mean.loc[alt_id, cols].mean()
        assert r.ref_pred == pytest.approx(ref_v, rel=1e-12) and r.alt_pred == pytest.approx(alt_v, rel=1e-12)
        assert r.delta == pytest.approx(np.log2(alt_v + 1) - np.log2(ref_v + 1), abs=1e-12)
        assert r.n_tracks == len(cols)
        # log then aggregate (the authors' LDLR comparison), member by member in a plain loop
        logs = {}
        for cid in (ref_id, alt_id):
            member_rows = preds[preds["construct_id"] == cid]
            logs[cid] = sum(np.log2(sum(row[c] for c in cols) / len(cols) + 1)
                            for _, row in member_rows.iterrows()) / len(member_rows)
        assert r.delta_log_then_aggregate == pytest.approx(logs[alt_id] - logs[ref_id], abs=1e-12)
        n_checked += 1
    assert n_checked == len(eff)
    # the two orders differ (Jensen: the log of a mean >= the mean of the logs)
    assert not np.allclose(eff["delta"], eff["delta_log_then_aggregate"], atol=1e-6)
    with pytest.raises(InputError, match=r"no dnase column for descriptor 'k562'"):
        sm.variant_effects(preds.drop(columns=["dnase:k562:5", "dnase:k562:6"]), design)
