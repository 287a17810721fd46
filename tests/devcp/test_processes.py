"""Process bookkeeping: stop what we started, all of it, and never anything else."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hardened_operator.dev import processes
from hardened_operator.dev.processes import ProcessRecord


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_start_is_detached_and_stop_ends_it(tmp_path: Path) -> None:
    record, popen = processes.start("sleeper", ["sleep", "60"], tmp_path / "s.log")
    assert processes.is_running(record)
    assert processes.start_ticks(record.pid) == record.start_ticks
    assert os.getsid(record.pid) == record.pid, "own session: a terminal's Ctrl-C cannot reach it"
    processes.stop([record], {record.pid: popen}, timeout=5)
    assert not processes.is_running(record)
    assert popen.returncode is not None, "our own child is reaped, not left a zombie"


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    record, popen = processes.start("sleeper", ["sleep", "60"], tmp_path / "s.log")
    try:
        # The same pid, but another incarnation (as after a reboot or pid wrap-around).
        impostor = ProcessRecord("old", record.pid, record.start_ticks + 1, "", [])
        assert not processes.is_running(impostor)
        processes.stop([impostor], timeout=1)
        assert processes.is_running(record), "stop() killed a process it did not start"
    finally:
        processes.stop([record], {record.pid: popen}, timeout=5)


def test_sigterm_ignored_means_sigkill_after_the_timeout(tmp_path: Path) -> None:
    command = ["sh", "-c", 'trap "" TERM; echo ready; while :; do sleep 0.1; done']
    record, popen = processes.start("stubborn", command, tmp_path / "s.log")
    assert _wait_for(lambda: "ready" in (tmp_path / "s.log").read_text())
    started = time.monotonic()
    processes.stop([record], {record.pid: popen}, timeout=1.0)
    assert time.monotonic() - started >= 1.0
    assert not processes.is_running(record)
    assert popen.returncode == -9


def test_stop_reaches_the_whole_process_group(tmp_path: Path) -> None:
    record, popen = processes.start("parent", ["sh", "-c", "sleep 60 & wait"], tmp_path / "s.log")
    assert _wait_for(lambda: bool(_children(record.pid)))
    (grandchild,) = _children(record.pid)
    processes.stop([record], {record.pid: popen}, timeout=5)
    assert _wait_for(lambda: not _alive(grandchild)), "the sleep it spawned survived"


def test_tied_process_dies_when_its_parent_is_killed(tmp_path: Path) -> None:
    # A middle process starts a tied `sleep`, prints its pid, and is then SIGKILLed: no
    # finalizer runs, only the kernel's PR_SET_PDEATHSIG can end the sleep.
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from hardened_operator.dev import processes\n"
        "record, _ = processes.start('s', ['sleep', '60'], Path(sys.argv[1]), tie_to_parent=True)\n"
        "print(record.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    middle = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "s.log")], stdout=subprocess.PIPE, text=True
    )
    assert middle.stdout is not None
    pid = int(middle.stdout.readline())
    assert _alive(pid)
    middle.kill()
    middle.wait()
    assert _wait_for(lambda: not _alive(pid)), "the tied sleep outlived its parent"


def test_log_tail_and_missing_log(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("\n".join(f"line {i}" for i in range(100)) + "\n")
    assert processes.log_tail(log, 3) == "line 97\nline 98\nline 99"
    assert processes.log_tail(tmp_path / "absent.log") == ""


def test_free_port_is_bindable() -> None:
    import socket

    port = processes.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if the port were taken


def test_record_round_trips_through_json() -> None:
    record = ProcessRecord("etcd", 42, 1234, "/d/etcd.log", ["etcd", "--x"])
    assert ProcessRecord.from_json(record.to_json()) == record
