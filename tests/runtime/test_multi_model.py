"""Several models and receptive-field windows in one job (``[[models]]``, ``ensemble.windows``).

Known answers: each model's rows equal those of a job of that model alone; with a window of
20,001 bp an enhancer 30 kb from the TSS has exactly no effect, one 6-8 kb away keeps its planted
effect; the report compares the variants side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from seqbench.demo.synthetic import ensure_demo

pytestmark = pytest.mark.ray

#: the twins of this job (one group per input length: 393,216 and 131,072 bp)
MODELS = ["planted", "planted-basenji1"]
WINDOW = 20_001


def _cli(args: list[str], cache_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEQBENCH_CACHE_DIR": str(cache_dir), "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run([sys.executable, "-m", "seqbench.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=900)


def _table(truth: dict) -> pd.DataFrame:
    """Per gene: the reference, and knock-downs (N over the motif) of its nearest enhancer inside the window
    and of one outside it (but inside every model's input)."""
    rows = []
    for g in truth["genes"]:
        tss = g["tss_centre"]
        near = [e for e in truth["enhancers"] if e["chromosome"] == g["chromosome"]
                and abs(e["motifs"][0]["centre"] - tss) < WINDOW // 2 - 200]
        far = [e for e in truth["enhancers"] if e["chromosome"] == g["chromosome"]
               and WINDOW // 2 + 200 < abs(e["motifs"][0]["centre"] - tss) < 60_000]
        if not (near and far):
            continue
        base = {"chrom": g["chromosome"], "sequence": "", "landmark": tss, "gene": g["gene"]}
        rows.append({"name": f"{g['gene']}_ref", **base, "edits": "", "reference": ""})
        for what, e in (("near", near[0]), ("far", far[0])):
            s = e["motifs"][0]["start"]
            rows.append({"name": f"{g['gene']}_{what}", **base, "edits": f"mask:{s}-{s + 11}",
                         "reference": f"{g['gene']}_ref", "what": what})
        if len(rows) >= 6:
            break
    return pd.DataFrame(rows).fillna({"what": "ref"})


def _spec(tmp: Path, layout, table: Path, models: list[str], windows: list[int] | None) -> Path:
    text = f'experiment = "constructs"\ndata_root = "{layout.root}"\n[inputs]\ntable = "{table}"\n'
    text += "[runtime]\nnum_cpus = 4\nshard_size = 4\n"
    if windows is not None:
        text += f"[ensemble]\nwindows = {windows}\n"
    if len(models) == 1:
        text += f'[model]\nkind = "{models[0]}"\n'
    else:
        text += "".join(f'[[models]]\nkind = "{k}"\n' for k in models)
    path = tmp / f"spec-{len(models)}-{windows}.toml"
    path.write_text(text)
    return path


def _parts(folder: Path) -> pd.DataFrame:
    files = sorted(folder.glob("part-*.parquet"))
    assert files, folder
    rows = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    return rows.sort_values(["construct_id", "member"]).reset_index(drop=True)


def test_two_models_and_two_windows_side_by_side(cache_dir, tmp_path):
    layout = ensure_demo(cache_dir)
    truth = json.loads(layout.truth.read_text())
    table = _table(truth)
    assert len(table) == 6 and set(table["what"]) == {"ref", "near", "far"}
    path = tmp_path / "ko.tsv"
    table.to_csv(path, sep="\t", index=False)

    job = tmp_path / "both"
    res = _cli(["submit", "constructs", "--spec", str(_spec(tmp_path, layout, path, MODELS, [0, WINDOW])),
                "--job-dir", str(job), "--quiet"], cache_dir, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    manifest = json.loads((job / "manifest.json").read_text())
    names = [v["name"] for v in manifest["variants"]]
    assert names == [f"{m}-{w}" for m in ("planted-v1", "planted-basenji1-v1") for w in ("full", f"w{WINDOW}")]

    # the knock-downs, per variant: the far enhancer has exactly no effect inside the window only
    for name in names:
        out = pd.read_csv(job / "variants" / name / "tables" / "constructs.tsv", sep="\t").set_index("key")
        for gene in table["gene"].unique():
            near, far = out.loc[f"{gene}_near", "log2fc_cage"], out.loc[f"{gene}_far", "log2fc_cage"]
            assert near < -1e-3, (name, gene, near)  # a planted enhancer inside every window: its effect
            if name.endswith(f"w{WINDOW}"):
                assert far == 0.0, (name, gene, far)  # masked away by the window either way
            else:
                assert far < -1e-4, (name, gene, far)  # the whole input sees it

    # each model's rows equal a job of that model alone (the same constructs, members and values)
    alone = tmp_path / "alone"
    res = _cli(["submit", "constructs", "--spec", str(_spec(tmp_path, layout, path, MODELS[1:], None)),
                "--job-dir", str(alone), "--quiet"], cache_dir, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = _parts(alone / "parts"), _parts(job / "parts" / "planted-basenji1-v1-full")
    cols = ["construct_id", "member", "landmark_bin", "cage", "model"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_categorical=False)
    assert set(b["model"]) == {"planted-basenji1-v1"} and set(b["window"]) == {0}

    # one comparison table and figure, the report names every model as planted
    summary = json.loads((job / "summary.json").read_text())
    assert summary["models"] == ["planted-v1", "planted-basenji1-v1"] and list(summary["variants"]) == names
    compared = pd.read_csv(job / "tables" / "models_compared.csv")
    assert list(compared["variant"]) == names and list(compared["window"]) == [0, WINDOW, 0, WINDOW]
    for name in names:
        assert compared.set_index("variant").loc[name, "max_abs_log2fc"] == pytest.approx(
            summary["variants"][name]["max_abs_log2fc"])
    assert (job / "figures" / "models_compared.png").read_bytes()[:4] == b"\x89PNG"
    report = (job / "report.md").read_text()
    assert "say nothing about Enformer" in report and "say nothing about Basenji1" in report
    assert all(f"variants/{n}/report.md" in report for n in names)
    assert np.isfinite(compared["max_abs_log2fc"]).all()
