"""The registry: every check module registered once, PSA's ids and order, profile membership."""

from __future__ import annotations

import copy
import pkgutil

import pytest

from hardened_operator.policy import (
    CHECKS,
    Check,
    CheckResult,
    PodView,
    check_ids,
    checks,
    evaluate,
    run_checks,
)
from tests.policy.policy_pods import compliant_spec, spec_with
from tests.policy.test_policy_checks import ROWS

PSA_RESTRICTED_V1_37 = {
    # baseline level, as composed into restricted (overridden ones replaced)
    "hostNamespaces", "privileged", "hostPorts", "appArmorProfile", "seLinuxOptions",
    "sysctls", "windowsHostProcess", "hostProbesAndHostLifecycle",
    # restricted level
    "restrictedVolumes", "allowPrivilegeEscalation", "runAsNonRoot", "runAsUser",
    "seccompProfile_restricted", "capabilities_restricted", "procMount_restricted",
}  # fmt: skip
PSA_BASELINE_V1_37 = {
    "hostNamespaces", "privileged", "capabilities_baseline", "hostPathVolumes", "hostPorts",
    "appArmorProfile", "seLinuxOptions", "procMount", "seccompProfile_baseline", "sysctls",
    "windowsHostProcess", "hostProbesAndHostLifecycle",
}  # fmt: skip


def test_every_check_module_is_registered_exactly_once() -> None:
    modules = {m.name for m in pkgutil.iter_modules(checks.__path__) if not m.name.startswith("_")}
    registered = {check.func.__module__.rsplit(".", 1)[1] for check in CHECKS.values()}
    assert registered == modules
    assert len(CHECKS) == len(modules) == 20


def test_profiles() -> None:
    assert set(check_ids("restricted")) == PSA_RESTRICTED_V1_37
    assert set(check_ids("baseline")) == PSA_BASELINE_V1_37
    assert check_ids("nonroot") == [
        "privileged",
        "windowsHostProcess",
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "runAsNonRoot",
        "runAsUser",
        "rootGroups",
    ]
    # The switch turns off rootGroups and nothing else.
    assert check_ids("nonroot:allow-root-group") == [
        c for c in check_ids("nonroot") if c != "rootGroups"
    ]
    assert check_ids() == check_ids("nonroot")  # nonroot is the default


@pytest.mark.parametrize("profile", ["restricted", "baseline", "nonroot"])
def test_order_is_psas_baseline_then_restricted_by_id_then_ours(profile: str) -> None:
    ids = check_ids(profile)  # type: ignore[arg-type]
    order = ["baseline", "restricted", "hardened"]
    levels = [CHECKS[i].level for i in ids]
    assert levels == sorted(levels, key=order.index)
    for level in order:
        of_level = [i for i in ids if CHECKS[i].level == level]
        assert of_level == sorted(of_level)


def test_overrides_are_psas_and_overridden_checks_run_in_baseline_only() -> None:
    overrides = {c.id: set(c.overrides) for c in CHECKS.values() if c.overrides}
    assert overrides == {
        "restrictedVolumes": {"hostPathVolumes"},
        "capabilities_restricted": {"capabilities_baseline"},
        "seccompProfile_restricted": {"seccompProfile_baseline"},
        "procMount_restricted": {"procMount"},
    }
    for overridden in set().union(*overrides.values()):
        assert CHECKS[overridden].profiles == ("baseline",)
        assert CHECKS[overridden].level == "baseline"


def test_a_check_can_run_alone_with_psa_semantics() -> None:
    spec = spec_with(("hostUsers", False), ("securityContext.runAsUser", 0))
    # Called directly, a check behaves like PSA (user-namespace relaxation on)...
    assert CHECKS["runAsUser"]({}, spec).allowed
    # ...and the nonroot profile's behaviour is one flag away.
    assert not CHECKS["runAsUser"]({}, spec, relax_user_namespaces=False).allowed
    assert next(r for r in evaluate({}, spec, "nonroot") if r.check == "runAsUser").allowed is False


@pytest.mark.parametrize("profile", ["nonroot", "baseline", "restricted"])
def test_evaluation_never_mutates_its_input(profile: str) -> None:
    for _, edits, _, _ in ROWS:
        spec = spec_with(*edits)
        metadata = {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "x"}}
        before = copy.deepcopy((metadata, spec))
        evaluate(metadata, spec, profile)  # type: ignore[arg-type]
        assert (metadata, spec) == before


def test_results_are_one_per_check_in_profile_order() -> None:
    for profile in ("nonroot", "nonroot:allow-root-group", "baseline", "restricted"):
        results = evaluate({}, compliant_spec(), profile)
        assert [r.check for r in results] == check_ids(profile)
        assert all(r.allowed and not r.findings for r in results)


def test_a_crashing_check_denies_instead_of_raising() -> None:
    def broken(pod: PodView) -> CheckResult:
        raise ValueError("bug in a check")

    def too_deep(pod: PodView) -> CheckResult:
        raise RecursionError

    checks_ = [
        Check(id="broken", level="baseline", profiles=(), func=broken, summary="x"),
        Check(id="deep", level="baseline", profiles=(), func=too_deep, summary="x"),
        CHECKS["privileged"],
    ]
    results = run_checks(checks_, {}, compliant_spec())
    assert [(r.check, r.allowed, r.reason) for r in results] == [
        ("broken", False, "check failed"),
        ("deep", False, "check failed"),
        ("privileged", True, ""),
    ]
    assert "ValueError: bug in a check" in results[0].findings[0].message
    assert "nested too deeply" in results[1].findings[0].message
