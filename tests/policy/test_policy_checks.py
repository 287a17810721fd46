"""Table-driven tests: one edit of a compliant pod, and exactly which checks fail per profile.

Every row runs under both profiles. The compliant base (see ``policy_pods``) has an init, a
regular and an ephemeral container, so container-level overrides, init and ephemeral
containers and pod-vs-container precedence are all exercised against the same pod.
"""

from __future__ import annotations

from typing import Any

import pytest

from hardened_operator.policy import Profile, evaluate
from tests.policy.policy_pods import DELETE, compliant_spec, container, spec_with

NR: Profile = "nonroot"
R: Profile = "restricted"
SC = "securityContext"
APP = "containers[0].securityContext"
INIT = "initContainers[0].securityContext"
EPH = "ephemeralContainers[0].securityContext"
WINDOWS = ("os", {"name": "windows"})
USERNS = ("hostUsers", False)

# (row id, edits, failing checks under nonroot, failing checks under restricted)
Row = tuple[str, list[tuple[str, Any]], set[str], set[str]]


def both(checks: set[str]) -> tuple[set[str], set[str]]:
    """The same failing checks under nonroot and restricted."""
    return checks, checks


ROWS: list[Row] = [
    ("compliant", [], set(), set()),
    # --- runAsNonRoot -------------------------------------------------------------------
    ("nonroot/pod-false", [(f"{SC}.runAsNonRoot", False)], {"runAsNonRoot"}, {"runAsNonRoot"}),
    ("nonroot/pod-unset", [(f"{SC}.runAsNonRoot", DELETE)], {"runAsNonRoot"}, {"runAsNonRoot"}),
    ("nonroot/pod-null", [(f"{SC}.runAsNonRoot", None)], {"runAsNonRoot"}, {"runAsNonRoot"}),
    (
        "nonroot/pod-unset-all-containers-true",
        [
            (f"{SC}.runAsNonRoot", DELETE),
            (f"{APP}.runAsNonRoot", True),
            (f"{INIT}.runAsNonRoot", True),
            (f"{EPH}.runAsNonRoot", True),
        ],
        set(),
        set(),
    ),
    (
        "nonroot/pod-unset-ephemeral-forgotten",
        [
            (f"{SC}.runAsNonRoot", DELETE),
            (f"{APP}.runAsNonRoot", True),
            (f"{INIT}.runAsNonRoot", True),
        ],
        {"runAsNonRoot"},
        {"runAsNonRoot"},
    ),
    ("nonroot/container-override-false", [(f"{APP}.runAsNonRoot", False)], *both({"runAsNonRoot"})),
    ("nonroot/init-override-false", [(f"{INIT}.runAsNonRoot", False)], *both({"runAsNonRoot"})),
    ("nonroot/ephemeral-override-false", [(f"{EPH}.runAsNonRoot", False)], *both({"runAsNonRoot"})),
    (
        "nonroot/pod-false-containers-true",  # PSA: an explicit pod-level false is itself bad
        [
            (f"{SC}.runAsNonRoot", False),
            (f"{APP}.runAsNonRoot", True),
            (f"{INIT}.runAsNonRoot", True),
            (f"{EPH}.runAsNonRoot", True),
        ],
        {"runAsNonRoot"},
        {"runAsNonRoot"},
    ),
    # hostUsers: false relaxes runAsNonRoot in PSA (restricted) but never under nonroot.
    ("nonroot/userns-unset", [USERNS, (f"{SC}.runAsNonRoot", DELETE)], {"runAsNonRoot"}, set()),
    ("nonroot/userns-false", [USERNS, (f"{APP}.runAsNonRoot", False)], {"runAsNonRoot"}, set()),
    (
        "nonroot/hostusers-true-unset",
        [("hostUsers", True), (f"{SC}.runAsNonRoot", DELETE)],
        {"runAsNonRoot"},
        {"runAsNonRoot"},
    ),
    # --- runAsUser ----------------------------------------------------------------------
    ("uid/pod-0", [(f"{SC}.runAsUser", 0)], {"runAsUser"}, {"runAsUser"}),
    ("uid/container-0", [(f"{APP}.runAsUser", 0)], {"runAsUser"}, {"runAsUser"}),
    ("uid/init-0", [(f"{INIT}.runAsUser", 0)], {"runAsUser"}, {"runAsUser"}),
    ("uid/ephemeral-0", [(f"{EPH}.runAsUser", 0)], {"runAsUser"}, {"runAsUser"}),
    (
        "uid/pod-0-all-containers-override",  # PSA: pod-level 0 is denied even if overridden
        [
            (f"{SC}.runAsUser", 0),
            (f"{APP}.runAsUser", 1000),
            (f"{INIT}.runAsUser", 1000),
            (f"{EPH}.runAsUser", 1000),
        ],
        {"runAsUser"},
        {"runAsUser"},
    ),
    ("uid/unset", [(f"{SC}.runAsUser", DELETE)], set(), set()),
    ("uid/1", [(f"{SC}.runAsUser", 1), (f"{APP}.runAsUser", 65534)], set(), set()),
    ("uid/userns-pod-0", [USERNS, (f"{SC}.runAsUser", 0)], {"runAsUser"}, set()),
    ("uid/userns-init-0", [USERNS, (f"{INIT}.runAsUser", 0)], {"runAsUser"}, set()),
    (
        "uid/userns-0-and-root-allowed",
        [USERNS, (f"{SC}.runAsUser", 0), (f"{SC}.runAsNonRoot", False)],
        {"runAsUser", "runAsNonRoot"},
        set(),
    ),
    ("uid/hostusers-true-0", [("hostUsers", True), (f"{SC}.runAsUser", 0)], *both({"runAsUser"})),
    # --- privileged ---------------------------------------------------------------------
    ("priv/app", [(f"{APP}.privileged", True)], {"privileged"}, {"privileged"}),
    ("priv/init", [(f"{INIT}.privileged", True)], {"privileged"}, {"privileged"}),
    ("priv/ephemeral", [(f"{EPH}.privileged", True)], {"privileged"}, {"privileged"}),
    ("priv/false", [(f"{APP}.privileged", False)], set(), set()),
    ("priv/windows-still-checked", [WINDOWS, (f"{APP}.privileged", True)], *both({"privileged"})),
    # --- allowPrivilegeEscalation ---------------------------------------------------------
    (
        "ape/app-true",
        [(f"{APP}.allowPrivilegeEscalation", True)],
        *both({"allowPrivilegeEscalation"}),
    ),
    (
        "ape/app-unset",
        [(f"{APP}.allowPrivilegeEscalation", DELETE)],
        *both({"allowPrivilegeEscalation"}),
    ),
    (
        "ape/init-unset",
        [(f"{INIT}.allowPrivilegeEscalation", DELETE)],
        *both({"allowPrivilegeEscalation"}),
    ),
    (
        "ape/ephemeral-true",
        [(f"{EPH}.allowPrivilegeEscalation", True)],
        *both({"allowPrivilegeEscalation"}),
    ),
    ("ape/windows-exempt", [WINDOWS, (f"{APP}.allowPrivilegeEscalation", DELETE)], set(), set()),
    # --- capabilities_restricted ----------------------------------------------------------
    ("caps/no-capabilities", [(f"{APP}.capabilities", DELETE)], *both({"capabilities_restricted"})),
    (
        "caps/no-securitycontext",
        [("containers[0]", container("app") | {SC: None})],
        {"capabilities_restricted", "allowPrivilegeEscalation"},
        {"capabilities_restricted", "allowPrivilegeEscalation"},
    ),
    (
        "caps/drop-net-raw-only",
        [(f"{APP}.capabilities.drop", ["NET_RAW"])],
        *both({"capabilities_restricted"}),
    ),
    (
        "caps/drop-lowercase-all",
        [(f"{APP}.capabilities.drop", ["all"])],
        *both({"capabilities_restricted"}),
    ),
    (
        "caps/drop-all-among-others",
        [(f"{APP}.capabilities.drop", ["NET_RAW", "ALL"])],
        set(),
        set(),
    ),
    ("caps/add-net-bind", [(f"{APP}.capabilities.add", ["NET_BIND_SERVICE"])], set(), set()),
    (
        "caps/add-sys-admin",
        [(f"{APP}.capabilities.add", ["SYS_ADMIN"])],
        *both({"capabilities_restricted"}),
    ),
    # CHOWN is a baseline default, but restricted (and nonroot) allow only NET_BIND_SERVICE.
    (
        "caps/add-chown",
        [(f"{INIT}.capabilities.add", ["CHOWN"])],
        *both({"capabilities_restricted"}),
    ),
    (
        "caps/ephemeral-no-drop",
        [(f"{EPH}.capabilities.drop", [])],
        *both({"capabilities_restricted"}),
    ),
    ("caps/windows-exempt", [WINDOWS, (f"{APP}.capabilities", DELETE)], set(), set()),
    # --- hostNamespaces (restricted only) ---------------------------------------------------
    ("hostns/network", [("hostNetwork", True)], set(), {"hostNamespaces"}),
    ("hostns/pid", [("hostPID", True)], set(), {"hostNamespaces"}),
    ("hostns/ipc", [("hostIPC", True)], set(), {"hostNamespaces"}),
    ("hostns/false", [("hostNetwork", False), ("hostPID", False)], set(), set()),
    # --- hostPorts ---------------------------------------------------------------------------
    (
        "hostports/app",
        [("containers[0].ports", [{"containerPort": 80, "hostPort": 8080}])],
        set(),
        {"hostPorts"},
    ),
    (
        "hostports/zero",
        [("containers[0].ports", [{"containerPort": 80, "hostPort": 0}])],
        set(),
        set(),
    ),
    (
        "hostports/ephemeral",
        [("ephemeralContainers[0].ports", [{"hostPort": 1}])],
        set(),
        {"hostPorts"},
    ),
    # --- appArmorProfile ---------------------------------------------------------------------
    (
        "apparmor/pod-unconfined",
        [(f"{SC}.appArmorProfile", {"type": "Unconfined"})],
        set(),
        {"appArmorProfile"},
    ),
    (
        "apparmor/container-localhost",
        [(f"{APP}.appArmorProfile", {"type": "Localhost", "localhostProfile": "p"})],
        set(),
        set(),
    ),
    (
        "apparmor/init-unconfined",
        [(f"{INIT}.appArmorProfile", {"type": "Unconfined"})],
        set(),
        {"appArmorProfile"},
    ),
    # --- seLinuxOptions ----------------------------------------------------------------------
    ("selinux/type-spc", [(f"{SC}.seLinuxOptions", {"type": "spc_t"})], set(), {"seLinuxOptions"}),
    (
        "selinux/type-engine",
        [(f"{APP}.seLinuxOptions", {"type": "container_engine_t"})],
        set(),
        set(),
    ),
    ("selinux/user", [(f"{APP}.seLinuxOptions", {"user": "root"})], set(), {"seLinuxOptions"}),
    ("selinux/role", [(f"{EPH}.seLinuxOptions", {"role": "sysadm_r"})], set(), {"seLinuxOptions"}),
    ("selinux/level-ok", [(f"{SC}.seLinuxOptions", {"level": "s0:c123,c456"})], set(), set()),
    # --- sysctls -----------------------------------------------------------------------------
    (
        "sysctls/unsafe",
        [(f"{SC}.sysctls", [{"name": "kernel.msgmax", "value": "1"}])],
        set(),
        {"sysctls"},
    ),
    (
        "sysctls/safe-1.37",
        [(f"{SC}.sysctls", [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}])],
        set(),
        set(),
    ),
    # --- windowsHostProcess (nonroot too: a HostProcess container is the node's account) ------
    (
        "hostprocess/pod",
        [(f"{SC}.windowsOptions", {"hostProcess": True})],
        *both({"windowsHostProcess"}),
    ),
    (
        "hostprocess/init",
        [(f"{INIT}.windowsOptions", {"hostProcess": True})],
        *both({"windowsHostProcess"}),
    ),
    ("hostprocess/false", [(f"{APP}.windowsOptions", {"hostProcess": False})], set(), set()),
    # --- hostProbesAndHostLifecycle -------------------------------------------------------------
    (
        "probes/liveness-http",
        [("containers[0].livenessProbe", {"httpGet": {"port": 8080, "host": "10.0.0.1"}})],
        set(),
        {"hostProbesAndHostLifecycle"},
    ),
    (
        "probes/readiness-tcp",
        [("initContainers[0].readinessProbe", {"tcpSocket": {"port": 1, "host": "db"}})],
        set(),
        {"hostProbesAndHostLifecycle"},
    ),
    (
        "probes/prestop-http",
        [("containers[0].lifecycle", {"preStop": {"httpGet": {"port": 1, "host": "x"}}})],
        set(),
        {"hostProbesAndHostLifecycle"},
    ),
    (
        "probes/empty-host",
        [("containers[0].startupProbe", {"httpGet": {"port": 1, "host": ""}})],
        set(),
        set(),
    ),
    # --- restrictedVolumes --------------------------------------------------------------------
    (
        "volumes/hostpath",
        [("volumes", [{"name": "h", "hostPath": {"path": "/"}}])],
        set(),
        {"restrictedVolumes"},
    ),
    (
        "volumes/nfs",
        [("volumes", [{"name": "n", "nfs": {"server": "s", "path": "/"}}])],
        set(),
        {"restrictedVolumes"},
    ),
    (
        "volumes/allowed",
        [
            (
                "volumes",
                [
                    {"name": "e", "emptyDir": {}},
                    {"name": "i", "image": {"reference": "r"}},
                    {"name": "p", "persistentVolumeClaim": {"claimName": "c"}},
                ],
            )
        ],
        set(),
        set(),
    ),
    ("volumes/defaulted-emptydir", [("volumes", [{"name": "d"}])], set(), set()),
    (
        "volumes/unknown-type",
        [("volumes", [{"name": "u", "futureVolume": {}}])],
        set(),
        {"restrictedVolumes"},
    ),
    (
        "volumes/allowed-plus-hostpath",
        [("volumes", [{"name": "x", "emptyDir": {}, "hostPath": {"path": "/"}}])],
        set(),
        {"restrictedVolumes"},
    ),
    # --- seccompProfile_restricted ------------------------------------------------------------
    ("seccomp/unset", [(f"{SC}.seccompProfile", DELETE)], set(), {"seccompProfile_restricted"}),
    (
        "seccomp/pod-unset-containers-set",
        [
            (f"{SC}.seccompProfile", DELETE),
            (f"{APP}.seccompProfile", {"type": "RuntimeDefault"}),
            (f"{INIT}.seccompProfile", {"type": "Localhost", "localhostProfile": "p.json"}),
            (f"{EPH}.seccompProfile", {"type": "RuntimeDefault"}),
        ],
        set(),
        set(),
    ),
    (
        "seccomp/pod-unset-ephemeral-forgotten",
        [
            (f"{SC}.seccompProfile", DELETE),
            (f"{APP}.seccompProfile", {"type": "RuntimeDefault"}),
            (f"{INIT}.seccompProfile", {"type": "RuntimeDefault"}),
        ],
        set(),
        {"seccompProfile_restricted"},
    ),
    (
        "seccomp/pod-unconfined",
        [(f"{SC}.seccompProfile.type", "Unconfined")],
        set(),
        {"seccompProfile_restricted"},
    ),
    (
        "seccomp/container-unconfined",
        [(f"{APP}.seccompProfile", {"type": "Unconfined"})],
        set(),
        {"seccompProfile_restricted"},
    ),
    ("seccomp/windows-exempt", [WINDOWS, (f"{SC}.seccompProfile", DELETE)], set(), set()),
    # --- procMount_restricted -------------------------------------------------------------------
    ("procmount/unmasked", [(f"{APP}.procMount", "Unmasked")], set(), {"procMount_restricted"}),
    (
        "procmount/userns-unmasked",
        [USERNS, (f"{INIT}.procMount", "Unmasked")],
        set(),
        {"procMount_restricted"},
    ),
    ("procmount/default", [(f"{APP}.procMount", "Default")], set(), set()),
]


@pytest.mark.parametrize(
    ("edits", "nonroot", "restricted"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_failing_checks(
    edits: list[tuple[str, Any]], nonroot: set[str], restricted: set[str]
) -> None:
    spec = spec_with(*edits)
    for profile, expected in ((NR, nonroot), (R, restricted)):
        results = evaluate({}, spec, profile)
        failing = {r.check for r in results if not r.allowed}
        assert failing == expected, profile
        for result in results:
            # A denial always explains itself; an allow never carries findings.
            assert bool(result.findings) == (not result.allowed), result
            assert all(f.check == result.check for f in result.findings)
            assert all(f.message and f.fix for f in result.findings)


def test_row_ids_are_unique() -> None:
    assert len({row[0] for row in ROWS}) == len(ROWS)


def test_base_pod_really_has_every_container_type() -> None:
    spec = compliant_spec()
    assert {"initContainers", "containers", "ephemeralContainers"} <= spec.keys()


@pytest.mark.parametrize(
    ("annotation", "value", "denied"),
    [
        ("container.apparmor.security.beta.kubernetes.io/app", "unconfined", True),
        ("container.apparmor.security.beta.kubernetes.io/app", "runtime/default", False),
        ("container.apparmor.security.beta.kubernetes.io/app", "localhost/custom", False),
        ("container.apparmor.security.beta.kubernetes.io/app", "", False),
        ("example.com/unrelated", "unconfined", False),
    ],
)
def test_apparmor_annotations(annotation: str, value: str, denied: bool) -> None:
    metadata = {"annotations": {annotation: value}}
    results = {r.check: r for r in evaluate(metadata, compliant_spec(), R)}
    assert results["appArmorProfile"].allowed is not denied
    if denied:
        (item,) = results["appArmorProfile"].findings
        assert item.scope == "metadata"
        assert item.field == f"annotations[{annotation}]"
        assert item.fix_value == "runtime/default"
