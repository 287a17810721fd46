"""docs/reports.md stays true: its example report is what the operator builds for its example
Pod, its OpenReports example what it builds with --reports-api openreports, its truncated
example is what 20,000 such Pods give, its log line, its table of the two APIs and its chart
values and flags are the real ones. (tests/test_samples_applied.py stores both example
reports in a real API server, each with its vendored CRD.)"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from hardened_operator.cli import main
from hardened_operator.controller.reports import CRD_ABSENT
from hardened_operator.reports import (
    DEFAULT_REPORT_API,
    REPORT_APIS,
    build_report,
    findings_for,
    report_api,
)
from tests.support.chart import render_files

REPO = Path(__file__).parents[2]
DOC = REPO / "docs" / "reports.md"
DEFAULT = REPORT_APIS[DEFAULT_REPORT_API]
OPENREPORTS = REPORT_APIS["openreports"]


def example(label: str) -> Any:
    """The YAML block after ``<!-- example: label -->``."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- example: {label} -->\n```yaml\n(.*?)```", text, re.S)
    assert found, f"no example {label!r} in {DOC.name}"
    return yaml.safe_load(found.group(1))


def test_the_example_report_is_what_the_example_pod_gives() -> None:
    pod = example("input")
    found = findings_for(pod, "nonroot")
    assert found is not None
    built = build_report(pod["metadata"]["namespace"], [found], "nonroot", api=DEFAULT)
    assert built == example("report")


def test_the_openreports_example_is_what_its_input_gives_with_openreports() -> None:
    workload = example("openreports-input")
    found = findings_for(workload, "nonroot")
    assert found is not None
    namespace = workload["metadata"]["namespace"]
    built = build_report(namespace, [found], "nonroot", api=OPENREPORTS)
    assert built == example("openreports-report")


def test_the_truncated_example_is_what_20000_such_pods_give() -> None:
    objects = []
    for i in range(20000):
        pod = copy.deepcopy(example("input"))
        pod["metadata"].update(
            name=f"p{i:05d}", namespace="big", uid=f"{i:08d}-0d4a-4c1e-9a57-3b8f0e2d1a44"
        )
        found = findings_for(pod, "nonroot")
        assert found is not None
        objects.append(found)
    report = build_report("big", objects, "nonroot", api=DEFAULT)
    assert report is not None
    assert report["summary"]["fail"] == 80000
    assert report["results"][-1:] == example("omitted")


def test_the_documented_log_line_is_the_operators() -> None:
    text = DOC.read_text(encoding="utf-8")
    line = CRD_ABSENT % (DEFAULT.kind, DEFAULT.crd_name, 60)
    assert line.split("; looking again")[0] in text
    # The OpenReports variant, quoted in the text around the line.
    other = (CRD_ABSENT % (OPENREPORTS.kind, OPENREPORTS.crd_name, 60)).split(" is not")[0]
    assert other.startswith("policy reports: ")
    assert f'"{other.removeprefix("policy reports: ")}"' in " ".join(text.split())


def test_the_table_of_the_two_apis_is_the_operators() -> None:
    """The 'Which API' table: each column's flag, chart value, report, CRD, RBAC and short
    name are those of reports/apis.py's table."""
    section = DOC.read_text(encoding="utf-8").split("## Which API", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    table = {
        cells[0]: cells[1:]
        for cells in ([c.strip() for c in row.strip("|").split("|")] for row in rows[1:])
    }
    for column, heading in enumerate(header[1:]):
        name = heading.split("`")[1]
        api = report_api(name)
        flags = "`--reports`" if api == DEFAULT else f"`--reports --reports-api {name}`"
        assert table["`hardened run`"][column] == flags
        assert table["chart"][column] == f"`reports.api: {name}`"
        assert table["report"][column] == f"`{api.api_version}` `{api.kind}`"
        assert table["CRD (`reports.installCRD`)"][column] == f"`{api.crd_name}`"
        assert table["RBAC"][column] == f"`{api.crd_name}`"
        assert table["`kubectl get`"][column] == f"`{api.short_name}`"
    assert {h.split("`")[1] for h in header[1:]} == set(REPORT_APIS)


def test_the_documented_chart_values_and_flag_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    rendered = render_files({"reports": {"enabled": True, "installCRD": True}})
    assert "--set reports.enabled=true --set reports.installCRD=true" in text
    args = yaml.safe_load(rendered["templates/deployment.yaml"])["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert "--reports" in args
    crd = yaml.safe_load(rendered["templates/policyreport-crd.yaml"])
    assert crd["metadata"]["name"] == DEFAULT.crd_name
    help_text = CliRunner().invoke(main, ["run", "--help"]).output
    assert "--reports / --no-reports" in help_text
    assert "--reports-api [wgpolicyk8s|openreports]" in help_text


def test_the_documented_openreports_install_renders_openreports() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "--set reports.api=openreports" in text
    assert "--set reports.enabled=true --set reports.api=openreports" in text
    rendered = render_files(
        {"reports": {"enabled": True, "api": "openreports", "installCRD": True}}
    )
    args = yaml.safe_load(rendered["templates/deployment.yaml"])["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert "--reports-api=openreports" in args
    crd = yaml.safe_load(rendered["templates/policyreport-crd.yaml"])
    assert crd["metadata"]["name"] == OPENREPORTS.crd_name
