"""Construct geometry, design and spec checks of the enhancer-shift experiment (no Ray, no model).

The expected windows are built here independently of the construct engine: the chromosome with
the element cut out and re-inserted by plain array concatenation, then the window centred on the
TSS-bin centre.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from seqbench.experiments.enhancer_shift import demo as es_demo
from seqbench.experiments.enhancer_shift import design as es
from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.sequence.constructs import materialize
from seqbench.sequence.shuffles import derive_seed, shuffle
from seqbench.spec import SpecError, deep_merge, parse_spec

L = 393_216
CHROM_LEN = 700_000
TSS = 350_064  # a TSS-bin centre
RNG = np.random.default_rng(7)
CHROM = RNG.integers(0, 4, CHROM_LEN).astype(np.uint8)


def read(chrom: str, start: int, end: int) -> np.ndarray:
    """A source reader over ``CHROM`` (N beyond its ends), as ``Genome.read_padded``."""
    out = np.full(end - start, 4, dtype=np.uint8)
    lo, hi = max(start, 0), min(end, CHROM_LEN)
    if hi > lo:
        out[lo - start : hi - start] = CHROM[lo:hi]
    return out


def _builder(pairs, distances=(3000, 20000, 96000), others=(20000,), shuffles=2, convention="midpoint"):
    probe = es.EnhancerShiftBuilder((), (), tuple(distances), tuple(others), shuffles, "mono", convention, 0)
    counts = [es.n_pair_constructs(p, probe) for p in pairs]
    first = tuple(int(x) for x in np.concatenate([[0], np.cumsum(counts)[:-1]]))
    return es.EnhancerShiftBuilder(tuple(pairs), first, tuple(distances), tuple(others), shuffles, "mono",
                                   convention, 1234)


def _pair(signed_distance: int, validated: bool = True, key: str = "p") -> es.ShiftPair:
    mid = TSS + signed_distance
    return es.ShiftPair(key, "chrA", TSS, mid - 1000, mid + 1000, signed_distance, validated)


def _window(construct) -> np.ndarray:
    codes, lm = materialize(construct, read, sequence_length=L)
    assert lm == L // 2  # the TSS-bin centre sits at L/2 (window centred on it)
    return codes


def _expected_window(pair: es.ShiftPair, insert_codes: np.ndarray, rel_start: int) -> np.ndarray:
    """Cut the element, insert ``insert_codes`` to start ``rel_start`` bp from the TSS, centre on the TSS."""
    cut = np.concatenate([CHROM[: pair.start], CHROM[pair.end :]])
    t = pair.tss if pair.tss < pair.start else pair.tss - (pair.end - pair.start)
    # an insert before the TSS pushes the TSS right by its length
    at = t + rel_start + (insert_codes.size if rel_start < 0 else 0)  # position in the cut sequence
    edited = np.concatenate([cut[:at], insert_codes, cut[at:]])
    t_e = t + (insert_codes.size if at <= t else 0)
    assert np.array_equal(edited[t_e - 64 : t_e + 64], CHROM[pair.tss - 64 : pair.tss + 64])
    return edited[t_e - L // 2 : t_e + L // 2]


@pytest.mark.parametrize("native", [-30_000, -5_504, 4_100, 60_000])
@pytest.mark.parametrize("convention", ["midpoint", "authors"])
def test_cut_and_reinsert_puts_the_element_at_the_distance(native, convention):
    pair = _pair(native)
    b = _builder([pair], convention=convention)
    element = CHROM[pair.start : pair.end]
    n_ins = 2 + b.shuffles
    for k, d in enumerate(b.distances):
        for side, direction in enumerate((-1, 1)):
            slot = 1 + 2 * k + side
            cid = 1 + slot * n_ins  # the "enhancer" insert
            c = b(cid)
            assert c.key == f"p|{direction * d:+d}|enhancer"
            got = _window(c)
            rel = direction * d - 1000 if convention == "midpoint" else direction * d
            want = _expected_window(pair, element, rel)
            np.testing.assert_array_equal(got, want)
            # the element starts `rel` bp from the TSS-bin centre; its midpoint distance:
            np.testing.assert_array_equal(got[L // 2 + rel : L // 2 + rel + 2000], element)
            mid = abs(rel + 1000)
            assert mid == (d if convention == "midpoint" else d + 1000 if direction > 0 else d - 1000)
            # the N block and the shuffles go to the same place
            neutral = _window(b(cid + 1))
            assert (neutral[L // 2 + rel : L // 2 + rel + 2000] == 4).all()
            np.testing.assert_array_equal(np.delete(neutral, np.s_[L // 2 + rel : L // 2 + rel + 2000]),
                                          np.delete(got, np.s_[L // 2 + rel : L // 2 + rel + 2000]))
            for r in range(b.shuffles):
                sh = _window(b(cid + 2 + r))
                want_sh = shuffle(element, derive_seed(1234, "p", r), "mono")
                np.testing.assert_array_equal(sh[L // 2 + rel : L // 2 + rel + 2000], want_sh)


def test_removed_and_native_constructs():
    pair = _pair(-12_000)
    b = _builder([pair])
    element = CHROM[pair.start : pair.end]
    ref = CHROM[TSS - L // 2 : TSS + L // 2]
    removed = _window(b(0))
    cut = np.concatenate([CHROM[: pair.start], CHROM[pair.end :]])
    np.testing.assert_array_equal(removed, cut[TSS - 2000 - L // 2 : TSS - 2000 + L // 2])
    np.testing.assert_array_equal(_window(b(1)), ref)  # the element in place: the reference window
    at = pair.start - (TSS - L // 2)
    masked = _window(b(2))
    assert (masked[at : at + 2000] == 4).all()
    np.testing.assert_array_equal(np.delete(masked, np.s_[at : at + 2000]), np.delete(ref, np.s_[at : at + 2000]))
    for r in range(2):
        sh = _window(b(3 + r))
        np.testing.assert_array_equal(sh[at : at + 2000], shuffle(element, derive_seed(1234, "p", r), "mono"))
        assert np.array_equal(np.sort(sh[at : at + 2000]), np.sort(element))  # composition kept


def test_reinserting_at_the_native_distance_gives_the_reference():
    # an element whose midpoint is exactly 20 kb downstream: the +20 kb placement is the reference
    pair = _pair(20_000)
    b = _builder([pair])
    slot = 1 + 2 * b.distances.index(20000) + 1
    got = _window(b(1 + slot * (2 + b.shuffles)))
    np.testing.assert_array_equal(got, CHROM[TSS - L // 2 : TSS + L // 2])


def test_same_shuffle_at_every_placement_and_different_replicates():
    b = _builder([_pair(-7_000)], shuffles=3)
    seeds = {}
    for cid in range(es.n_pair_constructs(b.pairs[0], b)):
        c = b(cid)
        label = c.key.rsplit("|", 1)[1]
        if label.startswith("shuffle"):
            payloads = [e.payload for e in c.edits if hasattr(e.payload, "seed")]
            assert len(payloads) == 1
            seeds.setdefault(label, set()).add(payloads[0].seed)
    assert sorted(seeds) == ["shuffle0", "shuffle1", "shuffle2"]
    assert all(len(v) == 1 for v in seeds.values())  # one seed per replicate, whatever the placement
    assert len({next(iter(v)) for v in seeds.values()}) == 3
    assert seeds["shuffle1"] == {derive_seed(1234, "p", 1)}


def test_design_table_matches_the_builder_and_is_lazy():
    pairs = [_pair(-30_000, key="a"), _pair(8_000, validated=False, key="b"), _pair(45_000, key="c")]
    b = _builder(pairs)
    table = es.design_table(pairs, b.distances, b.other_distances, b.shuffles)
    n_valid = 1 + (1 + 2 * 3) * (2 + 2)
    n_other = 1 + (1 + 2 * 1) * (2 + 2)
    assert len(table) == 2 * n_valid + n_other
    assert (table["construct_id"].to_numpy() == np.arange(len(table))).all()
    for row in table.itertuples():
        c = b(int(row.construct_id))
        key, where, label = (c.key.split("|") + [""])[:3]
        assert key == row.ziga_key
        if row.placement == "removed":
            assert where == "removed" and row.insert == "none" and row.replicate == -1
        elif row.placement == "native":
            pair = next(p for p in pairs if p.key == key)
            assert where == "native" and row.signed_distance == pair.signed_distance
        else:
            assert int(where) == row.signed_distance and row.distance == abs(row.signed_distance)
        if row.insert == "shuffle":
            assert label == f"shuffle{row.replicate}"
        elif row.placement != "removed":
            assert label == row.insert and row.replicate == -1
    with pytest.raises(IndexError):
        b(len(table))
    with pytest.raises(IndexError):
        b(-1)
    assert len(pickle.dumps(b)) < 5_000  # the builder holds pairs, not constructs


def test_insert_position_geometry_closed_form():
    # downstream element, upstream placement: inserted before source p < tss, the insert occupies
    # edited [p, p + W) and the TSS moves to tss + W, so p - (tss + W) = -4000: p = tss - 2000
    assert es.insert_source_position(1_000_000, 1_020_000, 1_022_000, -4_000) == 998_000
    # upstream element, downstream placement: the cut moves the TSS and p by -W; p - W = (tss - W) + 2000
    assert es.insert_source_position(1_000_000, 980_000, 982_000, 2_000) == 1_002_000
    with pytest.raises(ValueError, match="TSS"):
        es.insert_source_position(1_000_000, 999_000, 1_001_000, 5_000)
    with pytest.raises(ValueError, match="cover"):
        es.insert_source_position(1_000_000, 980_000, 982_000, -1_000)
    assert es.insert_midpoint_distance(3000, -1, 2000, "authors") == 2000
    assert es.insert_midpoint_distance(3000, 1, 2000, "authors") == 4000
    assert es.insert_midpoint_distance(3000, -1, 2000, "midpoint") == 3000


@pytest.fixture(scope="module")
def demo_root(cache_dir):
    from seqbench.demo.crispri import ensure_crispri_inputs
    from seqbench.demo.synthetic import ensure_demo

    root = ensure_demo(cache_dir).root
    ensure_crispri_inputs(root)
    return root


def _spec(root, **inputs):
    return parse_spec(deep_merge(es_demo.demo_spec(root), {"inputs": inputs}), origin="t.toml", base_dir=root)


def test_demo_design_counts_and_selection(demo_root):
    from seqbench.genome import Genome

    spec = _spec(demo_root)
    genome = Genome(spec.fasta)
    shift, other = es.select_pairs(spec, genome)
    assert shift["validated"].all() and not other["validated"].any()
    assert (shift["distance"] >= 3000).all() and (other["distance"] >= 3000).all()
    design = es.expand(spec, genome, ENFORMER_GEOMETRY)
    S = spec.inputs["shuffles"]
    want = len(shift) * (1 + (1 + 40) * (2 + S)) + len(other) * (1 + 3 * (2 + S))
    assert design.n_constructs == want
    # every construct of a few pairs materializes with the TSS at L/2
    for cid in list(range(0, 60)) + [design.n_constructs - 1]:
        codes, lm = materialize(design.build(cid), genome.read_padded, sequence_length=L)
        assert lm == L // 2 and codes.size == L


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        ({"compare_distance": 25000, "distances": [3000, 20000]}, "compare_distance = 25000"),
        ({"all_enhancers_distances": [50000]}, "all_enhancers_distances"),
        ({"distances": [500, 20000]}, "TSS bin"),
        ({"distances": [20000, 196000]}, "outside the model"),
        ({"distances": [20000, 20000]}, "must not repeat"),
        # refused with the spec (declared bounds), before expand
        ({"distances": [20000, -3]}, r"inputs.distances\[1\] = -3; expected >= 1"),
        ({"distances": [20000, 2.5]}, r"inputs.distances\[1\] = 2.5 is a float; expected int"),
        ({"shuffles": 0}, "shuffles = 0; expected >= 1"),
        ({"n_bootstrap": 0}, "n_bootstrap = 0; expected >= 1"),
    ],
)
def test_bad_inputs_are_refused_in_one_line(demo_root, inputs, match):
    from seqbench.genome import Genome

    with pytest.raises(SpecError, match=match) as err:
        spec = _spec(demo_root, **inputs)
        es.expand(spec, Genome(spec.fasta), ENFORMER_GEOMETRY)
    assert "\n" not in str(err.value) and "t.toml" in str(err.value)


def test_no_validated_enhancer_far_enough(demo_root):
    from seqbench.genome import Genome
    from seqbench.inputs.tables import InputError

    spec = _spec(demo_root, min_distance=10_000_000)
    with pytest.raises(InputError, match="no validated enhancer"):
        es.expand(spec, Genome(spec.fasta), ENFORMER_GEOMETRY)


def test_paper_job_spec():
    from pathlib import Path

    from seqbench.spec import load_spec

    root = Path(__file__).resolve().parents[2]
    spec = load_spec(root / "jobs" / "enhancer-shift.toml")
    assert spec.experiment == "enhancer-shift" and spec.model.kind == "enformer"
    assert spec.inputs["distances"] == es.PAPER_DISTANCES and len(es.PAPER_DISTANCES) == 20
    assert spec.inputs["shuffles"] == 10 and spec.inputs["n_bootstrap"] == 10_000


def test_cli_refuses_a_bad_distance_before_planning(demo_root, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from seqbench.cli import app

    monkeypatch.chdir(tmp_path)
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(
        f'experiment = "enhancer-shift"\ndata_root = "{demo_root}"\n[model]\nkind = "planted"\n'
        "[inputs]\ndistances = [3000, 20000, 250000]\n"
    )
    job = tmp_path / "job"
    res = CliRunner().invoke(app, ["submit", "enhancer-shift", "--spec", str(spec_file), "--job-dir", str(job), "-q"])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "distance 250000 bp" in lines[0] and "outside the model" in lines[0], res.stderr
    assert str(spec_file) in lines[0] and not job.exists()


def test_demo_has_its_own_observations_over_the_shared_pairs(demo_root):
    """The shift demo's tables: the shared pairs and windows, the nulls' measured effects unchanged,
    ``validated`` = planted + one false-positive null; the shared tables stay as they were."""
    import pandas as pd

    from seqbench.demo.crispri import ZIGA_RELPATH, ensure_crispri_inputs
    from seqbench.inputs import crispri

    shared_before = (demo_root / ZIGA_RELPATH).read_bytes()
    spec = _spec(demo_root)
    assert (demo_root / ZIGA_RELPATH).read_bytes() == shared_before
    assert all(str(es_demo.SHIFT_DIR) in str(spec.inputs[k]) for k in crispri.INPUT_KEYS)
    mine = crispri.load_pairs(spec.inputs).set_index("ziga_key")
    shared = crispri.load_pairs({k: str(v) for k, v in ensure_crispri_inputs(demo_root).items()}).set_index(
        "ziga_key")
    # the shared pairs less the knock-down demo's promoter-proximal elements (they hold the TSS: nothing to move)
    kinds = pd.read_csv(demo_root / ZIGA_RELPATH, sep="\t").set_index("ziga_key")["element_type"]
    assert list(mine.index) == [k for k in shared.index if kinds[k] != "proximal"]
    assert (kinds == "proximal").any()
    shared = shared.loc[mine.index]
    cols = ["chrom", "tss", "fix_start", "fix_end", "distance", "signed_distance"]
    pd.testing.assert_frame_equal(mine[cols], shared[cols])
    planted = pd.read_csv(spec.inputs["crispri_table"], sep="\t").set_index("ziga_key")["planted"].astype(bool)
    nulls = ~planted.reindex(mine.index).to_numpy()
    np.testing.assert_array_equal(mine.loc[nulls, "observed_percent"], shared.loc[nulls, "observed_percent"])
    far_nulls = mine[nulls & (mine["distance"] >= 3000).to_numpy()]
    false_positive = far_nulls["observed_log2fc"].idxmin()
    assert set(mine.index[mine["validated"]]) == set(planted.index[planted]) | {false_positive}
    assert (mine.loc[planted.index[planted], "observed_percent"] > 0).all()
    assert spec.inputs["far_distance"] == es_demo.FAR_DISTANCE
