"""Bad input through the real CLI: one line ``seqbench-ray: error: ...`` on stderr naming the
file / field / row and what was expected, exit status 2, no traceback, and no job directory
that looks complete (a refused spec leaves none at all; a failure after planning leaves
status.json "failed" with a reason and no summary.json).  See docs/bad-input.md.

Specs are written into ``tmp_path`` and point at copies of the embedded demo data (the cache
is never modified).  Most cases fail before Ray starts and run in-process through typer's
``CliRunner``; the ``ray`` cases (a model that cannot be loaded, a disk that fills) run
in-process against one local Ray for the module, and the model-geometry case runs the CLI
as a subprocess.  Files made unreadable with ``chmod 000`` do not stop root: those cases
skip when ``os.access`` still says readable.
"""

from __future__ import annotations

import errno
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
from tests.conftest import stop_shared_ray

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


def failed_after_planning(job: Path, msg: str) -> None:
    """A job that failed in Ray: status.json "failed" with the message, and nothing that looks complete."""
    status = json.loads((job / "status.json").read_text())
    assert status["state"] == "failed" and status["reason"] == msg, status
    assert not (job / "summary.json").exists() and not (job / "report.md").exists()
    assert (job / "manifest.json").is_file() and (job / "design.parquet").is_file()


def unreadable(path: Path) -> None:
    """``chmod 000 path``; skip when that does not stop this user (root) from reading it."""
    path.chmod(0)
    if os.access(path, os.R_OK):
        path.chmod(0o644)
        pytest.skip("chmod 000 does not stop this user (root) from reading; see docs/bad-input.md for the message")


@pytest.fixture(scope="module")
def local_ray(cache_dir, tmp_path_factory):
    """One local Ray for this module's in-process jobs (``init_ray`` leaves a running Ray alone).

    Started after SEQBENCH_CACHE_DIR is set and with a TF-Hub cache of its own: Ray's workers
    inherit the environment of the moment Ray starts."""
    import ray

    from seqbench.runtime.pipeline import init_ray
    from seqbench.spec import RuntimeSpec

    stop_shared_ray()  # the workers must start with this module's environment
    old = os.environ.get("TFHUB_CACHE_DIR")
    os.environ["TFHUB_CACHE_DIR"] = str(tmp_path_factory.mktemp("tfhub-cache"))
    started = init_ray(RuntimeSpec(num_cpus=4, object_store_mb=256))
    yield
    if started:
        ray.shutdown()
    if old is None:
        os.environ.pop("TFHUB_CACHE_DIR", None)
    else:
        os.environ["TFHUB_CACHE_DIR"] = old


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
    from seqbench.experiments.multiplicativity import design as mx
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
    design = mx.expand(job_spec, genome, ENFORMER_GEOMETRY)
    key = mx.load_candidates(table)["ziga_key"][10]
    ids = design.table.loc[design.table["location_key"] == key, "construct_id"].tolist()[:1]
    assert len(ids) == 1
    geometry = ENFORMER_GEOMETRY  # the planted model's, too
    shard = materialize_shard(0, list(ids), design.constructs(ids), genome.read_padded, geometry, job_spec.ensemble)
    window = shard.windows[0]
    assert window.shape[0] == geometry.sequence_length + 86
    past_end = int(shard.landmarks[0]) + (988_377 - (958_432 + 64))  # first position past chr3's end
    assert (window[past_end:] == 4).all() and (window[:past_end] != 4).mean() > 0.9


def test_table_window_before_a_chromosome_start_is_n_padded(tmp_path, data):
    """With the table's own windows (the default): a negative sequence_start is planned, and reads N."""
    from seqbench.experiments.multiplicativity import design as mx
    from seqbench.genome import Genome
    from seqbench.models.base import ENFORMER_GEOMETRY
    from seqbench.predict import materialize_shard
    from seqbench.spec import load_spec

    cols = ["main_tss_start", "main_tss_end", "fix_enhancer_wide_start", "fix_enhancer_wide_end",
            "sequence_start", "sequence_end"]

    def near_start(f):  # row 4 (a test location on chr1) moved 1.2 Mb left: its window starts at -150,144
        f.loc[3, cols] = [str(int(v) - 1_200_000) for v in f.loc[3, cols]]
        return f

    table = edit_table(data, near_start)
    s = spec(tmp_path, f'[model]\nkind = "planted"\n[inputs]\ncandidates = "{table}"\n')
    job_spec = load_spec(s)
    genome = Genome(job_spec.fasta)
    design = mx.expand(job_spec, genome, ENFORMER_GEOMETRY)
    key = mx.load_candidates(table)["ziga_key"][3]
    ids = design.table.loc[design.table["location_key"] == key, "construct_id"].tolist()[:1]
    assert len(ids) == 1
    shard = materialize_shard(
        0, list(ids), design.constructs(ids), genome.read_padded, ENFORMER_GEOMETRY, job_spec.ensemble
    )
    window = shard.windows[0]
    before_start = 150_144 + 43  # the extended window starts at sequence_start - 43 (the -43 shift)
    assert (window[:before_start] == 4).all() and (window[before_start:] != 4).mean() > 0.9


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


@pytest.mark.parametrize("which", ["spec", "fasta", "fai", "candidates"])
def test_unreadable_input_file(tmp_path, data, which):
    s = spec(tmp_path, '[model]\nkind = "planted"\n')
    path = {"spec": s, "fasta": data / FASTA, "fai": data / f"{FASTA}.fai", "candidates": data / TABLE}[which]
    unreadable(path)
    try:
        msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    finally:
        path.chmod(0o644)
    what = {"spec": "spec file", "fasta": "FASTA file", "fai": "input file", "candidates": "input file"}[which]
    assert msg == f"{path}: {what} cannot be read (Permission denied)"


def test_truncated_fasta(tmp_path, data):
    """A download cut mid-record next to an index that came whole: refused at planning (pyfaidx
    itself would return short sequences without complaint)."""
    fasta, fai = data / FASTA, data / f"{FASTA}.fai"
    size = fasta.stat().st_size // 2  # in the middle of chr2
    with open(fasta, "r+b") as f:
        f.truncate(size)
    later = fasta.stat().st_mtime + 10
    os.utime(fai, (later, later))  # the index is not older than the FASTA: only its contents disagree
    name, length, offset, bases, width = fai.read_text().splitlines()[1].split("\t")
    end = int(offset) + int(length) // int(bases) * int(width) + int(length) % int(bases)
    s = spec(tmp_path, '[model]\nkind = "planted"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == (
        f"{fasta}: truncated: genome.fa.fai says sequence {name!r} ends at byte {end:,} but the file has"
        f" {size:,} bytes; re-download the FASTA (or, if the FASTA is right, delete genome.fa.fai so it is"
        " re-indexed)"
    )


def test_fasta_that_no_longer_matches_its_index_fails_on_read(tmp_path):
    """Same size, different layout (a line one base short): the read is checked, not trusted."""
    from seqbench.genome import Genome, GenomeError
    from tests.conftest import random_dna, write_fasta

    path = write_fasta(tmp_path / "g.fa", {"chrA": random_dna(600, 1)})
    Genome(path)  # builds g.fa.fai
    raw = bytearray(path.read_bytes())
    raw[len(">chrA\n") + 2 * 61 + 59] = ord("\n")  # the last base of line 3 becomes a line break
    path.write_bytes(bytes(raw))
    later = path.stat().st_mtime + 10
    os.utime(f"{path}.fai", (later, later))
    genome = Genome(path)
    with pytest.raises(GenomeError) as err:
        genome.fetch("chrA", 0, 600)
    assert str(err.value) == (
        f"{path}: chrA:0-600 read 599 bp, expected 600: the FASTA is truncated or does not match its .fai;"
        " re-download the FASTA or delete its .fai so it is re-indexed"
    )


def test_unindexed_fasta_is_indexed(tmp_path, data):
    """No .fai: seqbench builds it next to the FASTA and plans as usual."""
    from seqbench.runtime.submit import plan_job
    from seqbench.spec import load_spec

    fai = data / f"{FASTA}.fai"
    expected = fai.read_text()
    fai.unlink()
    s = spec(tmp_path, '[model]\nkind = "planted"\n' + TINY)
    plan = plan_job(load_spec(s))
    assert plan.design.n_constructs == 2 * 2 * 1
    assert fai.read_text() == expected


def test_unindexed_fasta_in_a_read_only_directory(tmp_path, data, monkeypatch):
    """No .fai and no right to write one: refused with what to do, nothing written."""
    fasta, folder = data / FASTA, (data / FASTA).parent
    (data / f"{FASTA}.fai").unlink()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root: chmod does not stop it; answer as for any other user
            real = os.access
            monkeypatch.setattr(
                os, "access", lambda p, mode, **kw: not (Path(p) == folder and mode & os.W_OK) and real(p, mode, **kw)
            )
        s = spec(tmp_path, '[model]\nkind = "planted"\n')
        msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    finally:
        folder.chmod(0o755)
    assert msg == (
        f"{fasta}: FASTA has no index (genome.fa.fai) and seqbench cannot build one: {folder} is not writable;"
        " index it once where you can write (`samtools faidx genome.fa`) or copy it to a writable directory"
    )
    assert not (data / f"{FASTA}.fai").exists()


def test_stale_fasta_index(tmp_path, data):
    fai = data / f"{FASTA}.fai"
    earlier = (data / FASTA).stat().st_mtime - 3600
    os.utime(fai, (earlier, earlier))
    s = spec(tmp_path, '[model]\nkind = "planted"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == f"{fai}: index is older than genome.fa; delete it so it can be rebuilt"


def test_empty_fasta(tmp_path, data):
    fasta = data / FASTA
    fasta.write_bytes(b"")
    (data / f"{FASTA}.fai").unlink()
    s = spec(tmp_path, '[model]\nkind = "planted"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == (
        f"{fasta}: cannot read as an indexed FASTA (The FASTA file {fasta} does not contain a valid sequence."
        " Check that sequence definition lines start with '>'.)"
    )


@pytest.mark.parametrize(("content", "expected"), [("", "is empty"), ("header", "has a header but no rows")])
def test_empty_candidate_table(tmp_path, data, content, expected):
    table = data / TABLE
    table.write_text(table.read_text().splitlines(keepends=True)[0] if content else "")
    s = spec(tmp_path, '[model]\nkind = "planted"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == f"{table}: multiplicativity candidate table {expected}"


def _set(row: int, **cells):
    """An edit_table edit: set cells of data row ``row`` (1-based, as in the messages)."""

    def edit(f):
        for col, value in cells.items():
            f.loc[row - 1, col] = str(value)
        return f

    return edit


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            _set(3, fix_enhancer_wide_start=809304, fix_enhancer_wide_end=807304),
            "row 3, column 'fix_enhancer_wide_end': 807304 is not after fix_enhancer_wide_start = 809304;"
            " expected fix_enhancer_wide_start < fix_enhancer_wide_end",
        ),
        (
            _set(2, sequence_end=554880),
            "row 2, column 'sequence_end': 554880 is not after sequence_start = 554880;"
            " expected sequence_start < sequence_end",
        ),
        (
            _set(4, main_tss_end=1246564),
            "row 4, column 'main_tss_end': 1246564 - main_tss_start 1246464 = 100; expected the 128-bp TSS bin",
        ),
        (
            _set(1, main_tss_start=-100, main_tss_end=28),
            "row 1, column 'main_tss_start': -100 is off chr1 (length 1534927 in genome.fa);"
            " expected 0 <= main_tss_start < main_tss_end <= 1534927",
        ),
    ],
    ids=["enhancer-inverted", "sequence-empty", "tss-bin-not-128", "tss-negative"],
)
def test_inverted_or_negative_interval(tmp_path, data, edit, expected):
    table = edit_table(data, edit)
    s = spec(tmp_path, f'[model]\nkind = "planted"\n[inputs]\ncandidates = "{table}"\n')
    assert refused(tmp_path, "multiplicativity", "--spec", str(s)) == f"{table}: {expected}"


@pytest.mark.parametrize(("value", "found"), [("maybe", "'maybe'"), ("", "the cell is empty (or NA)")])
def test_test_location_not_a_boolean(tmp_path, data, value, found):
    table = edit_table(data, _set(6, test_location=value))
    s = spec(tmp_path, f'[model]\nkind = "planted"\n[inputs]\ncandidates = "{table}"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == f"{table}: row 6, column 'test_location': {found}; expected a boolean (True, False, 1 or 0)"


def test_duplicate_ziga_key(tmp_path, data):
    def dup(f):
        f.loc[4, "ziga_key"] = f.loc[1, "ziga_key"]  # row 5 takes row 2's key
        return f

    table = edit_table(data, dup)
    key = pd.read_csv(table, sep="\t")["ziga_key"][1]
    s = spec(tmp_path, f'[model]\nkind = "planted"\n[inputs]\ncandidates = "{table}"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == f"{table}: row 5, column 'ziga_key': {key!r} is already the key of row 2; expected unique keys"


def test_literal_sequence_outside_acgtn():
    """A construct's literal source or payload with another letter: SequenceError names construct and position."""
    from seqbench.sequence.codes import SequenceError
    from seqbench.sequence.constructs import Construct, Literal, insert, materialize

    plasmid = Construct(key="plasmid", literal="ACGTNACGTXACGT", landmark=2)
    with pytest.raises(SequenceError) as err:
        materialize(plasmid, None, sequence_length=16)
    assert str(err.value) == (
        "construct plasmid: literal: character 'X' at position 9 (0-based) is not one of A, C, G, T, N"
        " (1 such character(s))"
    )
    spliced = Construct(key="spliced", literal="A" * 32, landmark=8, edits=(insert(16, Literal("ACGUU")),))
    with pytest.raises(SequenceError) as err:
        materialize(spliced, None, sequence_length=64)
    assert str(err.value) == (
        "construct spliced: literal payload: character 'U' at position 3 (0-based) is not one of A, C, G, T, N"
        " (2 such character(s))"
    )


def test_sequence_error_is_a_user_error(tmp_path, data, monkeypatch):
    """The CLI maps SequenceError (raised while a job is planned) to the one-line error."""
    import seqbench.runtime.submit as runtime_submit
    from seqbench.sequence.codes import encode

    def plan_with_a_bad_literal(*args, **kwargs):
        encode("ACGU", what="construct spliced: literal payload")

    monkeypatch.setattr(runtime_submit, "submit", plan_with_a_bad_literal)
    s = spec(tmp_path, '[model]\nkind = "planted"\n')
    msg = refused(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == (
        "construct spliced: literal payload: character 'U' at position 3 (0-based) is not one of A, C, G, T, N"
        " (1 such character(s))"
    )


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
    from seqbench.registry import experiment_names

    known = ", ".join(experiment_names())
    assert msg == f"unknown experiment 'multiplicativty'; did you mean 'multiplicativity'? (known: {known})"


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


@pytest.mark.ray
@pytest.mark.parametrize(
    ("handle", "expected"),
    [
        (  # a directory without saved_model.pb is refused at planning (tests/test_bad_input_more.py)
            "broken-model",
            "model handle {handle}: cannot load (Cannot parse file b'{handle}/saved_model.pb': Error parsing"
            " message with type 'tensorflow.SavedModel': Wire format was corrupt.)",
        ),
        (
            "http://127.0.0.1:9/deepmind/enformer/1",
            "model handle {handle}: cannot download into {cache} (<urlopen error [Errno 111] Connection refused>);"
            " if this machine is offline, download the model once elsewhere and point the spec's model.handle at"
            " the local SavedModel directory, or set TFHUB_CACHE_DIR to a directory that already holds it",
        ),
    ],
    ids=["not-a-savedmodel", "tfhub-url-offline"],
)
def test_model_that_cannot_be_loaded(tmp_path, data, local_ray, handle, expected):
    """Planning accepts the handle (it holds a saved_model.pb, or is a URL); the replica fails to load it, in Ray."""
    if "://" not in handle:
        (tmp_path / handle).mkdir()
        (tmp_path / handle / "saved_model.pb").write_bytes(b"not a protobuf")  # corrupt, as a cut-off download
    s = spec(tmp_path, f'[model]\nkind = "enformer"\nhandle = "{handle}"\n[tracks]\ncage = 5111\n' + TINY)
    msg, job = submit(tmp_path, "multiplicativity", "--spec", str(s))
    resolved = handle if "://" in handle else str(tmp_path / handle)
    # a URL is downloaded once, by a staging task, into the replicas' TF-Hub cache before they start
    assert msg == expected.format(handle=resolved, cache=os.environ["TFHUB_CACHE_DIR"])
    failed_after_planning(job, msg)


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


@pytest.mark.ray
def test_disk_fills_while_a_part_is_written(tmp_path, data, local_ray, monkeypatch):
    """ENOSPC while a prediction part is written: one line naming the job and the part, the job
    "failed" (resumable), no summary.json, and no partial part under parts/.  (A real full disk,
    a tmpfs out of inodes, gives the same line: docs/bad-input.md case 13e.)"""
    import pyarrow.parquet as pq

    real_write_table = pq.write_table

    def disk_full(table, where, *args, **kwargs):
        if "_tmp" not in Path(str(where)).parts:  # design.parquet still fits
            return real_write_table(table, where, *args, **kwargs)
        Path(where).write_bytes(b"PAR1 half a part")  # what a full disk leaves behind
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pq, "write_table", disk_full)
    s = spec(tmp_path, '[model]\nkind = "planted"\n' + TINY)
    msg, job = submit(tmp_path, "multiplicativity", "--spec", str(s))
    assert msg == (
        f"{job}: cannot write prediction part parts/part-000000.parquet: the disk is full (No space left on"
        f" device); free some space, then `seqbench-ray resume {job}` continues the job"
    )
    failed_after_planning(job, msg)
    assert [p.name for p in (job / "parts").iterdir()] == ["_tmp"]
    assert list((job / "parts" / "_tmp").iterdir()) == []
    # resume once space is freed: tests/runtime/test_faults.py (test_part_write_failure_fails_job_then_resume_completes)


def test_disk_full_while_job_files_are_written(tmp_path, monkeypatch):
    """atomic_write_*: a full disk leaves no temporary file and names the file; recording a failure
    still succeeds (status.json is then rewritten in place), so the error itself reaches the user."""
    from seqbench.runtime import jobdir
    from seqbench.runtime.jobdir import JobDir, JobDirError

    job = JobDir(tmp_path / "job")
    job.set_status("running")

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(jobdir.os, "fsync", no_space)
    with pytest.raises(JobDirError) as err:
        jobdir.atomic_write_json(job.path / "manifest.json", {"n_shards": 1})
    assert str(err.value) == f"{job.path}: cannot write manifest.json: the disk is full (No space left on device)"
    with pytest.raises(JobDirError, match="cannot write status.json: the disk is full"):
        job.set_status("reducing")
    assert job.status()["state"] == "running"
    job.set_status("failed", reason="the disk is full")  # does not raise
    assert job.status() == {**job.status(), "state": "failed", "reason": "the disk is full"}
    assert sorted(p.name for p in job.path.iterdir()) == ["status.json"]  # no temporary files left


def test_disk_full_while_planning_is_one_line(tmp_path, data, monkeypatch):
    """The disk fills while the design table is written: no traceback, nothing that looks planned."""
    import errno

    def full(self, path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    body = '[model]\nkind = "planted"\n[inputs]\nmax_promoters = 2\nmax_enhancers = 2\nmax_backgrounds = 1\n'
    msg, job = submit(tmp_path, "multiplicativity", "--spec", str(spec(tmp_path, body)))
    assert msg.endswith("design.tmp: No space left on device; the disk is full"), msg
    assert not (job / "manifest.json").exists()  # never looks planned, let alone complete
