"""Conformance with Pod Security Admission's own fixtures (v1.37), kept in this repository.

- ``restricted`` allows every ``restricted/pass`` pod and denies every ``restricted/fail``
  pod — with the check the fixture is named after (or the restricted check overriding it);
- ``nonroot`` allows every ``restricted/pass`` pod and denies every ``restricted/fail`` pod
  of its PSA checks (file name prefix = check id, lower-cased), with that check;
- ``baseline`` (exactly PSA's baseline-level checks, as PSA composes them) allows every
  ``baseline/pass`` and every ``restricted/pass`` pod, and denies every ``baseline/fail`` pod
  with the fixture's check.

The fixtures are ``fixtures/pod-security/`` next to this file (source, version and licence
in its README). ``PSA_FIXTURES`` tests another copy instead; a missing or incomplete set, in
either place, is a failure: these tests never skip.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hardened_operator.policy import CHECKS, check_ids, evaluate
from tests.policy.policy_summary import CONFORMANCE_COUNTS, CONFORMANCE_NOTES

ENV = "PSA_FIXTURES"
IN_REPO = Path(__file__).parent / "fixtures" / "pod-security"
# nonroot's PSA checks (its own ``hardened`` ones have no PSA fixtures).
NONROOT_CHECKS = {c.lower(): c for c in check_ids("nonroot") if CHECKS[c].level != "hardened"}
BASELINE_CHECKS = [check for check in CHECKS.values() if check.level == "baseline"]
# PSA's overrides: a baseline fixture's check may be replaced by a restricted one.
OVERRIDDEN_BY = {o: c.id for c in CHECKS.values() for o in c.overrides}
_INDEX = re.compile(r"\d+$")


def _fixture_root() -> Path:
    value = os.environ.get(ENV)
    root = Path(value) if value else IN_REPO
    source = f"${ENV}={value}" if value else str(IN_REPO)
    dirs = [
        root / level / outcome
        for level in ("restricted", "baseline")
        for outcome in ("pass", "fail")
    ]
    empty = [str(d) for d in dirs if not d.is_dir() or not any(d.glob("*.yaml"))]
    if empty:
        pytest.fail(f"{source}: these fixture directories are missing or empty: {empty}")
    return root


def _pods(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    pods = []
    for path in sorted(directory.glob("*.yaml")):
        pod = yaml.safe_load(path.read_text())
        assert isinstance(pod, dict) and pod.get("kind") == "Pod", path
        pods.append((path.stem, pod))
    return pods


def _check_of(stem: str) -> str:
    """``capabilities_restricted3`` -> ``capabilities_restricted`` (the fixture's check id)."""
    return _INDEX.sub("", stem)


def _denying(results: list[Any]) -> set[str]:
    return {r.check for r in results if not r.allowed}


def _record(label: str, matched: int, total: int, meaning: str, mismatches: list[str]) -> None:
    CONFORMANCE_COUNTS.append((label, matched, total, meaning))
    assert not mismatches, f"{label}: {len(mismatches)} mismatches:\n" + "\n".join(mismatches)


def test_fixture_source() -> None:
    root = _fixture_root()
    CONFORMANCE_NOTES.append(f"fixtures: {root}")
    # PSA's fixture sets for v1.37 are not tiny: guard against a truncated copy.
    assert len(_pods(root / "restricted" / "fail")) >= 50
    assert len(_pods(root / "restricted" / "pass")) >= 10


def test_in_repo_copy_is_complete_and_says_where_it_comes_from() -> None:
    # Whatever PSA_FIXTURES says, the copy a fresh clone tests must be upstream's whole set.
    counts = {
        f"{level}/{outcome}": len(_pods(IN_REPO / level / outcome))
        for level in ("restricted", "baseline")
        for outcome in ("pass", "fail")
    }
    assert counts == {
        "restricted/pass": 23,
        "restricted/fail": 76,
        "baseline/pass": 15,
        "baseline/fail": 34,
    }
    notice = (IN_REPO / "README.md").read_text()
    for needle in ("v1.37", "Apache License 2.0", "pod-security-admission/test/testdata"):
        assert needle in notice, needle


@pytest.mark.parametrize(
    "profile", ["restricted", "nonroot", "nonroot:allow-root-group", "baseline"]
)
def test_restricted_pass_fixtures_are_allowed(profile: str) -> None:
    pods = _pods(_fixture_root() / "restricted" / "pass")
    mismatches = [
        f"{stem}: denied by {sorted(bad)}"
        for stem, pod in pods
        if (bad := _denying(evaluate(pod.get("metadata"), pod["spec"], profile)))  # type: ignore[arg-type]
    ]
    _record(
        f"{profile:10} restricted/pass",
        len(pods) - len(mismatches),
        len(pods),
        "allowed",
        mismatches,
    )


def test_restricted_fail_fixtures_are_denied_by_restricted() -> None:
    pods = _pods(_fixture_root() / "restricted" / "fail")
    mismatches = []
    for stem, pod in pods:
        bad = _denying(evaluate(pod.get("metadata"), pod["spec"], "restricted"))
        fixture_check = next(c for c in CHECKS if c.lower() == _check_of(stem))
        expected = OVERRIDDEN_BY.get(fixture_check, fixture_check)
        if expected not in bad:
            mismatches.append(f"{stem}: expected a denial by {expected}, got {sorted(bad)}")
    _record(
        "restricted restricted/fail", len(pods) - len(mismatches), len(pods), "denied", mismatches
    )


@pytest.mark.parametrize("profile", ["nonroot", "nonroot:allow-root-group"])
def test_fail_fixtures_of_nonroot_checks_are_denied_by_nonroot(profile: str) -> None:
    root = _fixture_root()
    all_pods = _pods(root / "restricted" / "fail")
    pods = [(stem, pod) for stem, pod in all_pods if _check_of(stem) in NONROOT_CHECKS]
    # Every one of its PSA checks has fail fixtures: none may silently drop out.
    assert {_check_of(stem) for stem, _ in pods} == set(NONROOT_CHECKS)
    # PSA's baseline directory has more of them (privileged, windowsHostProcess).
    extra = [(s, p) for s, p in _pods(root / "baseline" / "fail") if _check_of(s) in NONROOT_CHECKS]
    assert {_check_of(stem) for stem, _ in extra} == {"privileged", "windowshostprocess"}
    mismatches = []
    for stem, pod in pods + extra:
        bad = _denying(evaluate(pod.get("metadata"), pod["spec"], profile))  # type: ignore[arg-type]
        if NONROOT_CHECKS[_check_of(stem)] not in bad:
            mismatches.append(f"{stem}: expected a denial by {_check_of(stem)}, got {sorted(bad)}")
    _record(
        f"{profile} restricted+baseline/fail",
        len(pods) + len(extra) - len(mismatches),
        len(pods) + len(extra),
        f"denied (fixtures of its {len(NONROOT_CHECKS)} PSA checks; {len(all_pods)} in "
        "restricted/fail)",
        mismatches,
    )


def test_baseline_profile_is_psas_baseline_level() -> None:
    assert check_ids("baseline") == [check.id for check in BASELINE_CHECKS]


@pytest.mark.parametrize("outcome", ["pass", "fail"])
def test_baseline_fixtures_against_the_baseline_profile(outcome: str) -> None:
    pods = _pods(_fixture_root() / "baseline" / outcome)
    mismatches = []
    for stem, pod in pods:
        bad = _denying(evaluate(pod.get("metadata"), pod["spec"], "baseline"))
        if outcome == "pass" and bad:
            mismatches.append(f"{stem}: denied by {sorted(bad)}")
        if outcome == "fail":
            fixture_check = next(c for c in CHECKS if c.lower() == _check_of(stem))
            if fixture_check not in bad:
                mismatches.append(
                    f"{stem}: expected a denial by {fixture_check}, got {sorted(bad)}"
                )
    meaning = "allowed" if outcome == "pass" else "denied"
    _record(
        f"baseline   baseline/{outcome}",
        len(pods) - len(mismatches),
        len(pods),
        meaning,
        mismatches,
    )
