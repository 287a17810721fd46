"""The example files documented in docs/audit.md behave as the document says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.audit.audit_support import ROOT, RunAudit, parse_json

EXAMPLES = ROOT / "docs" / "examples" / "audit"


def test_root_example_has_the_documented_violations(run_audit: RunAudit) -> None:
    result = run_audit(str(EXAMPLES / "web-root.yaml"), "--format", "json")
    assert result.exit_code == 1
    found = {(e["check"], e["container"]) for e in parse_json(result)}
    assert ("runAsUser", "fix-perms") in found
    assert ("runAsNonRoot", "web") in found
    assert ("allowPrivilegeEscalation", "web") in found


def test_fixed_example_is_exactly_what_fix_prints(run_audit: RunAudit) -> None:
    result = run_audit(str(EXAMPLES / "web-root.yaml"), "--fix")
    assert result.exit_code == 0
    assert result.stdout == (EXAMPLES / "web-root.fixed.yaml").read_text()
    assert run_audit(str(EXAMPLES / "web-root.fixed.yaml")).exit_code == 0


def test_hardened_example_passes_both_profiles(run_audit: RunAudit) -> None:
    for profile in ("nonroot", "restricted"):
        result = run_audit(str(EXAMPLES / "web-hardened.yaml"), "--profile", profile)
        assert result.exit_code == 0, result.output


def test_node_agent_example_stays_unfixable_under_restricted(
    run_audit: RunAudit, tmp_path: Path
) -> None:
    assert run_audit(str(EXAMPLES / "node-agent.yaml")).exit_code == 1
    result = run_audit(str(EXAMPLES / "node-agent.yaml"), "--fix", "--profile", "restricted")
    assert result.exit_code == 1
    assert "hostNamespaces" in result.stderr and "restrictedVolumes" in result.stderr
    fixed = tmp_path / "agent.yaml"
    fixed.write_text(result.stdout)
    assert run_audit(str(fixed)).exit_code == 0  # nonroot is satisfied by the fix


def test_whole_examples_directory(run_audit: RunAudit) -> None:
    result = run_audit(str(EXAMPLES), "--format", "json")
    assert result.exit_code == 1
    files = {Path(e["file"]).name for e in parse_json(result)}
    assert files == {"web-root.yaml", "node-agent.yaml", "debugged-export.yaml"}


def test_debugged_export_reports_only_the_debug_container(run_audit: RunAudit) -> None:
    """docs/audit.md's top-owner example: the ReplicaSet and Pod are judged through the
    Deployment (which passes); the root debug container is reported on the Pod."""
    result = run_audit(str(EXAMPLES / "debugged-export.yaml"), "--format", "json")
    assert result.exit_code == 1
    entries = parse_json(result)
    assert {(e["kind"], e["name"], e["container"], e["containerType"]) for e in entries} == {
        ("Pod", "web-7d9c5b6f4-x2k9q", "debugger-8xk2p", "ephemeralContainer")
    }


def _normalized(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def _blocks(language: str) -> list[str]:
    doc = (ROOT / "docs" / "audit.md").read_text()
    parts = doc.split(f"```{language}\n")[1:]
    return [part.split("```", 1)[0] for part in parts]


def test_documented_outputs_are_real_outputs(
    run_audit: RunAudit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample rows and the JSON entry in docs/audit.md are what the command prints."""
    monkeypatch.chdir(ROOT)  # the document shows paths relative to the repository
    examples = "docs/examples/audit"
    table = run_audit(f"{examples}/web-root.yaml")
    fix = run_audit(f"{examples}/node-agent.yaml", "--fix", "--profile", "restricted")
    owned = run_audit(f"{examples}/debugged-export.yaml")
    real = _normalized(table.stdout) + _normalized(fix.stderr) + _normalized(owned.stdout)
    rows = [
        line
        for block in _blocks("text")
        for line in _normalized(block)
        if line.startswith(("docs/examples/audit/", "LOCATION", "fixed", "unfixable"))
    ]
    assert len(rows) >= 5
    for row in rows:
        assert row in real, row
    [sample] = [json.loads(block) for block in _blocks("json")]
    entries = parse_json(run_audit(f"{examples}/web-root.yaml", "--format", "json"))
    assert sample in entries
