"""``hardened run --reports`` against a real API server, in each report API (``--reports-api``:
a PolicyReport, an OpenReports Report): the API's CRD vendored in the chart is applied and
every report the operator writes is validated by the server; reports follow watch events, are
not rewritten when nothing changed (nor after a restart), are deleted when the namespace is
clean, stay bounded in a namespace over the cap, and are written with nothing but the chart's
RBAC for that API; without the CRD (the other API's does not count) the operator logs it once
and keeps the gauge.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hardened_operator.reports import (
    DEFAULT_REPORT_API,
    MAX_REPORT_BYTES,
    MAX_RESULTS,
    OMITTED_ANNOTATION,
    REPORT_API_NAMES,
    REPORT_APIS,
    REPORT_NAME,
    SOURCE,
    ReportApi,
    build_report,
    comparable,
    findings_for,
)
from tests.audit.audit_manifests import DEBUGGED, FORGED_REPORTED, forged_children
from tests.audit.cluster_support import create, create_owner_chains
from tests.operator.operator_support import (
    HARDENED,
    OperatorProcess,
    free_port,
    running_operator,
    stop,
    wait_for,
)
from tests.support import crds
from tests.support.chart import render_files
from tests.support.refusals import rbac_refusals

pytestmark = pytest.mark.controlplane

DEFAULT = REPORT_APIS[DEFAULT_REPORT_API]
ROOT = {"securityContext": {"runAsUser": 0}}
COMPLIANT = {
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
}


@pytest.fixture
def policyreport_crd(k8s_api: Any) -> Iterator[ReportApi]:
    """The default API's CRD as the chart vendors it, applied (and removed after: other tests
    expect it absent)."""
    with crds.installed_crds(k8s_api, [crds.report_crd(DEFAULT)]):
        yield DEFAULT


@pytest.fixture(params=REPORT_API_NAMES)
def each_api(request: pytest.FixtureRequest, k8s_api: Any) -> Iterator[ReportApi]:
    """Each report API, its CRD as the chart vendors it applied (removed after)."""
    api = REPORT_APIS[request.param]
    with crds.installed_crds(k8s_api, [crds.report_crd(api)]):
        yield api


def pod(name: str, namespace: str, owner: dict[str, Any] | None = None, **spec: Any) -> Any:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if owner is not None:
        meta["ownerReferences"] = [
            {"controller": True, "name": "owner", "uid": "0a0b0c0d-0000-4000-8000-000000000000"}
            | owner
        ]
    container = {"name": "app", "image": "registry.example/app:1", **spec}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [container]},
    }


def deployment(name: str, namespace: str, **container: Any) -> Any:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "app", "image": "registry.example/app:1", **container}]
                },
            },
        },
    }


def report(api: Any, namespace: str, reports: ReportApi = DEFAULT) -> dict[str, Any] | None:
    """The operator's report in ``namespace``, in the API ``reports``."""
    try:
        found: Any = client.CustomObjectsApi(api).get_namespaced_custom_object(
            reports.group, reports.version, namespace, reports.plural, REPORT_NAME
        )
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return dict(found)


def named(rep: dict[str, Any] | None) -> set[tuple[str, str, str]]:
    """(kind, name, check) of every failing result."""
    return {
        (r["resources"][0]["kind"], r["resources"][0]["name"], r["rule"])
        for r in (rep or {}).get("results") or []
        if r["result"] in ("fail", "error")
    }


def report_writes(op: OperatorProcess, reports: ReportApi = DEFAULT) -> float:
    return sum(
        v
        for k, v in op.metrics().items()
        if k.startswith("hardened_operator_api_writes_total")
        and f'resource="{reports.plural}"' in k
    )


def gauge(op: OperatorProcess, namespace: str) -> dict[str, float]:
    """hardened_policy_violations{namespace=namespace} by check."""
    found = {}
    for key, value in op.metrics().items():
        name, _, labels = key.partition("{")
        if name != "hardened_policy_violations":
            continue
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if pairs["namespace"] == namespace:
            found[pairs["check"]] = value
    return found


def expected(obj: dict[str, Any]) -> set[tuple[str, str, str]]:
    found = findings_for(obj, "nonroot")
    assert found is not None
    return {(found.kind, found.name, f.check) for f in found.failures}


def api_flags(reports: ReportApi) -> list[str]:
    """``--reports`` for ``reports``: the default API without ``--reports-api`` (so the
    default is what is tested), any other with it."""
    chosen = [] if reports == DEFAULT else [f"--reports-api={reports.name}"]
    return ["--reports", *chosen]


def reporting_operator(
    control_plane: Any, namespace: str, tmp_path: Path, reports: ReportApi = DEFAULT
) -> AbstractContextManager[OperatorProcess]:
    """``hardened run -n NAMESPACE --reports``; the operator's own namespace is exempt (as
    from the webhook), so it lives elsewhere here."""
    env = control_plane.env()
    return running_operator(
        env, namespace, tmp_path, *api_flags(reports), operator_namespace="kube-system"
    )


@pytest.mark.parametrize("reports", REPORT_APIS.values(), ids=REPORT_API_NAMES)
def test_without_the_crd_the_operator_says_so_once_and_keeps_the_gauge(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path, reports: ReportApi
) -> None:
    """... even with the other API's CRD installed: that one is not written."""
    others = [api for api in REPORT_APIS.values() if api != reports]
    crds.remove_crd(k8s_api, reports.crd_name)
    core = client.CoreV1Api(k8s_api)
    core.create_namespaced_pod(namespace, pod("root", namespace, **ROOT))
    with (
        crds.installed_crds(k8s_api, [crds.report_crd(api) for api in others]),
        reporting_operator(control_plane, namespace, tmp_path, reports) as op,
    ):
        checks = wait_for("the violations gauge", lambda: gauge(op, namespace), timeout=60)
        assert {c for _, _, c in expected(pod("root", namespace, **ROOT))} == set(checks)
        assert all(count == 1 for count in checks.values())
        core.create_namespaced_pod(namespace, pod("root2", namespace, **ROOT))
        wait_for("the gauge counting 2", lambda: set(gauge(op, namespace).values()) == {2})
        assert op.get("/operatorz")[0] == 200
        absent = f"the {reports.kind} CRD ({reports.crd_name}) is not installed"
        assert op.logs().count(absent) == 1
        assert all(report_writes(op, api) == 0 for api in REPORT_APIS.values())
        assert all(report(k8s_api, namespace, api) is None for api in others)


def test_reports_follow_watch_events_and_write_only_changes(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path, each_api: ReportApi
) -> None:
    core, apps = client.CoreV1Api(k8s_api), client.AppsV1Api(k8s_api)
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, **ROOT))
    core.create_namespaced_pod(namespace, pod("bare", namespace, **ROOT))
    core.create_namespaced_pod(namespace, pod("fine", namespace, **COMPLIANT))
    # Made from a workload's template: judged at the workload, not once more here.
    made_by = deployment("rs", namespace, **ROOT) | {"kind": "ReplicaSet"}
    stored = create(k8s_api, made_by)
    replica_set = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                   "uid": stored["metadata"]["uid"]}  # fmt: skip
    core.create_namespaced_pod(namespace, pod("owned", namespace, replica_set, **ROOT))
    want = (
        expected(deployment("web", namespace, **ROOT))
        | expected(pod("bare", namespace, **ROOT))
        | expected(made_by)
    )

    with reporting_operator(control_plane, namespace, tmp_path, each_api) as op:
        rep = wait_for("the report", lambda: report(k8s_api, namespace, each_api), timeout=60)
        assert (rep["apiVersion"], rep["kind"]) == (each_api.api_version, each_api.kind)
        assert named(rep) == want
        assert {r["source"] for r in rep["results"]} == {SOURCE}
        assert rep["summary"]["fail"] == len(want) and rep["summary"]["error"] == 0
        assert rep["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "hardened-operator"
        assert sum(gauge(op, namespace).values()) == len(want)

        # Events that change nothing the report says: no write.
        writes = report_writes(op, each_api)
        assert writes == 1
        core.patch_namespaced_pod("fine", namespace, {"metadata": {"labels": {"x": "1"}}})
        core.patch_namespaced_pod("bare", namespace, {"metadata": {"labels": {"x": "1"}}})
        apps.patch_namespaced_deployment("web", namespace, {"metadata": {"labels": {"x": "1"}}})
        time.sleep(4)  # > the quiet period (1 s) plus a loaded machine's slack
        assert report_writes(op, each_api) == writes

        # The Deployment fixed: it leaves the report; a new failing object enters it.
        apps.patch_namespaced_deployment(
            "web",
            namespace,
            {"spec": {"template": {"spec": {"containers": [{"name": "app", **COMPLIANT}]}}}},
        )
        core.create_namespaced_pod(namespace, pod("late", namespace, **ROOT))
        want = (
            expected(pod("bare", namespace, **ROOT))
            | expected(pod("late", namespace, **ROOT))
            | expected(made_by)
        )
        wait_for("the report updated", lambda: named(report(k8s_api, namespace, each_api)) == want)

    # A restart with nothing changed writes nothing.
    with reporting_operator(control_plane, namespace, tmp_path, each_api) as op:
        wait_for(
            "the state read",
            lambda: "policy reports: " in op.logs() and "objects read" in op.logs(),
        )
        time.sleep(3)
        assert report_writes(op, each_api) == 0
        assert named(report(k8s_api, namespace, each_api)) == want

        # Every failing object gone: the report and the gauge's series go too.
        core.delete_namespaced_pod("bare", namespace, grace_period_seconds=0)
        core.delete_namespaced_pod("late", namespace, grace_period_seconds=0)
        core.delete_namespaced_pod("owned", namespace, grace_period_seconds=0)
        apps.delete_namespaced_replica_set("rs", namespace)
        wait_for("the report deleted", lambda: report(k8s_api, namespace, each_api) is None)
        wait_for("the gauge cleared", lambda: gauge(op, namespace) == {})


def test_owner_chains_are_reported_at_the_top_owner_and_a_debug_container_on_its_pod(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path, policyreport_crd: ReportApi
) -> None:
    """The chains ``hardened audit --cluster`` judges (tests/audit): one result set per top
    owner, none for the ReplicaSet, Job or Deployment they made, and the root container
    ``kubectl debug`` added to an owned Pod reported on that Pod."""
    made = create_owner_chains(k8s_api, namespace)
    with reporting_operator(control_plane, namespace, tmp_path) as op:
        wait_for("the report", lambda: report(k8s_api, namespace), timeout=60)
        wait_for(
            "the debugged Pod in the report",
            lambda: DEBUGGED in {(k, n) for k, n, _ in named(report(k8s_api, namespace))},
        )
        rep = report(k8s_api, namespace)
        assert {(kind, name) for kind, name, _ in named(rep)} == {
            ("Deployment", "web"),
            ("CronJob", "nightly"),
            DEBUGGED,
        }
        assert rep is not None
        on_pod = [r for r in rep["results"] if r["resources"][0]["name"] == DEBUGGED[1]]
        assert on_pod and all(
            r["properties"]["fields"].startswith("spec.ephemeralContainers[0]") for r in on_pod
        )
        assert rep["summary"]["fail"] == len(named(rep))
        assert sum(gauge(op, namespace).values()) == len(named(rep))
        assert made[DEBUGGED]["metadata"]["uid"] in {r["resources"][0]["uid"] for r in on_pod}


def test_children_whose_owner_references_lie_are_reported(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path, policyreport_crd: ReportApi
) -> None:
    """The forged and diverged children ``hardened audit --cluster`` reports (tests/audit),
    made by hand with ownerReferences naming real owners they do not match."""
    forged_children(namespace, lambda obj: create(k8s_api, obj))
    want = {(kind, name, check) for (kind, name), found in FORGED_REPORTED.items()
            for check, _ in found}  # fmt: skip
    with reporting_operator(control_plane, namespace, tmp_path):
        wait_for("the report", lambda: named(report(k8s_api, namespace)) == want, timeout=60)
        rep = report(k8s_api, namespace)
        assert rep is not None
        fields = {(r["resources"][0]["name"], r["properties"]["fields"]) for r in rep["results"]}
        assert fields == {(name, field) for (_, name), found in FORGED_REPORTED.items()
                          for _, field in found}  # fmt: skip


def test_a_namespace_over_the_cap_gets_a_bounded_report_with_exact_counts(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path, each_api: ReportApi
) -> None:
    core = client.CoreV1Api(k8s_api)
    count = MAX_RESULTS // 2 + 50  # several failing checks each: well over the cap
    template: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"namespace": namespace},
        "template": {"spec": {"containers": [{"name": "app", "image": "a:1", **ROOT}]}},
    }
    for i in range(count):
        body: Any = template | {"metadata": {"name": f"t{i:04d}", "namespace": namespace}}
        core.create_namespaced_pod_template(namespace, body)
    per_object = len(expected(template | {"metadata": {"name": "x", "namespace": namespace}}))
    failures = count * per_object
    assert failures > MAX_RESULTS

    with reporting_operator(control_plane, namespace, tmp_path, each_api) as op:
        rep = wait_for("the report", lambda: report(k8s_api, namespace, each_api), timeout=90)
        assert rep["summary"]["fail"] == failures  # exact: the omitted ones are counted
        listed = [r for r in rep["results"] if r["result"] == "fail"]
        assert 0 < len(listed) <= MAX_RESULTS
        notice = rep["results"][-1]
        assert notice["rule"] == "results-omitted" and notice["result"] == "warn"
        assert int(notice["properties"]["omittedFail"]) == failures - len(listed)
        assert rep["metadata"]["annotations"][OMITTED_ANNOTATION] == str(failures - len(listed))
        assert len(json.dumps(rep)) <= MAX_REPORT_BYTES + 4096  # + the server's metadata
        assert sum(gauge(op, namespace).values()) == failures


def _chart_operator(reports: ReportApi) -> tuple[Any, list[str]]:
    """The ClusterRole and the operator's arguments the chart renders with reports on in
    ``reports``'s API."""
    values = {"reports": {"enabled": True, "api": reports.name}}
    rendered = render_files(values, namespace="kube-system")
    docs = yaml.safe_load_all(rendered["templates/rbac.yaml"])
    role = next(d for d in docs if d and d["kind"] == "ClusterRole")
    deployment = yaml.safe_load(rendered["templates/deployment.yaml"])
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    return role, [str(arg) for arg in args if str(arg).startswith("--reports")]


def _token_kubeconfig(api: Any, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig whose only credential is a TokenRequest token of ``account``."""
    request: Any = {"spec": {"audiences": [], "expirationSeconds": 3600}}
    answer = client.CoreV1Api(api).create_namespaced_service_account_token(
        account, namespace, request
    )
    assert answer.status is not None
    token = answer.status.token
    ca = Path(api.configuration.ssl_ca_cert).read_bytes()
    cluster = {"server": api.configuration.host,
               "certificate-authority-data": base64.b64encode(ca).decode()}  # fmt: skip
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "plane", "cluster": cluster}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": "plane", "user": account}}],
        "current-context": account,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@contextmanager
def _operator_with_chart_rbac(
    control_plane: Any,
    k8s_api: Any,
    namespace: str,
    tmp_path: Path,
    reports: ReportApi,
    without: tuple[str, ...] = (),
) -> Iterator[tuple[OperatorProcess, str]]:
    """The operator with nothing but the chart's ClusterRole (reports on, in ``reports``'s
    API; minus the resources ``without``) and a token of its own ServiceAccount, run with the
    chart's reports arguments, cluster-wide as the chart runs it. Yields it and the role."""
    rbac, core = client.RbacAuthorizationV1Api(k8s_api), client.CoreV1Api(k8s_api)
    name = f"reports-{uuid.uuid4().hex[:6]}"
    account: Any = {"metadata": {"name": name}}
    core.create_namespaced_service_account(namespace, account)
    role, reports_args = _chart_operator(reports)
    assert reports_args == ["--reports", f"--reports-api={reports.name}"]
    role["metadata"] = {"name": name}
    for rule in role["rules"]:
        rule["resources"] = [r for r in rule["resources"] if r not in without]
    role["rules"] = [rule for rule in role["rules"] if rule["resources"]]
    rbac.create_cluster_role(role)
    binding: Any = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }
    rbac.create_cluster_role_binding(binding)
    try:
        kubeconfig = _token_kubeconfig(k8s_api, namespace, name, tmp_path / "sa.kubeconfig")
        env = {**control_plane.env(), "KUBECONFIG": str(kubeconfig)}
        health = free_port()
        command = [*HARDENED, "run", "--all-namespaces", *reports_args, "--no-webhook",
                   "--operator-namespace=kube-system",
                   f"--health-listen=127.0.0.1:{health}"]  # fmt: skip
        log = tmp_path / "operator.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=sink, stderr=subprocess.STDOUT
            )
        op = OperatorProcess(process, health, None, log)
        try:
            wait_for(
                "/operatorz", lambda: process.poll() is None and op.get("/operatorz")[0] == 200
            )
            yield op, name
        finally:
            stop(op)
    finally:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)


def test_the_charts_rbac_is_enough_for_reports(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path, each_api: ReportApi
) -> None:
    """It reads every kind, writes the report (patch, by name), deletes it when the namespace
    is clean (delete, by name), and is refused nothing."""
    core = client.CoreV1Api(k8s_api)
    core.create_namespaced_pod(namespace, pod("bare", namespace, **ROOT))
    with _operator_with_chart_rbac(control_plane, k8s_api, namespace, tmp_path, each_api) as (
        op,
        _,
    ):
        rep = wait_for("the report", lambda: report(k8s_api, namespace, each_api), timeout=60)
        assert named(rep) == expected(pod("bare", namespace, **ROOT))
        core.delete_namespaced_pod("bare", namespace, grace_period_seconds=0)
        wait_for("no report", lambda: report(k8s_api, namespace, each_api) is None, timeout=60)
        logs = op.logs()
        assert rbac_refusals(logs) == [], logs[-3000:]


def test_a_kind_it_cannot_list_stops_every_report_until_it_can(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    with crds.installed_crds(k8s_api, [crds.report_crd(DEFAULT)]):
        _no_report_until_every_kind_is_read(control_plane, k8s_api, namespace, tmp_path)


def _no_report_until_every_kind_is_read(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    """A report built without a kind could pass what fails (fail open): with Jobs unreadable
    nothing is written; once the grant is back, the report comes."""
    client.CoreV1Api(k8s_api).create_namespaced_pod(namespace, pod("bare", namespace, **ROOT))
    with _operator_with_chart_rbac(
        control_plane, k8s_api, namespace, tmp_path, DEFAULT, without=("jobs",)
    ) as (op, role):
        wait_for("the refusal logged", lambda: "cannot list jobs" in op.logs(), timeout=60)
        time.sleep(5)  # time to write, were it going to (the CRD is installed: it could)
        assert report(k8s_api, namespace, DEFAULT) is None
        logs = op.logs()
        assert "no report is written until every kind can be read" in logs
        assert "is not installed" not in logs  # refused for the right reason
        rbac = client.RbacAuthorizationV1Api(k8s_api)
        whole, _ = _chart_operator(DEFAULT)
        rbac.patch_cluster_role(role, {"rules": whole["rules"]})
        rep = wait_for("the report", lambda: report(k8s_api, namespace, DEFAULT), timeout=90)
        assert named(rep) == expected(pod("bare", namespace, **ROOT))


def test_the_api_server_validates_reports_and_keeps_every_field_we_write(
    k8s_api: Any, namespace: str, each_api: ReportApi
) -> None:
    """What the operator builds is stored as built (a field outside the CRD's schema would be
    pruned silently), and the schema is really enforced."""
    custom = client.CustomObjectsApi(k8s_api)
    where = (each_api.group, each_api.version, namespace, each_api.plural)
    template: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": "t", "namespace": namespace, "uid": "u-1"},
        "template": {"spec": {"containers": [{"name": "app", "image": "a:1", **ROOT}]}},
    }
    broken = deployment("broken", namespace)
    broken["metadata"]["uid"] = "u-2"
    broken["spec"]["template"] = "not a template"  # an error result, no severity
    found = [findings_for(template, "restricted"), findings_for(broken, "restricted")]
    built = build_report(
        namespace, [f for f in found if f], "restricted", api=each_api, max_results=3
    )
    assert built is not None and built["summary"]["warn"] == 1  # the omitted notice too
    assert (built.get("source") == SOURCE) is each_api.report_source
    stored: Any = custom.create_namespaced_custom_object(*where, built)
    assert comparable(stored) == comparable(built)
    assert {k: v for k, v in stored.items() if k != "metadata"} == {
        k: v for k, v in built.items() if k != "metadata"
    }
    invalid = json.loads(json.dumps(built)) | {"metadata": {"name": "bad", "namespace": namespace}}
    invalid["results"][0]["result"] = "maybe"
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(*where, invalid)
    assert refused.value.status == 422
    # Why the table says which API has a report-level source: where it has none, the server
    # drops it, and the report held would never equal the report built.
    sourced = json.loads(json.dumps(built))
    sourced["metadata"] = {"name": "sourced", "namespace": namespace}
    sourced["source"] = SOURCE
    kept: Any = custom.create_namespaced_custom_object(*where, sourced)
    assert ("source" in kept) is each_api.report_source
