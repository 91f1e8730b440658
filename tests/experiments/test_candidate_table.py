"""The ``--from`` candidate table has one layout (seqbench.inputs.crispri): enhancer-knockdown writes
exactly it and multiplicativity reads it back (without Ray: the knock-down's reduce on seeded
random predictions for its embedded default)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiment import write_outputs
from seqbench.experiments import enhancer_knockdown, multiplicativity
from seqbench.experiments.enhancer_knockdown import design as kd
from seqbench.experiments.multiplicativity import demo as mx_demo
from seqbench.experiments.multiplicativity import design as mx
from seqbench.genome import Genome
from seqbench.inputs import crispri
from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.runtime.submit import plan_job
from seqbench.spec import parse_spec


def test_the_layout_is_declared_once():
    assert crispri.CANDIDATE_COLUMNS[: len(crispri.CANDIDATE_REQUIRED)] == crispri.CANDIDATE_REQUIRED
    assert set(crispri.CANDIDATE_INT_COLUMNS) <= set(crispri.CANDIDATE_REQUIRED)
    assert len(set(crispri.CANDIDATE_COLUMNS)) == len(crispri.CANDIDATE_COLUMNS)
    # the path multiplicativity --from reads is the one the knock-down job writes
    wanted = {"enhancer-knockdown": {"candidates": kd.CANDIDATES_RELPATH.as_posix()}}
    assert multiplicativity.EXPERIMENT.from_job == wanted


def test_knockdown_writes_exactly_what_multiplicativity_reads(cache_dir, tmp_path):
    layout = ensure_demo(cache_dir)
    exp = enhancer_knockdown.EXPERIMENT
    spec = parse_spec(exp.demo_spec(layout.root), origin="embedded demo", base_dir=layout.root)
    plan = plan_job(spec)
    n, m = plan.design.n_constructs, spec.ensemble.n_members
    rng = np.random.default_rng(5)
    preds = pd.DataFrame(
        {
            "construct_id": np.repeat(np.arange(n, dtype=np.int64), m),
            "member": np.tile(np.arange(m, dtype=np.int16), n),
            "landmark_bin": np.full(n * m, 448, dtype=np.int32),
            **{t: rng.lognormal(1.0, 1.0, n * m).astype(np.float32) for t in plan.tracks},
        }
    )
    job = tmp_path / "knockdown-job"
    summary, tables, _ = write_outputs(exp, exp.reduce(preds, plan.design.table, spec), job, model_name="t", spec=spec)
    path = job / mx.FROM_JOB["enhancer-knockdown"]["candidates"]
    assert path in tables and summary["n_candidates"] > 0

    header = pd.read_csv(path, sep="\t", nrows=0).columns.tolist()
    assert header == list(crispri.CANDIDATE_COLUMNS)  # the producer writes exactly the layout
    frame = mx.load_candidates(path)  # the consumer's checks pass on it
    assert frame.columns.tolist() == header
    assert all(frame[c].dtype == np.int64 for c in crispri.CANDIDATE_INT_COLUMNS)
    assert frame["test_location"].sum() == summary["n_test_locations"]

    raw = {**mx_demo.demo_spec(layout.root), "inputs": {"candidates": str(path)}}
    mspec = parse_spec(raw, origin="t", base_dir=layout.root)
    ko = mx.knockdown_effects(mspec)  # the optional column the consumer reads, too
    assert ko is not None and ko.notna().all() and len(ko) > 0
    design = mx.expand(mspec, Genome(mspec.fasta), ENFORMER_GEOMETRY)
    assert design.n_constructs == (
        frame["test_location"].sum()
        * len(frame.drop_duplicates(["chromosome", "main_tss_start", "main_tss_end"]))
        * len(frame.drop_duplicates(["chromosome", "fix_enhancer_wide_start", "fix_enhancer_wide_end"]))
    )
