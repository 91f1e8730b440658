"""One contract, checked on every registered experiment (built-ins and installed plug-ins).

For each: its documentation page exists and documents every summary key; every input key is in
``docs/spec.md``; its embedded default plans under the model's geometry; and its reduce, run on
seeded random predictions for every planned member, writes tables and figures and a summary
with exactly the declared keys (stable keys: a degenerate run still reports every key).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiment import Experiment, write_outputs
from seqbench.registry import BUILTINS, all_experiments
from seqbench.runtime.submit import plan_job
from seqbench.spec import parse_spec

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = [e for _, e in all_experiments() if isinstance(e, Experiment)]


def test_every_builtin_is_registered_once():
    names = [e.name for e in EXPERIMENTS]
    assert len(names) == len(set(names))
    assert {e.name for e in BUILTINS} <= set(names)
    assert all(e.source == "built-in" for e in BUILTINS)


@pytest.mark.parametrize("exp", BUILTINS, ids=lambda e: e.name)
def test_docs_page_documents_summary_and_inputs(exp: Experiment):
    assert exp.docs, f"{exp.name}: no docs page declared"
    page = (ROOT / "docs" / exp.docs).read_text()
    missing = [k for k in exp.summary_keys if f"`{k}`" not in page]
    assert not missing, f"summary keys missing from docs/{exp.docs}: {missing}"
    spec_md = (ROOT / "docs" / "spec.md").read_text()
    undocumented = [k for k in exp.inputs if f"`inputs.{k}`" not in spec_md]
    assert not undocumented, f"{exp.name}: inputs missing from docs/spec.md: {undocumented}"


def _random_predictions(n_constructs: int, n_members: int, labels: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_constructs * n_members
    frame = pd.DataFrame(
        {
            "construct_id": np.repeat(np.arange(n_constructs, dtype=np.int64), n_members),
            "member": np.tile(np.arange(n_members, dtype=np.int16), n_constructs),
            "landmark_bin": np.full(n, 448, dtype=np.int32),
        }
    )
    for label in labels:
        frame[label] = rng.lognormal(1.0, 1.0, n).astype(np.float32)
    return frame


@pytest.mark.parametrize("exp", BUILTINS, ids=lambda e: e.name)
def test_demo_plans_and_reduce_reports_every_summary_key(exp: Experiment, cache_dir, tmp_path):
    layout = ensure_demo(cache_dir)
    spec = parse_spec(exp.demo_spec(layout.root), origin="embedded demo", base_dir=layout.root)
    plan = plan_job(spec)
    # only an experiment that runs no model (no readout, no tracks, e.g. class-imbalance) may plan no construct
    runs_no_model = exp.readout is None and not exp.default_tracks and exp.extra_tracks is None
    assert plan.design.n_constructs > 0 or runs_no_model
    assert list(plan.design.table["construct_id"]) == list(range(plan.design.n_constructs))
    # the first construct builds and its landmark lies in the model's output at every member
    if plan.design.n_constructs:
        c = plan.design.build(0)
        assert c.key
    preds = _random_predictions(plan.design.n_constructs, spec.ensemble.n_members, list(plan.tracks), seed=1)
    results = exp.reduce(preds, plan.design.table, spec)
    summary, tables, figures = write_outputs(exp, results, tmp_path, model_name="random-test", spec=spec)
    extra = set(exp.summary_extra(spec)) if exp.summary_extra else set()
    assert set(summary) == set(exp.summary_keys) | extra
    json.dumps(summary, allow_nan=False)  # strict JSON: NaN is reported as null
    assert tables and all(p.is_file() and p.stat().st_size > 0 for p in tables)
    assert figures and all(p.suffix == ".png" and p.stat().st_size > 1000 for p in figures)
