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

#: the twins of this job: three groups of input length (393,216, 131,072 and 10,500 bp); Basenji2 and
#: Basenji1 share their windows
MODELS = ["planted", "planted-basenji2", "planted-basenji1", "planted-xpresso"]
NAMES = ["planted-v1", "planted-basenji2-v1", "planted-basenji1-v1", "planted-xpresso-v1"]
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
                         "reference": f"{g['gene']}_ref", "what": what, "distance": e["motifs"][0]["centre"] - tss})
        if len(rows) >= 9:
            break
    return pd.DataFrame(rows).fillna({"what": "ref"})


def _spec(tmp: Path, layout, table: Path, models: list[str], windows: list[int] | None) -> Path:
    text = f'experiment = "constructs"\ndata_root = "{layout.root}"\n[inputs]\ntable = "{table}"\n'
    text += "[runtime]\nnum_cpus = 4\nshard_size = 4\n"
    if windows is not None:
        text += f"[ensemble]\nwindows = {windows}\n"
    # Xpresso has one output, median expression: its readout is asked by index
    per = {"planted-xpresso": "[models.tracks]\ncage = 0\n"}
    if len(models) == 1:
        text += f'[model]\nkind = "{models[0]}"\n'
    else:
        text += "".join(f'[[models]]\nkind = "{k}"\n{per.get(k, "")}' for k in models)
    path = tmp / f"spec-{len(models)}-{windows}.toml"
    path.write_text(text)
    return path


def _parts(folder: Path) -> pd.DataFrame:
    files = sorted(folder.glob("part-*.parquet"))
    assert files, folder
    rows = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    return rows.sort_values(["construct_id", "member"]).reset_index(drop=True)


@pytest.mark.slow  # 70 s; tissue-expression's end-to-end test runs windows and the Xpresso twin by default
def test_four_models_side_by_side_and_windows(cache_dir, tmp_path):
    layout = ensure_demo(cache_dir)
    truth = json.loads(layout.truth.read_text())
    table = _table(truth)
    assert len(table) == 9 and set(table["what"]) == {"ref", "near", "far"}
    path = tmp_path / "ko.tsv"
    table.to_csv(path, sep="\t", index=False)

    # four twins in one job: a window longer than Xpresso's 10.5 kb input is refused, naming it
    spec = _spec(tmp_path, layout, path, MODELS, [0, WINDOW])
    res = _cli(["submit", "constructs", "--spec", str(spec), "--job-dir", str(tmp_path / "no")], cache_dir, tmp_path)
    assert res.returncode == 2 and not (tmp_path / "no").exists()
    assert res.stderr.strip().endswith("ensemble.windows: 20001 bp is longer than the input of planted-xpresso-v1"
                                       " (10,500 bp); expected at most 10,500 (0: the whole input)"), res.stderr

    job = tmp_path / "four"
    res = _cli(["submit", "constructs", "--spec", str(_spec(tmp_path, layout, path, MODELS, None)),
                "--job-dir", str(job), "--quiet"], cache_dir, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    manifest = json.loads((job / "manifest.json").read_text())
    assert [v["name"] for v in manifest["variants"]] == NAMES
    # Xpresso reads the construct's own strand only, and its one value
    members = {v["name"]: v["members"] for v in manifest["variants"]}
    assert members["planted-xpresso-v1"] == ["+:-43", "+:+0", "+:+43"]
    assert all(len(members[n]) == 6 for n in NAMES[:3])
    distance = table.set_index("name")["distance"]
    for name in NAMES:
        out = pd.read_csv(job / "variants" / name / "tables" / "constructs.tsv", sep="\t").set_index("key")
        for key in distance.dropna().index:
            fc, d = out.loc[key, "log2fc_cage"], distance[key]
            if name != "planted-xpresso-v1":
                assert fc < -1e-4, (name, key, fc)  # a planted enhancer within 60 kb: the binned models see it
            elif -7_000 + 100 < d < 3_500 - 100:  # Xpresso: 7 kb upstream, 3.5 kb downstream of the TSS (+ strand)
                assert fc < -1e-3, (name, key, d, fc)
            else:
                assert fc == 0.0, (name, key, d, fc)  # outside its 10.5 kb: no effect by construction
    assert any(-7_000 + 100 < d < 3_500 - 100 for d in distance.dropna())  # both cases occur

    # one comparison table and figure, the report names every model as planted
    summary = json.loads((job / "summary.json").read_text())
    assert summary["models"] == NAMES and list(summary["variants"]) == NAMES
    compared = pd.read_csv(job / "tables" / "models_compared.csv")
    assert list(compared["variant"]) == NAMES and list(compared["window"]) == [0] * len(NAMES)
    for name in NAMES:
        assert compared.set_index("variant").loc[name, "max_abs_log2fc"] == pytest.approx(
            summary["variants"][name]["max_abs_log2fc"])
    assert (job / "figures" / "models_compared.png").read_bytes()[:4] == b"\x89PNG"
    report = (job / "report.md").read_text()
    assert all(f"say nothing about {m}" in report for m in ("Enformer", "Basenji2", "Basenji1", "Xpresso"))
    assert all(f"variants/{n}/report.md" in report for n in NAMES)
    assert np.isfinite(compared["max_abs_log2fc"]).all()

    # exactly once per variant: parts lost from two groups are recomputed on resume, and only they
    from seqbench.runtime.jobdir import JobDir

    lost = [job / "parts" / "planted-basenji1-v1" / "part-000001.parquet",
            job / "parts" / "planted-xpresso-v1" / "part-000000.parquet"]
    before = {p: _parts(p.parent) for p in lost}
    for p in lost:
        p.unlink()
    kept = {p: p.stat().st_mtime_ns for p in (job / "parts").rglob("part-*.parquet")}
    JobDir(job).set_status("failed", reason="test: two parts lost")
    res = _cli(["resume", str(job), "--quiet"], cache_dir, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert all(p.is_file() for p in lost)
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # nothing else was written again
    for p in lost:
        pd.testing.assert_frame_equal(_parts(p.parent), before[p])
    assert json.loads((job / "summary.json").read_text())["variants"] == summary["variants"]

    # Basenji1 alone, with and without a window: its rows equal its rows in the four-model job, and with a
    # window of 20,001 bp the far enhancer has exactly no effect while the near one keeps its effect
    alone = tmp_path / "alone"
    res = _cli(["submit", "constructs", "--spec", str(_spec(tmp_path, layout, path, ["planted-basenji1"],
                                                            [0, WINDOW])),
                "--job-dir", str(alone), "--quiet"], cache_dir, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = _parts(alone / "parts" / "planted-basenji1-v1-full"), _parts(job / "parts" / "planted-basenji1-v1")
    cols = ["construct_id", "member", "landmark_bin", "cage"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert set(a["model"]) == set(b["model"]) == {"planted-basenji1-v1"} and set(a["window"]) == {0}
    cut = pd.read_csv(alone / "variants" / f"planted-basenji1-v1-w{WINDOW}" / "tables" / "constructs.tsv",
                      sep="\t").set_index("key")
    assert set(_parts(alone / "parts" / f"planted-basenji1-v1-w{WINDOW}")["window"]) == {WINDOW}
    for gene in table["gene"].unique():
        assert cut.loc[f"{gene}_far", "log2fc_cage"] == 0.0
        assert cut.loc[f"{gene}_near", "log2fc_cage"] < -1e-3


def test_resume_batch_size_applies_to_every_model(cache_dir, tmp_path):
    """`resume --batch-size` on a job of several models: every model takes it; what it computes is unchanged."""
    from seqbench.runtime.jobdir import JobDir
    from seqbench.runtime.submit import load_job_spec

    layout = ensure_demo(cache_dir)
    raw = {"experiment": "constructs", "data_root": str(layout.root), "inputs": {"table": str(tmp_path / "t.tsv")},
           "models": [{"kind": "planted"}, {"kind": "planted-basenji1"}, {"kind": "planted-xpresso",
                                                                          "tracks": {"cage": 0}}]}
    job = tmp_path / "job"
    job.mkdir()
    (job / "spec.json").write_text(json.dumps(raw))
    (job / "manifest.json").write_text(json.dumps({"experiment": "constructs", "spec_base_dir": str(tmp_path)}))
    before = load_job_spec(JobDir(job))
    after = load_job_spec(JobDir(job), model_overrides={"batch_size": 4})
    assert [m.batch_size for m in after.models] == [4, 4, 4]
    assert [m.effective_batch_size for m in after.models] == [4, 2, 4]  # Basenji1's graph takes exactly 2
    assert after.content_hash() == before.content_hash()
    with pytest.raises(Exception, match="changes the predictions"):
        load_job_spec(JobDir(job), model_overrides={"kind": "planted"})
