"""Spec numbers (#16, #10): every numeric key is bounded, and a bad value is one line naming the key.

The bounds are declared on the keys (``seqbench.spec.SCHEMA``, each experiment's ``inputs``);
``parse_spec`` checks them before anything runs.  Ensemble geometry: a member whose readout bins
(landmark bin + ``bin_window``) leave the model's output is refused, at spec time when the
geometry is known and per landmark at materialization.  Known answers are computed by hand for
the Enformer geometry (L = 393,216, offset 139,264, 896 bins of 128 bp) in the comments.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

import seqbench.spec as spec_mod
from seqbench.keys import Key
from seqbench.models.base import ENFORMER_GEOMETRY, Geometry
from seqbench.registry import BUILTINS, get_experiment
from seqbench.sequence.ensemble import Ensemble, check_members, members_off_output
from seqbench.spec import SCHEMA, SpecError, check_input_files, deep_merge, parse_spec

ORIGIN = "t.toml"


def _parse(tmp_path: Path, raw: dict, experiment: str = "multiplicativity"):
    return parse_spec(deep_merge({"experiment": experiment}, raw), origin=ORIGIN, base_dir=tmp_path)


def _refused(tmp_path: Path, raw: dict, experiment: str = "multiplicativity") -> str:
    with pytest.raises(SpecError) as err:
        _parse(tmp_path, raw, experiment)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{ORIGIN}: ")
    return msg[len(ORIGIN) + 2 :]


# ---- global keys --------------------------------------------------------------------------------

GLOBAL_CASES = [
    ({"seed": -1}, "seed = -1; expected >= 0"),
    ({"seed": 1.0}, "seed = 1.0 is a float; expected int"),
    ({"model": {"batch_size": 0}}, "model.batch_size = 0; expected >= 1"),
    ({"model": {"batch_size": True}}, "model.batch_size = True is a bool; expected int or str"),
    ({"model": {"batch_size": "fast"}}, "model.batch_size = 'fast'; expected a whole number >= 1 or \"auto\""),
    ({"model": {"precision": "fp16"}}, "model.precision = 'fp16'; expected one of fp32, tf32, bf16"),
    ({"model": {"xla": 1}}, "model.xla = 1 is an int; expected bool"),
    ({"model": {"sequence_length": 0}}, "model.sequence_length = 0; expected >= 1"),
    ({"model": {"bin_size": 0}}, "model.bin_size = 0; expected >= 1"),
    ({"model": {"offset": -1}}, "model.offset = -1; expected >= 0"),
    ({"model": {"n_bins": 0}}, "model.n_bins = 0; expected >= 1"),
    ({"runtime": {"replicas": -1}}, "runtime.replicas = -1; expected >= 0"),
    ({"runtime": {"max_replicas": -1}}, "runtime.max_replicas = -1; expected >= 0"),
    ({"runtime": {"shard_size": 0}}, "runtime.shard_size = 0; expected >= 1"),
    ({"runtime": {"shard_size": -5}}, "runtime.shard_size = -5; expected >= 1"),
    ({"runtime": {"max_in_flight": 0}}, "runtime.max_in_flight = 0; expected >= 1"),
    ({"runtime": {"object_store_mb": 64}}, "runtime.object_store_mb = 64; expected >= 75"),
    ({"runtime": {"num_cpus": 0}}, "runtime.num_cpus = 0; expected >= 1"),
    ({"runtime": {"cpus_per_replica": -0.5}}, "runtime.cpus_per_replica = -0.5; expected >= 0"),
    ({"runtime": {"materialize_cpus": -1}}, "runtime.materialize_cpus = -1; expected >= 0"),
    ({"runtime": {"gpus_per_replica": -1}}, "runtime.gpus_per_replica = -1; expected >= 0"),
    ({"runtime": {"gpus_per_replica": math.nan}}, "runtime.gpus_per_replica = nan; expected a finite number >= 0"),
    ({"runtime": {"gpus_per_replica": math.inf}}, "runtime.gpus_per_replica = inf; expected a finite number >= 0"),
    (
        {"runtime": {"gpus_per_replica": 1.5}},
        "runtime.gpus_per_replica = 1.5; expected 0, a fraction of one GPU (<= 1) or a whole number",
    ),
    # fractional shifts were truncated by int(s): 0.5 bp became 0; a TOML float 1.0 is refused too
    ({"ensemble": {"shifts": [0, 0.5]}}, "ensemble.shifts[1] = 0.5 is a float; expected int"),
    ({"ensemble": {"shifts": [-43, 1.0]}}, "ensemble.shifts[1] = 1.0 is a float; expected int"),
    ({"ensemble": {"shifts": [True]}}, "ensemble.shifts[0] = True is a bool; expected int"),
    ({"ensemble": {"shifts": "0"}}, "ensemble.shifts = '0' is a str; expected list"),
    ({"ensemble": {"shifts": []}}, "ensemble.shifts = []; expected at least one"),
    ({"ensemble": {"shifts": [0, 43, 0]}}, "ensemble.shifts = [0, 43, 0] repeats 0; expected distinct values"),
    ({"ensemble": {"strands": ["+", "x"]}}, "ensemble.strands[1] = 'x'; expected one of +, -"),
    ({"ensemble": {"strands": ["+", 1]}}, "ensemble.strands[1] = 1 is an int; expected str"),
    ({"ensemble": {"strands": ["-", "-"]}}, "ensemble.strands = ['-', '-'] repeats '-'; expected distinct values"),
    ({"ensemble": {"strands": []}}, "ensemble.strands = []; expected at least one"),
    ({"ensemble": {"bin_window": [1]}}, "ensemble.bin_window = [1] has 1 elements; expected exactly 2"),
    ({"ensemble": {"bin_window": [-1, 0, 1]}}, "ensemble.bin_window = [-1, 0, 1] has 3 elements; expected exactly 2"),
    ({"ensemble": {"bin_window": [-1, 1.0]}}, "ensemble.bin_window[1] = 1.0 is a float; expected int"),
    ({"ensemble": {"bin_window": [2, 1]}}, "ensemble.bin_window = [2, 1]; expected [first, last] with first <= last"),
]


@pytest.mark.parametrize(("raw", "expected"), GLOBAL_CASES, ids=[m.split(" ")[0] for _, m in GLOBAL_CASES])
def test_bad_global_value_is_one_line_naming_the_key(tmp_path, raw, expected):
    assert _refused(tmp_path, raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        {"seed": 0},
        {"model": {"batch_size": 1}},
        {"model": {"batch_size": "auto", "precision": "tf32", "xla": False, "members_on_device": True}},
        {"runtime": {"replicas": 0, "max_replicas": 0, "shard_size": 1, "max_in_flight": 1, "object_store_mb": 75,
                     "num_cpus": 1, "cpus_per_replica": 0, "materialize_cpus": 0.25, "gpus_per_replica": 0}},
        {"runtime": {"gpus_per_replica": 0.5}},
        {"runtime": {"gpus_per_replica": 2}},
        {"runtime": {"gpus_per_replica": 2.0}},
        {"ensemble": {"shifts": [-57215, 0, 57216], "strands": ["-"], "bin_window": [0, 0]}},
    ],
)
def test_values_at_the_bounds_are_accepted(tmp_path, raw):
    _parse(tmp_path, raw)


def test_shifts_are_kept_exactly(tmp_path):
    spec = _parse(tmp_path, {"ensemble": {"shifts": [-2, 0, 3], "bin_window": [-2, 0]}})
    assert spec.ensemble.shifts == (-2, 0, 3) and spec.ensemble.bin_window == (-2, 0)
    assert all(type(s) is int for s in spec.ensemble.shifts)


# ---- experiment inputs --------------------------------------------------------------------------

INPUT_CASES = [
    # max_promoters = -2 sliced [:-2]: "all but the last two"
    ("multiplicativity", {"max_promoters": -2}, "inputs.max_promoters = -2; expected >= 0"),
    ("multiplicativity", {"max_enhancers": -1}, "inputs.max_enhancers = -1; expected >= 0"),
    ("multiplicativity", {"max_backgrounds": -1}, "inputs.max_backgrounds = -1; expected >= 0"),
    ("multiplicativity", {"max_promoters": True}, "inputs.max_promoters = True is a bool; expected int"),
    ("multiplicativity", {"promoter_width": 0}, "inputs.promoter_width = 0; expected >= 2"),
    ("enhancer-knockdown", {"shuffles": 0}, "inputs.shuffles = 0; expected >= 1"),
    ("enhancer-knockdown", {"max_genes": -1}, "inputs.max_genes = -1; expected >= 0"),
    ("enhancer-knockdown", {"max_pairs": -3}, "inputs.max_pairs = -3; expected >= 0"),
    ("enhancer-knockdown", {"effect_threshold_percent": -10}, "inputs.effect_threshold_percent = -10; expected >= 0"),
    ("enhancer-knockdown", {"strong_percent": -1.5}, "inputs.strong_percent = -1.5; expected >= 0"),
    ("enhancer-knockdown", {"weak_max_distance": -8000}, "inputs.weak_max_distance = -8000; expected >= 0"),
    ("enhancer-knockdown", {"n_total": 0}, "inputs.n_total = 0; expected >= 1"),
    ("enhancer-knockdown", {"top_strongest": -1}, "inputs.top_strongest = -1; expected >= 0"),
    ("enhancer-knockdown", {"datasets": ["fulco2019", "fulco"]},
     "inputs.datasets[1] = 'fulco'; expected one of fulco2019, gasperini2019"),
    ("enhancer-shift", {"distances": [20000, -3]}, "inputs.distances[1] = -3; expected >= 1"),
    ("enhancer-shift", {"distances": [20000, 0]}, "inputs.distances[1] = 0; expected >= 1"),
    ("enhancer-shift", {"distances": [20000.5]}, "inputs.distances[0] = 20000.5 is a float; expected int"),
    ("enhancer-shift", {"all_enhancers_distances": [-2]}, "inputs.all_enhancers_distances[0] = -2; expected >= 1"),
    ("enhancer-shift", {"compare_distance": 0}, "inputs.compare_distance = 0; expected >= 1"),
    ("enhancer-shift", {"min_distance": -1}, "inputs.min_distance = -1; expected >= 0"),
    ("enhancer-shift", {"shuffles": 0}, "inputs.shuffles = 0; expected >= 1"),
    ("enhancer-shift", {"n_bootstrap": -1}, "inputs.n_bootstrap = -1; expected >= 1"),
    ("enhancer-shift", {"max_other_enhancers": -1}, "inputs.max_other_enhancers = -1; expected >= 0"),
    ("promoter-mpra", {"ism": "yes"}, "inputs.ism = 'yes' is a str; expected bool"),
    ("promoter-mpra", {"occlusion": 1}, "inputs.occlusion = 1 is an int; expected bool"),
    ("promoter-mpra", {"ism_start": -1}, "inputs.ism_start = -1; expected >= 0"),
    ("promoter-mpra", {"ism_end": 0}, "inputs.ism_end = 0; expected >= 1"),
    ("promoter-mpra", {"insert_types": ["full", "plasmid"]},
     "inputs.insert_types[1] = 'plasmid'; expected one of minimal, full, full_rv"),
    ("promoter-enhancer-mpra", {"min_barcodes": 0}, "inputs.min_barcodes = 0; expected >= 1"),
    ("promoter-enhancer-mpra", {"min_dna_input": -1}, "inputs.min_dna_input = -1; expected >= 0"),
    ("promoter-enhancer-mpra", {"max_enhancers": -1}, "inputs.max_enhancers = -1; expected >= 0"),
    ("saturation-mutagenesis", {"max_loci": -1}, "inputs.max_loci = -1; expected >= 0"),
    ("saturation-mutagenesis", {"calibration_loci": ["F9"]},
     "inputs.calibration_loci = ['F9'] has 1 elements; expected exactly 2"),
    ("constructs", {"group_by": ["gene", 3]}, "inputs.group_by[1] = 3 is an int; expected str"),
]


@pytest.mark.parametrize(
    ("experiment", "inputs", "expected"), INPUT_CASES, ids=[f"{e}-{m.split(' ')[0]}" for e, _, m in INPUT_CASES]
)
def test_bad_input_value_is_one_line_naming_the_key(tmp_path, experiment, inputs, expected):
    assert _refused(tmp_path, {"inputs": inputs}, experiment) == expected


# ---- every numeric key is bounded ---------------------------------------------------------------

#: numeric keys that truly have no bound, and why
UNBOUNDED: dict[str, str] = {
    "ensemble.shifts": "bounded by the model's geometry, not a constant: Ensemble.check_geometry / check_members",
    "ensemble.bin_window": "bounded by the model's geometry, not a constant: Ensemble.check_geometry / check_members",
    "promoter-mpra: inputs.baseline_tata_position": (
        "a label matched exactly against the TATA-shift table's TATA_position column (negative: upstream);"
        " a value not in the table is refused by expand, naming the key"
    ),
}


def _keys() -> list[tuple[str, Key]]:
    out: list[tuple[str, Key]] = []
    for name, v in SCHEMA.items():
        if isinstance(v, Key):
            out.append((name, v))
        elif isinstance(v, dict):
            out += [(f"{name}.{k}", key) for k, key in v.items()]
    for exp in BUILTINS:
        out += [(f"{exp.name}: inputs.{k}", key) for k, key in exp.inputs.items()]
    return out


def _numeric(key: Key) -> bool:
    types = key.type if isinstance(key.type, tuple) else (key.type,)
    if list in types and key.item is not None:
        types = key.item if isinstance(key.item, tuple) else (key.item,)
    return any(t in (int, float) for t in types) and bool not in types


def test_every_numeric_key_declares_its_bounds():
    keys = _keys()
    assert len(keys) > 60  # the walk sees the global keys and every experiment's inputs
    unbounded = [
        n for n, k in keys if _numeric(k) and k.min is None and k.max is None and not k.choices and n not in UNBOUNDED
    ]
    assert not unbounded, f"numeric keys without min, max or choices (bound them, or allow-list with a reason): " \
        f"{unbounded}"
    stale = set(UNBOUNDED) - {n for n, k in keys if _numeric(k) and k.min is None and k.max is None}
    assert not stale, f"allow-listed keys that are bounded now or gone: {stale}"


def test_every_list_key_declares_its_element_type():
    untyped = [n for n, k in _keys() if k.type is list and k.item is None]
    assert not untyped, f"list keys without item=: {untyped}"


def test_every_default_is_within_its_declaration():
    from seqbench.keys import check_value

    for name, key in _keys():
        if key.default is not None:
            check_value(name, key, key.default, "default")


# ---- ensemble geometry: hand-computed known answers for Enformer ---------------------------------
#
# L = 393,216; offset 139,264; 896 bins of 128 bp.  The landmark at the window centre, input position
# L // 2 = 196,608, is in bin (196,608 - 139,264) / 128 = 448 on the + strand; on the - strand the
# input is reversed: position 393,215 - 196,608 = 196,607, bin 447 (= 895 - 448).
# With bin_window [-1, 1] a member reads bins b-1..b+1, so its landmark bin b must be in 1..894, that
# is its input position p in 139,264 + [128, 894*128 + 127] = [139,392, 253,823].
#   + strand, shift s: p = 196,608 - s         ->  -57,215 <= s <= 57,216
#   - strand, shift s: p = 196,607 + s         ->  -57,215 <= s <= 57,216

G = ENFORMER_GEOMETRY


def test_enformer_shift_range_by_hand():
    assert Ensemble().shift_range(G) == (-57_215, 57_216)
    assert Ensemble(strands=("+",)).shift_range(G) == (-57_215, 57_216)
    # bin_window [0, 0]: b in 0..895, p in [139,264, 253,951] -> + : -57,343..57,344; - : -57,343..57,344
    assert Ensemble(bin_window=(0, 0)).shift_range(G) == (-57_343, 57_344)
    # a landmark in bin 1 (position 139,392) on the + strand: s <= 0 keeps b >= 1
    assert Ensemble(strands=("+",)).shift_range(G, 139_392) == (-114_431, 0)


def test_check_geometry_accepts_the_largest_allowed_shifts():
    Ensemble(shifts=(-57_215, 0, 57_216)).check_geometry(G)
    Ensemble(bin_window=(-447, 447)).check_geometry(G)  # + bins 1..895, - bins 0..894


@pytest.mark.parametrize(
    ("ensemble", "expected"),
    [
        (Ensemble(shifts=(-100_000, 0, 43)),
         "ensemble.shifts = [-100000, 0, 43]: shift -100000 moves the landmark's bins (bin_window [-1, 1]) off the"
         " model's output; expected -57215 <= shift <= 57216 for a landmark at the window centre (the model's"
         " output: 896 bins of 128 bp)"),
        (Ensemble(shifts=(0, 57_217)),
         "ensemble.shifts = [0, 57217]: shift 57217 moves the landmark's bins (bin_window [-1, 1]) off the"
         " model's output; expected -57215 <= shift <= 57216 for a landmark at the window centre (the model's"
         " output: 896 bins of 128 bp)"),
        (Ensemble(shifts=(-57_216,), strands=("-",)),
         "ensemble.shifts = [-57216]: shift -57216 moves the landmark's bins (bin_window [-1, 1]) off the"
         " model's output; expected -57215 <= shift <= 57216 for a landmark at the window centre (the model's"
         " output: 896 bins of 128 bp)"),
        # - strand landmark bin 447: 447 - 448 = -1 is off
        (Ensemble(bin_window=(-448, 0)),
         "ensemble.bin_window = [-448, 0] reads bins off the model's output around the landmark bin 447/448 (the"
         " window centre); expected -447 <= first <= last <= 447 (the model's output: 896 bins of 128 bp)"),
        # + strand landmark bin 448: 448 + 448 = 896 is off
        (Ensemble(bin_window=(0, 448), strands=("+",)),
         "ensemble.bin_window = [0, 448] reads bins off the model's output around the landmark bin 448 (the"
         " window centre); expected -448 <= first <= last <= 447 (the model's output: 896 bins of 128 bp)"),
        (Ensemble(bin_window=(-500, 500)),
         "ensemble.bin_window = [-500, 500] reads 1001 bins; expected at most 896 (the model's output: 896 bins"
         " of 128 bp)"),
    ],
)
def test_check_geometry_refuses_members_off_the_output(ensemble, expected):
    with pytest.raises(ValueError) as err:
        ensemble.check_geometry(G)
    assert str(err.value) == expected


def test_spec_refuses_a_shift_off_the_enformer_output(tmp_path):
    msg = _refused(tmp_path, {"ensemble": {"shifts": [-100_000, 0, 43]}})
    assert msg.startswith("ensemble.shifts = [-100000, 0, 43]: shift -100000 moves the landmark's bins")
    assert "expected -57215 <= shift <= 57216" in msg


def test_spec_checks_a_declared_geometry(tmp_path):
    # L = 1024, offset 256, 4 bins of 128: centre 512 in bin 2 (+), 1023 - 512 = 511 in bin 1 (-); bins
    # b-1..b+1 need b in 1..2, p in [384, 639]: + p = 512 - s, - p = 511 + s -> -127 <= s <= 128
    geo = {"sequence_length": 1024, "bin_size": 128, "offset": 256, "n_bins": 4}
    _parse(tmp_path, {"model": {"kind": "planted", **geo}, "ensemble": {"shifts": [-127, 128]}})
    msg = _refused(tmp_path, {"model": {"kind": "planted", **geo}, "ensemble": {"shifts": [0, 129]}})
    assert "shift 129" in msg and "expected -127 <= shift <= 128" in msg


def test_spec_without_a_known_geometry_leaves_the_check_to_planning(tmp_path):
    # a planted model of the user's (model.handle) has its geometry read from its files when the job is planned
    (tmp_path / "mine").mkdir()
    spec = _parse(tmp_path, {"model": {"kind": "planted", "handle": "mine"}, "ensemble": {"shifts": [-100_000, 0]}})
    with pytest.raises(ValueError, match="shift -100000"):
        spec.ensemble.check_geometry(G)
    # the built-in one declares Enformer's geometry: refused at once
    with pytest.raises(SpecError, match="shift -100000"):
        _parse(tmp_path, {"model": {"kind": "planted"}, "ensemble": {"shifts": [-100_000, 0]}})


def test_members_off_output_for_a_landmark_off_centre():
    # landmark at 139,392 (bin 1 on +; - strand: 393,215 - 139,392 = 253,823 -> bin 894) with shifts -43, 0, 43:
    # +:+43 -> p = 139,349, bin 0, reads bin -1; -:+43 -> p = 253,866, bin 895, reads bin 896
    ens = Ensemble()
    assert ens.members == [("+", -43), ("+", 0), ("+", 43), ("-", -43), ("-", 0), ("-", 43)]
    assert members_off_output(139_392, ens, G) == [2, 5]
    assert members_off_output(196_608, ens, G) == []
    with pytest.raises(ValueError) as err:
        check_members(139_392, ens, G)
    assert str(err.value) == (
        "landmark at input position 139392 (shift 0): 2 of 6 ensemble members read bins off the model's output"
        " 0..895, first +:+43 (bins -1..1); ensemble.shifts: expected -114431 <= shift <= 0 for this landmark"
        " with bin_window [-1, 1]"
    )
    check_members(196_608, ens, G)


@pytest.mark.parametrize("geometry", [G, Geometry(1024, 128, 256, 4), Geometry(1000, 10, 100, 80)])
@pytest.mark.parametrize("strands", [("+",), ("-",), ("+", "-")])
@pytest.mark.parametrize("bin_window", [(-1, 1), (0, 0), (-2, 0)])
def test_shift_range_agrees_with_the_bins_predict_reads(geometry, strands, bin_window):
    """shift_range (closed form) against members_off_output (member_landmarks + window_bins, as predict_shard)."""
    L = geometry.sequence_length
    for position in (L // 2, geometry.offset + 3 * geometry.bin_size, L - geometry.offset - 1):
        lo, hi = Ensemble(strands=strands, bin_window=bin_window).shift_range(geometry, position)
        for s in [lo - 1, lo, hi, hi + 1, 0, 1, -1]:
            ens = Ensemble(shifts=(s,), strands=strands, bin_window=bin_window)
            inside = not members_off_output(position, ens, geometry)
            assert inside == (lo <= s <= hi), (position, s, lo, hi)


# ---- a named file inside a list -----------------------------------------------------------------


def test_missing_file_inside_a_list_is_refused_naming_the_element(tmp_path, monkeypatch):
    base = get_experiment("multiplicativity")
    exp = dataclasses.replace(
        base,
        inputs={**base.inputs, "extra_tables": Key(list, [], "more tables", item=str, path=True)},
    )
    monkeypatch.setattr(spec_mod, "get_experiment", lambda name: exp)
    (tmp_path / "a.tsv").write_text("x\n")
    spec = _parse(tmp_path, {"inputs": {"extra_tables": ["a.tsv", "nowhere.tsv"]}})
    assert spec.inputs["extra_tables"] == [tmp_path / "a.tsv", tmp_path / "nowhere.tsv"]
    with pytest.raises(SpecError) as err:
        check_input_files(spec)
    assert str(err.value) == (
        f"{ORIGIN}: inputs.extra_tables[1] = 'nowhere.tsv': no such file or directory ({tmp_path / 'nowhere.tsv'});"
        " expected an existing file or folder (relative to data_root)"
    )
    check_input_files(_parse(tmp_path, {"inputs": {"extra_tables": ["a.tsv"]}}))
    with pytest.raises(SpecError, match=r"inputs.extra_tables\[0\] = 1 is an int; expected str"):
        _parse(tmp_path, {"inputs": {"extra_tables": [1]}})


def test_planning_refuses_a_shift_off_the_planted_models_output(cache_dir):
    """The planted model's geometry is known only at planning: plan_job refuses there, before any job exists."""
    from seqbench.demo.synthetic import ensure_demo
    from seqbench.experiments.multiplicativity import demo as mx_demo
    from seqbench.runtime.submit import plan_job
    from seqbench.spec import deep_merge, parse_spec

    layout = ensure_demo(cache_dir)
    raw = deep_merge(mx_demo.demo_spec(layout.root), {"ensemble": {"shifts": [-100_000, 0]}})
    with pytest.raises(SpecError) as err:
        plan_job(parse_spec(raw, origin="t.toml", base_dir=layout.root))
    assert str(err.value).startswith("t.toml: ensemble.shifts = [-100000, 0]: shift -100000 moves the landmark's bins")


@pytest.mark.parametrize(
    ("geometry", "ensemble"),
    [
        (Geometry(1024, 128, 256, 4), Ensemble(shifts=(-5, 0, 5), strands=("+", "-"), bin_window=(-1, 1))),
        (Geometry(1000, 10, 100, 80), Ensemble(shifts=(-43, 0, 43), strands=("+",), bin_window=(-2, 2))),
        (Geometry(1000, 10, 100, 80), Ensemble(shifts=(0, 32, 64), strands=("-",), bin_window=(0, 0))),
        (Geometry(64, 8, 0, 8), Ensemble(shifts=(-30, 30), strands=("+", "-"), bin_window=(-3, 3))),
    ],
)
def test_valid_positions_is_the_brute_force_set(geometry, ensemble):
    """The cached range a shard checks against equals, position by position, the members check."""
    from seqbench.sequence.ensemble import valid_positions

    valid = [p for p in range(geometry.sequence_length) if not members_off_output(p, ensemble, geometry)]
    span = valid_positions(ensemble, geometry)
    if not valid:
        assert span is None
    else:
        assert span == (valid[0], valid[-1]) and valid == list(range(valid[0], valid[-1] + 1))
