"""What docs/security.md promises: nothing in a spec is executed or unpickled, relative paths
resolve against the spec's folder, and local Ray runs without usage statistics, with token
authentication, without the dashboard, and (seqbench sets ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) on the
loopback interface only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqbench.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]

#: ways to run or unpickle data: none of them may appear in seqbench/
FORBIDDEN = {
    "pickle / marshal / shelve / dill / joblib import": re.compile(
        r"^\s*(import|from)\s+(c?pickle|cloudpickle|marshal|shelve|dill|joblib)\b", re.M
    ),
    "eval( / exec( / compile( call": re.compile(r"(?<![\w.])(eval|exec|compile)\s*\("),
    "__import__ / import_module": re.compile(r"__import__\s*\(|import_module\s*\("),
    "unpickling loader": re.compile(r"read_pickle|allow_pickle\s*=\s*True|yaml\.(unsafe_)?load\s*\(|pickle\.loads?\("),
}


#: the only exceptions, each for one file and one kind of hit, with the reason.  Kipoi's Basenji1 ships a
#: const_feed_dict.pkl: seqbench reads it only through a restricted Unpickler whose find_class allows
#: NumPy array/dtype/scalar rebuilding and builtin containers (tests/models/test_basenji1.py refuses
#: os.system and eval), and its planted twin writes one with pickle.dump.  pickle.load/loads stay forbidden.
ALLOWED = {
    ("seqbench/models/basenji1.py", "pickle / marshal / shelve / dill / joblib import"),
    ("seqbench/models/planted/twin_basenji1.py", "pickle / marshal / shelve / dill / joblib import"),
}


def test_no_code_execution_or_unpickling_in_seqbench():
    hits = []
    for path in sorted((ROOT / "seqbench").rglob("*.py")):
        text = path.read_text()
        for what, pattern in FORBIDDEN.items():
            if (str(path.relative_to(ROOT)), what) in ALLOWED:
                continue
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                hits.append(f"{path.relative_to(ROOT)}:{line}: {what}: {m.group(0).strip()}")
    assert not hits, "\n".join(hits)


def test_the_one_unpickler_is_restricted():
    """The two exceptions above use pickle only as stated: basenji1.py through its Unpickler subclass
    (which overrides find_class) and nothing else, the twin only to dump."""
    text = (ROOT / "seqbench/models/basenji1.py").read_text()
    assert set(re.findall(r"\bpickle\.(\w+)", text)) == {"Unpickler", "UnpicklingError"}
    assert re.findall(r"class (\w+)\(pickle\.Unpickler\)", text) == ["_ConstFeedUnpickler"]
    assert "    def find_class(self, module: str, name: str) -> Any:" in text
    assert re.findall(r"(?<!class )\b\w*Unpickler\(", text) == ["_ConstFeedUnpickler("]
    twin = (ROOT / "seqbench/models/planted/twin_basenji1.py").read_text()
    assert set(re.findall(r"\bpickle\.(\w+)", twin)) == {"dump"}


def test_a_spec_is_data_never_code(tmp_path):
    """Values that look like code stay strings; a pickle or YAML payload is not a spec (one line, no load)."""
    import pickle

    from seqbench.spec import SpecError

    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    spec_path = tmp_path / "job.toml"
    spec_path.write_text(f'experiment = "multiplicativity"\ndata_root = "/data"\n[inputs]\ncandidates = "{payload}"\n')
    spec = load_spec(spec_path)
    assert spec.inputs["candidates"] == Path("/data") / payload and not marker.exists()

    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    spec_path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(SpecError, match="not a UTF-8 text file|TOML syntax error"):
        load_spec(spec_path)
    spec_path.write_text('!!python/object/apply:os.system ["touch ' + str(marker) + '"]\n')
    with pytest.raises(SpecError, match="TOML syntax error"):
        load_spec(spec_path)
    assert not marker.exists()


def test_relative_paths_resolve_against_the_spec_folder(tmp_path, monkeypatch):
    """Not against the working directory: the same spec means the same files wherever it is run from."""
    folder = tmp_path / "project" / "specs"
    folder.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec_path = folder / "job.toml"
    spec_path.write_text(
        'experiment = "multiplicativity"\n'
        'data_root = "../archive"\n'
        'job_dir = "jobs/one"\n'
        '[genome]\nfasta = "Data/Genome/hg38.fa"\n'
        '[model]\nkind = "enformer"\nhandle = "models/enformer"\ntargets = "models/targets_human.txt"\n'
        '[inputs]\ncandidates = "Data/table.tsv"\n'
    )
    spec = load_spec(Path(os.path.relpath(spec_path)))  # given relative to the working directory
    root = (tmp_path / "project" / "archive").resolve()
    assert spec.data_root == root
    assert spec.fasta == root / "Data/Genome/hg38.fa"  # data paths: against data_root
    assert spec.inputs["candidates"] == root / "Data/table.tsv"
    assert spec.job_dir == folder.resolve() / "jobs/one"
    assert spec.model.handle == str(folder.resolve() / "models/enformer")
    assert spec.model.targets == str(folder.resolve() / "models/targets_human.txt")


def test_absolute_paths_and_urls_are_kept(tmp_path):
    spec_path = tmp_path / "job.toml"
    spec_path.write_text(
        'experiment = "multiplicativity"\ndata_root = "/data/archive"\n'
        '[model]\nkind = "enformer"\nhandle = "https://tfhub.dev/deepmind/enformer/1"\n'
    )
    spec = load_spec(spec_path)
    assert spec.data_root == Path("/data/archive")
    assert spec.model.handle == "https://tfhub.dev/deepmind/enformer/1"


# ---- local Ray ------------------------------------------------------------------------------------

_PROBE = r"""
import json, os
os.environ.pop("RAY_USAGE_STATS_ENABLED", None)  # init_ray must switch usage statistics off itself
os.environ.pop("RAY_AUTH_MODE", None)  # Ray's own default for a new local cluster: token authentication
from seqbench.runtime.pipeline import init_ray
from seqbench.spec import RuntimeSpec

init_ray(RuntimeSpec(num_cpus=1, object_store_mb=80))
import ray

@ray.remote(num_cpus=0.25)
def ping():
    return os.getpid()

worker = ray.get(ping.remote())  # a worker is up: its listener exists too
node = ray._private.worker.global_worker.node
print(json.dumps({
    "usage_stats": os.environ.get("RAY_USAGE_STATS_ENABLED"),
    "auth_mode": os.environ.get("RAY_AUTH_MODE"),
    "webui_url": node.address_info.get("webui_url"),
    "node_ip": node.node_ip_address,
    "gcs": node.gcs_address,
    "worker": worker,
}))
"""


def _listeners(root: int) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every TCP socket listening in the process tree under ``root`` (Linux /proc)."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parent[int(d)] = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, grew = {root}, True
    while grew:
        new = {c for c, p in parent.items() if p in tree} - tree
        tree |= new
        grew = bool(new)
    inode_pid: dict[str, int] = {}
    for pid in tree:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inode_pid[target[8:-1]] = pid
        except OSError:
            continue
    out = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] != "0A" or f[9] not in inode_pid:  # 0A: LISTEN
                continue
            hexaddr, hexport = f[1].split(":")
            raw = bytes.fromhex(hexaddr)
            if v6:  # four little-endian 32-bit words
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                import ipaddress

                addr = ipaddress.IPv6Address(raw)
                addr = str(addr.ipv4_mapped or addr)
            else:
                addr = ".".join(str(b) for b in raw[::-1])
            out.append((addr, int(hexport, 16), inode_pid[f[9]]))
    return out


@pytest.mark.ray
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads listening sockets from Linux /proc")
def test_local_ray_is_private(tmp_path):
    """seqbench's init_ray, run as a user would (nothing exported): usage statistics off, token
    authentication on, no dashboard, and every socket of every Ray process on the loopback interface."""
    drop = ("RAY_USAGE_STATS_ENABLED", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    probe = subprocess.Popen(
        [sys.executable, "-c", _PROBE + "import sys; sys.stdin.read()\nray.shutdown()\n"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        line = probe.stdout.readline()
        assert line, probe.stderr.read()[-3000:] if probe.poll() is not None else "no output"
        info = json.loads(line)
        time.sleep(3)  # the agents open their sockets a moment after ray.init returns
        listening = _listeners(probe.pid)
    finally:
        probe.communicate("", timeout=120)
    assert info["usage_stats"] == "0"
    assert info["auth_mode"] == "token"  # set by ray.init for a new local cluster (Ray >= 2.59)
    assert not info["webui_url"]  # no dashboard web UI / Jobs API
    assert info["node_ip"] == "127.0.0.1" and info["gcs"].startswith("127.0.0.1:")
    ports = {port for _, port, _ in listening}
    assert int(info["gcs"].rsplit(":", 1)[1]) in ports and 8265 not in ports
    assert any(pid == info["worker"] for _, _, pid in listening)
    exposed = [(a, port) for a, port, _ in listening if a not in ("127.0.0.1", "::1")]
    assert not exposed, f"Ray listens beyond the loopback interface: {exposed}"
