"""Host ceiling: members per CPU-second through local Ray with a null model (costs nothing).

``bench_pipeline.py --model null --replicas 1`` (see its docstring): a synthetic multiplicativity
design of ``--constructs`` constructs (default 10,235) through :func:`seqbench.runtime.submit.submit`
with a model that returns zeros, interleaved with the same shards in one bare loop per CPU.  What is
measured is the pipeline alone: building and materializing constructs, Ray's object store, the
replica's member cut, writing parts.  Target: >= 3,000 members per CPU-second.  Other options are
``bench_pipeline.py``'s.

Usage: ``python benchmarks/bench_host_ceiling.py [--constructs 10235] [--rounds 3] [--cpus 2]``
"""

from __future__ import annotations

import sys

from bench_pipeline import main

if __name__ == "__main__":
    raise SystemExit(main(["--model", "null", "--replicas", "1", *sys.argv[1:]]))
