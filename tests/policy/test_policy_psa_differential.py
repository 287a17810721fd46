"""Differential test against the real thing: PodSecurity admission in kube-apiserver v1.37.

Every pod of a corpus (each row of the table-driven tests, hand-made extras, and seeded random
combinations of row edits) is created with ``dryRun=All`` twice: once with PSA off, which
returns the validated and *defaulted* object PSA will look at, and once in a namespace
enforcing PSA ``restricted`` (then, in a second run, ``baseline``) pinned to ``v1.37``. For
every valid pod our verdict of the same profile on the defaulted object must equal PSA's,
PSA's denial message must be exactly our ``reason (detail)`` strings joined in order (wording
and order included), and the manifest as written must never pass where PSA denies. Ephemeral
containers cannot be set on create: they are compared through the pods/ephemeralcontainers
subresource (what ``kubectl debug`` uses) instead.

Needs the shared ``control_plane`` fixture (skips without one, fails in CI).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from hardened_operator.policy import CHECKS, evaluate, psa_message
from tests.policy.policy_pods import DELETE, compliant_spec, spec_with
from tests.policy.policy_summary import CONFORMANCE_COUNTS
from tests.policy.test_policy_checks import ROWS
from tests.policy.test_policy_profiles import ROWS as PROFILE_ROWS

pytestmark = pytest.mark.controlplane

SEED = 20261128
RANDOM_PODS = 200
PSA_LEVEL = "restricted"
# Per level: the least the corpus must bring to PSA (compared, denied), or it proves little.
MINIMUMS = {"restricted": (200, 120), "baseline": (200, 100)}
PSA_VERSION = "v1.37"
APP = "containers[0].securityContext"
APPARMOR = "container.apparmor.security.beta.kubernetes.io/app"

# Pods the table rows cannot express validly (the API rejects e.g. privileged without
# privilege escalation, or Unmasked procMount without a user namespace).
EXTRA: list[tuple[str, dict[str, Any], list[tuple[str, Any]]]] = [
    (
        "privileged-with-escalation",
        {},
        [(f"{APP}.privileged", True), (f"{APP}.allowPrivilegeEscalation", True)],
    ),
    ("userns-unmasked", {}, [("hostUsers", False), (f"{APP}.procMount", "Unmasked")]),
    (
        "userns-root",
        {},
        [
            ("hostUsers", False),
            ("securityContext.runAsUser", 0),
            ("securityContext.runAsNonRoot", DELETE),
        ],
    ),
    (
        "userns-root-no-seccomp",
        {},
        [
            ("hostUsers", False),
            ("securityContext.runAsUser", 0),
            ("securityContext.seccompProfile", DELETE),
        ],
    ),
    (
        "readiness-host",
        {},
        [("containers[0].readinessProbe", {"tcpSocket": {"port": 1, "host": "10.1.2.3"}})],
    ),
    (
        "poststart-host",
        {},
        [
            (
                "containers[0].lifecycle",
                {"postStart": {"httpGet": {"port": 80, "host": "example.com"}}},
            )
        ],
    ),
    (
        "safe-sysctls",
        {},
        [
            (
                "securityContext.sysctls",
                [
                    {"name": "net.ipv4.tcp_slow_start_after_idle", "value": "0"},
                    {"name": "net.ipv4.ip_local_reserved_ports", "value": "30000"},
                    {"name": "kernel.shm_rmid_forced", "value": "1"},
                ],
            )
        ],
    ),
    (
        "unsafe-sysctls",
        {},
        [
            (
                "securityContext.sysctls",
                [
                    {"name": "net.core.somaxconn", "value": "1024"},
                    {"name": "net.ipv4.tcp_keepalive_time", "value": "60"},
                    {"name": "kernel.msgmax", "value": "1"},
                ],
            )
        ],
    ),
    ("apparmor-annotation-unconfined", {"annotations": {APPARMOR: "unconfined"}}, []),
    ("apparmor-annotation-runtime", {"annotations": {APPARMOR: "runtime/default"}}, []),
    (
        "apparmor-annotation-localhost",
        {"annotations": {APPARMOR: "localhost/custom"}},
        [(f"{APP}.appArmorProfile", {"type": "Localhost", "localhostProfile": "custom"})],
    ),
    (
        "hostports-several",
        {},
        [
            (
                "containers[0].ports",
                [{"containerPort": 80, "hostPort": 80}, {"containerPort": 443, "hostPort": 443}],
            ),
            ("initContainers[0].ports", [{"containerPort": 9, "hostPort": 9}]),
        ],
    ),
    (
        "many-bad",
        {},
        [
            ("hostNetwork", True),
            ("hostPID", True),
            ("securityContext.runAsUser", 0),
            ("securityContext.runAsNonRoot", False),
            (f"{APP}.capabilities", {"add": ["SYS_ADMIN", "NET_RAW"]}),
            (f"{APP}.allowPrivilegeEscalation", True),
            (f"{APP}.privileged", True),
            ("securityContext.seccompProfile", {"type": "Unconfined"}),
            (
                "volumes",
                [
                    {"name": "h", "hostPath": {"path": "/"}},
                    {"name": "n", "nfs": {"server": "s", "path": "/"}},
                ],
            ),
        ],
    ),
]
_EXTRA_NAMES = {name for name, _, _ in EXTRA}

WINDOWS_SPEC: dict[str, Any] = {
    "os": {"name": "windows"},
    "securityContext": {"runAsNonRoot": True},
    "containers": [{"name": "app", "image": "registry.example/win:1"}],
}
WINDOWS_EXTRA: list[tuple[str, list[tuple[str, Any]]]] = [
    ("windows-minimal", []),
    ("windows-no-runasnonroot", [("securityContext.runAsNonRoot", DELETE)]),
    (
        "windows-hostprocess",
        [
            ("hostNetwork", True),
            (
                "securityContext.windowsOptions",
                {"hostProcess": True, "runAsUserName": "NT AUTHORITY\\SYSTEM"},
            ),
        ],
    ),
]


# Row prefixes whose edits the API rejects in combination (privileged needs escalation,
# hostProcess needs hostNetwork and Windows, Unmasked needs a user namespace, ...).
_INVALID_IN_MIXES = (
    "priv/",
    "hostprocess/",
    "procmount/unmasked",
    "probes/readiness-tcp",
    "volumes/allowed-plus-hostpath",
    "ape/windows",
    "caps/windows",
    "seccomp/windows",
)


def _base() -> dict[str, Any]:
    spec = compliant_spec()
    del spec["ephemeralContainers"]
    return spec


def _usable(edits: list[tuple[str, Any]]) -> bool:
    return not any(path.startswith("ephemeralContainers") for path, _ in edits)


def corpus() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    rows = [(name, edits) for name, edits, _, _ in ROWS if _usable(edits)]
    rows += [(name, edits) for name, meta, edits in EXTRA if not meta]
    # The profile table (root groups, HostProcess, baseline rows): single pods, no mixes, so
    # the seeded mixes below stay what they were.
    single = [(f"profiles/{name}", edits) for name, edits, *_ in PROFILE_ROWS if _usable(edits)]
    pods: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (name, {}, spec_with(*edits, base=_base())) for name, edits in rows + single
    ]
    pods += [(name, meta, spec_with(*edits, base=_base())) for name, meta, edits in EXTRA if meta]
    pods += [(name, {}, spec_with(*edits, base=WINDOWS_SPEC)) for name, edits in WINDOWS_EXTRA]
    # Random mixes draw from rows that stay valid when combined, so most reach PSA.
    mixable = [row for row in rows if not row[0].startswith(_INVALID_IN_MIXES)]
    rng = random.Random(SEED)
    for number in range(RANDOM_PODS):
        picked = rng.sample(mixable, rng.randint(2, 4))
        edits = [edit for _, row_edits in picked for edit in row_edits]
        name = "mix-" + "+".join(row_name for row_name, _ in picked)
        pods.append((f"{name}#{number}", {}, spec_with(*edits, base=_base())))
    return pods


def _request(
    api: Any, method: str, path: str, body: dict[str, Any], *, dry_run: bool = True
) -> tuple[int, Any]:
    """A raw JSON request (the typed client would refuse unknown fields before the server
    sees them), by default with dryRun=All: (HTTP status, decoded response body)."""
    method_, url, headers, payload, _ = api.param_serialize(
        method=method,
        resource_path=path,
        query_params=[("dryRun", "All")] if dry_run else [],
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method_, url, header_params=headers, body=payload)
    return response.status, json.loads(response.read() or b"{}")


def _dry_run_create(api: Any, namespace: str, pod: dict[str, Any]) -> tuple[int, Any]:
    return _request(api, "POST", f"/api/v1/namespaces/{namespace}/pods", pod)


def _label_namespace(core: Any, namespace: str, level: str) -> None:
    labels = {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": PSA_VERSION,
    }
    core.patch_namespace(namespace, {"metadata": {"labels": labels}})


@pytest.mark.parametrize("level", ["restricted", "baseline"])
def test_profile_matches_kube_apiserver_podsecurity(
    k8s_api: Any, namespace: str, level: str
) -> None:
    from kubernetes import client

    core = client.CoreV1Api(k8s_api)
    pods: list[tuple[str, dict[str, Any]]] = []
    for index, (label, metadata, spec) in enumerate(corpus()):
        pod: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"pod-{index}", "namespace": namespace, **metadata},
            "spec": spec,
        }
        pods.append((label, pod))

    # Pass 1, PSA off ("privileged"): the API server validates and defaults each pod and
    # returns the object PSA would see (hostNetwork copies containerPort to hostPort, the
    # AppArmor annotation is mirrored into the field, unknown fields are dropped, ...).
    _label_namespace(core, namespace, "privileged")
    defaulted: dict[str, dict[str, Any]] = {}
    invalid = 0
    for label, pod in pods:
        status, body = _dry_run_create(k8s_api, namespace, pod)
        if status == 422:
            # Rejected by the API's own validation. Hand-made extras are built to be valid:
            # one rejected means the corpus is wrong, not PSA.
            assert label.startswith("mix-") or label not in _EXTRA_NAMES, (label, body)
            invalid += 1
            continue
        assert status == 201, (label, status, body)
        defaulted[label] = body

    # Pass 2, PSA <level>:v1.37 enforcing: its verdict and message for each valid pod.
    _label_namespace(core, namespace, level)
    prefix = f'violates PodSecurity "{level}:{PSA_VERSION}": '
    compared = denied = 0
    mismatches: list[str] = []
    for label, pod in pods:
        if label not in defaulted:
            continue
        status, body = _dry_run_create(k8s_api, namespace, pod)
        message = str(body.get("message", ""))
        assert status in (201, 403), (label, status, message)
        psa = message.split(prefix, 1)[1] if status == 403 else None
        assert status == 201 or psa is not None, (label, message)
        compared += 1
        denied += psa is not None

        seen = defaulted[label]
        ours = evaluate(seen["metadata"], seen["spec"], level)  # type: ignore[arg-type]
        expected = psa_message(ours)
        if level == "restricted" and seen["spec"].get("hostUsers") is not False:
            # Outside user namespaces, nonroot's PSA checks are PSA's, result for result (its
            # own rootGroups is not PSA's: tested in test_policy_profiles.py).
            nonroot = evaluate(seen["metadata"], seen["spec"], "nonroot")
            psa_ids = {r.check for r in nonroot if CHECKS[r.check].level != "hardened"}
            if [r for r in nonroot if r.check in psa_ids] != [
                r for r in ours if r.check in psa_ids
            ]:
                mismatches.append(f"{label}: nonroot differs from PSA on its own checks")
        if psa is None and expected:
            mismatches.append(f"{label}: PSA allowed, we deny with {expected}")
        elif psa is not None:
            # Our results come in PSA's order, so the joined text must be PSA's, verbatim.
            if psa != expected:
                mismatches.append(f"{label}:\n  PSA:  {psa}\n  ours: {expected}")
            # Fail closed on files too: the object as written (before the API server's
            # defaulting) must never be allowed when PSA denies the defaulted object.
            raw = evaluate(pod["metadata"], pod["spec"], level)  # type: ignore[arg-type]
            if all(r.allowed for r in raw):
                mismatches.append(f"{label}: PSA denies, but the raw manifest passes")

    CONFORMANCE_COUNTS.append(
        (
            f"{level} vs kube-apiserver PodSecurity",
            compared - len({m.split(":", 1)[0] for m in mismatches}),
            compared,
            f"identical verdict and message ({denied} denied; {invalid} invalid pods skipped)",
        )
    )
    # Guard the corpus itself: most pods must reach PSA, or the comparison proves little.
    least_compared, least_denied = MINIMUMS[level]
    assert compared >= least_compared and denied >= least_denied, (compared, denied)
    assert not mismatches, f"{len(mismatches)} differences:\n" + "\n".join(mismatches[:20])


# (label, the ephemeral container's securityContext) — what `kubectl debug` may add.
EPHEMERAL_CASES: list[tuple[str, dict[str, Any] | None]] = [
    ("compliant", {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}),
    ("no-security-context", None),
    ("root", {"runAsUser": 0, "allowPrivilegeEscalation": False,
              "capabilities": {"drop": ["ALL"]}}),
    ("sysadmin", {"privileged": True, "allowPrivilegeEscalation": True}),
    ("runasnonroot-false", {"runAsNonRoot": False, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}}),
    ("net-admin", {"allowPrivilegeEscalation": False,
                   "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}),
]  # fmt: skip


def test_ephemeral_containers_match_kube_apiserver_podsecurity(
    k8s_api: Any, namespace: str
) -> None:
    """``kubectl debug`` goes through the pods/ephemeralcontainers subresource: PSA judges the
    whole pod with the new ephemeral container, and so must we."""
    from kubernetes import client

    core = client.CoreV1Api(k8s_api)
    _label_namespace(core, namespace, PSA_LEVEL)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "target", "namespace": namespace},
        "spec": _base(),
    }
    # Created for real (it stays Pending: there are no nodes) so the subresource has a target.
    status, created = _request(
        k8s_api, "POST", f"/api/v1/namespaces/{namespace}/pods", pod, dry_run=False
    )
    assert status == 201, created
    prefix = f'violates PodSecurity "{PSA_LEVEL}:{PSA_VERSION}": '
    denied = 0
    for label, security_context in EPHEMERAL_CASES:
        debug: dict[str, Any] = {"name": "debugger", "image": "busybox:1.36", "stdin": True}
        if security_context is not None:
            debug["securityContext"] = security_context
        updated = {**created, "spec": {**created["spec"], "ephemeralContainers": [debug]}}
        status, body = _request(
            k8s_api,
            "PUT",
            f"/api/v1/namespaces/{namespace}/pods/target/ephemeralcontainers",
            updated,
        )
        ours = psa_message(evaluate(updated["metadata"], updated["spec"], "restricted"))
        if status == 200:
            assert ours == "", (label, ours)
            continue
        message = str(body.get("message", ""))
        assert status == 403 and prefix in message, (label, status, message)
        assert message.split(prefix, 1)[1] == ours, label
        denied += 1
        # The nonroot profile denies every one of these root-capable debug containers too.
        assert not all(r.allowed for r in evaluate(updated["metadata"], updated["spec"]))
    CONFORMANCE_COUNTS.append(
        (
            "restricted vs PodSecurity, ephemeralcontainers",
            len(EPHEMERAL_CASES),
            len(EPHEMERAL_CASES),
            f"identical verdict and message ({denied} denied)",
        )
    )
    assert denied == len(EPHEMERAL_CASES) - 1
