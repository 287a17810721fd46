"""--fix over Pod Security Admission's own v1.37 fixtures: the copy in this repository
(``tests/policy/fixtures/pod-security``), or the one ``$PSA_FIXTURES`` names.

Every ``restricted/fail`` pod, fixed for ``restricted``, must pass — except for the checks whose
fix is not a securityContext change (host namespaces, host ports, volumes, probe hosts, unsafe
sysctls), which must be all that remains. Every ``pass`` pod must come out byte for byte.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hardened_operator.audit.rewrite import fix_source
from hardened_operator.audit.sources import Source
from tests.audit.audit_support import invoke

# checks whose fix would change what the pod does, not how it is confined
UNFIXABLE = {
    "hostNamespaces",
    "hostPathVolumes",
    "restrictedVolumes",
    "hostPorts",
    "hostProbesAndHostLifecycle",
    "sysctls",
}


# The in-repo copy (source and licence in its README); PSA_FIXTURES may name another.
IN_REPO = Path(__file__).resolve().parents[1] / "policy" / "fixtures" / "pod-security"


def _fixtures() -> Path:
    root = os.environ.get("PSA_FIXTURES")
    path = Path(root) if root else IN_REPO
    if not path.is_dir():  # wanted but missing: a failure, never a skip
        pytest.fail(f"PSA fixtures: {path} is not a directory (PSA_FIXTURES={root!r})")
    return path


def _files(kind: str) -> list[Path]:
    root = _fixtures()
    files = sorted((root / "restricted" / kind).glob("*.yaml"))
    assert files, f"no fixtures under {root}/restricted/{kind}"
    return files


def test_fixing_restricted_failures_leaves_only_unfixable_checks(tmp_path: Path) -> None:
    fully_fixed = 0
    files = _files("fail")
    for fixture in files:
        text = fixture.read_text()
        fixed = fix_source(Source(fixture.name, text, False), "restricted").text
        out = tmp_path / fixture.name
        out.write_text(fixed)
        result = invoke(str(out), "--profile", "restricted", "--format", "json")
        assert result.exit_code in (0, 1), (fixture.name, result.output)
        remaining = {e["check"] for e in json.loads(result.stdout)}
        assert remaining <= UNFIXABLE, (fixture.name, remaining, fixed)
        fully_fixed += not remaining
        # idempotent
        assert fix_source(Source(out.name, fixed, False), "restricted").text == fixed
    print(f"PSA restricted/fail: {fully_fixed} of {len(files)} fixed to pass; rest host access")
    assert fully_fixed >= len(files) // 2


def test_passing_fixtures_are_left_untouched() -> None:
    for fixture in _files("pass"):
        text = fixture.read_text()
        assert fix_source(Source(fixture.name, text, False), "restricted").text == text


NONROOT_PREFIXES = (
    "runasnonroot",
    "runasuser",
    "privileged",
    "allowprivilegeescalation",
    "capabilities_restricted",
)


def test_fixing_nonroot_failures_always_passes(tmp_path: Path) -> None:
    files = [f for f in _files("fail") if f.name.startswith(NONROOT_PREFIXES)]
    assert len(files) >= 10
    for fixture in files:
        fixed = fix_source(Source(fixture.name, fixture.read_text(), False), "nonroot").text
        out = tmp_path / fixture.name
        out.write_text(fixed)
        assert invoke(str(fixture)).exit_code == 1, fixture.name
        result = invoke(str(out))
        assert result.exit_code == 0, (fixture.name, result.output)
