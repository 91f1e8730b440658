"""promoter-mpra without Ray: input checks, GenBank recipe, construct geometry, the variant design."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.promoter_mpra import design as pm
from seqbench.experiments.promoter_mpra.demo import FILES, SEGAL_DIR, ensure_promoter_mpra_demo, revcomp
from seqbench.genome import Genome
from seqbench.inputs.tables import InputError
from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.sequence.codes import decode
from seqbench.sequence.constructs import materialize
from seqbench.spec import SpecError, parse_spec

L = 393_216


@pytest.fixture(scope="module")
def demo(cache_dir):
    layout = ensure_demo(cache_dir)
    return layout.root, ensure_promoter_mpra_demo(layout.root)


def _spec(root: Path, cache_dir: Path, **inputs):
    """The demo spec with ``data_root = root`` (tables not regenerated) and ``inputs`` overrides."""
    demo = ensure_promoter_mpra_demo(ensure_demo(cache_dir).root)
    raw = {
        "experiment": pm.NAME,
        "data_root": str(root),
        "model": {"kind": "planted"},
        "inputs": {"landing_pad": demo.landing_pad, "tata_motif": demo.tata_motif, **inputs},
    }
    return parse_spec(raw, origin="test", base_dir=cache_dir)


def _copy_inputs(root: Path, tmp: Path) -> Path:
    import shutil

    dst = tmp / SEGAL_DIR
    dst.mkdir(parents=True)
    for f in FILES.values():
        shutil.copy(root / SEGAL_DIR / f, dst / f)
    (tmp / "Data" / "Genome").mkdir(parents=True)
    for f in ("genome.fa", "genome.fa.fai"):
        (tmp / "Data" / "Genome" / f).symlink_to(root / "Data" / "Genome" / f)
    return dst


def test_genbank_recipe(demo, tmp_path):
    root, _ = demo
    path = root / SEGAL_DIR / FILES["plasmid"]
    seq = pm.parse_genbank(path)
    assert len(seq) == 7_200 and set(seq) <= set("ACGTN")
    parts = pm.plasmid_parts(path)
    assert parts.full_insert == seq[658:6742] and len(parts.full_insert) == pm.FULL_INSERT_LENGTH
    assert parts.egfp == revcomp(seq[4189:4909])
    assert parts.full_insert[4658:4822] == "N" * 164
    bad = tmp_path / "bad.gbk"
    bad.write_text("LOCUS x\nORIGIN\n        1 acgtnacgtx\n//\n")
    with pytest.raises(InputError, match=r"line 3: character 'X'"):
        pm.parse_genbank(bad)
    bad.write_text("LOCUS x\n        1 acgt\n")
    with pytest.raises(InputError, match="no ORIGIN"):
        pm.parse_genbank(bad)
    short = tmp_path / "short.gbk"
    short.write_text("LOCUS x\nORIGIN\n" + "        1 " + "acgt" * 100 + "\n//\n")
    with pytest.raises(InputError, match="400 bp; expected at least 6742"):
        pm.plasmid_parts(short)


def test_loaders_name_file_row_and_column(demo, tmp_path, cache_dir):
    root, _ = demo
    dst = _copy_inputs(root, tmp_path)
    oligos = dst / FILES["oligos"]
    text = oligos.read_text().splitlines()
    oligos.write_text("\n".join([text[0], text[1], text[1]]) + "\n")
    with pytest.raises(InputError, match=r"row 2, column 'Oligo_index': 0 appears twice"):
        pm.load_oligos(oligos)
    oligos.write_text("\n".join([text[0], text[1].replace("A", "Z", 1)]) + "\n")
    with pytest.raises(InputError, match=r"row 1, column 'Oligo_sequence'.*'Z'"):
        pm.load_oligos(oligos)
    oligos.write_text("\n".join(text) + "\n")

    spec = _spec(tmp_path, cache_dir)
    pic = dst / FILES["pic"]
    rows = pic.read_text().splitlines()
    pic.write_text("\n".join([rows[0], rows[1].replace("\tFw\t", "\tforward\t"), *rows[2:]]) + "\n")
    with pytest.raises(InputError, match=r"pic_binding_sites.tsv: row 1, column 'CP_Orientation': 'forward'"):
        pm.load_inputs(spec)
    pic.write_text("\n".join([rows[0], "99999" + rows[1][rows[1].index("\t"):], *rows[2:]]) + "\n")
    with pytest.raises(InputError, match=r"row 1, column 'Oligo_index': 99999 is not in the oligo table"):
        pm.load_inputs(spec)
    pic.write_text("\n".join(rows) + "\n")
    core = dst / FILES["core_configs"]
    rows = core.read_text().splitlines()
    core.write_text("\n".join([rows[0], rows[1][: rows[1].rindex("\t")] + "\tabc", *rows[2:]]) + "\n")
    with pytest.raises(InputError, match=r"row 1, column 'DPE_position': 'abc'; expected an integer or '-'"):
        pm.load_inputs(spec)
    core.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"no oligo with TATA_position = 7"):
        pm.expand(_spec(tmp_path, cache_dir, baseline_tata_position=7), Genome(spec.fasta), ENFORMER_GEOMETRY)
    with pytest.raises(InputError, match="no background named 'XYZ'"):
        pm.expand(_spec(tmp_path, cache_dir, variant_background="XYZ"), Genome(spec.fasta), ENFORMER_GEOMETRY)
    with pytest.raises(SpecError, match=r"inputs.insert_types\[1\] = 'plasmid'; expected one of minimal, full"):
        _spec(tmp_path, cache_dir, insert_types=["minimal", "plasmid"])  # refused with the spec, before expand
    with pytest.raises(InputError, match="insert_types"):
        bad = _spec(tmp_path, cache_dir, insert_types=["minimal", "minimal"])
        pm.expand(bad, Genome(spec.fasta), ENFORMER_GEOMETRY)


def _member0(construct, genome):
    """The + strand, shift 0 input (L bp) and the landmark's position in it."""
    ext, lm = materialize(construct, genome.read_padded, sequence_length=L, min_shift=-43, max_shift=43)
    inp = ext[43 : 43 + L]
    return decode(inp), lm - 43


@pytest.mark.parametrize("itype", ["minimal", "full", "full_rv"])
def test_construct_geometry(demo, cache_dir, itype):
    root, d = demo
    spec = _spec(root, cache_dir, insert_types=["minimal", "full", "full_rv"], ism=False, occlusion=False,
                 background_ism=False)
    genome = Genome(spec.fasta)
    design = pm.expand(spec, genome, ENFORMER_GEOMETRY)
    row = design.table[(design.table["oligo_index"] == 5) & (design.table["insert_type"] == itype)].iloc[0]
    assert row["key"] == f"5|{itype}"
    seq, lm = _member0(design.build(int(row["construct_id"])), genome)
    assert lm == L // 2  # landmark at the input centre (bin 448 on the + strand at shift 0)
    crs = pm.load_oligos(spec.inputs["oligos"]).set_index("Oligo_index").loc[5, "Oligo_sequence"]
    parts = pm.plasmid_parts(spec.inputs["plasmid"])
    chrom, start, end = pm.parse_landing_pad(d.landing_pad)
    split = (start + end) // 2
    if itype == "minimal":
        insert, lm_off = crs + parts.egfp, 82
    elif itype == "full":
        insert, lm_off = parts.full_insert[:4658] + crs + parts.full_insert[4822:], 4658 + 82
    else:
        insert, lm_off = revcomp(parts.full_insert[:4658] + crs + parts.full_insert[4822:]), 6084 - 4822 + 82
    a = L // 2 - lm_off
    assert seq[a : a + len(insert)] == insert
    # the CRS midpoint (fragment position 82 for minimal/full) sits at the landmark
    # (full_rv: position 82 of the reverse-complemented fragment, the authors' 1262 + len // 2; the
    # image of the forward landmark would be position 81)
    assert seq[L // 2 - 82 : L // 2 + 82] == (revcomp(crs) if itype == "full_rv" else crs)
    # genomic flanks: the landing pad split at its midpoint, nothing removed
    assert seq[a - 50 : a] == genome.fetch_str(chrom, split - 50, split)
    assert seq[a + len(insert) : a + len(insert) + 50] == genome.fetch_str(chrom, split, split + 50)


def test_variant_design_ism_all_three_alternatives_and_occlusion(demo, cache_dir):
    root, d = demo
    spec = _spec(root, cache_dir)
    genome = Genome(spec.fasta)
    design = pm.expand(spec, genome, ENFORMER_GEOMETRY)
    t = design.table
    assert (t["construct_id"].to_numpy() == np.arange(len(t))).all()
    base = t[t["kind"] == "baseline"].iloc[0]
    inputs = pm.load_inputs(spec)
    tata = inputs.tata
    assert int(base["oligo_index"]) == int(
        tata[(tata["Background"] == "RPLP0_TATA_bg") & (tata["TATA_position"] == -11)]["Oligo_index"].iloc[0]
    )
    ism = t[t["kind"] == "ism"]
    assert sorted(ism["position"].unique()) == list(range(46, 86))
    base_seq = inputs.oligos.set_index("Oligo_index").loc[int(base["oligo_index"]), "Oligo_sequence"]
    for p, g in ism.groupby("position"):
        assert set(g["alt"]) == set("ACGT") - {base_seq[p]} and (g["ref"] == base_seq[p]).all()
    # ISM construct = the baseline with one substitution, in the minimal insert
    row = ism.iloc[7]
    seq, _ = _member0(design.build(int(row["construct_id"])), genome)
    frag = seq[L // 2 - 82 : L // 2 + 82]
    diff = [i for i in range(164) if frag[i] != base_seq[i]]
    assert diff == [int(row["position"])] and frag[diff[0]] == row["alt"]
    # occlusion: an N block of len(tata_motif) where the shifted oligo carries its TATA
    occ = t[t["kind"] == "occlusion"]
    for r in occ.itertuples():
        shifted = tata[(tata["Background"] == "RPLP0_TATA_bg") & (tata["TATA_position"] == r.tata_position)]
        s_seq = inputs.oligos.set_index("Oligo_index").loc[int(shifted["Oligo_index"].iloc[0]), "Oligo_sequence"]
        assert s_seq[r.position : r.position + 8] == d.tata_motif
        assert r.position == 116 + int(r.tata_position) + 2  # the demo's TATA sits at 116 + position
    seq, _ = _member0(design.build(int(occ.iloc[0]["construct_id"])), genome)
    frag = seq[L // 2 - 82 : L // 2 + 82]
    p0 = int(occ.iloc[0]["position"])
    assert frag[p0 : p0 + 8] == "N" * 8 and frag[:p0] == base_seq[:p0] and frag[p0 + 8 :] == base_seq[p0 + 8 :]
    # switching the variants off leaves only the oligo block; "used" drops the oligos in no set
    # (the 5 unused ones and 12885, the authors' extra ISM background)
    used = _spec(root, cache_dir, ism=False, occlusion=False, background_ism=False, oligo_scope="used")
    only = pm.expand(used, genome, ENFORMER_GEOMETRY).table
    assert set(only["kind"]) == {"oligo"} and len(only) == len(inputs.oligos) - 6


def test_locate_moving_element():
    bg = "C" * 40
    seqs = [bg[:p] + "TATA" + bg[p + 4 :] for p in (3, 10, 20, 30)]
    fixed = [s[:35] + "TATA" + s[39:] for s in seqs]  # a background copy at 35 in every oligo
    assert pm.locate_moving_element(fixed, "TATA") == [3, 10, 20, 30]
    clash = [*fixed, fixed[0][:35] + "TATA" + fixed[0][39:]]  # moved copy coincides with the fixed one
    clash[-1] = bg[:35] + "TATA" + bg[39:]
    assert pm.locate_moving_element(clash, "TATA")[-1] is None
    assert pm.ism_alternatives("A") == ["C", "G", "T"] and pm.ism_alternatives("G") == ["T", "A", "C"]


def test_demo_is_deterministic(tmp_path, demo):
    from seqbench.experiments.promoter_mpra.demo import generate

    root, d = demo
    generate(tmp_path, d.landing_pad)
    for f in FILES.values():
        assert (tmp_path / SEGAL_DIR / f).read_bytes() == (root / SEGAL_DIR / f).read_bytes()


def test_reduce_and_report_without_variants(demo, cache_dir, tmp_path):
    """Full inserts only, no ISM/occlusion: the reduce reads the first insert type and writes every output."""
    import pandas as pd

    root, _ = demo
    spec = _spec(root, cache_dir, insert_types=["full_rv", "full"], ism=False, occlusion=False, background_ism=False)
    design = pm.expand(spec, Genome(spec.fasta), ENFORMER_GEOMETRY)
    t = design.table
    assert len(t) == 2 * len(pm.load_oligos(spec.inputs["oligos"])) and set(t["kind"]) == {"oligo"}
    # predictions: 2**(oligo_index % 5) for every member, so every construct mean is known exactly
    preds = pd.DataFrame(
        {
            "construct_id": np.repeat(t["construct_id"].to_numpy(), 6),
            "member": np.tile(np.arange(6), len(t)),
            "landmark_bin": 448,
            "cage": np.repeat(2.0 ** (t["oligo_index"].to_numpy() % 5), 6),
        }
    )
    res = pm.reduce(preds, t, spec)
    from seqbench.experiment import write_outputs
    from seqbench.experiments.promoter_mpra import EXPERIMENT

    summary, tables, figures = write_outputs(EXPERIMENT, res, tmp_path, model_name="test-model")
    assert summary["summary_insert_type"] == "full" and summary["n_ism_variants"] == 0
    assert summary["ism_top_position"] is None and summary["r_endogenous"] is not None
    # no background ISM: its keys are empty and the summary says why
    assert summary["n_ism_backgrounds"] == 0 and summary["background_ism_top_position"] is None
    assert summary["background_ism_note"] == "background ISM off (inputs.background_ism = false)"
    op = res.oligo_predictions
    np.testing.assert_allclose(op["cage"], 2.0 ** (op["oligo_index"] % 5))
    assert all(p.is_file() for p in tables + figures) and len(figures) == 5
    doc = (Path(__file__).resolve().parents[2] / "docs" / "experiments" / "promoter-mpra.md").read_text()
    assert [k for k in summary if f"`{k}`" not in doc] == []  # every summary key is documented


def _authors_backgrounds(root: Path) -> list[tuple[int, str]]:
    """The authors' background list (prepare_segal_ism.py), read straight from the files with pandas:
    core configurations with Configuration_summary == 0, TF-screen rows with Motif_info == "-", oligo 12885."""
    import pandas as pd

    core = pd.read_csv(root / SEGAL_DIR / FILES["core_configs"], sep="\t").query("Configuration_summary == 0")
    tf = pd.read_csv(root / SEGAL_DIR / FILES["tf_screen"], sep="\t").query('Motif_info == "-"')
    return ([(int(i), b) for i, b in zip(core["Oligo_index"], core["Background"], strict=True)]
            + [(int(i), b) for i, b in zip(tf["Oligo_index"], tf["Background"], strict=True)]
            + [(12885, "DNAse_example")])


def test_background_ism_plan_follows_the_authors_order(demo, cache_dir):
    """Every background the authors ISM, in their order; per background every position of the window x the
    three alternatives x the insert types, then the unmutated backgrounds; each construct is its background
    with exactly one substitution (checked on the materialized input, full and full_rv inserts too)."""
    import pandas as pd

    root, _ = demo
    spec = _spec(root, cache_dir, ism=False, occlusion=False, background_ism_start=10, background_ism_end=14,
                 background_ism_insert_types=["minimal", "full_rv"])
    genome = Genome(spec.fasta)
    design = pm.expand(spec, genome, ENFORMER_GEOMETRY)
    t = design.table
    oligos = pd.read_csv(root / SEGAL_DIR / FILES["oligos"], sep="\t").set_index("Oligo_index")["Oligo_sequence"]
    backgrounds = _authors_backgrounds(root)
    assert len(backgrounds) == 6  # 3 core, 2 TF, 12885
    # brute force: the authors' loops (background, position, i = 1..3, insert type), then the unmutated ones
    expected = []
    for idx, _label in backgrounds:
        s = oligos[idx]
        for pos in range(10, 14):
            for i in (1, 2, 3):
                alt = "ACGT"[("ACGT".index(s[pos]) + i) % 4]
                expected += [(idx, pos, s[pos], alt, it) for it in ("minimal", "full_rv")]
    expected += [(idx, -1, "", "", it) for idx, _ in backgrounds for it in ("minimal", "full_rv")]
    block = t[t["kind"].isin(["background_ism", "background"])]
    assert block["construct_id"].is_monotonic_increasing and int(block["construct_id"].iloc[-1]) == len(t) - 1
    got = list(zip(block["oligo_index"], block["position"], block["ref"], block["alt"], block["insert_type"],
                   strict=True))
    assert got == expected
    assert list(dict.fromkeys(zip(block["oligo_index"], block["background"], strict=True))) == backgrounds
    assert list(dict.fromkeys(block["background_source"])) == ["core", "tf", "oligo"]
    # the materialized fragment: the background with one substitution, in the minimal and full_rv inserts
    for kind_row in (block.iloc[7], block.iloc[8], block[block["kind"] == "background"].iloc[0]):
        seq, _ = _member0(design.build(int(kind_row["construct_id"])), genome)
        frag = seq[L // 2 - 82 : L // 2 + 82]
        bg = oligos[int(kind_row["oligo_index"])]
        if kind_row["insert_type"] == "full_rv":
            frag = revcomp(frag)
        diff = [i for i in range(164) if frag[i] != bg[i]]
        if kind_row["kind"] == "background":
            assert diff == []
        else:
            assert diff == [int(kind_row["position"])] and frag[diff[0]] == kind_row["alt"]


def test_background_ism_refusals(demo, cache_dir):
    root, _ = demo
    genome = Genome(_spec(root, cache_dir).fasta)
    bad = _spec(root, cache_dir, background_ism_start=100, background_ism_end=170)
    with pytest.raises(InputError, match=r"background_ism_end = 100/170; expected 0 <= start < end <= 164"):
        pm.expand(bad, genome, ENFORMER_GEOMETRY)
    with pytest.raises(InputError, match=r"has no Oligo_index 99999 \(inputs.background_ism_oligos\)"):
        pm.expand(_spec(root, cache_dir, background_ism_oligos=[99999]), genome, ENFORMER_GEOMETRY)
    with pytest.raises(InputError, match="background_ism_insert_types"):
        pm.expand(_spec(root, cache_dir, background_ism_insert_types=[]), genome, ENFORMER_GEOMETRY)
    # an extra oligo that is already a background is ISM'd once, in its first place
    first_core = _authors_backgrounds(root)[0][0]
    spec = _spec(root, cache_dir, ism=False, occlusion=False, background_ism_oligos=[12885, first_core],
                 background_ism_start=0, background_ism_end=1, background_ism_insert_types=["minimal"])
    t = pm.expand(spec, genome, ENFORMER_GEOMETRY).table
    assert (t["kind"] == "background").sum() == 6


def test_background_ism_reduce_against_a_brute_force_fold_change(demo, cache_dir):
    """Known predictions per construct: every log2 FC equals log2(pred + 1) - log2(base + 1) of the same
    background and insert type, rows in the design's (the authors') order; the summary reads the largest."""
    import pandas as pd

    root, _ = demo
    spec = _spec(root, cache_dir, ism=False, occlusion=False, background_ism_start=20, background_ism_end=23,
                 background_ism_insert_types=["full", "minimal"])
    t = pm.expand(spec, Genome(spec.fasta), ENFORMER_GEOMETRY).table
    rng = np.random.default_rng(3)
    value = rng.uniform(0.5, 8.0, len(t))  # the mean over members of construct i
    member = rng.normal(0, 0.3, (len(t), 6))
    member -= member.mean(axis=1, keepdims=True)
    preds = pd.DataFrame({"construct_id": np.repeat(t["construct_id"].to_numpy(), 6),
                          "member": np.tile(np.arange(6), len(t)), "landmark_bin": 448,
                          "cage": (value[:, None] + member).ravel()})
    res = pm.reduce(preds, t, spec)
    bg = res.background_ism
    ism_rows = t[t["kind"] == "background_ism"]
    assert list(bg["oligo_index"]) == list(ism_rows["oligo_index"]) and list(bg["alt"]) == list(ism_rows["alt"])
    unmutated = t[t["kind"] == "background"]
    base = {(int(r.oligo_index), r.insert_type): value[r.construct_id] for r in unmutated.itertuples()}
    for row, r in zip(bg.itertuples(), ism_rows.itertuples(), strict=True):
        b = base[(int(r.oligo_index), r.insert_type)]
        assert row.log2fc == pytest.approx(np.log2(value[r.construct_id] + 1) - np.log2(b + 1), abs=1e-9)
    s = res.summary()
    minimal = bg[bg["insert_type"] == "minimal"]
    top = minimal.loc[minimal["log2fc"].abs().idxmax()]
    assert s["n_ism_backgrounds"] == 6 and s["n_background_ism_variants"] == 6 * 3 * 3 * 2
    assert (s["background_ism_top_background"], s["background_ism_top_position"]) == (top["background"],
                                                                                      top["position"])
    assert s["background_ism_top_log2fc"] == pytest.approx(top["log2fc"])
    assert s["background_ism_note"] == "minimal insert"
    summ = res.background_ism_summary
    assert len(summ) == 12 and (summ["n_variants"] == 9).all() and (summ["n_positions"] == 3).all()
