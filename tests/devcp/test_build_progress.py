"""Long builds say they are alive on a terminal, and stay quiet in logs."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

SNIPPET = (
    "import time\n"
    "from hardened_operator.dev.assets import _elapsed_on_terminal\n"
    "with _elapsed_on_terminal('kube-apiserver'):\n"
    "    time.sleep(2.5)\n"
)


def test_on_a_terminal_the_elapsed_seconds_are_counted() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", SNIPPET], stderr=secondary, stdout=secondary, env=env
        )
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=30) == 0
    finally:
        os.close(primary)
    text = output.decode()
    assert "kube-apiserver: 1s elapsed" in text and "kube-apiserver: 2s elapsed" in text
    assert text.endswith("\x1b[K")  # the line is cleared for the caller's result line


def test_in_a_log_nothing_is_printed() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SNIPPET], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    assert result.stderr == "" and result.stdout == ""
