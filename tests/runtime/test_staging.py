"""Staging: the genome copied once per node, the model downloaded once per job (not per replica)."""

from __future__ import annotations

import http.server
import io
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.multiplicativity import demo as mx_demo
from seqbench.runtime.staging import StagingError, local_genome
from seqbench.spec import deep_merge, parse_spec
from tests.conftest import stop_shared_ray, write_fasta


def _genome(tmp_path: Path) -> Path:
    fasta = write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 500, "chr2": "GGCC" * 300})
    from seqbench.genome import Genome

    Genome(fasta)  # builds the .fai
    return fasta


def test_local_copy_is_made_once_and_read_identically(tmp_path):
    from seqbench.genome import Genome

    fasta = _genome(tmp_path)
    local = tmp_path / "node-local"
    # four processes race for the copy: exactly one makes it, all get the same complete file
    code = (
        "import sys; from seqbench.runtime.staging import local_genome\n"
        "print(local_genome(sys.argv[1], sys.argv[2]).copied)"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(fasta), str(local)], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    copied = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(copied) == ["False", "False", "False", "True"]
    c = local_genome(fasta, local)
    assert not c.copied and c.path.parent.parent == local and c.path.read_bytes() == fasta.read_bytes()
    assert (Genome(c.path).fetch("chr2", 10, 30) == Genome(fasta).fetch("chr2", 10, 30)).all()
    assert not [p for p in c.path.parent.iterdir() if ".tmp-" in p.name]  # nothing half-written left

    # another assembly (another index) is another copy, never the stale one
    write_fasta(fasta, {"chr1": "TTAA" * 400})
    Path(f"{fasta}.fai").unlink()
    Genome(fasta)
    c2 = local_genome(fasta, local)
    assert c2.copied and c2.path != c.path and c2.path.read_bytes() == fasta.read_bytes()


def test_local_copy_errors_name_the_directory(tmp_path):
    fasta = _genome(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StagingError, match="cannot copy the genome g.fa to this node's local disk"):
        local_genome(fasta, blocker / "sub")
    Path(f"{fasta}.fai").unlink()
    with pytest.raises(StagingError, match="no FASTA index"):
        local_genome(fasta, tmp_path / "x")


class _TarballServer:
    """Serves one .tar.gz at any path and counts the requests (a stand-in for tfhub.dev)."""

    def __init__(self, model_dir: Path):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for p in sorted(model_dir.rglob("*")):
                tar.add(p, arcname=str(p.relative_to(model_dir)), recursive=False)
        body, self.requests = buf.getvalue(), []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                outer.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-tar")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/planted/1.tar.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.mark.slow
@pytest.mark.ray
def test_a_tfhub_url_is_downloaded_once_for_all_replicas_and_the_genome_read_locally(cache_dir, tmp_path):
    import ray

    from seqbench.models.registry import twin_dir
    from seqbench.runtime.submit import submit

    layout = ensure_demo(cache_dir)
    base = deep_merge(mx_demo.demo_spec(layout.root), {"inputs": {"max_promoters": 2, "max_enhancers": 3,
                                                             "max_backgrounds": 2}})
    model_dir = twin_dir(base["model"]["kind"], cache_dir)  # the demo's planted model, served as a URL
    server = _TarballServer(model_dir)
    hub_cache, local = tmp_path / "tfhub", tmp_path / "node-local"
    staged = deep_merge(base, {
        # the planted SavedModel behind a URL, loaded through the Enformer path (TF-Hub download)
        "model": {"kind": "enformer", "handle": server.url, "targets": str(model_dir / "assets" / "targets.txt")},
        "tracks": {"cage": {"index": 0}, "dnase": {"index": 1}},
        "runtime": {"replicas": 2, "shard_size": 3, "model_cache": str(hub_cache), "genome_local_dir": str(local)},
    })
    stop_shared_ray()  # a Ray of its own (its workers inherit the TF-Hub cache of this test)
    ray.init(address="local", num_cpus=4, object_store_memory=300 * 1024**2, include_dashboard=False,
             log_to_driver=False)
    try:
        a = submit(parse_spec(staged, origin="test", base_dir=tmp_path), job_dir=tmp_path / "a", progress=False)
        b = submit(parse_spec(base, origin="test", base_dir=tmp_path), job_dir=tmp_path / "b", progress=False)
    finally:
        ray.shutdown()
        server.close()
    assert len(server.requests) == 1 and "tf-hub-format=compressed" in server.requests[0]
    assert [p.name for p in hub_cache.iterdir() if p.is_dir()]  # the module sits in the named cache
    copies = list(local.glob("*/genome.fa"))
    assert len(copies) == 1 and copies[0].read_bytes() == (layout.root / "Data/Genome/genome.fa").read_bytes()

    def rows(job: Path) -> pd.DataFrame:
        t = pd.concat([pq.read_table(p).to_pandas() for p in sorted((job / "parts").glob("part-*.parquet"))])
        return t.sort_values(["construct_id", "member"]).reset_index(drop=True)

    # the same numbers; the rows' model column names what each job loaded
    pd.testing.assert_frame_equal(rows(a.job_dir).drop(columns="model"), rows(b.job_dir).drop(columns="model"),
                                  check_exact=True)
    assert a.summary["model_handle"] == server.url  # the report names exactly what was loaded


def test_stage_command_indexes_builds_and_copies_then_keeps_what_is_there(cache_dir, tmp_path):
    import os
    import subprocess
    import sys

    layout = ensure_demo(cache_dir)
    spec = tmp_path / "job.toml"
    local = tmp_path / "local"
    spec.write_text(f'experiment = "multiplicativity"\ndata_root = "{layout.root}"\n[model]\nkind = "planted"\n'
                    f'[runtime]\ngenome_local_dir = "{local}"\n')
    env = {**os.environ, "SEQBENCH_CACHE_DIR": str(cache_dir)}

    def stage():
        return subprocess.run([sys.executable, "-m", "seqbench.cli", "stage", "multiplicativity", "--spec", str(spec)],
                              capture_output=True, text=True, env=env, timeout=300)

    first, second = stage(), stage()
    assert first.returncode == 0 and second.returncode == 0, first.stderr
    assert "model planted-v1: (built-in planted-v1) ready at" in first.stdout
    assert "(copied)" in first.stdout and "(already there)" in second.stdout
    copy = next(local.glob("*/genome.fa"))
    assert copy.read_bytes() == (layout.root / "Data" / "Genome" / "genome.fa").read_bytes()
