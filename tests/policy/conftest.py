"""Policy test plumbing: the PSA conformance counts, printed whatever ``-s`` says."""

from __future__ import annotations

import pytest

from tests.policy.policy_summary import CONFORMANCE_COUNTS, CONFORMANCE_NOTES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CONFORMANCE_COUNTS and not CONFORMANCE_NOTES:
        return
    terminalreporter.section("PSA conformance (policy v1.37: fixtures, and the real PodSecurity)")
    for note in CONFORMANCE_NOTES:
        terminalreporter.write_line(note)
    for label, matched, total, meaning in CONFORMANCE_COUNTS:
        mark = "ok  " if matched == total else "FAIL"
        terminalreporter.write_line(f"{mark} {label}: {matched}/{total} {meaning}")
