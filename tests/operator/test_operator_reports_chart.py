"""The chart's side of the reports: RBAC for every pod-bearing kind (from workloads.POD_BEARING,
the one list) and for the reports of the API ``reports.api`` selects -- that one only, and only
when reports are on; the optional CRD is that API's vendored upstream file, and absent unless
asked for. The chart's copies of the report API table (the schema's enum, the default,
``files/report-apis.yaml``) are reports/apis.py's."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from hardened_operator.reports import (
    DEFAULT_REPORT_API,
    REPORT_API_NAMES,
    REPORT_APIS,
    REPORT_NAME,
    ReportApi,
)
from hardened_operator.workloads import POD_BEARING
from tests.delivery.delivery_support import cluster_role_grants
from tests.support.chart import CHART, REPO, render_files

REPORT_VERBS = ("list", "create")  # on every report of the chosen API
OWN_REPORT_VERBS = ("patch", "delete")  # on its own report only (resourceNames: REPORT_NAME)
UPSTREAM = {  # where each vendored CRD comes from, as its header must say
    "wgpolicyk8s": "https://github.com/kubernetes-sigs/wg-policy-prototypes",
    "openreports": "https://github.com/openreports/reports-api",
}
EACH_API = pytest.mark.parametrize("api", REPORT_APIS.values(), ids=REPORT_API_NAMES)


def vendored(api: ReportApi) -> str:
    return (CHART / "files" / f"{api.crd_name}.yaml").read_text(encoding="utf-8")


def reports_on(api: ReportApi) -> dict[str, str]:
    return render_files({"reports": {"enabled": True, "installCRD": True, "api": api.name}})


@pytest.fixture(scope="module")
def off() -> dict[str, str]:
    return render_files({})


def documented_report_verbs() -> tuple[list[str], list[str]]:
    """The verbs and report resources docs/reports.md says reports.enabled grants."""
    text = " ".join((REPO / "docs" / "reports.md").read_text(encoding="utf-8").split())
    found = re.search(r"((?:`\w+`/)+`\w+`) on the chosen API's reports \(([^)]*)\)", text)
    assert found, "docs/reports.md names the grant on the reports"
    return re.findall(r"`(\w+)`", found.group(1)), re.findall(r"`([\w.]+)`", found.group(2))


@EACH_API
def test_reports_on_grants_exactly_every_pod_bearing_kind_and_the_chosen_apis_reports(
    api: ReportApi, off: dict[str, str]
) -> None:
    on, before = cluster_role_grants(reports_on(api)), cluster_role_grants(off)
    watched = {(k.group, k.resource, verb) for k in POD_BEARING for verb in ("list", "watch")}
    reports = {(api.group, api.plural, verb) for verb in REPORT_VERBS}
    assert watched <= on
    own = {(api.group, api.plural, verb, REPORT_NAME) for verb in OWN_REPORT_VERBS}
    # Nothing else, the other API's neither; patch and delete on its own report only.
    assert on - before == (watched - before) | reports | own
    verbs, resources = documented_report_verbs()
    assert sorted(verbs) == sorted(REPORT_VERBS)
    assert resources == [a.crd_name for a in REPORT_APIS.values()]
    text = " ".join((REPO / "docs" / "reports.md").read_text(encoding="utf-8").split())
    assert f"`patch`/`delete` on its own report only, `{REPORT_NAME}`" in text


def test_reports_off_grants_nothing_for_them(off: dict[str, str]) -> None:
    rules = cluster_role_grants(off)
    assert not {grant[0] for grant in rules} & {api.group for api in REPORT_APIS.values()}
    assert ("batch", "jobs", "list") not in rules
    assert off["templates/policyreport-crd.yaml"].strip() == ""


@EACH_API
def test_the_operator_is_told_the_chosen_api(api: ReportApi) -> None:
    deployment = yaml.safe_load(reports_on(api)["templates/deployment.yaml"])
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith("--reports")] == [
        "--reports",
        f"--reports-api={api.name}",
    ]


@EACH_API
def test_the_crd_is_the_chosen_apis_vendored_upstream_file_kept_on_uninstall(
    api: ReportApi,
) -> None:
    rendered = yaml.safe_load(reports_on(api)["templates/policyreport-crd.yaml"])
    upstream = yaml.safe_load(vendored(api))
    assert rendered["metadata"]["annotations"].pop("helm.sh/resource-policy") == "keep"
    upstream["metadata"].pop("creationTimestamp", None)
    assert rendered == upstream
    header = vendored(api).split("\n---", 1)[0]
    assert UPSTREAM[api.name] in header and "Apache License 2.0" in header
    assert re.search(r"\b[0-9a-f]{40}\b", header), "the header names the upstream commit"


@EACH_API
def test_each_vendored_crd_serves_the_table_s_api(api: ReportApi) -> None:
    """reports/apis.py and the upstream CRDs agree: group, kind, plural, short name, the
    version written is served, namespaced."""
    crd = yaml.safe_load(vendored(api))
    spec = crd["spec"]
    assert crd["metadata"]["name"] == api.crd_name
    assert (spec["group"], spec["names"]["kind"], spec["names"]["plural"]) == (
        api.group,
        api.kind,
        api.plural,
    )
    assert api.short_name in spec["names"]["shortNames"]
    assert spec["scope"] == "Namespaced"
    assert api.version in {v["name"] for v in spec["versions"] if v["served"]}
    # The one body difference the table records: a report-level ``source``.
    schema = next(v for v in spec["versions"] if v["name"] == api.version)["schema"]
    assert ("source" in schema["openAPIV3Schema"]["properties"]) is api.report_source


def test_the_charts_report_api_table_is_the_operators() -> None:
    files = yaml.safe_load((CHART / "files" / "report-apis.yaml").read_text(encoding="utf-8"))
    assert files == {name: f"{api.crd_name}.yaml" for name, api in REPORT_APIS.items()}
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    api_schema = schema["properties"]["reports"]["properties"]["api"]
    assert api_schema["enum"] == list(REPORT_API_NAMES)
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert values["reports"]["api"] == DEFAULT_REPORT_API


@pytest.mark.parametrize("name", ["", "policyreports", "OpenReports", "both"])
def test_an_unknown_api_is_refused_by_the_chart(name: str) -> None:
    with pytest.raises(Exception, match="reports/api"):
        render_files({"reports": {"enabled": True, "api": name}})
