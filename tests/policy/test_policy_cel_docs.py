"""docs/admission-policy.md: its walkthrough runs as written (its own dev plane) and prints
the denial the document shows; its table of kinds and profiles is what the code says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hardened_operator.inprocess import in_process_kinds, missing_cel, supported_profiles
from tests.support import walkthrough

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "admission-policy.md").read_text()
MARKER = "<!-- walkthrough: policies -->"


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.controlplane
def test_walkthrough_refuses_then_warns_as_documented(tmp_path: Path) -> None:
    walkthrough.require_kubectl_assets()
    lines = walkthrough.bash_block_after(DOC, MARKER)
    steps = walkthrough.run(lines, ".vap", tmp_path / "vap")
    refused = [step for step in steps if step.status != 0]
    assert len(refused) == 1
    shown = re.search(r"The refused line prints.*?```text\n(.*?)```", DOC, re.S)
    assert shown is not None
    assert _words(shown.group(1)) in _words(refused[0].output), refused[0].output
    warned = steps[steps.index(refused[0]) + 2]
    assert "kubectl run" in warned.line
    warnings = [line for line in warned.output.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 3, warned.output  # allowPrivilegeEscalation, capabilities, runAsNonRoot
    assert "pod/root created (server dry run)" in warned.output


def test_documented_kinds_and_profiles_are_the_codes() -> None:
    for kind in in_process_kinds():
        plural = {"Pod": "Pods"}.get(kind.kind, kind.kind + "s")
        assert plural in DOC, kind.kind
    assert supported_profiles() == ("nonroot", "nonroot:allow-root-group")
    table = DOC.split("| profiles `restricted`, `baseline` |", 1)[1].split("\n", 1)[0]
    documented = set(re.findall(r"`([A-Za-z_*]+)`", table.split("|")[0]))
    missing = set(missing_cel("restricted")) | set(missing_cel("baseline"))
    expanded = {
        m
        for m in missing
        if not any(m.startswith(d.rstrip("*")) for d in documented if d.endswith("*"))
    }
    assert expanded <= documented, sorted(expanded - documented)
