"""Gaps found in review (reviewer-A) of the audit CLI's promises.

- Inputs the audit cannot judge are never passed silently: a pod-bearing kind written in the
  wrong case (``kind: deployment``) used to be treated as "carries no pod" and exit 0 with a
  root container inside.
- "JSON: one entry per violation with at least file, kind, namespace, name, container, check,
  message": every key, on every entry, with the values of the object that violated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_manifests import bad_specs, wrap
from audit_support import invoke, parse_json, write_yaml

REQUIRED_KEYS = ("file", "kind", "namespace", "name", "container", "check", "message")


@pytest.mark.parametrize("kind", ["deployment", "POD", "Cronjob", "statefulSet", "podtemplate"])
def test_pod_bearing_kind_in_the_wrong_case_is_an_error_not_a_pass(
    tmp_path: Path, kind: str
) -> None:
    canonical = {"deployment": "Deployment", "POD": "Pod", "Cronjob": "CronJob"}.get(
        kind, {"statefulSet": "StatefulSet", "podtemplate": "PodTemplate"}.get(kind, kind)
    )
    obj = wrap(canonical, bad_specs()["pod-uid0"])
    obj["kind"] = kind
    f = write_yaml(tmp_path / "odd.yaml", obj)
    result = invoke(str(f), "--format", "json")
    assert result.exit_code == 2, result.output
    [entry] = parse_json(result)
    assert entry["type"] == "error" and entry["check"] == "invalid-object"
    assert entry["file"] == str(f) and entry["line"] == 1
    assert canonical in entry["message"] and repr(kind) in entry["message"]


def test_other_kinds_in_any_case_are_still_not_pod_bearing(tmp_path: Path) -> None:
    f = write_yaml(
        tmp_path / "cm.yaml", {"apiVersion": "v1", "kind": "configmap", "metadata": {"name": "c"}}
    )
    assert invoke(str(f)).exit_code == 0


def test_json_entries_carry_every_promised_key(tmp_path: Path) -> None:
    f = write_yaml(tmp_path / "bad.yaml", wrap("Deployment", bad_specs()["init-root"]))
    result = invoke(str(f), "--format", "json")
    assert result.exit_code == 1, result.output
    entries = parse_json(result)
    assert entries
    for entry in entries:
        missing = [key for key in REQUIRED_KEYS if key not in entry]
        assert not missing, (missing, entry)
        assert entry["file"] == str(f)
        assert (entry["kind"], entry["namespace"], entry["name"]) == ("Deployment", "apps", "demo")
        assert entry["check"] and entry["message"]
    assert {(e["container"], e["containerType"]) for e in entries} == {("init", "initContainer")}


@pytest.mark.parametrize("api_version", [None, 1, ["v1"]], ids=["missing", "int", "list"])
def test_pod_bearing_kind_without_api_version_is_an_error_not_a_skip(
    tmp_path: Path, api_version: object
) -> None:
    obj = wrap("Deployment", bad_specs()["pod-uid0"])
    if api_version is None:
        del obj["apiVersion"]
    else:
        obj["apiVersion"] = api_version
    f = write_yaml(tmp_path / "noversion.yaml", obj)
    result = invoke(str(f), "--format", "json")
    assert result.exit_code == 2, result.output
    [entry] = parse_json(result)
    assert entry["type"] == "error" and (entry["file"], entry["line"]) == (str(f), 1)
    assert "Deployment without a string apiVersion" in entry["message"]


def test_other_documents_without_api_version_are_still_skipped_with_a_note(
    tmp_path: Path,
) -> None:
    f = write_yaml(tmp_path / "values.yaml", {"kind": "Values", "replicas": 2}, {"image": "x"})
    result = invoke(str(f))
    assert result.exit_code == 0, result.output
    assert result.stderr.count("skipped a document that is not a Kubernetes object") == 2
