"""Detached child processes we can find again by pid and stop for sure.

Each process runs in its own session (so a Ctrl-C in the terminal that ran ``dev up`` does
not reach it, and we can signal its whole process group). We remember its pid *and* its
start time from ``/proc/<pid>/stat``: a pid alone may have been reused by an unrelated
process by the time ``dev down`` runs, and we must never signal that one.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hardened_operator.errors import ControlPlaneError


@dataclass(frozen=True)
class ProcessRecord:
    """What the state file remembers about one process."""

    name: str
    pid: int
    start_ticks: int  # /proc/<pid>/stat field 22: identifies this pid's incarnation
    log: str
    command: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessRecord:
        return cls(
            name=str(data["name"]),
            pid=int(data["pid"]),
            start_ticks=int(data["start_ticks"]),
            log=str(data["log"]),
            command=[str(part) for part in data["command"]],
        )


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start(
    name: str,
    command: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    *,
    tie_to_parent: bool = False,
) -> tuple[ProcessRecord, subprocess.Popen[bytes]]:
    """Start ``command`` detached (own session), output appended to ``log``.

    ``tie_to_parent``: the kernel SIGKILLs the process when its parent dies, however it dies
    (the test suite uses this so even ``kill -9`` of pytest leaves nothing behind;
    ``hardened dev up`` does not, its processes must outlive it).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        popen = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            start_new_session=True,
            close_fds=True,
            preexec_fn=_die_with_parent(os.getpid()) if tie_to_parent else None,
        )
    ticks = start_ticks(popen.pid)
    if ticks is None:  # exited already; keep a record so the caller reports its log
        ticks = -1
    return ProcessRecord(name, popen.pid, ticks, str(log), list(command)), popen


def _die_with_parent(parent: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


_PR_SET_PDEATHSIG = 1


def start_ticks(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or None if it does not exist."""
    stat = _stat(pid)
    return None if stat is None else int(stat[19])


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may contain spaces: split after it.
    return raw[raw.rindex(")") + 2 :].split()


def is_running(record: ProcessRecord) -> bool:
    """True if the very process we started is alive (not exited, not a zombie, pid not reused)."""
    stat = _stat(record.pid)
    if stat is None:
        return False
    state, ticks = stat[0], int(stat[19])
    return ticks == record.start_ticks and state not in ("Z", "X")


def stop(
    records: Sequence[ProcessRecord],
    popens: Mapping[int, subprocess.Popen[bytes]] | None = None,
    *,
    timeout: float = 10.0,
) -> None:
    """SIGTERM each process group, wait, SIGKILL what is left, and verify all are gone.

    ``popens`` (pid -> Popen) are our own children: we reap them so they do not linger as
    zombies. Raises ControlPlaneError naming any process that survived SIGKILL.
    """
    popens = popens or {}
    # One at a time, in the order given: the caller lists dependants first (the webhook
    # before the API server before etcd), so nothing spends its shutdown retrying a peer
    # that is already gone.
    for record in records:
        _signal(record, signal.SIGTERM)
        _wait([record], popens, timeout)
        if is_running(record):
            _signal(record, signal.SIGKILL)
            _wait([record], popens, 5.0)
    survivors = [f"{r.name} (pid {r.pid})" for r in records if is_running(r)]
    if survivors:
        raise ControlPlaneError(f"could not stop: {', '.join(survivors)}")


def _signal(record: ProcessRecord, signum: signal.Signals) -> None:
    if not is_running(record):
        return
    # Our processes lead their own session, so the group id is their pid: the signal also
    # reaches anything they spawned. Fall back to the pid if the group is already gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(record.pid) == record.pid:
            os.killpg(record.pid, signum)
            return
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signum)


def _wait(
    records: Sequence[ProcessRecord],
    popens: Mapping[int, subprocess.Popen[bytes]],
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for popen in popens.values():
            popen.poll()  # reap our own children
        if not any(is_running(r) for r in records) or time.monotonic() >= deadline:
            return
        time.sleep(0.05)


def log_tail(path: str | Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file, for error messages."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
