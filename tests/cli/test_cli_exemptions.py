"""A bad exemption is refused the same way by every command that takes the exemption flags
(``cli/_exemptions.py`` ``webhook_config``): exit 2, the same one-line error, no traceback,
before anything is served, generated or read from a cluster."""

from __future__ import annotations

import subprocess
import sys

import pytest

HARDENED = [sys.executable, "-m", "hardened_operator.cli"]
# Each command as it would otherwise start: a webhook on loopback, an operator or a cluster
# audit with an unusable kubeconfig (never reached: the exemption is refused first).
COMMANDS = {
    "webhook": ["webhook", "--listen", "127.0.0.1:0", "--insecure"],
    "run": ["run", "--no-webhook", "--kubeconfig", "/nonexistent"],
    "policies": ["policies"],
    "audit --cluster": ["audit", "--cluster", "--kubeconfig", "/nonexistent"],
}
BAD = {
    "pattern": (
        ["--exempt-namespace", "kube-*"],
        "error: exempt namespace 'kube-*' is not a namespace name "
        "(exact DNS-1123 labels only; patterns are not supported)",
    ),
    "upper-case": (
        ["--exempt-namespace", "Shop"],
        "error: exempt namespace 'Shop' is not a namespace name "
        "(exact DNS-1123 labels only; patterns are not supported)",
    ),
    "blank-username": (
        ["--exempt-username", " "],
        "error: exempt username ' ' must be a non-empty string",
    ),
}
TAKES_USERNAMES = {"webhook", "run", "policies"}


def _cases() -> list[tuple[str, str]]:
    return [
        (command, bad)
        for command in COMMANDS
        for bad, (flags, _) in BAD.items()
        if "--exempt-username" not in flags or command in TAKES_USERNAMES
    ]


@pytest.mark.parametrize(("command", "bad"), _cases(), ids=lambda value: str(value))
def test_bad_exemption_is_refused_alike(command: str, bad: str) -> None:
    flags, message = BAD[bad]
    done = subprocess.run(
        [*HARDENED, *COMMANDS[command], *flags],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [message]
    assert done.stdout == ""


def test_audit_takes_no_username_exemption() -> None:
    """The audit judges objects, not requests: no user to exempt, so no such flag (and the
    table above skips that case for it on purpose)."""
    done = subprocess.run(
        [*HARDENED, "audit", "--cluster", "--exempt-username", "ci-bot"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "No such option '--exempt-username'" in done.stderr
