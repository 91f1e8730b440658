"""Bad input through the real CLI: one line ``seqbench-ray: error: ...`` on stderr naming the
file / field / row and what was expected, exit status 2, no traceback, and no job directory
that looks complete (a refused spec leaves none at all; a failure after planning leaves
status.json "failed" with a reason and no summary.json).  See docs/bad-input.md.

Specs are written into ``tmp_path`` and point at copies of the embedded demo data (the cache
is never modified).  Everything but the model-geometry case fails before Ray starts and runs
in-process through typer's ``CliRunner``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from seqbench.cli import app
from seqbench.demo.synthetic import ensure_demo

TABLE = Path("Data/Fulco_CRISPRi/in_silico_candidate_locs.tsv")
FASTA = Path("Data/Genome/genome.fa")
TINY = "[inputs]\nmax_promoters = 2\nmax_enhancers = 2\nmax_backgrounds = 1\n"


@pytest.fixture
def data(cache_dir, tmp_path) -> Path:
    """A copy of the demo archive (FASTA, its index, candidate table) under tmp_path/data."""
    layout = ensure_demo(cache_dir)
    root = tmp_path / "data"
    for rel in (FASTA, Path(f"{FASTA}.fai"), TABLE):  # the index after the FASTA: never older
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(layout.root / rel, root / rel)
    return root


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    # a default job directory (seqbench-jobs/...) would land here, where the tests look for it
    monkeypatch.chdir(tmp_path)


def spec(tmp_path: Path, body: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text('experiment = "multiplicativity"\ndata_root = "data"\n' + body)
    return path


def edit_table(data: Path, edit) -> Path:
    """Write a modified copy of the candidate table next to the copied one; return its path."""
    frame = pd.read_csv(data / TABLE, sep="\t", dtype=str, keep_default_na=False)
    frame = edit(frame)
    out = data / TABLE.with_name("edited.tsv")
    frame.to_csv(out, sep="\t", index=False)
    return out


def submit(tmp_path: Path, *args: str) -> tuple[str, Path]:
    """``seqbench-ray submit ... --job-dir tmp_path/job -q``; asserts the error contract; returns the message."""
    job = tmp_path / "job"
    args = (*args, "--job-dir", str(job)) if "--job-dir" not in args else args
    res = CliRunner().invoke(app, ["submit", *args, "-q"])
    assert res.exit_code == 2, (res.exit_code, res.output, res.exc_info)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    assert "Traceback" not in res.output
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqbench-ray: error: "), res.stderr
    return lines[0].removeprefix("seqbench-ray: error: "), job


def refused(tmp_path: Path, *args: str) -> str:
    """A spec refused before planning: the error contract, and no job directory anywhere."""
    msg, job = submit(tmp_path, *args)
    assert not job.exists(), sorted(p.name for p in job.iterdir())
    assert not (tmp_path / "seqbench-jobs").exists()
    return msg


# ---- 1-5: input files ----------------------------------------------------------------------------


def test_missing_fasta(tmp_path, data):
    s = spec(tmp_path, '[genome]\nfasta = "Data/Genome/nowhere.fa"\n[model]\nkind = "planted"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg.startswith(f"{data / 'Data/Genome/nowhere.fa'}: FASTA file not found")
    assert "expected an indexed genome FASTA" in msg


def test_missing_candidate_table(tmp_path, data):
    s = spec(tmp_path, '[model]\nkind = "planted"\n[inputs]\ncandidates = "Data/nowhere.tsv"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == f"{data / 'Data/nowhere.tsv'}: multiplicativity candidate table not found"


def test_candidate_table_missing_a_column(tmp_path, data):
    table = edit_table(data, lambda f: f.drop(columns=["main_tss_bin"]))
    s = spec(tmp_path, f'[model]\nkind = "planted"\n[inputs]\ncandidates = "{table}"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == f"{table}: multiplicativity candidate table lacks column 'main_tss_bin'"


def test_chromosome_not_in_fasta(tmp_path, data):
    def chr_z(f):
        f.loc[2, "chromosome"] = "chrZ"  # the third data row
        return f

    table = edit_table(data, chr_z)
    s = spec(tmp_path, f'[model]\nkind = "planted"\n[inputs]\ncandidates = "{table}"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg.startswith(f"{table}: row 3, column 'chromosome': chromosome 'chrZ' is not in genome.fa")
    assert "chr1, chr2, chr3" in msg  # what the FASTA has


def test_element_off_the_chromosome(tmp_path, data):
    def off_end(f):
        f.loc[2, "fix_enhancer_wide_start"], f.loc[2, "fix_enhancer_wide_end"] = "1600000", "1602000"
        return f

    table = edit_table(data, off_end)
    s = spec(tmp_path, f'[model]\nkind = "planted"\n[inputs]\ncandidates = "{table}"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == (
        f"{table}: row 3, column 'fix_enhancer_wide_end': 1602000 is off chr1 (length 1534927 in genome.fa);"
        " expected 0 <= fix_enhancer_wide_start < fix_enhancer_wide_end <= 1534927"
    )


def test_model_window_past_a_chromosome_end_is_n_padded(tmp_path, data):
    """The policy's other half: a window running off a chromosome end is planned, and reads N there."""
    from seqbench.experiments import multiplicativity as mx
    from seqbench.genome import Genome
    from seqbench.models.base import ENFORMER_GEOMETRY
    from seqbench.predict import materialize_shard
    from seqbench.spec import load_spec

    cols = ["main_tss_start", "main_tss_end", "fix_enhancer_wide_start", "fix_enhancer_wide_end"]

    def near_end(f):  # row 11 (a test location on chr3, 988,377 bp): TSS 30 kb from the end
        f.loc[10, cols] = [str(int(v) + 700_000) for v in f.loc[10, cols]]
        return f

    table = edit_table(data, near_end)
    s = spec(tmp_path, f'[model]\nkind = "planted"\n[inputs]\ncandidates = "{table}"\nwindow = "centred"\n')
    job_spec = load_spec(s)
    genome = Genome(job_spec.fasta)
    design = mx.expand(job_spec, genome)
    key = mx.load_candidates(table)["ziga_key"][10]
    ids = design.table.loc[design.table["location_key"] == key, "construct_id"].tolist()[:1]
    assert len(ids) == 1
    geometry = ENFORMER_GEOMETRY  # the planted model's, too
    shard = materialize_shard(0, list(ids), design.constructs(ids), genome.read_padded, geometry, job_spec.ensemble)
    window = shard.windows[0]
    assert window.shape[0] == geometry.sequence_length + 86
    past_end = int(shard.landmarks[0]) + (988_377 - (958_432 + 64))  # first position past chr3's end
    assert (window[past_end:] == 4).all() and (window[:past_end] != 4).mean() > 0.9


@pytest.mark.parametrize(
    ("value", "found"), [("12x", "'12x'"), ("215168.5", "'215168.5'"), ("", "the cell is empty (or NA)")]
)
def test_non_integer_coordinate(tmp_path, data, value, found):
    def bad(f):
        f.loc[4, "sequence_start"] = value  # the fifth data row
        return f

    table = edit_table(data, bad)
    s = spec(tmp_path, f'[model]\nkind = "planted"\n[inputs]\ncandidates = "{table}"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == f"{table}: row 5, column 'sequence_start': {found}; expected an integer"


# ---- 6-9: the spec and the command line ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("seeed = 1\n", "unknown key seeed; did you mean 'seed'?"),
        ("[runtime]\nreplcas = 2\n", "unknown key runtime.replcas; did you mean 'replicas'?"),
    ],
)
def test_unknown_spec_key(tmp_path, data, body, expected):
    s = spec(tmp_path, body)
    assert refused(tmp_path, "multiplicativity", "--spec", str(s)) == f"{s}: {expected}"


def test_toml_syntax_error(tmp_path, data):
    s = spec(tmp_path, '[model]\nkind = "planted"\nbatch_size = = 2\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg.startswith(f"{s}: TOML syntax error:") and "line 5" in msg


def test_wrong_type(tmp_path, data):
    s = spec(tmp_path, '[runtime]\nshard_size = "big"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == f"{s}: runtime.shard_size = 'big' is a str; expected int"


def test_unknown_experiment(tmp_path):
    msg = refused(tmp_path, "multiplicativty")
    assert msg == "unknown experiment 'multiplicativty'; did you mean 'multiplicativity'? (known: multiplicativity)"


# ---- 10-12: the model ------------------------------------------------------------------------------


def test_model_handle_does_not_exist(tmp_path, data):
    s = spec(tmp_path, '[model]\nkind = "enformer"\nhandle = "/nonexistent/model"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == (
        f"{s}: model.handle = '/nonexistent/model': no such file or directory;"
        " expected a SavedModel directory or a TF-Hub URL"
    )


@pytest.mark.ray
def test_model_output_does_not_match_its_declared_geometry(cache_dir, tmp_path, data):
    # consistent (167936 * 2 + 448 * 128 = 393216) but wrong: the planted model outputs 896 bins.
    # window = "centred": the table's main_tss_bin is checked against the declared offset at
    # planning time (and refused there); centring skips that check, so the job gets to Ray
    s = spec(
        tmp_path,
        '[model]\nkind = "planted"\nsequence_length = 393216\nbin_size = 128\nn_bins = 448\noffset = 167936\n'
        + TINY
        + 'window = "centred"\n',
    )
    job = tmp_path / "job"
    env = {**os.environ, "SEQBENCH_CACHE_DIR": str(cache_dir), "RAY_USAGE_STATS_ENABLED": "0"}
    res = subprocess.run(
        [sys.executable, "-m", "seqbench.cli", "submit", "multiplicativity", "--spec", str(s), "--job-dir", str(job)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert res.returncode == 2, res.stderr[-3000:]
    assert "Traceback" not in res.stdout + res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("seqbench-ray: error:")]
    assert len(errors) == 1 and "Error:" not in errors[0], res.stderr
    msg = errors[0]
    assert "model planted-v1: output shape (1, 896, 3)" in msg
    assert "expected (1, 448, 3)" in msg and "model.n_bins = 448" in msg
    status = json.loads((job / "status.json").read_text())
    assert status["state"] == "failed" and "output shape (1, 896, 3)" in status["reason"]
    assert not (job / "summary.json").exists() and not (job / "report.md").exists()


def test_main_tss_bin_checked_against_a_declared_offset(tmp_path, data):
    """The same declaration with the table's windows: refused at planning, before Ray."""
    s = spec(
        tmp_path,
        '[model]\nkind = "planted"\nsequence_length = 393216\nbin_size = 128\nn_bins = 448\noffset = 167936\n' + TINY,
    )
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg.startswith(f"{data / TABLE}: row ") and "main_tss_bin = " in msg
    assert "(model offset 167936)" in msg and "inputs.window = 'centred'" in msg


@pytest.mark.parametrize(
    ("tracks", "expected"),
    [
        (
            'cage = {assay = "CAGE", cell_type = "HeLa"}',
            "tracks.cage: no track for assay 'CAGE' in cell type 'HeLa' in this model's 3 tracks;"
            " expected a cell type named in one of its 2 CAGE tracks",
        ),
        ("cage = {index = 7}", "tracks.cage: track index 7 is outside this model's 3 tracks (0..2)"),
        ("cage = 7", "tracks.cage: track index 7 is outside this model's 3 tracks (0..2)"),
        ('cage = {index = "x"}', "tracks.cage.index = 'x' is a str; expected int"),
        ("dnase = 1", "tracks: the experiment reads track label 'cage'; add it to [tracks]"),
    ],
)
def test_track_request_the_model_cannot_answer(tmp_path, data, tracks, expected):
    s = spec(tmp_path, f'[model]\nkind = "planted"\n[tracks]\n{tracks}\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg.startswith(f"{s}: {expected}"), msg


# ---- 13: the job directory ---------------------------------------------------------------------------


def test_job_dir_not_writable(tmp_path, data):
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("chmod does not stop this user (root) from writing")
        s = spec(tmp_path, '[model]\nkind = "planted"\n' + TINY)
        job = ro / "job"
        msg, _ = submit(tmp_path, "multiplicativity", "--spec", str(s), "--job-dir", str(job))
        assert msg == f"{job}: job directory is not writable (Permission denied)"
        assert not job.exists()
    finally:
        ro.chmod(0o755)


def test_job_dir_under_a_file(tmp_path, data):
    """Not writable for anyone, root included: the job directory's parent is a file."""
    (tmp_path / "a-file").write_text("not a directory\n")
    s = spec(tmp_path, '[model]\nkind = "planted"\n' + TINY)
    job = tmp_path / "a-file" / "job"
    msg, _ = submit(tmp_path, "multiplicativity", "--spec", str(s), "--job-dir", str(job))
    assert msg == f"{job}: job directory is not writable (Not a directory)"
    assert (tmp_path / "a-file").read_text() == "not a directory\n"


def test_job_dir_not_empty_and_not_a_job(tmp_path, data):
    other = tmp_path / "my-notes"
    other.mkdir()
    (other / "notes.txt").write_text("keep me\n")
    s = spec(tmp_path, '[model]\nkind = "planted"\n' + TINY)
    msg, _ = submit(tmp_path, "multiplicativity", "--spec", str(s), "--job-dir", str(other))
    assert msg == f"{other}: exists and is not an empty directory or a seqbench job"
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_job_dir_is_a_file(tmp_path, data):
    path = tmp_path / "a-file"
    path.write_text("not a directory\n")
    s = spec(tmp_path, '[model]\nkind = "planted"\n' + TINY)
    msg, _ = submit(tmp_path, "multiplicativity", "--spec", str(s), "--job-dir", str(path))
    assert msg == f"{path}: is a file; expected a new or empty directory, or a seqbench job directory"
    assert path.read_text() == "not a directory\n"


@pytest.mark.parametrize(("name", "value"), [("tracks", "3"), ("inputs", '"all"')])
def test_table_given_as_a_value(tmp_path, data, name, value):
    s = spec(tmp_path, f"{name} = {value}\n")
    assert refused(tmp_path, "multiplicativity", "--spec", str(s)) == f"{s}: {name} must be a table ([{name}])"
