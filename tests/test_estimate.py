"""`seqbench-ray plan`: counts and cost arithmetic."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from seqbench.cli import app
from seqbench.estimate import DEFAULT_THROUGHPUT, FLOPS_PER_PASS, estimate


def test_paper_scale_arithmetic():
    e = estimate(89 * 115 * 32, 6, 64, "enformer", gpus=8, efficiency=1.0)
    assert e.passes == 1_965_120 and e.shards == -(-327_520 // 64) == 5118
    assert e.gpu_hours == pytest.approx(1_965_120 / DEFAULT_THROUGHPUT["enformer"] / 3600)
    assert e.wall_hours == pytest.approx(e.gpu_hours / 8)
    assert e.total_flops == pytest.approx(1_965_120 * FLOPS_PER_PASS["enformer"])
    slower = estimate(327_520, 6, 64, "enformer", throughput=5.0, gpus=8, efficiency=0.5)
    assert slower.gpu_hours == pytest.approx(e.gpu_hours * 4)


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
    assert "planted-v1" in res.stdout
    bad = CliRunner().invoke(app, ["plan", "multiplicativity", "--gpus", "0"])
    assert bad.exit_code == 2 and "expected at least 1" in bad.stderr
