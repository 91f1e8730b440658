"""`seqbench-ray plan`: counts and cost arithmetic."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from seqbench.cli import app
from seqbench.estimate import DEFAULT_THROUGHPUT, FLOPS_PER_PASS, estimate


def test_paper_scale_arithmetic():
    """The worked example of docs/scaling.md, by hand: 89 x 115 x 32 = 327,520 constructs x 6 members =
    1,965,120 passes; at 10 passes/s per GPU and 90 % efficiency that is 1,965,120 / 9 s = 60.652 GPU-hours,
    7.58 h on 8 GPUs; 5,118 shards of 64 (the last one partial); 6.858 TFLOP a pass (Enformer's architecture
    at TF-Hub's 393,216 bp, tests/models/test_enformer_twin.py checks it against TensorFlow's profiler) is
    13.48 EFLOP."""
    e = estimate(89 * 115 * 32, 6, 64, "enformer", throughput=10.0, gpus=8, efficiency=0.9)
    assert e.passes == 1_965_120 and e.shards == 5118
    assert e.gpu_hours == pytest.approx(60.652, abs=1e-3)
    assert e.wall_hours == pytest.approx(7.5815, abs=1e-3)
    assert e.total_flops == pytest.approx(1_965_120 * 6.858e12, rel=1e-3)
    assert FLOPS_PER_PASS["enformer"] == pytest.approx(6.858e12, rel=1e-3) == FLOPS_PER_PASS["enformer-twin"]
    assert DEFAULT_THROUGHPUT["enformer"] == 10.0  # the documented default estimate (docs/scaling.md)
    slower = estimate(327_520, 6, 64, "enformer", throughput=5.0, gpus=8, efficiency=0.5)
    assert slower.gpu_hours == pytest.approx(1_965_120 / 2.5 / 3600)


@pytest.mark.parametrize("kw", [{"gpus": 0}, {"efficiency": 0}, {"efficiency": 1.5}, {"throughput": -1.0}])
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        estimate(10, 6, 4, "enformer", **kw)


def test_plan_command_on_the_demo(cache_dir):
    res = CliRunner().invoke(app, ["plan", "multiplicativity", "--gpus", "2", "--throughput", "4.8"])
    assert res.exit_code == 0, res.output
    assert "constructs:        384" in res.stdout and "forward passes:    2,304" in res.stdout
    assert "shards:            12 of 32" in res.stdout
    assert "on 2 GPU(s)" in res.stdout and "4.8 passes/s" in res.stdout
    assert "planted-v2" in res.stdout  # the multiplicativity demo runs planted-v2
    bad = CliRunner().invoke(app, ["plan", "multiplicativity", "--gpus", "0"])
    assert bad.exit_code == 2 and "expected at least 1" in bad.stderr


def test_plan_counts_passes_and_gpu_hours_per_model(cache_dir):
    """The promoter-mpra default runs three twins: one block per model, members and passes each, and a total."""
    from seqbench.estimate import DEFAULT_THROUGHPUT

    res = CliRunner().invoke(app, ["plan", "promoter-mpra"])
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "on planted-v1, planted-basenji2-v1, planted-basenji1-v1" in out
    # 157 oligos (oligo 12885 among them), the TATA-shift baseline, 40 x 3 ISM, 29 occlusions, and the ISM of
    # 6 backgrounds (3 core, 2 TF screen, 12885) over 6 positions x 3 alternatives, each with its unmutated one
    n = 157 + 1 + 120 + 29 + 6 * (6 * 3 + 1)
    hours = 0.0
    for name, kind in (("planted-v1", "planted"), ("planted-basenji2-v1", "planted-basenji2"),
                       ("planted-basenji1-v1", "planted-basenji1")):
        assert f"  {name} ({kind}, " in out
        hours += n * 6 / DEFAULT_THROUGHPUT[kind] / 3600 / 0.9
    assert out.count(f"forward passes:    {n * 6:,}") == 3
    assert f"all models: {3 * n * 6:,} forward passes, {hours:,.1f} GPU-hours" in out
