"""Our own golden manifests (tests/policy/fixtures): every pod-bearing kind, the tricky cases
(init-container root, container override, ephemeral, templates, user namespaces), and the
exact check ids each profile denies them with. docs/policy.md quotes these files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hardened_operator.workloads import POD_BEARING_KINDS, review_object

HERE = Path(__file__).parent / "fixtures"
EXPECTED: dict[str, dict[str, list[str]]] = yaml.safe_load((HERE / "expected.yaml").read_text())
PASS = sorted(p.relative_to(HERE).as_posix() for p in (HERE / "pass").glob("*.yaml"))
FAIL = sorted(p.relative_to(HERE).as_posix() for p in (HERE / "fail").glob("*.yaml"))


def load(name: str) -> dict[str, Any]:
    obj = yaml.safe_load((HERE / name).read_text())
    assert isinstance(obj, dict)
    return obj


def test_expectations_cover_exactly_the_fail_fixtures() -> None:
    assert sorted(EXPECTED) == FAIL
    assert len(PASS) >= 5 and len(FAIL) >= 10
    for name, by_profile in EXPECTED.items():
        assert set(by_profile) == {"nonroot", "restricted"}, name
        assert by_profile["nonroot"] or by_profile["restricted"], f"{name} fails nothing"


def test_fixtures_span_every_pod_bearing_kind() -> None:
    kinds = {load(name)["kind"] for name in PASS + FAIL}
    assert kinds == set(POD_BEARING_KINDS)


@pytest.mark.parametrize("name", PASS)
@pytest.mark.parametrize("profile", ["nonroot", "restricted"])
def test_pass_fixture_is_allowed(name: str, profile: str) -> None:
    assert review_object(load(name), profile) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("name", FAIL)
@pytest.mark.parametrize("profile", ["nonroot", "restricted"])
def test_fail_fixture_is_denied_with_exactly_the_expected_checks(name: str, profile: str) -> None:
    obj = load(name)
    violations = review_object(obj, profile)  # type: ignore[arg-type]
    assert {v.check for v in violations} == set(EXPECTED[name][profile])
    for violation in violations:
        assert violation.kind == obj["kind"]
        assert violation.name == obj["metadata"]["name"]
        assert violation.namespace == obj["metadata"]["namespace"]
        assert violation.field and violation.message and violation.fix


@pytest.mark.parametrize("name", PASS + FAIL)
def test_round_trip_yaml_is_judged_like_plain_yaml(name: str) -> None:
    """``audit --fix`` reviews ruamel.yaml round-trip documents (CommentedMap/Seq, quoted
    string subclasses): they must be judged exactly like plain dicts and lists."""
    from ruamel.yaml import YAML

    text = (HERE / name).read_text()
    # Quote every scalar so ruamel produces str subclasses where it can.
    rt = YAML(typ="rt", pure=True)
    rt.preserve_quotes = True
    ruamel_obj = rt.load(text.replace(": RuntimeDefault", ': "RuntimeDefault"'))
    for profile in ("nonroot", "restricted"):
        plain = review_object(load(name), profile)
        assert review_object(ruamel_obj, profile) == plain
