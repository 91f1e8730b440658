"""trip-seq without Ray: centre-mode geometry against a hand-built sequence, the integration strand, the
closed form against the NumPy reference, the statistics against direct computations, and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.trip_seq import demo as td
from seqbench.experiments.trip_seq import design as tr
from seqbench.experiments.trip_seq.stats import reduce_trip
from seqbench.genome import Genome
from seqbench.inputs.tables import InputError
from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.models.planted import law
from seqbench.models.planted.reference import reference_output
from seqbench.sequence.codes import decode
from seqbench.sequence.constructs import materialize
from seqbench.sequence.ensemble import member_codes, member_landmarks
from seqbench.spec import parse_spec

L = 393_216
COMP = str.maketrans("ACGT", "TGCA")


@pytest.fixture(scope="module")
def demo(cache_dir):
    layout = ensure_demo(cache_dir)
    td.ensure_trip_demo(layout.root)
    spec = parse_spec(td.demo_spec(layout.root), origin="test", base_dir=cache_dir)
    genome = Genome(spec.fasta)
    return layout, spec, genome, tr.expand(spec, genome, ENFORMER_GEOMETRY)


def _spec(root: Path, cache_dir: Path, **inputs):
    raw = {"experiment": tr.NAME, "data_root": str(root), "model": {"kind": "planted"},
           "inputs": {k: str(td.TRIP_DIR / v) for k, v in td.FILES.items()} | inputs}
    return parse_spec(raw, origin="test", base_dir=cache_dir)


def _copy(root: Path, tmp: Path) -> Path:
    dst = tmp / td.TRIP_DIR
    dst.mkdir(parents=True)
    for f in td.FILES.values():
        shutil.copy(root / td.TRIP_DIR / f, dst / f)
    (tmp / "Data" / "Genome").mkdir(parents=True)
    for f in ("genome.fa", "genome.fa.fai"):
        (tmp / "Data" / "Genome" / f).symlink_to(root / "Data" / "Genome" / f)
    return dst


def test_centre_mode_geometry_against_a_hand_built_sequence(demo):
    layout, spec, genome, design = demo
    parts = tr.plasmid_parts(Path(spec.inputs["plasmid"]), tr.FEATURES_DEFAULT)
    gb = tr.parse_genbank(Path(spec.inputs["plasmid"]))
    assert parts.left == gb[1809:4294] and parts.right == gb[4426:6128] and parts.tdtomato == gb[4432:5137]
    fasta = {c: genome.read_padded(c, 0, n) for c, n in genome.lengths.items()}
    for i in range(4):  # hk1's first two sites: + and - integration, minimal and full
        row = design.table.iloc[i]
        crs = pd.read_csv(spec.inputs["sequences"], sep="\t").set_index("Name").loc[row["promoter"], "Sequence"]
        plus = crs + parts.tdtomato if row["insert_type"] == "minimal" else parts.left + crs + parts.right
        tail = len(parts.tdtomato) if row["insert_type"] == "minimal" else len(parts.right)
        insert, lm = (plus, len(plus) - len(crs) - tail + len(crs) // 2) if row["strand"] == "+" else (
            plus[::-1].translate(COMP), tail + len(crs) // 2)
        ext, lm_ext = materialize(design.build(i), genome.read_padded, sequence_length=L, min_shift=-43, max_shift=43)
        seq = decode(ext)
        loc = int(row["location"])
        # landing pad [loc, loc + 1) kept, split at m = loc: 5' flank ends at loc, 3' flank starts at loc
        f5 = lm_ext - lm
        chrom = decode(fasta[row["chrom"]])
        assert seq[f5 : f5 + len(insert)] == insert
        assert seq[f5 - 5000 : f5] == chrom[loc - 5000 : loc]
        assert seq[f5 + len(insert) : f5 + len(insert) + 5000] == chrom[loc : loc + 5000]
        # shift 0 puts the landmark at L // 2 (the extended window reaches 43 bp farther each side)
        assert lm_ext == L // 2 + 43
    # the - integration strand reverse-complements the + insert
    a, b = design.table.iloc[0], design.table.iloc[2]
    assert a["strand"] == "+" and b["strand"] == "-"


def test_strand_reverse_complements_the_insert(demo):
    *_x, design = demo
    parts = tr.PlasmidParts("AAAC", "GGGT", "TTTTG")
    s_plus, lm_plus = tr.build_insert("ACGTAC", "full", "+", parts)
    s_minus, lm_minus = tr.build_insert("ACGTAC", "full", "-", parts)
    assert s_plus == "AAACACGTACGGGT" and lm_plus == 4 + 3
    assert s_minus == "ACCCGTACGTGTTT" and lm_minus == 4 + 3  # authors: len(right) + len(CRS) // 2
    s, lm = tr.build_insert("ACGTA", "minimal", "-", parts)
    assert s == "CAAAATACGT" and lm == 5 + 2 and s[lm] == "C"  # odd CRS: the exact image of the midpoint G
    assert design.table["construct_id"].tolist() == list(range(len(design.table)))


def test_closed_form_matches_the_numpy_reference(demo):
    layout, spec, genome, design = demo
    import json

    truth = json.loads((layout.root / td.TRIP_DIR / td.TRUTH_NAME).read_text())
    ens = spec.ensemble
    for i in (0, 3, 13, 40):
        ext, lm = materialize(design.build(i), genome.read_padded, sequence_length=L,
                              min_shift=ens.min_shift, max_shift=ens.max_shift)
        ref = reference_output(member_codes(ext, ens, L))[:, :, 0]
        _, bins = member_landmarks(lm, ens, ENFORMER_GEOMETRY)
        value = float(np.mean([ref[m, b - 1 : b + 2].sum() for m, b in enumerate(bins)]))
        row = design.table.iloc[i]
        assert value == pytest.approx(truth["sites"][int(row["site"])]["planted"][row["insert_type"]], rel=1e-12)
        assert law.B_K562 > 0


def test_duplicate_sites_are_averaged_and_na_rows_dropped(demo):
    _l, spec, _g, design = demo
    raw = pd.read_csv(spec.inputs["trip_table"], sep="\t").dropna()
    first = design.table.iloc[0]
    same = raw[(raw["promoter"] == first["promoter"]) & (raw["location"] == first["location"])]
    assert len(same) == 2 and first["n_measured"] == 2
    assert first["log2_exp"] == pytest.approx(same["log2(exp)"].mean())
    assert len(design.table) == 2 * 36


def test_statistics_against_direct_computation(demo):
    _l, _s, _g, design = demo
    rng = np.random.default_rng(5)
    preds = pd.DataFrame({"construct_id": np.repeat(design.table["construct_id"], 2), "member": np.tile([0, 1],
                         len(design.table)), "cage": rng.uniform(0, 20, 2 * len(design.table))})
    res = reduce_trip(preds, design.table, readout="cage")
    mean = preds.groupby("construct_id")["cage"].mean()
    d = design.table.assign(lp=np.log2(mean.loc[design.table["construct_id"]].to_numpy() + 1))
    m = d[d["insert_type"] == "minimal"]
    s = res.summary()
    assert s["r_pooled"] == pytest.approx(sps.pearsonr(m["lp"], m["log2_exp"])[0])
    assert s["rho_pooled"] == pytest.approx(sps.spearmanr(m["lp"], m["log2_exp"])[0])
    med = m.groupby("promoter")[["lp", "log2_exp"]].median()
    assert s["r_promoter_reduced"] == pytest.approx(sps.pearsonr(med["lp"], med["log2_exp"])[0])
    c = m[["lp", "log2_exp"]] - m.groupby("promoter")[["lp", "log2_exp"]].transform("mean")
    assert s["r_within_promoter"] == pytest.approx(sps.pearsonr(c["lp"], c["log2_exp"])[0])
    full = d[d["insert_type"] == "full"].set_index("site")["lp"]
    assert s["r_full_vs_minimal"] == pytest.approx(sps.pearsonr(full, m.set_index("site")["lp"].loc[full.index])[0])
    per = {p: sps.pearsonr(g["lp"], g["log2_exp"])[0] for p, g in m.groupby("promoter")}
    assert s["best_promoter"] == max(per, key=per.get)


def test_window_figure_is_labelled_and_states_n(demo):
    from matplotlib.text import Text

    from seqbench.experiments.trip_seq.combine import combine
    from seqbench.experiments.trip_seq.figures import windows_figure

    _l, _s, _g, design = demo
    rng = np.random.default_rng(9)
    results, variants = {}, []
    for k, w in enumerate((0, 12501)):
        preds = pd.DataFrame({"construct_id": design.table["construct_id"], "member": 0,
                              "cage": rng.uniform(0, 20, len(design.table))})
        results[f"v{k}"] = reduce_trip(preds, design.table, readout="cage")
        variants.append({"name": f"v{k}", "model": "planted-v1", "window": w, "model_index": 0})
    combined = combine(results, variants, None)
    assert sorted(set(combined.r_by_window["window"])) == [0, 12501]
    assert combined.summary()["r_pooled[v1|minimal]"] == pytest.approx(results["v1"].summary()["r_pooled"])
    fig = windows_figure(combined.r_by_window, "a long title " * 20)
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and "n = 36" in ax.get_title()
    assert min(t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()) >= 7


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _refused(tmp, cache_dir) -> str:
    spec = _spec(tmp, cache_dir)
    with pytest.raises(InputError) as e:
        tr.expand(spec, Genome(spec.fasta), ENFORMER_GEOMETRY)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(
    ("file", "old", "new", "expect"),
    [
        ("trip_table", "hk1\tchr1\t208228", "hk1\tchrZ\t208228", ["row 1", "column 'chr'", "'chrZ'", "genome.fa"]),
        ("trip_table", "hk1\tchr1\t208228", "hk1\tchr1\t208228.5", ["row 1", "column 'location'", "'208228.5'",
                                                                    "integer"]),
        ("trip_table", "hk1\tchr1\t208228", "hk1\tchr1\tnear", ["row 1", "column 'location'", "'near'"]),
        ("trip_table", "hk1\tchr1\t208228", "hk9\tchr1\t208228", ["row 1", "column 'promoter'", "'hk9'", "hk1"]),
        ("trip_table", "hk1\tchr1\t208228\t+", "hk1\tchr1\t208228\tplus", ["row 1", "column 'strand'", "'plus'"]),
        ("plasmid", '/label="tdTomato"', '/label="mCherry"', ["trip_plasmid.gb", "FEATURES", "'tdTomato'", "mCherry"]),
        ("sequences", "Name\t", "Label\t", ["trip_seq_sequences.tsv", "'Name'"]),
    ],
)
def test_bad_input_is_one_line(demo, tmp_path, cache_dir, file, old, new, expect):
    layout = demo[0]
    dst = _copy(layout.root, tmp_path)
    _edit(dst / td.FILES[file], old, new)
    msg = _refused(tmp_path, cache_dir)
    assert td.FILES[file] in msg
    for part in expect:
        assert part in msg, msg


def test_location_off_the_chromosome(demo, tmp_path, cache_dir):
    layout, _s, genome, _d = demo
    dst = _copy(layout.root, tmp_path)
    _edit(dst / td.FILES["trip_table"], "hk1\tchr1\t208228", f"hk1\tchr1\t{genome.lengths['chr1']}")
    assert "off chr1" in _refused(tmp_path, cache_dir)


def test_demo_is_deterministic(cache_dir, tmp_path):
    layout = ensure_demo(cache_dir)
    other = tmp_path / "root"
    other.mkdir()
    shutil.copy(layout.truth, other / "demo_truth.json")
    td.generate(other)
    for f in (*td.FILES.values(), td.TRUTH_NAME):
        assert (other / td.TRIP_DIR / f).read_bytes() == (layout.root / td.TRIP_DIR / f).read_bytes()
