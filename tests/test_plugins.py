"""Plug-in experiments registered through the entry-point group ``seqbench.experiments``.

The example package in ``tests/plugin/`` is installed into a temporary site folder the way an
installer lays it out (the package, and a ``.dist-info`` with ``METADATA`` and the
``entry_points.txt`` written from its ``pyproject.toml``), put on ``PYTHONPATH``, and run through
``seqbench-ray`` in a subprocess: discovery goes through :mod:`importlib.metadata`, nothing is
registered by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parent / "plugin"


def _install(site: Path, name: str, version: str, entry_points: dict[str, str], modules: dict[str, str] | None = None,
             package: Path | None = None) -> None:
    site.mkdir(parents=True, exist_ok=True)
    if package is not None:
        shutil.copytree(package, site / package.name)
    for mod, text in (modules or {}).items():
        (site / f"{mod}.py").write_text(text)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[seqbench.experiments]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def _cli(args: list[str], cache_dir: Path, site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEQBENCH_CACHE_DIR": str(cache_dir), "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    return subprocess.run([sys.executable, "-m", "seqbench.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


@pytest.fixture
def site(tmp_path) -> Path:
    meta = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    path = tmp_path / "site"
    _install(path, meta["name"], meta["version"], meta["entry-points"]["seqbench.experiments"],
             package=PLUGIN / "seqbench_plugin_example")
    _install(path, "broken-plugin", "0.2", {"broken-one": "broken_plugin_module:EXPERIMENT"},
             modules={"broken_plugin_module": "raise ImportError('needs libfoo, which is not installed')\n"})
    return path


def test_list_shows_plugins_with_their_source(site, cache_dir, tmp_path):
    res = _cli(["list"], cache_dir, site, tmp_path)
    assert res.returncode == 0, res.stderr
    lines = {line.split()[0]: line for line in res.stdout.splitlines() if line.startswith("  ")}
    assert "[built-in]" in lines["multiplicativity"]
    assert "[plug-in seqbench-plugin-example 0.1.0]" in lines["promoter-mask"]
    assert "cannot be loaded" in lines["broken-one"] and "libfoo" in lines["broken-one"]


def test_broken_plugin_is_one_line_and_no_job(site, cache_dir, tmp_path):
    res = _cli(["submit", "broken-one", "--job-dir", str(tmp_path / "job")], cache_dir, site, tmp_path)
    assert res.returncode == 2
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1
    assert line.startswith("seqbench-ray: error: entry point 'broken-one'") and "libfoo" in line
    assert not (tmp_path / "job").exists()


@pytest.mark.ray
def test_plugin_experiment_runs_through_submit(site, cache_dir, tmp_path):
    job = tmp_path / "job"
    res = _cli(["submit", "promoter-mask", "--job-dir", str(job), "--quiet"], cache_dir, site, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((job / "summary.json").read_text())
    assert summary["experiment"] == "promoter-mask" and summary["n_genes"] == 2
    # the planted law: masking the promoter motif leaves only the basal activity P0 of 1 + P0 per motif,
    # so the CAGE landmark sum falls by far more than half
    assert summary["median_log2fc"] < -1.0
    assert (job / "tables" / "promoter_mask.tsv").is_file() and "planted" in (job / "report.md").read_text()


#: a plug-in whose design has no constructs: it reduces its input table alone (as class-imbalance will)
ZERO = '''
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqbench.experiment import Design, Experiment
from seqbench.keys import Key


@dataclass
class Results:
    distances: pd.DataFrame

    def summary(self):
        return {"n_elements": len(self.distances), "median_distance": float(self.distances["d"].median())}


def expand(spec, genome, geometry):
    return Design(pd.DataFrame({"construct_id": np.arange(0)}), lambda i: None)


def reduce(predictions, design, spec, map_fn=None):
    assert len(predictions) == 0 and "cage" in predictions.columns
    return Results(pd.read_csv(spec.inputs["elements"], sep="\\t"))


def write_tables(results, out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "distances.tsv"
    results.distances.to_csv(path, sep="\\t", index=False)
    return [path]


EXPERIMENT = Experiment(
    name="distances-only", title="Distances of elements (no model)",
    inputs={"elements": Key(str, "elements.tsv", "elements table", path=True)},
    path_inputs=frozenset({"elements"}), default_tracks={"cage": {"assay": "CAGE", "cell_type": "K562"}},
    readout="cage", expand=expand, reduce=reduce, write_tables=write_tables,
    write_figures=lambda results, out_dir, *, title_suffix: [],
    demo_spec=lambda root: {"experiment": "distances-only", "data_root": str(root), "model": {"kind": "planted"}},
    headline=(("median_distance", "median distance (bp)"),), summary_keys=("n_elements", "median_distance"),
)
'''


def test_an_experiment_without_constructs_runs_without_ray(cache_dir, tmp_path):
    """Zero forward passes: planned, reduced from its inputs alone, complete; Ray is never started."""
    site = tmp_path / "site"
    _install(site, "zero-plugin", "0.1", {"distances-only": "zero_plugin:EXPERIMENT"}, modules={"zero_plugin": ZERO})
    from seqbench.demo.synthetic import ensure_demo

    root = ensure_demo(cache_dir).root
    (tmp_path / "elements.tsv").write_text("name\td\na\t100\nb\t3000\nc\t250\n")
    spec = tmp_path / "d.toml"
    spec.write_text(f'experiment = "distances-only"\ndata_root = "{root}"\n[model]\nkind = "planted"\n'
                    f'[inputs]\nelements = "{tmp_path / "elements.tsv"}"\n')
    plan = _cli(["plan", "distances-only", "--spec", str(spec)], cache_dir, site, tmp_path)
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "forward passes:    0" in plan.stdout and "0.0 GPU-hours" in plan.stdout
    job = tmp_path / "job"
    res = _cli(["submit", "distances-only", "--spec", str(spec), "--job-dir", str(job), "--quiet"], cache_dir, site,
               tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((job / "summary.json").read_text())
    assert summary["n_elements"] == 3 and summary["median_distance"] == 250.0 and summary["n_members"] == 0
    assert json.loads((job / "status.json").read_text())["state"] == "complete"
    log = (job / "log.txt").read_text()
    assert "Ray not started" in log
    assert "ray start" not in json.loads((job / "timings.json").read_text())
    assert not (job / "parts").exists() or not any((job / "parts").rglob("part-*.parquet"))
