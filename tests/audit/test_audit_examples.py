"""The example files documented in docs/audit.md behave as the document says."""

from __future__ import annotations

from pathlib import Path

from audit_support import ROOT, RunAudit, parse_json

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
    assert files == {"web-root.yaml", "node-agent.yaml"}
