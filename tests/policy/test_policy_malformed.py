"""Malformed pod specs are denied with a clear message (fail closed), never allowed, never
an escaping exception — whatever the bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardened_operator.errors import PolicyError
from hardened_operator.policy import MALFORMED_REASON, check_ids, evaluate
from tests.policy.policy_pods import compliant_spec, spec_with

MALFORMED = [
    # (where, bad value, field named in the denial)
    ("securityContext", "yes", "securityContext"),
    ("securityContext.runAsUser", "0", "securityContext.runAsUser"),
    ("securityContext.runAsUser", 0.0, "securityContext.runAsUser"),
    ("securityContext.runAsUser", False, "securityContext.runAsUser"),
    ("securityContext.runAsNonRoot", "true", "securityContext.runAsNonRoot"),
    ("securityContext.runAsNonRoot", 1, "securityContext.runAsNonRoot"),
    ("containers", {"name": "app"}, "containers"),
    ("containers", "app", "containers"),
    ("containers[0]", "app", "containers[0]"),
    ("initContainers[0].securityContext", ["privileged"], "initContainers[0].securityContext"),
    (
        "ephemeralContainers[0].securityContext.runAsUser",
        "root",
        "ephemeralContainers[0].securityContext.runAsUser",
    ),
    (
        "containers[0].securityContext.privileged",
        "false",
        "containers[0].securityContext.privileged",
    ),
    (
        "containers[0].securityContext.allowPrivilegeEscalation",
        "false",
        "containers[0].securityContext.allowPrivilegeEscalation",
    ),
    (
        "containers[0].securityContext.capabilities",
        ["ALL"],
        "containers[0].securityContext.capabilities",
    ),
    (
        "containers[0].securityContext.capabilities.drop",
        "ALL",
        "containers[0].securityContext.capabilities.drop",
    ),
    (
        "containers[0].securityContext.capabilities.add",
        [["SYS_ADMIN"]],
        "containers[0].securityContext.capabilities.add[0]",
    ),
    ("containers[0].name", 7, "containers[0].name"),
    ("os", "windows", "os"),
    ("os.name", ["windows"], "os.name"),
]


@pytest.mark.parametrize(
    ("path", "value", "field"), MALFORMED, ids=[m[0] + "=" + repr(m[1]) for m in MALFORMED]
)
@pytest.mark.parametrize("profile", ["nonroot", "restricted"])
def test_malformed_field_is_denied_naming_the_field(
    path: str, value: Any, field: str, profile: str
) -> None:
    results = evaluate({}, spec_with((path, value)), profile)  # type: ignore[arg-type]
    malformed = [r for r in results if r.reason == MALFORMED_REASON]
    assert malformed, "a malformed security field must deny"
    for result in malformed:
        assert not result.allowed
        (item,) = result.findings
        assert item.field == field
        assert item.message.startswith("malformed field: must be ")
        assert item.fix.startswith("replace the value with ")


def test_malformed_host_users_denied_where_it_matters() -> None:
    # Only restricted reads hostUsers (PSA's relaxation); nonroot ignores it altogether.
    spec = spec_with(("hostUsers", "false"))
    restricted = {r.check: r for r in evaluate({}, spec, "restricted")}
    assert restricted["runAsNonRoot"].reason == MALFORMED_REASON
    assert restricted["runAsNonRoot"].findings[0].field == "hostUsers"
    assert all(r.allowed for r in evaluate({}, spec, "nonroot"))


def test_malformed_container_is_named() -> None:
    spec = spec_with(("initContainers[0].securityContext", "root"))
    result = next(r for r in evaluate({}, spec) if r.reason == MALFORMED_REASON)
    assert (result.findings[0].container, result.findings[0].container_type) == (
        "init",
        "initContainer",
    )


@pytest.mark.parametrize("spec", [None, "spec", 3, ["containers"], True])
def test_pod_spec_that_is_not_an_object_is_denied_by_every_check(spec: Any) -> None:
    for profile in ("nonroot", "restricted"):
        results = evaluate(None, spec, profile)
        assert [r.check for r in results] == check_ids(profile)
        assert all(not r.allowed and r.reason == MALFORMED_REASON for r in results)


@pytest.mark.parametrize("metadata", ["x", 1, {"annotations": "x"}, {"annotations": ["a"]}])
def test_malformed_metadata_denied_by_the_annotation_check(metadata: Any) -> None:
    results = {r.check: r for r in evaluate(metadata, compliant_spec(), "restricted")}
    assert results["appArmorProfile"].reason == MALFORMED_REASON


def test_non_string_apparmor_annotation_value_is_denied() -> None:
    metadata = {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": 5}}
    results = {r.check: r for r in evaluate(metadata, compliant_spec(), "restricted")}
    assert not results["appArmorProfile"].allowed


def test_deeply_nested_garbage_is_denied_not_crashing() -> None:
    deep: Any = "x"
    for _ in range(50_000):
        deep = [deep]
    spec = compliant_spec()
    spec["containers"][0]["securityContext"] = deep  # not via spec_with: it would deep-copy
    assert not all(r.allowed for r in evaluate({}, spec))
    # json round trip of the same depth would be refused by the webhook's parser first;
    # here we only care that the engine itself neither recurses nor raises.


def test_unknown_profile_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="unknown policy profile 'privileged'"):
        evaluate({}, compliant_spec(), "privileged")  # type: ignore[arg-type]
    with pytest.raises(PolicyError):
        evaluate({}, compliant_spec(), "nonroot:allow-everything")  # type: ignore[arg-type]
    with pytest.raises(PolicyError):
        check_ids("Restricted")  # type: ignore[arg-type]
    with pytest.raises(PolicyError):
        evaluate({}, compliant_spec(), None)  # type: ignore[arg-type]


# --- fuzzing -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

SECURITY_PATHS = [
    "securityContext",
    "securityContext.runAsUser",
    "securityContext.runAsNonRoot",
    "containers",
    "containers[0]",
    "containers[0].securityContext",
    "containers[0].securityContext.runAsUser",
    "containers[0].securityContext.runAsNonRoot",
    "containers[0].securityContext.privileged",
    "containers[0].securityContext.allowPrivilegeEscalation",
    "containers[0].securityContext.capabilities",
    "initContainers[0].securityContext.runAsUser",
    "ephemeralContainers[0].securityContext",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(metadata=json_values, spec=json_values)
def test_any_json_never_raises(metadata: Any, spec: Any) -> None:
    before = repr((metadata, spec))  # repr, not ==: NaN != NaN
    for profile in ("nonroot", "restricted"):
        results = evaluate(metadata, spec, profile)
        assert repr((metadata, spec)) == before  # evaluation never mutates its input
        assert [r.check for r in results] == check_ids(profile)
        for result in results:
            assert result.reason != "check failed", result  # no internal error paths hit
            json.dumps([f.message for f in result.findings])


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(SECURITY_PATHS), value=json_values)
def test_garbage_in_a_security_field_never_allows_root(path: str, value: Any) -> None:
    """Whatever replaces a security field, the nonroot verdict is either a denial or the
    value was a legitimate, non-root setting."""
    results = evaluate({}, spec_with((path, value)), "nonroot")
    for result in results:
        assert result.reason != "check failed", result
    if all(r.allowed for r in results):
        legit = _legitimately_allowed(path, value)
        assert legit, (path, value)


def _legitimately_allowed(path: str, value: Any) -> bool:
    leaf = path.rsplit(".", 1)[-1]
    if leaf == "runAsUser":
        return value is None or (type(value) is int and value != 0)
    if leaf == "runAsNonRoot":
        # pod level must be true (containers don't set it in the base pod); a container may
        # leave it unset because the base pod sets it to true.
        return value is True or (path.startswith("containers") and value is None)
    if leaf in ("privileged",):
        return value is None or value is False
    if leaf == "allowPrivilegeEscalation":
        return value is False
    if path == "containers":
        # an empty list (or null) leaves no container to run; PSA allows it, so do we
        return value is None or value == []
    if path == "containers[0]" or path.endswith("securityContext") or leaf == "capabilities":
        # a whole container or securityContext replaced: only an object can be allowed,
        # and then it must itself have been compliant — checked by the profile's checks.
        return isinstance(value, dict)
    return False
