"""Bad model input through the CLI: one line on stderr, exit status 2, no job that looks complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from seqbench.demo.synthetic import ensure_demo


def _cli(args: list[str], cache_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEQBENCH_CACHE_DIR": str(cache_dir), "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI quiets TensorFlow itself
    return subprocess.run([sys.executable, "-m", "seqbench.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def _spec(tmp: Path, cache_dir: Path, model_toml: str, tracks: str = "") -> Path:
    layout = ensure_demo(cache_dir)
    truth = json.loads(layout.truth.read_text())
    g = truth["genes"][0]
    table = tmp / "one.tsv"
    pd.DataFrame([{"name": "a", "chrom": g["chromosome"], "sequence": "", "landmark": g["tss_centre"],
                   "edits": "", "reference": ""}]).to_csv(table, sep="\t", index=False)
    spec = tmp / "spec.toml"
    spec.write_text(f'experiment = "constructs"\ndata_root = "{layout.root}"\n[inputs]\ntable = "{table}"\n'
                    f"{tracks}{model_toml}")
    return spec


def _one_line(res: subprocess.CompletedProcess) -> str:
    """The error: one line of seqbench's, last (TensorFlow 2.21 writes C++ start-up notes to stderr before
    Python can quiet them; they are the only other lines), no traceback."""
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    lines = res.stderr.strip().splitlines()
    ours = [ln for ln in lines if ln.startswith("seqbench-ray")]
    assert ours == [lines[-1]] and lines[-1].startswith("seqbench-ray: error: "), res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    return lines[-1]


def test_h5_with_a_layer_seqbench_lacks(cache_dir, tmp_path):
    import tf_keras

    @tf_keras.utils.register_keras_serializable(package="test")
    class SwitchReverse(tf_keras.layers.Layer):
        def call(self, x):
            return x

    inp = tf_keras.Input((131_072, 4))
    out = tf_keras.layers.Dense(3)(SwitchReverse(name="switch")(inp))
    h5 = tmp_path / "model_human.h5"
    tf_keras.Model(inp, out).save(h5, save_format="h5")
    spec = _spec(tmp_path, cache_dir, f'[model]\nkind = "basenji2"\nhandle = "{h5}"\n', "[tracks]\ncage = 0\n")
    line = _one_line(_cli(["plan", "constructs", "--spec", str(spec)], cache_dir, tmp_path))
    assert "uses layer class 'test>SwitchReverse'" in line or "uses layer class 'SwitchReverse'" in line, line
    assert "StochasticShift, GELU" in line


@pytest.mark.slow  # a Ray job; the adapter's own refusal is tested fast in tests/models/test_basenji2.py
def test_output_shape_contradicting_the_declared_geometry(cache_dir, tmp_path):
    """The authors' Basenji2 geometry (1,024 bins from 0, spec §13 B1) declared for a file that outputs 896."""
    from seqbench.models.planted.twins import ensure_basenji2_twin

    twin = ensure_basenji2_twin(cache_dir)
    model = (f'[model]\nkind = "basenji2"\nhandle = "{twin / "model_human.h5"}"\nsequence_length = 131072\n'
             "bin_size = 128\noffset = 0\nn_bins = 1024\n")
    spec = _spec(tmp_path, cache_dir, model, "[tracks]\ncage = 0\n[ensemble]\nshifts = [0]\n")
    job = tmp_path / "job"
    line = _one_line(_cli(["submit", "constructs", "--spec", str(spec), "--job-dir", str(job), "--quiet"],
                          cache_dir, tmp_path))
    assert "1024" in line and "896" in line, line
    assert json.loads((job / "status.json").read_text())["state"] == "failed"
    assert not (job / "summary.json").exists()


def test_a_track_the_model_lacks(cache_dir, tmp_path):
    spec = _spec(tmp_path, cache_dir, '[model]\nkind = "planted-basenji1"\n',
                 '[tracks]\ncage = { assay = "CAGE", cell_type = "GM12878" }\n')
    line = _one_line(_cli(["plan", "constructs", "--spec", str(spec)], cache_dir, tmp_path))
    assert "tracks.cage: no track for assay 'CAGE' in cell type 'GM12878' in this model's 3 tracks" in line


def test_a_track_one_of_several_models_lacks_names_the_model(cache_dir, tmp_path):
    spec = _spec(tmp_path, cache_dir, '[[models]]\nkind = "planted"\n[[models]]\nkind = "planted-xpresso"\n')
    line = _one_line(_cli(["plan", "constructs", "--spec", str(spec)], cache_dir, tmp_path))
    assert "models[1] (planted-xpresso-v1): tracks.cage: no track for assay 'CAGE'" in line
    assert "give models[1].tracks.cage for this model" in line


def test_two_models_of_the_same_name(cache_dir, tmp_path):
    spec = _spec(tmp_path, cache_dir, '[[models]]\nkind = "planted"\n[[models]]\nkind = "planted"\n')
    line = _one_line(_cli(["plan", "constructs", "--spec", str(spec)], cache_dir, tmp_path))
    assert line.endswith("models[0] and models[1] are both named 'planted-v1'; give each model a distinct name"
                         " (models[i].name)"), line


@pytest.mark.parametrize("kind", ["basenji2", "basenji1", "xpresso"])
def test_a_real_kind_needs_its_weights(kind, cache_dir, tmp_path):
    spec = _spec(tmp_path, cache_dir, f'[model]\nkind = "{kind}"\n')
    line = _one_line(_cli(["plan", "constructs", "--spec", str(spec)], cache_dir, tmp_path))
    assert f"model.kind = '{kind}' needs model.handle" in line and "docs/models.md" in line
