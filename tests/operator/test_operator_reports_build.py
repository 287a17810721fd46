"""What a namespace's report says (pure): who is judged, one result per object and check,
exact summary counts, the size bound and what a truncated report says -- in each report API
of the table (reports/apis.py), which differ only where the table says."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hardened_operator.reports import (
    DEFAULT_REPORT_API,
    INVALID_OBJECT,
    MAX_REPORT_BYTES,
    MAX_RESULTS,
    OMITTED_ANNOTATION,
    REPORT_API_NAMES,
    REPORT_APIS,
    SOURCE,
    ReportApi,
    build_report,
    comparable,
    findings_for,
    report_api,
    violation_counts,
)
from hardened_operator.workloads import JudgedOwners, review_object
from tests.audit.audit_manifests import (
    DEBUGGED,
    FORGED_REPORTED,
    ROOT_DEBUGGER,
    forged_children,
    owner_chains,
)

ROOT = {"securityContext": {"runAsUser": 0}}


@pytest.fixture(params=REPORT_API_NAMES)
def api(request: pytest.FixtureRequest) -> ReportApi:
    """Each report API of the table: every builder test runs in both."""
    return REPORT_APIS[request.param]


def pod(name: str, *, owner: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "team", "uid": f"uid-{name}"}
    if owner is not None:
        meta["ownerReferences"] = [{"controller": True, "name": "x", "uid": "o", **owner}]
    container = {"name": "app", "image": "app:1", **spec}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [container]},
    }


def deployment(name: str, **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "team", "uid": f"uid-{name}"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "app", "image": "app:1", **container}]}}
        },
    }


COMPLIANT = {
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
}


def test_a_compliant_object_is_not_reported() -> None:
    assert review_object(pod("ok", **COMPLIANT)) == []
    assert findings_for(pod("ok", **COMPLIANT), "nonroot") is None


def test_one_failure_per_check_with_the_same_decisions_as_review_object() -> None:
    obj = deployment("web", **ROOT)
    found = findings_for(obj, "nonroot")
    assert found is not None
    checks = [failure.check for failure in found.failures]
    assert checks == list(dict.fromkeys(v.check for v in review_object(obj, "nonroot")))
    assert len(checks) == len(set(checks))
    assert found.kind == "Deployment" and found.uid == "uid-web"
    run_as_user = next(f for f in found.failures if f.check == "runAsUser")
    assert "spec.template.spec.containers[0].securityContext.runAsUser" in run_as_user.fields


@pytest.mark.parametrize(
    ("kind", "owner", "reported"),
    [
        # Made from the owner's template (seen before it): its findings are the owner's.
        ("ReplicaSet", ("apps/v1", "Deployment"), False),
        ("Job", ("batch/v1", "CronJob"), False),
        ("Pod", ("apps/v1", "ReplicaSet"), False),
        ("Pod", ("batch/v1", "Job"), False),
        # Owned by something that is no workload (a Node's mirror pod, a custom controller).
        ("Pod", ("v1", "Node"), True),
        ("Pod", ("argoproj.io/v1alpha1", "Rollout"), True),
        # A same-named kind of another API group is not ours.
        ("Pod", ("example.com/v1", "ReplicaSet"), True),
        ("ReplicaSet", ("example.com/v1", "Deployment"), True),
    ],
)
def test_objects_a_workload_controls_are_judged_at_their_owner(
    kind: str, owner: tuple[str, str], reported: bool
) -> None:
    api_version, owner_kind = owner
    owners = JudgedOwners()
    made = deployment("o", **ROOT) | {"apiVersion": api_version, "kind": owner_kind}
    made["metadata"]["uid"] = "u"
    if owner_kind == "CronJob":
        made["spec"] = {"jobTemplate": {"spec": made["spec"]}}
    if not reported:  # a workload: the operator watches it and judged it first
        assert findings_for(made, "nonroot", owners) is not None
    obj = deployment("x", **ROOT) | {"kind": kind}
    if kind == "Pod":
        obj = pod("x", **ROOT)
    obj["metadata"]["ownerReferences"] = [
        {"apiVersion": api_version, "kind": owner_kind, "controller": True, "name": "o", "uid": "u"}
    ]
    assert (findings_for(obj, "nonroot", owners) is not None) is reported
    # Its owner not seen (yet): judged whole.
    assert findings_for(obj, "nonroot", JudgedOwners()) is not None


def test_an_owned_pods_ephemeral_containers_are_still_judged() -> None:
    obj = pod("p", owner={"apiVersion": "apps/v1", "kind": "ReplicaSet"}, **COMPLIANT)
    obj["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "busybox", **ROOT}]
    found = findings_for(obj, "nonroot")
    assert found is not None
    assert all("ephemeralContainers[0]" in f.fields for f in found.failures)


def _with_uid(obj: dict[str, Any]) -> dict[str, Any]:
    uid = f"uid-{obj['kind']}-{obj['metadata']['name']}"
    return obj | {"metadata": {**obj["metadata"], "uid": uid}}


def test_reports_judge_owner_chains_as_the_audit_does() -> None:
    """The chains ``hardened audit`` judges (tests/audit/test_audit_owners.py): the same
    objects reported, the debugged Pod for its debug container only."""
    made = owner_chains("team", _with_uid)
    made[DEBUGGED]["spec"]["ephemeralContainers"] = [ROOT_DEBUGGER]
    owners = JudgedOwners()  # owners first, as the operator lists them
    found = {key: findings_for(obj, "nonroot", owners) for key, obj in made.items()}
    reported = {key for key, value in found.items() if value is not None}
    assert reported == {("Deployment", "web"), ("CronJob", "nightly"), DEBUGGED}
    debugged = found[DEBUGGED]
    assert debugged is not None
    assert all(f.fields.startswith("spec.ephemeralContainers[0]") for f in debugged.failures)


def test_reports_show_children_whose_owner_references_lie() -> None:
    """The forged and diverged children ``hardened audit`` reports
    (tests/audit/test_audit_owners.py): the same findings on the same objects."""
    owners = JudgedOwners()
    reported: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for key, obj in forged_children("team", _with_uid).items():
        found = findings_for(obj, "nonroot", owners)
        if found is not None:
            reported[key] = {(f.check, field) for f in found.failures
                             for field in f.fields.split(", ")}  # fmt: skip
    assert reported == FORGED_REPORTED


def test_an_object_that_cannot_be_judged_is_an_error_not_a_pass(api: ReportApi) -> None:
    broken = deployment("broken")
    broken["spec"]["template"] = "not a template"
    found = findings_for(broken, "nonroot")
    assert found is not None
    assert [(f.check, f.status) for f in found.failures] == [(INVALID_OBJECT, "error")]
    report = build_report("team", [found], "nonroot", api=api)
    assert report is not None
    assert report["summary"]["error"] == 1 and report["results"][0]["result"] == "error"


def _findings(count: int) -> list[Any]:
    found = [findings_for(pod(f"p{i:05d}", **ROOT), "nonroot") for i in range(count)]
    assert all(found)
    return found


def test_report_lists_every_failure_with_the_source_and_exact_summary(api: ReportApi) -> None:
    found = _findings(3)
    report = build_report("team", reversed(found), "nonroot", api=api)
    assert report is not None
    assert report["apiVersion"] == api.api_version and report["kind"] == api.kind
    assert report["metadata"]["namespace"] == "team"
    failures = sum(len(f.failures) for f in found)
    assert report["summary"] == {"pass": 0, "fail": failures, "warn": 0, "error": 0, "skip": 0}
    assert len(report["results"]) == failures
    assert {r["source"] for r in report["results"]} == {SOURCE}
    names = [r["resources"][0]["name"] for r in report["results"]]
    assert names == sorted(names)  # deterministic, whatever order the events came in
    assert build_report("team", found, "nonroot", api=api) == report
    assert OMITTED_ANNOTATION not in report["metadata"]["annotations"]


def test_no_failure_no_report(api: ReportApi) -> None:
    assert build_report("team", [], "nonroot", api=api) is None


def test_a_namespace_over_the_cap_gets_a_bounded_report_with_exact_counts(api: ReportApi) -> None:
    found = _findings(MAX_RESULTS)  # several failing checks each: over the cap
    failures = sum(len(f.failures) for f in found)
    assert failures > MAX_RESULTS
    report = build_report("team", found, "nonroot", api=api)
    assert report is not None
    size = len(json.dumps(report))
    assert size <= MAX_REPORT_BYTES
    listed = [r for r in report["results"] if r["result"] == "fail"]
    assert len(listed) <= MAX_RESULTS
    assert report["summary"]["fail"] == failures  # exact, omitted ones included
    notice = report["results"][-1]
    assert notice["rule"] == "results-omitted" and notice["result"] == "warn"
    omitted = failures - len(listed)
    assert notice["properties"]["omittedFail"] == str(omitted)
    assert report["metadata"]["annotations"][OMITTED_ANNOTATION] == str(omitted)
    assert report["summary"]["warn"] == 1


def test_the_byte_bound_holds_with_long_names_and_messages(api: ReportApi) -> None:
    long = "n" * 253
    found = []
    for i in range(400):
        obj = pod(f"{long[:245]}{i:05d}", **ROOT)
        obj["spec"]["containers"] = [
            {"name": f"c{j}-{'x' * 50}", "image": "a", **ROOT} for j in range(8)
        ]
        item = findings_for(obj, "restricted")
        assert item is not None
        found.append(item)
    report = build_report("team", found, "restricted", api=api)
    assert report is not None
    assert len(json.dumps(report, ensure_ascii=False).encode()) <= MAX_REPORT_BYTES
    assert report["metadata"]["annotations"][OMITTED_ANNOTATION] != "0"


def test_comparable_is_equal_for_the_same_report_read_back_with_server_fields(
    api: ReportApi,
) -> None:
    report = build_report("team", _findings(2), "nonroot", api=api)
    assert report is not None
    served = json.loads(json.dumps(report))
    served["metadata"].update(uid="u", resourceVersion="9", managedFields=[{"manager": "x"}])
    served["metadata"]["labels"]["other"] = "label"
    assert comparable(served) == comparable(report)
    changed = build_report("team", _findings(3), "nonroot", api=api)
    assert comparable(changed) != comparable(report)


def test_violation_counts_count_failing_objects_per_check() -> None:
    found = _findings(4)
    counts = violation_counts(found)
    assert counts["runAsUser"] == 4
    assert set(counts) == {f.check for item in found for f in item.failures}


def test_severity_is_high_for_running_as_root_and_medium_for_other_hardening(
    api: ReportApi,
) -> None:
    obj = pod("p", **ROOT)
    obj["spec"]["volumes"] = [{"name": "v", "flexVolume": {"driver": "x"}}]
    found = findings_for(obj, "restricted")
    assert found is not None
    report = build_report("team", [found], "restricted", api=api)
    assert report is not None
    severity = {r["rule"]: r.get("severity") for r in report["results"]}
    assert severity["runAsUser"] == severity["runAsNonRoot"] == "high"
    assert severity["restrictedVolumes"] == "medium"


# The table itself, and what differs between its APIs.

EXPECTED_APIS = {
    # name: (apiVersion, kind, plural, CRD name, does the report itself name its source)
    "wgpolicyk8s": (
        "wgpolicyk8s.io/v1alpha2",
        "PolicyReport",
        "policyreports",
        "policyreports.wgpolicyk8s.io",
        False,
    ),
    "openreports": (
        "openreports.io/v1alpha1",
        "Report",
        "reports",
        "reports.openreports.io",
        True,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_APIS))
def test_each_report_api_is_where_its_upstream_serves_it(name: str) -> None:
    api = report_api(name)
    assert api.name == name and api in REPORT_APIS.values()
    assert (api.api_version, api.kind, api.plural, api.crd_name, api.report_source) == (
        EXPECTED_APIS[name]
    )


def test_the_table_has_one_entry_per_name_and_the_default_is_wgpolicyk8s() -> None:
    assert tuple(REPORT_APIS) == REPORT_API_NAMES
    assert set(REPORT_API_NAMES) == set(EXPECTED_APIS)
    assert DEFAULT_REPORT_API == "wgpolicyk8s"  # the behaviour before --reports-api existed


@pytest.mark.parametrize("name", ["", "PolicyReport", "openreports.io", "Wgpolicyk8s"])
def test_an_unknown_api_name_is_refused_not_defaulted(name: str) -> None:
    with pytest.raises(ValueError, match="unknown report API"):
        report_api(name)


def test_the_report_names_its_source_only_where_the_api_has_the_field(api: ReportApi) -> None:
    report = build_report("team", _findings(1), "nonroot", api=api)
    assert report is not None
    if api.report_source:
        assert report["source"] == SOURCE
    else:
        # wgpolicyk8s.io's schema has no such field: the API server would prune it, and the
        # stored report would then never compare equal to the built one (a write per change).
        assert "source" not in report
    assert {r["source"] for r in report["results"]} == {SOURCE}  # both: on every result


def test_both_apis_say_the_same_and_differ_only_in_what_the_table_says() -> None:
    found = _findings(MAX_RESULTS)  # truncated too: the notice is the same
    built = {
        name: build_report("team", found, "nonroot", api=api) for name, api in REPORT_APIS.items()
    }
    bodies = []
    for name, report in built.items():
        assert report is not None
        api = report_api(name)
        assert report.pop("apiVersion") == api.api_version and report.pop("kind") == api.kind
        assert (report.pop("source", None) == SOURCE) is api.report_source
        bodies.append(report)
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["results"][-1]["rule"] == "results-omitted"


def test_comparable_sees_a_missing_report_source(api: ReportApi) -> None:
    """A report held without the source we write (or with one we do not) is rewritten."""
    report = build_report("team", _findings(1), "nonroot", api=api)
    assert report is not None
    other = dict(report)
    if api.report_source:
        del other["source"]
    else:
        other["source"] = SOURCE
    assert comparable(other) != comparable(report)
