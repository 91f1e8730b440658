"""The Enformer-architecture cost twin (kind ``enformer-twin``): the FLOP count against TensorFlow's profiler,
the parameter count against the built module, determinism by seed, the relative shift against a loop, and
the SavedModel through seqbench's TF-Hub adapter.  Tiny configs only; the full model is a slow test."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.models.enformer_twin.config import FULL, TwinConfig, flops, parameter_counts, tiny_config, total_flops

#: two small configs of different shape (tower depth, heads, head sizes, lengths) through the same code
TINY = tiny_config()
TINY_B = tiny_config(sequence_length=2048, channels=36, tower_blocks=3, divisible_by=4, transformer_layers=1,
                     heads=3, key_size=4, value_size=12, relative_features=6, target_length=32,
                     output_heads=(("human", 5),))


def test_published_config_matches_enformer():
    """Enformer's published numbers (Avsec et al. 2021; deepmind-research enformer.py): tower filters 768..1536
    in multiples of 128, 128-bp bins, and TF-Hub's geometry (seqbench's independent ENFORMER_GEOMETRY)."""
    assert FULL.filter_list() == [768, 896, 1024, 1152, 1280, 1536]
    assert FULL.geometry == ENFORMER_GEOMETRY
    assert FULL.trunk_length == 3072 and FULL.crop == 1088
    with pytest.raises(ValueError, match="heads x value_size"):
        TwinConfig(value_size=100)


def test_flop_count_at_the_training_length_is_the_quoted_3_3_tflop():
    """The issue's ≈3.3e12 is Enformer at its 196,608-bp training length (1,536 trunk positions); TF-Hub's
    393,216 bp doubles every layer before the crop and quadruples attention's quadratic terms."""
    short = dataclasses.replace(FULL, sequence_length=196_608)
    assert total_flops(short) == pytest.approx(3.3e12, rel=0.01)
    full, half = flops(FULL), flops(short)
    assert full["tower_conv"] == 2 * half["tower_conv"]
    assert full["attention_content_logits"] == 4 * half["attention_content_logits"]
    assert full["heads"] == half["heads"]  # after the crop: 896 bins either way


@pytest.mark.parametrize("config", [TINY, TINY_B], ids=["tiny", "tiny-b"])
def test_flop_count_matches_tensorflows_profiler(config):
    """TensorFlow's own shape-based count (tf.compat.v1.profiler, float_operation) over the traced graph of one
    sequence: its Conv2D + MatMul + BatchMatMul FLOPs equal the analytic count; everything else it counts
    (elementwise ops, the analytic count's stated omissions) is a few % at this tiny width."""
    import tensorflow as tf

    from seqbench.models.enformer_twin.network import build_network

    net = build_network(config, seed=0)
    graph = tf.function(net.__call__).get_concrete_function(
        tf.TensorSpec([1, config.sequence_length, 4], tf.float32)).graph
    builder = tf.compat.v1.profiler.ProfileOptionBuilder

    def profiled(types: list[str]) -> int:
        opts = builder(builder.float_operation()).with_empty_output().with_accounted_types(types).build()
        return tf.compat.v1.profiler.profile(graph=graph, cmd="scope", options=opts).total_float_ops

    analytic = total_flops(config)
    assert profiled(["Conv2D", "MatMul", "BatchMatMul.*"]) == pytest.approx(analytic, rel=1e-6)
    everything = profiled([".*"])
    assert 1.0 < everything / analytic < 1.10, everything / analytic


@pytest.mark.parametrize("config", [TINY, TINY_B], ids=["tiny", "tiny-b"])
def test_parameter_count_matches_the_built_module(config):
    from seqbench.models.enformer_twin.network import build_network

    net = build_network(config, seed=0)
    counts = parameter_counts(config)
    assert sum(int(np.prod(v.shape)) for v in net.variables) == counts["trainable"] + counts["moving_statistics"]
    moving = sum(int(np.prod(v.shape)) for v in net.variables if "moving_" in v.name)
    assert moving == counts["moving_statistics"]


def test_relative_shift_against_a_loop():
    """After the shift, query i's logit for key j is the one for relative distance j - i."""
    import tensorflow as tf

    from seqbench.models.enformer_twin.network import relative_shift

    t = 6
    x = np.random.default_rng(3).standard_normal((2, 3, t, 2 * t - 1)).astype(np.float32)
    want = np.empty((2, 3, t, t), np.float32)
    for i in range(t):
        for j in range(t):
            want[..., i, j] = x[..., i, (j - i) + (t - 1)]  # distances are indexed from -(t - 1)
    np.testing.assert_array_equal(relative_shift(tf.constant(x)).numpy(), want)


def test_positional_features_symmetry_and_central_mask():
    from seqbench.models.enformer_twin.network import positional_features

    t, n = 16, 12
    f = positional_features(t, n).numpy()  # [31, 12], distances -15..15
    d = np.arange(-t + 1, t)
    assert f.shape == (2 * t - 1, n) and np.isfinite(f).all()
    half = n // 2
    np.testing.assert_allclose(f[:, :half], f[::-1, :half])  # symmetric in |d|
    np.testing.assert_allclose(f[:, half:], np.sign(d)[:, None] * f[:, :half])
    k = n // 6  # the central masks: feature m (1-based) is 1 where |d| < 2^m - 1
    for m in range(1, k + 1):
        np.testing.assert_array_equal(f[:, k + m - 1], (np.abs(d) < 2**m - 1).astype(np.float32))


def test_weights_and_outputs_are_deterministic_by_seed():
    import tensorflow as tf

    from seqbench.models.enformer_twin.network import build_network

    x = tf.one_hot(np.random.default_rng(1).integers(0, 4, (2, TINY.sequence_length)), 4)
    a, b, c = (build_network(TINY, seed=s) for s in (7, 7, 8))
    out_a, out_b, out_c = (m.predict_on_batch(x) for m in (a, b, c))
    assert set(out_a) == {"human", "mouse"}
    assert out_a["human"].shape == (2, 64, 7) and out_a["mouse"].shape == (2, 64, 3)
    np.testing.assert_array_equal(out_a["human"].numpy(), out_b["human"].numpy())
    assert not np.allclose(out_a["human"].numpy(), out_c["human"].numpy())
    assert np.isfinite(out_a["human"].numpy()).all() and (out_a["human"].numpy() > 0).all()  # softplus


def test_bfloat16_build_is_the_same_draws_rounded_and_stays_close_to_float32():
    """bf16 weights are the float32 draws rounded (every variable, bit for bit), the interface keeps float32
    in and out, and the outputs stay within bfloat16's precision of the float32 network's (8 bits of
    mantissa: a relative step of 2**-8 per rounding, a few percent after a few layers)."""
    import tensorflow as tf

    from seqbench.models.enformer_twin.network import build_network

    x = tf.one_hot(np.random.default_rng(1).integers(0, 4, (2, TINY.sequence_length)), 4)
    f32, b16 = build_network(TINY, seed=7), build_network(TINY, seed=7, dtype="bfloat16")
    assert len(f32.variables) == len(b16.variables)
    for a, b in zip(f32.variables, b16.variables, strict=True):
        assert b.dtype == tf.bfloat16
        np.testing.assert_array_equal(tf.cast(a, tf.bfloat16).numpy(), b.numpy())
    out32, out16 = f32.predict_on_batch(x)["human"].numpy(), b16.predict_on_batch(x)["human"].numpy()
    assert out16.dtype == np.float32
    rel = np.abs(out16 - out32) / np.abs(out32)
    assert 0 < np.median(rel) < 2**-5 and rel.max() < 0.25
    with pytest.raises(ValueError, match="dtype 'float16'"):
        build_network(TINY, seed=7, dtype="float16")


@pytest.fixture(scope="module")
def tiny_twin(tmp_path_factory):
    from seqbench.models.enformer_twin.build import build_twin_savedmodel

    return build_twin_savedmodel(tmp_path_factory.mktemp("twin") / "enformer-twin-tiny", TINY, seed=5)


def test_savedmodel_has_tfhub_enformers_interface(tiny_twin):
    """``hub.load(path).model.predict_on_batch(x)`` -> {'human', 'mouse'}, equal to the network it was saved from."""
    import tensorflow as tf
    import tensorflow_hub as hub

    from seqbench.models.enformer_twin.network import build_network

    x = tf.one_hot(np.random.default_rng(2).integers(0, 4, (3, TINY.sequence_length)), 4)
    loaded = hub.load(str(tiny_twin))  # kept: the restored function needs its variables alive
    out = loaded.model.predict_on_batch(x)
    want = build_network(TINY, seed=5)(x)
    assert sorted(out) == ["human", "mouse"] and tuple(out["human"].shape) == (3, 64, 7)
    np.testing.assert_allclose(out["human"].numpy(), want["human"].numpy(), rtol=1e-5)
    meta = json.loads((tiny_twin / "seqbench_model.json").read_text())
    assert meta["kind"] == "enformer-twin" and "never a predictor" in meta["note"] and "RANDOM" in meta["note"]
    assert meta["flops_per_pass"] == total_flops(TINY) and TwinConfig.from_json(meta["config"]) == TINY


def test_through_seqbenchs_tfhub_adapter(tiny_twin, tmp_path):
    """kind enformer-twin with model.handle: loaded by HubModel unchanged; only requested bins and tracks come
    back (N = 0.25 on every channel); Enformer's targets file, when given, names the tracks."""
    import tensorflow as tf

    from seqbench.models.planted.reference import one_hot
    from seqbench.models.registry import ModelSpec, describe, load_model
    from seqbench.models.tfhub import HubModel

    spec = ModelSpec(kind="enformer-twin", handle=str(tiny_twin), batch_size=2)
    name, geometry, tracks, _handle = describe(spec)
    assert name == "enformer-twin-v1" and geometry == TINY.geometry and len(tracks) == 7
    model = load_model(spec)
    assert isinstance(model, HubModel)
    codes = np.random.default_rng(4).integers(0, 5, (3, TINY.sequence_length)).astype(np.uint8)  # with N
    bins = np.array([[0, 32, 63], [5, 5, 6], [31, 32, 33]], np.int32)
    idx = np.array([6, 0], np.int32)
    got = model.predict(codes, bins, idx)
    full = model._fn(tf.constant(one_hot(codes)))["human"].numpy()
    np.testing.assert_allclose(got, np.stack([full[i][bins[i]][:, idx] for i in range(3)]), rtol=1e-6)

    targets = tmp_path / "targets_human.txt"
    rows = ["index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription"]
    rows += [f"{i}\t0\tT{i}\tf\t0\t1\tsum\t{'CAGE:K562' if i == 4 else f'DNASE:cell {i}'}" for i in range(7)]
    targets.write_text("\n".join(rows) + "\n")
    from seqbench.models.base import TrackRequest

    _n, _g, named, _h = describe(dataclasses.replace(spec, targets=str(targets)))
    assert named.resolve(TrackRequest(assay="CAGE", cell_type="K562")) == 4

    from seqbench.report.job import planted_note

    assert "never a predictor" in planted_note({"kind": "enformer-twin"})  # the report's line after the name


def test_bf16_twin_through_the_adapter_with_precision_bf16(tiny_twin, tmp_path):
    """A bfloat16 build (model.precision = "bf16") loads through the same adapter: float32 in and out, its
    name says bf16, and its readout stays within bfloat16's precision of the float32 build's."""
    from seqbench.models.enformer_twin.build import build_twin_savedmodel
    from seqbench.models.registry import ModelSpec, describe, load_model

    b16 = build_twin_savedmodel(tmp_path / "twin-bf16", TINY, seed=5, dtype="bfloat16")
    spec16 = ModelSpec(kind="enformer-twin", handle=str(b16), batch_size=2, precision="bf16")
    assert describe(spec16)[0] == "enformer-twin-v1-bf16"
    m16 = load_model(spec16)
    m32 = load_model(ModelSpec(kind="enformer-twin", handle=str(tiny_twin), batch_size=2))
    codes = np.random.default_rng(8).integers(0, 4, (2, TINY.sequence_length)).astype(np.uint8)
    bins = np.array([[30, 31, 32], [0, 1, 2]], np.int32)
    idx = np.arange(7, dtype=np.int32)
    a, b = m32.predict(codes, bins, idx), m16.predict(codes, bins, idx)
    assert b.dtype == np.float32 and not np.array_equal(a, b)
    assert np.median(np.abs(b - a) / np.abs(a)) < 2**-5
    from seqbench.models.tfhub import ModelLoadError

    with pytest.raises(ModelLoadError, match="a float32 build, but model.precision = 'bf16'"):
        describe(ModelSpec(kind="enformer-twin", handle=str(tiny_twin), precision="bf16"))
    with pytest.raises(ModelLoadError, match="a bfloat16 build, but model.precision = 'tf32'"):
        describe(ModelSpec(kind="enformer-twin", handle=str(b16), precision="tf32"))


def test_plan_prints_the_analytic_flop_count(cache_dir, tiny_twin, tmp_path):
    from typer.testing import CliRunner

    from seqbench.cli import app
    from seqbench.demo.synthetic import ensure_demo

    layout = ensure_demo(cache_dir)
    truth = json.loads(layout.truth.read_text())
    g = truth["genes"][0]
    table = tmp_path / "one.tsv"
    table.write_text("name\tchrom\tsequence\tlandmark\tedits\treference\n"
                     f"a\t{g['chromosome']}\t\t{g['tss_centre']}\t\t\n")
    outs = {}
    for kind, handle in (("enformer-twin", f'handle = "{tiny_twin}"\n'), ("enformer", "")):
        spec = tmp_path / f"{kind}.toml"
        spec.write_text(f'experiment = "constructs"\ndata_root = "{layout.root}"\n[inputs]\ntable = "{table}"\n'
                        f'[tracks]\ncage = 0\n[model]\nkind = "{kind}"\n{handle}')
        res = CliRunner().invoke(app, ["plan", "constructs", "--spec", str(spec)])
        assert res.exit_code == 0, res.output
        outs[kind] = res.stdout
    per_pass = total_flops(TINY) / 1e12
    assert f"({per_pass:.2f} TFLOP/pass)" in outs["enformer-twin"] and "seqbench_model.json" in outs["enformer-twin"]
    assert f"({total_flops(FULL) / 1e12:.2f} TFLOP/pass)" in outs["enformer"]
    assert "FLOP count:        6.86 TFLOP/pass analytic (393,216 bp, 3,072 trunk positions)" in outs["enformer"]


@pytest.mark.slow
def test_full_published_twin_builds_with_enformers_interface(tmp_path):
    """The 251M-parameter twin, built into a cache as ``plan`` and ``stage`` would (about 1 minute): its variables
    hold parameter_counts(FULL) numbers and its saved signature maps [B, 393216, 4] to {'human': [B, 896, 5313],
    'mouse': [B, 896, 1643]}.  Not called: one pass is 6.9 TFLOP, several minutes on 2 CPU cores."""
    import tensorflow_hub as hub

    from seqbench.models.enformer_twin.build import ensure_enformer_twin
    from seqbench.models.registry import ModelSpec, describe

    path = ensure_enformer_twin(tmp_path)
    assert path.name == "enformer-twin-v1" and ensure_enformer_twin(tmp_path) == path  # cached
    name, geometry, tracks, _h = describe(ModelSpec(kind="enformer-twin", handle=str(path)))
    assert name == "enformer-twin-v1" and geometry == ENFORMER_GEOMETRY and len(tracks) == 5313
    import tensorflow as tf

    saved = [shape for name, shape in tf.train.list_variables(str(path / "variables" / "variables"))
             if name != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    assert sum(int(np.prod(s)) for s in saved) == sum(parameter_counts(FULL).values())
    loaded = hub.load(str(path))
    (fn,) = loaded.model.predict_on_batch.concrete_functions
    assert [tuple(s.shape) for s in fn.structured_input_signature[0]] == [(None, 393_216, 4)]
    assert {k: tuple(v.shape) for k, v in fn.structured_outputs.items()} == {"human": (None, 896, 5313),
                                                                             "mouse": (None, 896, 1643)}
