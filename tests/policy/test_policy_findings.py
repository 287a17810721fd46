"""What a denial says: container, container type, field, message, fix — and PSA's wording."""

from __future__ import annotations

from typing import Any

import pytest

from hardened_operator.policy import CHECKS, CheckResult, Finding, evaluate, psa_message
from tests.policy.policy_pods import DELETE, spec_with


def result_of(check: str, spec: dict[str, Any], profile: str = "restricted") -> CheckResult:
    (result,) = [r for r in evaluate({}, spec, profile) if r.check == check]  # type: ignore[arg-type]
    return result


def test_init_container_uid_0_names_container_type_field_and_fix() -> None:
    result = result_of("runAsUser", spec_with(("initContainers[0].securityContext.runAsUser", 0)))
    assert result.reason == "runAsUser=0"
    assert result.detail == 'container "init" must not set runAsUser=0'
    assert result.findings == (
        Finding(
            check="runAsUser",
            field="initContainers[0].securityContext.runAsUser",
            message="runs as UID 0 (root)",
            fix="set initContainers[0].securityContext.runAsUser: 1000",
            container="init",
            container_type="initContainer",
            fix_op="set",
            fix_field="initContainers[0].securityContext.runAsUser",
            fix_value=1000,
        ),
    )


def test_pod_level_runasnonroot_missing_points_every_container_at_one_pod_level_fix() -> None:
    result = result_of("runAsNonRoot", spec_with(("securityContext.runAsNonRoot", DELETE)))
    assert result.detail == (
        'pod or containers "init", "app", "debug" must set securityContext.runAsNonRoot=true'
    )
    assert [(f.container, f.container_type) for f in result.findings] == [
        ("init", "initContainer"),
        ("app", "container"),
        ("debug", "ephemeralContainer"),
    ]
    assert {f.fix for f in result.findings} == {"set securityContext.runAsNonRoot: true"}
    assert {f.fix_field for f in result.findings} == {"securityContext.runAsNonRoot"}


def test_explicit_false_reported_before_implicit_like_psa() -> None:
    spec = spec_with(
        ("securityContext.runAsNonRoot", DELETE),
        ("containers[0].securityContext.runAsNonRoot", False),
    )
    result = result_of("runAsNonRoot", spec)
    assert result.detail == 'container "app" must not set securityContext.runAsNonRoot=false'
    fixes = {(f.container, f.fix) for f in result.findings}
    assert ("app", "set containers[0].securityContext.runAsNonRoot: true") in fixes
    assert ("init", "set securityContext.runAsNonRoot: true") in fixes


def test_userns_denial_says_why_hostusers_did_not_help() -> None:
    spec = spec_with(("hostUsers", False), ("securityContext.runAsUser", 0))
    result = result_of("runAsUser", spec, "nonroot")
    (item,) = result.findings
    assert item.container is None and item.field == "securityContext.runAsUser"
    assert "hostUsers: false does not make UID 0 acceptable" in item.message


def test_capabilities_detail_and_fixes() -> None:
    spec = spec_with(
        ("containers[0].securityContext.capabilities", {"add": ["SYS_ADMIN", "NET_BIND_SERVICE"]}),
        ("ephemeralContainers[0].securityContext.capabilities.add", ["NET_RAW"]),
    )
    result = result_of("capabilities_restricted", spec, "nonroot")
    assert result.reason == "unrestricted capabilities"
    assert result.detail == (
        'container "app" must set securityContext.capabilities.drop=["ALL"]; '
        'containers "app", "debug" must not include "NET_RAW", "SYS_ADMIN" in '
        "securityContext.capabilities.add"
    )
    fixes = [(f.field, f.fix) for f in result.findings]
    assert fixes == [
        (
            "containers[0].securityContext.capabilities.drop",
            'set containers[0].securityContext.capabilities.drop: ["ALL"]',
        ),
        (
            "containers[0].securityContext.capabilities.add",
            'set containers[0].securityContext.capabilities.add: ["NET_BIND_SERVICE"]',
        ),
        (
            "ephemeralContainers[0].securityContext.capabilities.add",
            "remove ephemeralContainers[0].securityContext.capabilities.add",
        ),
    ]


@pytest.mark.parametrize(
    ("check", "edits", "reason", "detail"),
    [
        (
            "hostNamespaces",
            [("hostNetwork", True), ("hostIPC", True)],
            "host namespaces",
            "hostNetwork=true, hostIPC=true",
        ),
        (
            "privileged",
            [("initContainers[0].securityContext.privileged", True)],
            "privileged",
            'container "init" must not set securityContext.privileged=true',
        ),
        (
            "hostPorts",
            [("containers[0].ports", [{"hostPort": 80}, {"hostPort": 443}])],
            "hostPort",
            'container "app" uses hostPorts 443, 80',
        ),
        (
            "sysctls",
            [("securityContext.sysctls", [{"name": "kernel.msgmax"}, {"name": "a.b"}])],
            "forbidden sysctls",
            "kernel.msgmax, a.b",
        ),
        (
            "allowPrivilegeEscalation",
            [("containers[0].securityContext.allowPrivilegeEscalation", True)],
            "allowPrivilegeEscalation != false",
            'container "app" must set securityContext.allowPrivilegeEscalation=false',
        ),
        (
            "seccompProfile_restricted",
            [("securityContext.seccompProfile", DELETE)],
            "seccompProfile",
            'pod or containers "init", "app", "debug" must set securityContext.seccompProfile.type '
            'to "RuntimeDefault" or "Localhost"',
        ),
        (
            "seccompProfile_restricted",
            [("securityContext.seccompProfile.type", "Unconfined")],
            "seccompProfile",
            'pod must not set securityContext.seccompProfile.type to "Unconfined"',
        ),
        (
            "procMount_restricted",
            [("containers[0].securityContext.procMount", "Unmasked")],
            "procMount",
            'container "app" must not set securityContext.procMount to "Unmasked"',
        ),
        (
            "windowsHostProcess",
            [("securityContext.windowsOptions.hostProcess", True)],
            "hostProcess",
            "pod must not set securityContext.windowsOptions.hostProcess=true",
        ),
        (
            "restrictedVolumes",
            [("volumes", [{"name": "a", "hostPath": {}}, {"name": "b", "nfs": {}}])],
            "restricted volume types",
            'volumes "a", "b" use restricted volume types "hostPath", "nfs"',
        ),
        (
            "appArmorProfile",
            [("securityContext.appArmorProfile.type", "Unconfined")],
            "forbidden AppArmor profile",
            'pod must not set AppArmor profile type to "Unconfined"',
        ),
        (
            "seLinuxOptions",
            [("securityContext.seLinuxOptions", {"type": "spc_t", "user": "u"})],
            "seLinuxOptions",
            'pod set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set',
        ),
        (
            "seLinuxOptions",  # user/role are reported even when the type is fine (PSA v1.31+)
            [("containers[0].securityContext.seLinuxOptions", {"role": "sysadm_r"})],
            "seLinuxOptions",
            'container "app" set forbidden securityContext.seLinuxOptions: role may not be set',
        ),
        (
            "hostProbesAndHostLifecycle",
            [("containers[0].livenessProbe.httpGet", {"port": 1, "host": "evil"})],
            "probe or lifecycle host",
            'container "app" uses probe or lifecycle host "evil"',
        ),
    ],
)
def test_reason_and_detail_follow_psa_wording(
    check: str, edits: list[tuple[str, Any]], reason: str, detail: str
) -> None:
    result = result_of(check, spec_with(*edits))
    assert (result.allowed, result.reason, result.detail) == (False, reason, detail)


def test_every_finding_fix_is_consistent_with_its_structured_form() -> None:
    spec = spec_with(
        ("securityContext.runAsUser", 0),
        ("securityContext.seccompProfile", DELETE),
        ("hostPID", True),
        ("containers[0].securityContext.privileged", True),
        ("containers[0].ports", [{"hostPort": 1}]),
        ("initContainers[0].securityContext.procMount", "Unmasked"),
        ("containers[0].startupProbe.tcpSocket", {"port": 1, "host": "h"}),
    )
    findings = [f for r in evaluate({}, spec, "restricted") for f in r.findings]
    assert len(findings) >= 8
    for item in findings:
        if item.fix_op == "set":
            assert item.fix.startswith(f"set {item.fix_field}: ")
        elif item.fix_op == "remove":
            assert item.fix == f"remove {item.fix_field}"


def test_every_registered_check_has_a_summary_and_psa_level() -> None:
    for check in CHECKS.values():
        assert check.summary
        assert check.level in ("baseline", "restricted", "hardened")


def test_psa_message_joins_denials_in_psa_order() -> None:
    spec = spec_with(
        ("securityContext.runAsUser", 0),
        ("hostPID", True),
        ("containers[0].securityContext.allowPrivilegeEscalation", True),
    )
    assert psa_message(evaluate({}, spec, "restricted")) == (
        "host namespaces (hostPID=true), "
        'allowPrivilegeEscalation != false (container "app" must set '
        "securityContext.allowPrivilegeEscalation=false), "
        "runAsUser=0 (pod must not set runAsUser=0)"
    )
    assert psa_message(evaluate({}, spec_with(), "restricted")) == ""
