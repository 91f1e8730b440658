"""A driver killed with SIGKILL leaves no Ray process of its local session behind (the watchdog)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqbench.runtime.watchdog import session_processes

pytestmark = [pytest.mark.ray, pytest.mark.skipif(not Path("/proc").is_dir(), reason="Linux /proc")]

DRIVER = """
import os, sys, time
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
import ray
from seqbench.runtime.pipeline import init_ray
from seqbench.spec import RuntimeSpec
init_ray(RuntimeSpec(num_cpus=1, object_store_mb=100))
print(ray._private.worker.global_worker.node.get_session_dir_path(), flush=True)
time.sleep(600)
"""


def _alive(pids: dict[int, int]) -> list[int]:
    from seqbench.runtime.watchdog import alive

    return [p for p, s in pids.items() if alive(p, s)]


def _name(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")[0]
    except OSError:  # gone since it was listed
        return b""


def test_kill_9_of_the_driver_stops_its_local_ray(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    try:
        session = Path(proc.stdout.readline().strip()).name
        assert session.startswith("session_")
        # killed as soon as the agents exist: before the watchdog's first record could list them, so it
        # must find them by the session's files they hold open (they are renamed, then orphaned)
        deadline = time.time() + 30
        while True:
            procs = session_processes(session, {})
            names = {p: _name(p) for p in _alive(procs)}
            agents = [p for p, n in names.items() if n.startswith(b"ray::")]
            if agents or time.time() > deadline:
                break
            time.sleep(0.1)
        assert any(b"raylet" in n for n in names.values())
        assert agents, names  # the processes that used to linger for minutes
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.time() + 45
    while time.time() < deadline and _alive(procs):
        time.sleep(0.5)
    assert _alive(procs) == []
