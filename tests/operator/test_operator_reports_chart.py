"""The chart's side of the reports: RBAC for every pod-bearing kind (from workloads.POD_BEARING,
the one list) and for PolicyReports only when reports are on; the optional CRD is the vendored
upstream file, and absent unless asked for."""

from __future__ import annotations

import pytest
import yaml

from hardened_operator.workloads import POD_BEARING
from tests.support.chart import CHART, render_files

VENDORED = CHART / "files" / "policyreports.wgpolicyk8s.io.yaml"


@pytest.fixture(scope="module")
def on() -> dict[str, str]:
    return render_files({"reports": {"enabled": True, "installCRD": True}})


@pytest.fixture(scope="module")
def off() -> dict[str, str]:
    return render_files({})


def granted(templates: dict[str, str]) -> set[tuple[str, str, str]]:
    """(API group, resource, verb) the ClusterRole grants."""
    docs = [d for d in yaml.safe_load_all(templates["templates/rbac.yaml"]) if d]
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    return {
        (group, resource, verb)
        for rule in role["rules"]
        if "resourceNames" not in rule
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_reports_on_may_watch_every_pod_bearing_kind_and_write_policyreports(
    on: dict[str, str],
) -> None:
    rules = granted(on)
    missing = [
        (k.group, k.resource, verb)
        for k in POD_BEARING
        for verb in ("list", "watch")
        if (k.group, k.resource, verb) not in rules
    ]
    assert missing == []
    for verb in ("list", "create", "patch", "delete"):
        assert ("wgpolicyk8s.io", "policyreports", verb) in rules


def test_reports_off_grants_nothing_for_them(off: dict[str, str]) -> None:
    rules = granted(off)
    assert not any(group == "wgpolicyk8s.io" for group, _, _ in rules)
    assert ("batch", "jobs", "list") not in rules
    assert "policyreport" not in off["templates/policyreport-crd.yaml"]


def test_the_crd_is_the_vendored_upstream_file_kept_on_uninstall(on: dict[str, str]) -> None:
    rendered = yaml.safe_load(on["templates/policyreport-crd.yaml"])
    upstream = yaml.safe_load(VENDORED.read_text())
    assert rendered["metadata"]["annotations"].pop("helm.sh/resource-policy") == "keep"
    upstream["metadata"].pop("creationTimestamp")
    assert rendered == upstream
    served = {v["name"] for v in rendered["spec"]["versions"] if v["served"]}
    assert "v1alpha2" in served
    header = VENDORED.read_text().split("---", 1)[0]
    assert "kubernetes-sigs/wg-policy-prototypes" in header and "Apache License 2.0" in header
