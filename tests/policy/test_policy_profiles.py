"""The profiles beyond the first two: ``baseline``, and ``nonroot``'s Windows HostProcess and
root-group checks with its ``nonroot:allow-root-group`` switch.

Table-driven on the compliant pod of ``policy_pods`` (init, regular and ephemeral container)
under all four profiles; then our own fixtures (``fixtures/profiles/``) through the engine,
the webhook's decision and ``hardened audit``, so every front end selects the profiles the
same way and says the same thing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from hardened_operator.cli import main
from hardened_operator.errors import PolicyError
from hardened_operator.policy import PROFILES, Profile, check_ids, evaluate
from hardened_operator.webhook import WebhookConfig, decide
from hardened_operator.workloads import review_object
from tests.policy.policy_pods import DELETE, spec_with

SC = "securityContext"
APP = "containers[0].securityContext"
INIT = "initContainers[0].securityContext"
EPH = "ephemeralContainers[0].securityContext"
ALLOW_ROOT_GROUP: Profile = "nonroot:allow-root-group"
HERE = Path(__file__).parent / "fixtures" / "profiles"
EXPECTED: dict[str, dict[str, list[str]]] = yaml.safe_load((HERE / "expected.yaml").read_text())

# (row id, edits, failing under nonroot, under baseline, under restricted); the switch
# nonroot:allow-root-group must fail exactly nonroot's checks minus rootGroups.
Row = tuple[str, list[tuple[str, Any]], set[str], set[str], set[str]]
ROOT = {"rootGroups"}
HOSTPROCESS = {"windowsHostProcess"}
ROWS: list[Row] = [
    ("compliant", [], set(), set(), set()),
    # --- rootGroups: runAsGroup ------------------------------------------------------------
    ("gid/pod-0", [(f"{SC}.runAsGroup", 0)], ROOT, set(), set()),
    ("gid/app-0", [(f"{APP}.runAsGroup", 0)], ROOT, set(), set()),
    ("gid/init-0", [(f"{INIT}.runAsGroup", 0)], ROOT, set(), set()),
    ("gid/ephemeral-0", [(f"{EPH}.runAsGroup", 0)], ROOT, set(), set()),
    (
        "gid/pod-0-all-containers-override",  # like runAsUser: a bad pod-level value stays bad
        [
            (f"{SC}.runAsGroup", 0),
            (f"{APP}.runAsGroup", 1000),
            (f"{INIT}.runAsGroup", 1000),
            (f"{EPH}.runAsGroup", 1000),
        ],
        ROOT,
        set(),
        set(),
    ),
    ("gid/pod-unset", [(f"{SC}.runAsGroup", DELETE)], set(), set(), set()),  # as Kyverno
    ("gid/pod-null", [(f"{SC}.runAsGroup", None)], set(), set(), set()),
    ("gid/1", [(f"{SC}.runAsGroup", 1), (f"{APP}.runAsGroup", 65534)], set(), set(), set()),
    # hostUsers: false relaxes nothing under nonroot.
    ("gid/userns-0", [("hostUsers", False), (f"{SC}.runAsGroup", 0)], ROOT, set(), set()),
    # --- rootGroups: supplementalGroups and fsGroup ----------------------------------------
    ("supplemental/only-0", [(f"{SC}.supplementalGroups", [0])], ROOT, set(), set()),
    ("supplemental/0-among", [(f"{SC}.supplementalGroups", [1000, 0, 5])], ROOT, set(), set()),
    ("supplemental/non-zero", [(f"{SC}.supplementalGroups", [1000, 5])], set(), set(), set()),
    ("supplemental/empty", [(f"{SC}.supplementalGroups", [])], set(), set(), set()),
    ("fsgroup/0", [(f"{SC}.fsGroup", 0)], ROOT, set(), set()),
    ("fsgroup/2000", [(f"{SC}.fsGroup", 2000)], set(), set(), set()),
    (
        "gid/everything-0",
        [
            (f"{SC}.runAsGroup", 0),
            (f"{SC}.supplementalGroups", [0]),
            (f"{SC}.fsGroup", 0),
            (f"{APP}.runAsGroup", 0),
        ],
        ROOT,
        set(),
        set(),
    ),
    # --- windowsHostProcess, now in nonroot --------------------------------------------------
    (
        "hostprocess/pod",
        [("hostNetwork", True), (f"{SC}.windowsOptions", {"hostProcess": True})],
        HOSTPROCESS,
        HOSTPROCESS | {"hostNamespaces"},
        HOSTPROCESS | {"hostNamespaces"},
    ),
    (
        "hostprocess/app",
        [("hostNetwork", True), (f"{APP}.windowsOptions", {"hostProcess": True})],
        HOSTPROCESS,
        HOSTPROCESS | {"hostNamespaces"},
        HOSTPROCESS | {"hostNamespaces"},
    ),
    (
        "hostprocess/ephemeral",
        [(f"{EPH}.windowsOptions", {"hostProcess": True})],
        HOSTPROCESS,
        HOSTPROCESS,
        HOSTPROCESS,
    ),
    (
        "hostprocess/false",
        [(f"{SC}.windowsOptions", {"hostProcess": False})],
        set(),
        set(),
        set(),
    ),
    # hostNetwork alone stays a restricted/baseline matter, not a root one.
    ("hostnetwork/alone", [("hostNetwork", True)], set(), {"hostNamespaces"}, {"hostNamespaces"}),
    # --- baseline: PSA's baseline checks, not the restricted ones --------------------------
    ("baseline/uid-0", [(f"{SC}.runAsUser", 0)], {"runAsUser"}, set(), {"runAsUser"}),
    (
        "baseline/no-drop",
        [(f"{APP}.capabilities", DELETE)],
        {"capabilities_restricted"},
        set(),
        {"capabilities_restricted"},
    ),
    (
        "baseline/add-chown",  # one of PSA's 13 defaults: baseline allows it
        [(f"{APP}.capabilities.add", ["CHOWN"])],
        {"capabilities_restricted"},
        set(),
        {"capabilities_restricted"},
    ),
    (
        "baseline/add-sys-admin",
        [(f"{APP}.capabilities.add", ["SYS_ADMIN"])],
        {"capabilities_restricted"},
        {"capabilities_baseline"},
        {"capabilities_restricted"},
    ),
    (
        "baseline/hostpath",
        [("volumes", [{"name": "h", "hostPath": {"path": "/"}}])],
        set(),
        {"hostPathVolumes"},
        {"restrictedVolumes"},
    ),
    (
        "baseline/nfs",
        [("volumes", [{"name": "n", "nfs": {"server": "s", "path": "/"}}])],
        set(),
        set(),
        {"restrictedVolumes"},
    ),
    (
        "baseline/seccomp-unset",
        [(f"{SC}.seccompProfile", DELETE)],
        set(),
        set(),
        {"seccompProfile_restricted"},
    ),
    (
        "baseline/seccomp-unconfined",
        [(f"{APP}.seccompProfile", {"type": "Unconfined"})],
        set(),
        {"seccompProfile_baseline"},
        {"seccompProfile_restricted"},
    ),
    (
        "baseline/procmount-unmasked",
        [(f"{APP}.procMount", "Unmasked")],
        set(),
        {"procMount"},
        {"procMount_restricted"},
    ),
    (
        "baseline/userns-procmount-unmasked",  # PSA's baseline relaxation for user namespaces
        [("hostUsers", False), (f"{APP}.procMount", "Unmasked")],
        set(),
        set(),
        {"procMount_restricted"},
    ),
    (
        "baseline/privileged",
        [(f"{APP}.privileged", True)],
        {"privileged"},
        {"privileged"},
        {"privileged"},
    ),
    (
        "baseline/hostport",
        [("containers[0].ports", [{"containerPort": 80, "hostPort": 80}])],
        set(),
        {"hostPorts"},
        {"hostPorts"},
    ),
]


def _failing(results: list[Any]) -> set[str]:
    return {r.check for r in results if not r.allowed}


@pytest.mark.parametrize(
    ("edits", "nonroot", "baseline", "restricted"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_failing_checks_per_profile(
    edits: list[tuple[str, Any]], nonroot: set[str], baseline: set[str], restricted: set[str]
) -> None:
    spec = spec_with(*edits)
    expected: dict[Profile, set[str]] = {
        "nonroot": nonroot,
        ALLOW_ROOT_GROUP: nonroot - ROOT,
        "baseline": baseline,
        "restricted": restricted,
    }
    for profile, checks in expected.items():
        results = evaluate({}, spec, profile)
        assert _failing(results) == checks, profile
        for result in results:
            assert bool(result.findings) == (not result.allowed), result
            assert all(f.message and f.fix and f.check == result.check for f in result.findings)


def test_row_ids_are_unique_and_both_outcomes_occur() -> None:
    assert len({row[0] for row in ROWS}) == len(ROWS)
    # The new checks can fail, and can pass: each appears both denying and allowing.
    prefixes = {
        "rootGroups": ("gid/", "supplemental/", "fsgroup/"),
        "windowsHostProcess": ("hostprocess/",),
    }
    for check, prefix in prefixes.items():
        rows = [row for row in ROWS if row[0].startswith(prefix)]
        assert any(check in row[2] for row in rows), check
        assert any(check not in row[2] for row in rows), check


def test_profiles_are_known_everywhere_a_profile_is_selected() -> None:
    assert PROFILES == ("nonroot", ALLOW_ROOT_GROUP, "baseline", "restricted")
    for name in ("audit", "webhook", "run"):
        command = main.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None, name
        (option,) = [p for p in command.params if p.name == "profile"]
        assert tuple(option.type.choices) == PROFILES, name  # type: ignore[attr-defined]
    for profile in PROFILES:
        assert WebhookConfig(profile=profile).profile == profile
    with pytest.raises(PolicyError):
        WebhookConfig(profile="nonroot:allow-everything")  # type: ignore[arg-type]


# --- what the root-group denial says ---------------------------------------------------------


def _root_groups(spec: dict[str, Any]) -> Any:
    (result,) = [r for r in evaluate({}, spec, "nonroot") if r.check == "rootGroups"]
    return result


def test_root_group_findings_name_the_container_the_field_and_the_fix() -> None:
    result = _root_groups(
        spec_with(
            (f"{SC}.runAsGroup", 0),
            (f"{SC}.supplementalGroups", [0, 2000]),
            (f"{SC}.fsGroup", 0),
            (f"{INIT}.runAsGroup", 0),
            (f"{EPH}.runAsGroup", 0),
        )
    )
    assert result.reason == "root group"
    assert result.detail == (
        "pod must not set runAsGroup=0, supplementalGroups containing 0, fsGroup=0; "
        'containers "init", "debug" must not set runAsGroup=0'
    )
    got = [
        (f.container, f.container_type, f.field, f.fix_op, f.fix_value, f.fix)
        for f in result.findings
    ]
    assert got == [
        (None, None, "securityContext.runAsGroup", "set", 1000,
         "set securityContext.runAsGroup: 1000"),
        (None, None, "securityContext.supplementalGroups", "set", [2000],
         "set securityContext.supplementalGroups: [2000]"),
        (None, None, "securityContext.fsGroup", "set", 1000, "set securityContext.fsGroup: 1000"),
        ("init", "initContainer", "initContainers[0].securityContext.runAsGroup", "set", 1000,
         "set initContainers[0].securityContext.runAsGroup: 1000"),
        ("debug", "ephemeralContainer", "ephemeralContainers[0].securityContext.runAsGroup",
         "set", 1000, "set ephemeralContainers[0].securityContext.runAsGroup: 1000"),
    ]  # fmt: skip
    assert all("GID 0 (root group)" in f.message for f in result.findings)


def test_supplemental_groups_of_only_root_are_removed_not_emptied() -> None:
    (item,) = _root_groups(spec_with((f"{SC}.supplementalGroups", [0, 0]))).findings
    assert (item.fix_op, item.fix_field, item.fix) == (
        "remove",
        "securityContext.supplementalGroups",
        "remove securityContext.supplementalGroups",
    )


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (f"{SC}.runAsGroup", "0", "securityContext.runAsGroup"),
        (f"{SC}.runAsGroup", False, "securityContext.runAsGroup"),
        (f"{SC}.fsGroup", "0", "securityContext.fsGroup"),
        (f"{SC}.supplementalGroups", "0", "securityContext.supplementalGroups"),
        (f"{SC}.supplementalGroups", [1000, "0"], "securityContext.supplementalGroups[1]"),
        (f"{SC}.supplementalGroups", [True], "securityContext.supplementalGroups[0]"),
        (f"{APP}.runAsGroup", 0.0, "containers[0].securityContext.runAsGroup"),
    ],
)
def test_malformed_group_fields_are_denied_with_the_field(
    path: str, value: Any, field: str
) -> None:
    result = _root_groups(spec_with((path, value)))
    assert not result.allowed
    (item,) = result.findings
    assert item.field == field and item.message.startswith("malformed field")
    # The switch really switches the check off: garbage in a field it no longer reads is
    # left to the API server's validation, like PSA.
    assert "rootGroups" not in check_ids(ALLOW_ROOT_GROUP)


# --- our fixtures, through the engine, the webhook and the audit ----------------------------

FIXTURES = sorted(
    p.relative_to(HERE).as_posix() for d in ("pass", "fail") for p in (HERE / d).glob("*.yaml")
)


def _load(name: str) -> dict[str, Any]:
    obj = yaml.safe_load((HERE / name).read_text())
    assert isinstance(obj, dict)
    return obj


def test_expectations_cover_exactly_the_fixtures() -> None:
    assert sorted(EXPECTED) == FIXTURES
    for name, by_profile in EXPECTED.items():
        assert set(by_profile) == set(PROFILES), name
        denied = any(by_profile.values())
        assert denied == name.startswith("fail/"), name
        if name.startswith("fail/"):
            assert by_profile["nonroot"], f"{name}: nonroot must deny every fail fixture"


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("profile", PROFILES)
def test_fixture_review(name: str, profile: Profile) -> None:
    obj = _load(name)
    violations = review_object(obj, profile)
    assert {v.check for v in violations} == set(EXPECTED[name][profile])
    for violation in violations:
        assert violation.field and violation.message and violation.fix


def _admission_review(obj: dict[str, Any]) -> dict[str, Any]:
    group, _, version = obj["apiVersion"].rpartition("/")
    resource = {
        "Pod": "pods",
        "Deployment": "deployments",
        "StatefulSet": "statefulsets",
        "DaemonSet": "daemonsets",
        "CronJob": "cronjobs",
    }[obj["kind"]]
    gvk = {"group": group, "version": version}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "7c1d0b8e-1f0a-4e7e-9a55-2d7cbd3c1a01",
            "kind": {**gvk, "kind": obj["kind"]},
            "resource": {**gvk, "resource": resource},
            "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
        },
    }


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("profile", PROFILES)
def test_fixture_webhook_decision(name: str, profile: Profile) -> None:
    obj = _load(name)
    response = decide(_admission_review(obj), WebhookConfig(profile=profile))["response"]
    expected = EXPECTED[name][profile]
    assert response["allowed"] is not bool(expected)
    if expected:
        message = response["status"]["message"]
        assert message.startswith(f'hardened-operator policy "{profile}": ')
        for violation in review_object(obj, profile):
            assert violation.describe() in message


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("profile", PROFILES)
def test_fixture_audit(name: str, profile: Profile) -> None:
    path = str(HERE / name)
    result = CliRunner().invoke(
        main, ["audit", "--profile", profile, "--format", "json", path], catch_exceptions=False
    )
    expected = EXPECTED[name][profile]
    assert result.exit_code == (1 if expected else 0), result.output
    entries = json.loads(result.stdout)
    assert {e["check"] for e in entries if e["type"] == "violation"} == set(expected)


@pytest.mark.parametrize("name", [n for n in FIXTURES if n.startswith("fail/root-group")])
def test_audit_fix_makes_root_group_fixtures_pass_nonroot(name: str) -> None:
    fixed = CliRunner().invoke(
        main, ["audit", "--profile", "nonroot", "--fix", str(HERE / name)], catch_exceptions=False
    )
    assert fixed.exit_code == 0, fixed.output
    assert review_object(yaml.safe_load(fixed.stdout), "nonroot") == []
