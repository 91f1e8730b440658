"""What a job will cost, before it runs: constructs, forward passes, shards, GPU-hours, wall time.

Throughput is in forward passes (ensemble members) per second per GPU.  The defaults are
estimates, not measurements, and say so:

* Enformer: 6.86 TFLOP per 393,216-bp forward pass, analytic, from the published architecture
  (:func:`seqbench.models.enformer_twin.config.flops`: 2 x the multiply-adds of every convolution,
  dense layer, softmax-pooling logit layer and attention product; 74 % is the convolutional stem
  and tower, 16 % attention, 9 % feed-forward).  The often-quoted ~3.3 TFLOP is the same count at
  the 196,608-bp training length (1,536 trunk positions); TF-Hub's model takes 393,216 bp, so every
  layer before the crop runs over twice the positions (3,072) and attention's quadratic terms over
  four times the pairs.  TF-Hub's Enformer runs in float32 (TF32 on Ampere/Hopper tensor cores);
  the default of 10 passes/s per GPU is an estimate, not a measurement: it needs ~69 TFLOP/s
  sustained, ~44 % of an A100's 156 TFLOP/s TF32 peak (an H100/H200 has more).  Measure yours with
  a short job (``seqbench-ray status`` reports members/s, or the ``enformer-twin`` kind, which costs
  what Enformer costs) and pass ``--throughput``.
* Basenji2: about 0.23 TFLOP per 131,072-bp pass (analytic: the 7-block convolutional tower,
  11 dilated residual blocks at 1,024 positions, the 5,313-track head), ~14x less than Enformer:
  an estimate of 100 passes/s per GPU.  Basenji1 is of the same size but runs through a TF1
  session with batches of exactly 2: an estimate of 40 passes/s.  Xpresso (10.5 kb, a small
  CNN): an estimate of 2,000 passes/s.  None of these was measured on a GPU here.
* planted twins: measured on 2 CPU cores (``make bench``); a GPU is not needed.
* enformer-twin (Enformer's architecture, random weights): Enformer's estimate and FLOP count; a
  twin built from another config (``model.handle``) reports its own count from ``seqbench_model.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from seqbench.models.enformer_twin.config import FULL, describe_flops, total_flops

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
    "enformer-twin": 10.0,  # costs what Enformer costs
}
#: floating-point operations per forward pass (analytic; Enformer's from its architecture config)
FLOPS_PER_PASS = {"enformer": float(total_flops(FULL)), "enformer-twin": float(total_flops(FULL)),
                  "basenji2": 0.23e12}
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
    #: where the FLOP count comes from (printed under ``compute``), if known
    flops_note: str | None = None

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
            out.append(f"compute:           {self.total_flops / 1e18:,.2f} EFLOP ({per:.2f} TFLOP/pass)")
            if self.flops_note:
                out.append(f"FLOP count:        {self.flops_note}")
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


def model_flops(kind: str, handle: str | None = None) -> tuple[float | None, str | None]:
    """(FLOP per forward pass, where the number comes from) of a model kind; for ``enformer-twin`` the count
    its ``seqbench_model.json`` records (a twin built from another config has another count)."""
    if kind == "enformer-twin" and handle:
        meta_file = Path(handle) / "seqbench_model.json"
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            return float(meta["flops_per_pass"]), f"analytic, from {meta_file}"
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if kind in ("enformer", "enformer-twin"):
        return FLOPS_PER_PASS[kind], describe_flops(FULL)
    return FLOPS_PER_PASS.get(kind), None


def estimate(constructs: int, members: int, shard_size: int, model_kind: str, *, throughput: float | None = None,
             gpus: int = 1, efficiency: float = DEFAULT_EFFICIENCY, handle: str | None = None) -> Estimate:
    if gpus < 1:
        raise ValueError(f"--gpus = {gpus}; expected at least 1")
    if not 0 < efficiency <= 1:
        raise ValueError(f"--efficiency = {efficiency}; expected a fraction in (0, 1]")
    rate = throughput if throughput is not None else DEFAULT_THROUGHPUT.get(model_kind, DEFAULT_THROUGHPUT["enformer"])
    if rate <= 0:
        raise ValueError(f"--throughput = {rate}; expected passes per second per GPU > 0")
    flops, note = model_flops(model_kind, handle)
    return Estimate(constructs, members, -(-constructs // shard_size), shard_size, rate, gpus, efficiency, flops,
                    note)
