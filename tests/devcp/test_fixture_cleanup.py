"""The suite's control plane leaves nothing behind: failed tests, Ctrl-C, SIGTERM, even SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hardened_operator.dev import assets
from hardened_operator.errors import AssetsNotFoundError
from tests.support import controlplane

pytestmark = pytest.mark.controlplane

TESTS = Path(__file__).resolve().parents[1]

# Starts the plane the way the session fixture does, says where, then waits to be killed.
HOLDER = """
import sys, time
from tests.support import controlplane
handle, stop = controlplane.start_session_plane()
print("PLANE", handle.plane.directory, flush=True)
time.sleep(600)
"""

# A test that uses the fixture and then fails, or waits for Ctrl-C.
TARGET = """
import os, time
def test_uses_the_plane(control_plane):
    print("PLANE", control_plane.kubeconfig.parent, flush=True)
    if os.environ.get("WAIT_FOR_SIGNAL"):
        time.sleep(600)
    assert False, "this test fails on purpose"
"""


@pytest.fixture(autouse=True)
def _needs_local_assets() -> None:
    if os.environ.get("KUBECONFIG"):
        pytest.skip("KUBECONFIG set: the suite starts no processes of its own to clean up")
    try:
        assets.require_assets()
    except AssetsNotFoundError as error:
        if controlplane.required():
            pytest.fail(str(error))
        pytest.skip(str(error))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS.parent), env.get("PYTHONPATH")]))
    return env


def _processes_mentioning(directory: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if directory.encode() in cmdline:
                found.append(entry.name)
    return found


def _gone(directory: str, timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := _processes_mentioning(directory)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _read_marker(process: subprocess.Popen[str], prefix: str) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if prefix in line:
            return line.split(prefix, 1)[1].split()[0]
    process.kill()
    raise AssertionError(f"never printed {prefix!r}: {process.communicate()}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_holder_leaves_no_process(signum: signal.Signals) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], env=_env(), stdout=subprocess.PIPE, text=True
    )
    directory = _read_marker(holder, "PLANE ")
    assert len(_processes_mentioning(directory)) == 2, "etcd and kube-apiserver are running"
    holder.send_signal(signum)
    holder.wait(timeout=60)
    assert _gone(directory) == [], f"left behind after {signum.name}"
    if signum == signal.SIGTERM:  # our handler ran: it also removed the directory
        assert not Path(directory).exists()


def test_failing_test_and_ctrl_c_leave_no_process(tmp_path: Path) -> None:
    target = tmp_path / "test_target.py"
    target.write_text(TARGET)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "tests.conftest",  # tests/conftest.py, found through PYTHONPATH
        "-s",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--rootdir={tmp_path}",
        str(target),
    ]
    failed = subprocess.run(
        command, env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "this test fails on purpose" in failed.stdout
    directory = failed.stdout.split("PLANE ", 1)[1].split()[0]
    assert _gone(directory, timeout=1) == []

    waiting = subprocess.Popen(
        command,
        env={**_env(), "WAIT_FOR_SIGNAL": "1"},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    directory = _read_marker(waiting, "PLANE ")
    waiting.send_signal(signal.SIGINT)  # what Ctrl-C sends
    waiting.wait(timeout=120)
    assert _gone(directory, timeout=1) == [], "Ctrl-C left processes behind"
