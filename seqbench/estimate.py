"""What a job will cost, before it runs: constructs, forward passes, shards, GPU-hours, wall time.

Throughput is in forward passes (ensemble members) per second per GPU.  The defaults are
estimates, not measurements, and say so:

* Enformer: about 3.3 TFLOP per 393,216-bp forward pass (analytic: the convolutional tower
  and 11 transformer blocks over 1,536 positions of width 1,536).  TF-Hub's Enformer runs in
  float32 (TF32 on Ampere/Hopper tensor cores).  At a sustained ~20 % of an A100's 156 TFLOP/s
  TF32 peak that is ~10 passes/s; an H100 is faster.  Measure yours with a short job
  (``seqbench-ray status`` reports members/s) and pass ``--throughput``.
* Basenji2: about 0.23 TFLOP per 131,072-bp pass (analytic: the 7-block convolutional tower,
  11 dilated residual blocks at 1,024 positions, the 5,313-track head), ~14x less than Enformer:
  an estimate of 100 passes/s per GPU.  Basenji1 is of the same size but runs through a TF1
  session with batches of exactly 2: an estimate of 40 passes/s.  Xpresso (10.5 kb, a small
  CNN): an estimate of 2,000 passes/s.  None of these was measured on a GPU here.
* planted twins: measured on 2 CPU cores (``make bench``); a GPU is not needed.
"""

from __future__ import annotations

from dataclasses import dataclass

#: forward passes per second per GPU (see the module docstring)
DEFAULT_THROUGHPUT = {
    "enformer": 10.0,
    "basenji2": 100.0,
    "basenji1": 40.0,
    "xpresso": 2000.0,
    "planted": 140.0,
    "planted-v2": 140.0,  # within 2 % of planted's through the same adapter (XLA-compiled; 2 CPU cores)
    "planted-basenji2": 400.0,
    "planted-basenji1": 330.0,
    "planted-xpresso": 2000.0,
}
#: floating-point operations per forward pass (analytic estimates)
FLOPS_PER_PASS = {"enformer": 3.3e12, "basenji2": 0.23e12}
#: fraction of the ideal rate a whole job achieves (start-up, stragglers, the last shards)
DEFAULT_EFFICIENCY = 0.9


@dataclass(frozen=True)
class Estimate:
    constructs: int
    members_per_construct: int
    shards: int
    shard_size: int
    throughput: float  # passes / s / GPU
    gpus: int
    efficiency: float
    flops_per_pass: float | None

    @property
    def passes(self) -> int:
        return self.constructs * self.members_per_construct

    @property
    def gpu_hours(self) -> float:
        """GPU time at the given throughput, with the job's efficiency applied."""
        return self.passes / self.throughput / 3600 / self.efficiency

    @property
    def wall_hours(self) -> float:
        return self.gpu_hours / self.gpus

    @property
    def total_flops(self) -> float | None:
        return None if self.flops_per_pass is None else self.passes * self.flops_per_pass

    def lines(self) -> list[str]:
        out = [
            f"constructs:        {self.constructs:,}",
            f"members each:      {self.members_per_construct} (strands x shifts x receptive-field windows)",
            f"forward passes:    {self.passes:,}",
            f"shards:            {self.shards:,} of {self.shard_size} constructs",
        ]
        if self.total_flops is not None:
            per = self.flops_per_pass / 1e12  # type: ignore[operator]
            out.append(f"compute:           {self.total_flops / 1e18:,.2f} EFLOP ({per:.1f} TFLOP/pass)")
        out += [
            f"throughput:        {self.throughput:g} passes/s per GPU, efficiency {self.efficiency:.0%}",
            f"GPU time:          {self.gpu_hours:,.1f} GPU-hours",
            f"wall time:         {_hours(self.wall_hours)} on {self.gpus} GPU(s)",
        ]
        return out


def _hours(h: float) -> str:
    if h < 1 / 60:
        return f"{h * 3600:.0f} s"
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:.1f} h"
    return f"{h / 24:.1f} days"


def estimate(constructs: int, members: int, shard_size: int, model_kind: str, *, throughput: float | None = None,
             gpus: int = 1, efficiency: float = DEFAULT_EFFICIENCY) -> Estimate:
    if gpus < 1:
        raise ValueError(f"--gpus = {gpus}; expected at least 1")
    if not 0 < efficiency <= 1:
        raise ValueError(f"--efficiency = {efficiency}; expected a fraction in (0, 1]")
    rate = throughput if throughput is not None else DEFAULT_THROUGHPUT.get(model_kind, DEFAULT_THROUGHPUT["enformer"])
    if rate <= 0:
        raise ValueError(f"--throughput = {rate}; expected passes per second per GPU > 0")
    return Estimate(constructs, members, -(-constructs // shard_size), shard_size, rate, gpus, efficiency,
                    FLOPS_PER_PASS.get(model_kind))
