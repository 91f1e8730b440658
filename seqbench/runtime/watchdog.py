"""Stop a local Ray session when the seqbench driver that started it dies (``kill -9`` included).

Ray's own processes of a session die with the raylet soon after their driver, but its agents
(``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) are re-parented and linger for minutes.  When
seqbench starts a local Ray, it starts this watchdog in its own process session::

    python -m seqbench.runtime.watchdog DRIVER_PID SESSION_DIR

Every second it records the session's processes (those whose command line names the session
directory, Ray's renamed ``ray::`` processes that hold a file of the session directory open, and all
their descendants, each with its start time so that a reused pid is never touched).  The open files
matter when the driver dies within a second of ``ray.init``: the agents rename themselves, and once the
raylet is gone they are nobody's descendants, before the first record could list them.

When the driver is gone it sends SIGTERM to the recorded processes still alive, then
SIGKILL to those left after a few seconds, and exits.  It also exits when every recorded process
has ended while the driver lives on (a normal ``ray.shutdown``).  Linux only (``/proc``); it
imports nothing of Ray.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, or None."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19])


def _cmdline(pid: int) -> bytes:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def _holds_open(pid: int, marker: bytes) -> bool:
    """Whether ``pid`` has a file descriptor open on a path containing ``marker``."""
    fd_dir = PROC / str(pid) / "fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if marker in os.fsencode(os.readlink(fd_dir / fd)):
                return True
    return False


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def session_processes(session: str, known: dict[int, int]) -> dict[int, int]:
    """``known`` plus every process naming ``session`` in its command line, every ``ray::`` process with a file
    of ``session`` open, and their descendants."""
    marker = os.fsencode(session)
    found = dict(known)
    table = {}
    for pid in _pids():
        st = _stat(pid)
        if st is not None:
            table[pid] = st
    me = os.getpid()  # this watchdog names the session in its own command line
    for pid, (_, start) in table.items():
        if pid == me:
            continue
        cmdline = _cmdline(pid)
        # Ray's agents and workers rename themselves "ray::..."; their logs in the session dir stay open
        if marker in cmdline or (cmdline.startswith(b"ray::") and _holds_open(pid, marker)):
            found[pid] = start
    grew = True
    while grew:  # descendants of anything found (the agents' cmdline no longer names the session)
        grew = False
        for pid, (ppid, start) in table.items():
            if ppid in found and pid not in found and pid != me:
                found[pid] = start
                grew = True
    return found


def alive(pid: int, start: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] == start


def _driver_alive(pid: int, start: int | None) -> bool:
    st = _stat(pid)
    return st is not None and (start is None or st[1] == start)


def watch(driver: int, session: str, *, poll_s: float = 1.0, grace_s: float = 5.0) -> int:
    """Run until the driver dies (then stop the session) or the session ends; returns how many
    processes it had to stop."""
    driver_start = (_stat(driver) or (0, None))[1]
    known: dict[int, int] = {}
    empty = 0
    while True:
        if not _driver_alive(driver, driver_start):
            left = {p: s for p, s in session_processes(session, known).items() if alive(p, s)}
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)
            deadline = time.time() + grace_s
            while time.time() < deadline and any(alive(p, s) for p, s in left.items()):
                time.sleep(0.2)
            for pid, start in left.items():
                if alive(pid, start):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            return len(left)
        known = {p: s for p, s in session_processes(session, known).items() if alive(p, s)}
        empty = empty + 1 if not known else 0
        if empty >= 5:  # the session ended while its driver lives on: nothing to watch
            return 0
        time.sleep(poll_s)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[0].isdigit() or not PROC.is_dir():
        return 2
    watch(int(argv[0]), argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
