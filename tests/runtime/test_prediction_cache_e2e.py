"""The prediction cache through Ray, on tiny demo jobs of the planted model.

Known answers, computed apart from the cache: the distinct members of a job (the inputs cut by
``member_codes`` and the bins each reads, compared as bytes), the planted law (the NumPy reference)
for every row, and, for the knock-down -> multiplicativity chain, the members both jobs share.

- a second identical job computes 0 forward passes; ``status --json`` says so; its rows are the first's;
- the chain computes fewer passes than the two jobs alone, by the count ``plan`` predicted (slow);
- a job with the cache gives the rows of a job without it, bit for bit, and stays exactly-once when
  its driver fails mid-job and it is resumed (slow);
- a corrupt entry is found by ``cache verify``, recomputed and never served (slow).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.enhancer_knockdown import demo as kd_demo
from seqbench.experiments.multiplicativity import demo as mx_demo
from seqbench.genome import Genome
from seqbench.models.planted.reference import reference_output
from seqbench.predict import materialize_shard
from seqbench.runtime.jobdir import JobDir
from seqbench.sequence.ensemble import member_codes, member_landmarks, window_bins
from seqbench.spec import deep_merge, parse_spec

pytestmark = pytest.mark.ray

TINY = {"max_promoters": 3, "max_enhancers": 4, "max_backgrounds": 2}
#: the knock-down demo's model (planted-v1; the multiplicativity demo runs planted-v2): the law the tests
#: check is v1's NumPy reference, and the chain shares entries only within one model
V1 = {"kind": "planted"}
KEY = ["construct_id", "member"]


def _spec(cache_dir: Path, raw: dict[str, Any] | None = None, **runtime: Any):
    root = ensure_demo(cache_dir).root
    base = raw if raw is not None else deep_merge(mx_demo.demo_spec(root), {"inputs": TINY, "model": V1})
    return parse_spec(deep_merge(base, {"runtime": {"replicas": 1, "shard_size": 8, **runtime}}), origin="test",
                      base_dir=root)


def _cli(*args: str) -> Any:
    from seqbench.cli import app

    return CliRunner().invoke(app, list(args))


def _status(job: Path) -> dict[str, Any]:
    res = _cli("status", str(job), "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _rows(job: Path) -> pd.DataFrame:
    parts = sorted((job / "parts").glob("part-*.parquet"))
    rows = pd.concat([pq.read_table(p).to_pandas() for p in parts])
    return rows.sort_values(KEY).reset_index(drop=True)


def _members(spec) -> tuple[list[bytes], np.ndarray]:
    """Every member of the job as bytes (input codes cut by member_codes + the bins it reads + their mask),
    construct-major, and the planted law's value of every member for every job track ``[n·M, T]``."""
    from seqbench.runtime.submit import plan_job

    p = plan_job(spec)
    geo, ens = p.geometry, spec.ensemble
    genome = Genome(spec.fasta)
    ids = list(range(p.design.n_constructs))
    shard = materialize_shard(0, ids, [p.design.build(i) for i in ids], genome.read_padded, geo, ens,
                              window_length=geo.sequence_length)
    out, law = [], []
    tracks = np.asarray(list(p.tracks.values()))
    for i in ids:
        codes = member_codes(shard.windows[i], ens, geo.sequence_length, flip=shard.flip(i))
        bins, valid = window_bins(member_landmarks(int(shard.landmarks[i]), ens, geo, shard.flip(i))[1], ens,
                                  geo.n_bins)
        ref = reference_output(codes)[:, :, tracks]  # [M, n_bins, T]
        for m in range(codes.shape[0]):
            out.append(codes[m].tobytes() + bins[m].tobytes() + valid[m].tobytes())
            law.append((ref[m, bins[m]] * valid[m][:, None]).sum(axis=0))
    return out, np.asarray(law)


def _assert_rows_follow_the_law(job: Path, law: np.ndarray, labels: list[str]) -> None:
    rows = _rows(job)
    assert not rows.duplicated(KEY).any() and len(rows) == law.shape[0]  # exactly once
    np.testing.assert_allclose(rows[labels].to_numpy(np.float64), law, rtol=2e-5, atol=1e-4)


def test_a_second_identical_job_computes_no_forward_pass(cache_dir, tmp_path, local_ray):
    from seqbench.runtime.submit import submit

    spec = _spec(cache_dir, prediction_cache=str(tmp_path / "pc"))
    members, law = _members(spec)
    n, distinct = len(members), len(set(members))

    first = submit(spec, job_dir=tmp_path / "a", progress=False).job_dir
    st = _status(first)
    assert st["state"] == "complete" and st["n_members"] == n
    assert (st["forward_passes"], st["cache_hits"]) == (distinct, n - distinct)  # one replica: each member once
    _assert_rows_follow_the_law(first, law, ["cage", "dnase"])

    second = submit(spec, job_dir=tmp_path / "b", progress=False).job_dir
    st = _status(second)
    assert (st["forward_passes"], st["cache_hits"]) == (0, n)
    pd.testing.assert_frame_equal(_rows(second), _rows(first), check_exact=True)
    assert "0 forward passes" in (second / "log.txt").read_text()

    res = _cli("cache", "verify", "--root", str(tmp_path / "pc"), "--json")
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["entries"] == distinct and rep["corrupt_rows"] == 0 and rep["models"] == 1


# ---------------------------------------------------------------- slow: the chain, resume, corruption


@pytest.mark.slow
def test_knockdown_then_multiplicativity_saves_the_passes_plan_predicted(cache_dir, tmp_path, local_ray):
    """The multiplicativity job's native constructs are the knock-down job's reference windows."""
    from seqbench.cli import _plan_cache
    from seqbench.runtime.submit import inputs_from_job, plan_job, submit

    root = ensure_demo(cache_dir).root
    pc = str(tmp_path / "pc")
    kd = _spec(cache_dir, deep_merge(kd_demo.demo_spec(root), {"inputs": {"max_genes": 3}}), prediction_cache=pc)
    kd_job = submit(kd, job_dir=tmp_path / "kd", progress=False).job_dir
    kd_members, _ = _members(kd)
    assert _status(kd_job)["forward_passes"] == len(set(kd_members))

    raw = deep_merge(mx_demo.demo_spec(root), {"model": V1})
    raw["tracks"] = {"cage": raw["tracks"]["cage"]}  # the knock-down job's track: a hit needs every track read
    raw = deep_merge(raw, {"inputs": inputs_from_job("multiplicativity", kd_job)})
    mx = _spec(cache_dir, raw, prediction_cache=pc)
    mx_members, law = _members(mx)
    shared = set(mx_members) & set(kd_members)
    # brute force: what the second job computes is its distinct members the first did not
    want = len(set(mx_members) - set(kd_members))
    assert shared, "the demo chain shares no member: the test would prove nothing"

    saved = _plan_cache(mx, plan_job(mx), 10_000)[0]
    assert (saved.members, saved.held, saved.computed) == (len(mx_members), len(shared), want)
    res = _cli("plan", "multiplicativity", "--spec", str(_toml(tmp_path / "mx.toml", raw, pc)), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["models"][0]["cache_saves"] == saved.saved

    mx_job = submit(mx, job_dir=tmp_path / "mx", progress=False).job_dir
    st = _status(mx_job)
    assert st["forward_passes"] == len(mx_members) - saved.saved == want
    assert st["forward_passes"] + _status(kd_job)["forward_passes"] < len(set(mx_members)) + len(set(kd_members))
    _assert_rows_follow_the_law(mx_job, law, ["cage"])


def _toml(path: Path, raw: dict[str, Any], pc: str) -> Path:
    """``raw`` as a spec file (only the keys the chain uses: strings, numbers and one-level tables)."""

    def value(v: Any) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(str(v) if isinstance(v, Path) else v)

    lines = [f"{k} = {value(v)}" for k, v in raw.items() if not isinstance(v, dict)]
    for table, body in {**raw, "runtime": {"prediction_cache": pc}}.items():
        if isinstance(body, dict):
            lines.append(f"[{table}]")
            lines += [f"{k} = {value(v)}" for k, v in body.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_rows_with_and_without_the_cache_are_equal_and_resume_stays_exactly_once(
    cache_dir, tmp_path, local_ray, monkeypatch
):
    """The disk fills while shard 1's part is written (its entries already went to the cache): the job
    fails; resume serves that shard from the cache; every row once, equal bit for bit to a job without it."""
    from seqbench.runtime.jobdir import JobDirError
    from seqbench.runtime.submit import resume, submit

    plain = submit(_spec(cache_dir, prediction_cache="off"), job_dir=tmp_path / "plain", progress=False).job_dir
    assert _status(plain)["cache_hits"] == 0

    write_table = pq.write_table

    def disk_full_on_part_1(table, where, *args, **kwargs):
        path = Path(where) if isinstance(where, str | os.PathLike) else None
        if path is not None and path.parent.name == "_tmp" and path.name.startswith("part-000001."):
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_table(table, where, *args, **kwargs)

    monkeypatch.setattr(pq, "write_table", disk_full_on_part_1)
    spec = _spec(cache_dir, prediction_cache=str(tmp_path / "pc"))
    job = tmp_path / "job"
    with pytest.raises(JobDirError, match="No space left on device"):
        submit(spec, job_dir=job, progress=False)
    assert 1 not in JobDir(job).done_shards()
    monkeypatch.undo()
    resume(job, progress=False)
    pd.testing.assert_frame_equal(_rows(job), _rows(plain), check_exact=True)
    meta = pq.read_schema(job / "parts" / "part-000001.parquet").metadata
    assert meta[b"seqbench.forward_passes"] == b"0"  # computed before the failure, served from the cache
    members, _ = _members(spec)
    st = _status(job)
    # passes of shards whose part was never written (the failed run) are not the job's: at most each member once
    assert st["forward_passes"] + st["cache_hits"] == len(members) and st["forward_passes"] <= len(set(members))


@pytest.mark.slow
def test_a_corrupt_entry_is_recomputed_never_served(cache_dir, tmp_path, local_ray):
    from seqbench.runtime.submit import submit

    pc = tmp_path / "pc"
    spec = _spec(cache_dir, prediction_cache=str(pc))
    members, law = _members(spec)
    first = submit(spec, job_dir=tmp_path / "a", progress=False).job_dir
    part = sorted(pc.glob("*/parts/*.parquet"))[0]
    t = pq.read_table(part)
    values = t.column("values").to_pylist()
    values[0] = [v * 1000.0 + 7.0 for v in values[0]]  # a wrong value, the row's check kept
    pq.write_table(t.set_column(2, "values", pa.array(values, pa.list_(pa.float32()))), part)

    res = _cli("cache", "verify", "--root", str(pc))
    assert res.exit_code == 1 and "1 corrupt rows" in res.output

    second = submit(spec, job_dir=tmp_path / "b", progress=False).job_dir
    assert _status(second)["forward_passes"] == 1  # the corrupt member alone
    pd.testing.assert_frame_equal(_rows(second), _rows(first), check_exact=True)
    _assert_rows_follow_the_law(second, law, ["cage", "dnase"])
    assert _cli("cache", "verify", "--root", str(pc), "--fix").exit_code == 0
    assert _cli("cache", "verify", "--root", str(pc)).exit_code == 0
