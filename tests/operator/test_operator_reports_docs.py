"""docs/reports.md stays true: its example report is what the operator builds for its example
Pod, its truncated example is what 20,000 such Pods give, its log line and its chart values
and flag are the real ones."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from hardened_operator.cli import main
from hardened_operator.controller.reports import CRD_ABSENT
from hardened_operator.reports import build_report, findings_for
from tests.support.chart import render_files

REPO = Path(__file__).parents[2]
DOC = REPO / "docs" / "reports.md"


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
    assert build_report(pod["metadata"]["namespace"], [found], "nonroot") == example("report")


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
    report = build_report("big", objects, "nonroot")
    assert report is not None
    assert report["summary"]["fail"] == 80000
    assert report["results"][-1:] == example("omitted")


def test_the_documented_log_line_is_the_operators() -> None:
    line = CRD_ABSENT % ("policyreports.wgpolicyk8s.io", 60)
    assert line.split("; looking again")[0] in DOC.read_text(encoding="utf-8")


def test_the_documented_chart_values_and_flag_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    rendered = render_files({"reports": {"enabled": True, "installCRD": True}})
    assert "--set reports.enabled=true --set reports.installCRD=true" in text
    args = yaml.safe_load(rendered["templates/deployment.yaml"])["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert "--reports" in args
    crd = yaml.safe_load(rendered["templates/policyreport-crd.yaml"])
    assert crd["metadata"]["name"] == "policyreports.wgpolicyk8s.io"
    help_text = CliRunner().invoke(main, ["run", "--help"]).output
    assert "--reports / --no-reports" in help_text
