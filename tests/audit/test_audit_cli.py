"""``hardened audit`` in-process (CliRunner): inputs, exit codes, formats, error locations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hardened_operator.policy import check_ids
from tests.audit.audit_manifests import KINDS, bad_specs, compliant_spec, container, wrap
from tests.audit.audit_support import RunAudit, invoke, parse_json, write_yaml


@pytest.mark.parametrize("kind", KINDS)
def test_compliant_objects_of_every_kind_exit_0(
    tmp_path: Path, run_audit: RunAudit, kind: str
) -> None:
    f = write_yaml(tmp_path / "ok.yaml", wrap(kind, compliant_spec()))
    result = run_audit(str(f))
    assert result.exit_code == 0, result.output
    assert "0 violations in 1 object from 1 file." in result.stdout


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", sorted(bad_specs()))
def test_every_bad_spec_in_every_kind_exits_1(
    tmp_path: Path, run_audit: RunAudit, kind: str, case: str
) -> None:
    f = write_yaml(tmp_path / "bad.yaml", wrap(kind, bad_specs()[case]))
    result = run_audit(str(f), "--format", "json")
    assert result.exit_code == 1, result.output
    entries = parse_json(result)
    assert entries and all(e["kind"] == kind and e["name"] == "demo" for e in entries)
    assert all(e["namespace"] == "apps" and e["file"] == str(f) for e in entries)


@pytest.mark.parametrize(
    ("case", "check", "container", "container_type"),
    [
        ("init-root", "runAsUser", "init", "initContainer"),
        ("container-override", "runAsNonRoot", "app", "container"),
        ("ephemeral-bare", "allowPrivilegeEscalation", "debugger", "ephemeralContainer"),
        ("hostusers-false-uid0", "runAsUser", None, None),
        ("privileged-caps", "privileged", "app", "container"),
    ],
)
def test_tricky_cases_name_check_and_container(
    tmp_path: Path, run_audit: RunAudit, case: str, check: str, container: Any, container_type: Any
) -> None:
    f = write_yaml(tmp_path / "bad.yaml", wrap("Deployment", bad_specs()[case]))
    entries = parse_json(run_audit(str(f), "--format", "json"))
    matching = [e for e in entries if e["check"] == check]
    assert matching, entries
    assert (matching[0]["container"], matching[0]["containerType"]) == (container, container_type)
    assert matching[0]["field"].startswith("spec.template.spec.")
    assert matching[0]["fix"]


def test_json_entry_line_points_at_the_offending_field(tmp_path: Path, run_audit: RunAudit) -> None:
    f = tmp_path / "d.yaml"
    f.write_text(
        "# leading comment\n"
        "apiVersion: v1\n"  # line 2
        "kind: ConfigMap\n"
        "metadata: {name: c}\n"
        "---\n"
        "apiVersion: v1\n"  # line 6
        "kind: Pod\n"
        "metadata:\n"
        "  name: p\n"
        "spec:\n"
        "  securityContext:\n"
        "    runAsNonRoot: true\n"
        "  containers:\n"
        "  - name: app\n"  # line 14
        "    image: x\n"
        "    securityContext:\n"
        "      runAsUser: 0\n"  # line 17
        "      allowPrivilegeEscalation: false\n"
        "      capabilities: {drop: [ALL]}\n"
    )
    entries = parse_json(run_audit(str(f), "--format", "json"))
    assert [(e["check"], e["line"]) for e in entries] == [("runAsUser", 17)]


def test_multi_document_files_and_directories_are_read_recursively(
    tmp_path: Path, run_audit: RunAudit
) -> None:
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    write_yaml(
        sub / "two.yml", wrap("Pod", compliant_spec(), "p1"), wrap("Job", bad_specs()["bare"], "j")
    )
    (tmp_path / "a" / "one.json").write_text(
        json.dumps(wrap("DaemonSet", bad_specs()["init-root"], "ds"))
    )
    (tmp_path / "a" / "notes.txt").write_text("kind: Pod\n: not yaml at all [")
    hidden = tmp_path / ".git"
    hidden.mkdir()
    (hidden / "x.yaml").write_text("{{ broken")  # hidden directories are not walked
    entries = parse_json(run_audit(str(tmp_path), "--format", "json"))
    assert {(e["kind"], e["name"]) for e in entries} == {("Job", "j"), ("DaemonSet", "ds")}


def test_stdin_yaml_and_json(run_audit: RunAudit) -> None:
    doc = wrap("Pod", bad_specs()["pod-uid0"], "from-stdin")
    for text in (yaml.safe_dump(doc), json.dumps(doc, indent=2)):
        result = run_audit("-", "--format", "json", input=text)
        assert result.exit_code == 1
        entries = parse_json(result)
        assert {e["file"] for e in entries} == {"<stdin>"}
        assert "runAsUser" in {e["check"] for e in entries}
    result = run_audit("-", input=yaml.safe_dump(wrap("Pod", compliant_spec())))
    assert result.exit_code == 0


def test_json_stream_of_several_values(tmp_path: Path, run_audit: RunAudit) -> None:
    f = tmp_path / "stream.json"
    text = (
        json.dumps(wrap("Pod", compliant_spec(), "a"))
        + "\n"
        + json.dumps(wrap("Pod", bad_specs()["pod-uid0"], "b"), indent=1)
    )
    f.write_text(text)
    uid_line = text.splitlines().index('   "runAsUser": 0') + 1
    entries = parse_json(run_audit(str(f), "--format", "json"))
    assert {e["name"] for e in entries} == {"b"}
    assert [e["line"] for e in entries if e["check"] == "runAsUser"] == [uid_line]


@pytest.mark.parametrize("list_kind", ["List", "PodList"])
def test_kind_list_items_are_audited(tmp_path: Path, run_audit: RunAudit, list_kind: str) -> None:
    good = wrap("Pod", compliant_spec(), "good")
    bad = wrap("Pod", bad_specs()["init-root"], "bad")
    if list_kind == "PodList":  # the API's typed lists leave kind/apiVersion off the items
        for item in (good, bad):
            del item["kind"], item["apiVersion"]
    f = write_yaml(
        tmp_path / "list.yaml", {"apiVersion": "v1", "kind": list_kind, "items": [good, bad]}
    )
    result = run_audit(str(f), "--format", "json")
    assert result.exit_code == 1
    entries = parse_json(result)
    assert {(e["kind"], e["name"]) for e in entries} == {("Pod", "bad")}
    assert all(e["line"] and e["line"] > 1 for e in entries)


def test_non_kubernetes_documents_are_skipped_with_a_note(
    tmp_path: Path, run_audit: RunAudit
) -> None:
    f = tmp_path / "mixed.yaml"
    f.write_text(
        "services:\n  web: {image: x}\n---\n- just\n- a list\n---\n"
        + yaml.safe_dump(wrap("Pod", compliant_spec()))
    )
    result = run_audit(str(f))
    assert result.exit_code == 0
    assert f"note: {f}:1: skipped a document that is not a Kubernetes object" in result.stderr
    assert f"note: {f}:4: skipped" in result.stderr
    assert "2 non-Kubernetes document(s) skipped" in result.stdout


@pytest.mark.parametrize(
    ("name", "text", "line", "phrase"),
    [
        ("bad.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n", 5, "invalid YAML"),
        ("tab.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n", 4, "invalid YAML"),
        ("dup.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  a: 1\n  a: 2\n", 5, "duplicate key 'a'"),
        ("bad.json", '{\n  "apiVersion": "v1",\n  "kind": "Pod",\n  oops\n}\n', 4, "invalid JSON"),
        ("dup.json", '{"kind": "Pod", "kind": "Pod"}', 1, "duplicate key 'kind'"),
        ("latin1.yaml", "name: caf\xe9\n", 1, "not UTF-8"),
    ],
)
def test_unreadable_input_exits_2_with_file_and_line(
    tmp_path: Path, run_audit: RunAudit, name: str, text: str, line: int, phrase: str
) -> None:
    f = tmp_path / name
    f.write_bytes(text.encode("latin-1"))
    good = write_yaml(tmp_path / "good.yaml", wrap("Pod", bad_specs()["pod-uid0"]))
    result = run_audit(str(good), str(f))
    assert result.exit_code == 2, result.output
    assert f"{f}:{line}" in result.stdout and phrase in result.stdout
    # the readable file is still reported
    assert "runAsUser" in result.stdout
    entries = parse_json(run_audit(str(good), str(f), "--format", "json"))
    errors = [e for e in entries if e["type"] == "error"]
    assert [(e["file"], e["line"], e["check"]) for e in errors] == [
        (str(f), line, "unreadable-input")
    ]


def test_missing_path_and_empty_directory_exit_2(tmp_path: Path, run_audit: RunAudit) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_audit(str(tmp_path / "nope.yaml"), str(empty))
    assert result.exit_code == 2
    assert "no such file or directory" in result.stdout
    assert "directory holds no .yaml" in result.stdout


def test_wrong_shapes_fail_closed(tmp_path: Path, run_audit: RunAudit) -> None:
    # (object, exit code): the object walk refuses (invalid-object, 2) or the engine denies (1)
    cases = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"template": "x"},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": "nope"},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "q"},
            "spec": {"securityContext": [1], "containers": []},
        },
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": 7}, "spec": {"containers": []}},
    ]
    expected = [2, 1, 1, 2]
    for index, (obj, code) in enumerate(zip(cases, expected, strict=True)):
        f = write_yaml(tmp_path / f"shape{index}.yaml", obj)
        result = run_audit(str(f), "--format", "json")
        assert result.exit_code == code, (obj, result.output)
        entries = parse_json(result)  # reported, never silently passed
        if code == 2:
            assert [(e["type"], e["check"]) for e in entries] == [("error", "invalid-object")]
        else:
            assert entries and all("malformed" in e["message"] for e in entries), entries


def test_table_output(tmp_path: Path, run_audit: RunAudit) -> None:
    f = write_yaml(tmp_path / "t.yaml", wrap("CronJob", bad_specs()["init-root"], "nightly"))
    result = run_audit(str(f))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["LOCATION", "OBJECT", "CONTAINER", "CHECK", "DETAIL"]
    row = next(line for line in lines if "runAsUser" in line)
    assert "CronJob/apps/nightly" in row and "init:init" in row
    field = "spec.jobTemplate.spec.template.spec.initContainers[0].securityContext.runAsUser"
    assert f"fix: set {field}: 1000" in row
    assert lines[-1].startswith("1 violation in 1 object from 1 file")


def test_profile_restricted_adds_psa_checks(tmp_path: Path, run_audit: RunAudit) -> None:
    spec = compliant_spec()
    spec["hostNetwork"] = True
    spec["volumes"] = [{"name": "h", "hostPath": {"path": "/"}}]
    f = write_yaml(tmp_path / "r.yaml", wrap("Pod", spec))
    assert run_audit(str(f)).exit_code == 0  # nonroot: not about host access
    entries = parse_json(run_audit(str(f), "--profile", "restricted", "--format", "json"))
    assert {"hostNamespaces", "restrictedVolumes"} <= {e["check"] for e in entries}


# A subset of the SARIF 2.1.0 schema (OASIS): the required properties and types of every object
# we emit, so a consumer such as GitHub code scanning accepts the file.
_SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string", "format": "uri"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "version": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "shortDescription": {
                                                    "type": "object",
                                                    "required": ["text"],
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": 0},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {
                                    "type": "object",
                                    "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
                                },
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "properties": {
                                                            "uri": {
                                                                "type": "string",
                                                                "format": "uri-reference",
                                                            }
                                                        },
                                                    },
                                                    "region": {
                                                        "type": "object",
                                                        "properties": {
                                                            "startLine": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            }
                                                        },
                                                    },
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_sarif_is_valid_and_locates_results(tmp_path: Path, run_audit: RunAudit) -> None:
    f = write_yaml(tmp_path / "s.yaml", wrap("StatefulSet", bad_specs()["init-root"]))
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [\n")
    result = run_audit(str(f), str(broken), "--format", "sarif", "--profile", "restricted")
    assert result.exit_code == 2
    log = json.loads(result.stdout)
    jsonschema.validate(log, _SARIF_SUBSET)
    run = log["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert {"runAsNonRoot", "runAsUser", "seccompProfile_restricted", "unreadable-input"} <= set(
        rule_ids
    )
    assert len(rule_ids) == len(set(rule_ids))
    for res in run["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    loc = by_rule["runAsUser"]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("s.yaml") and loc["region"]["startLine"] > 1
    err = by_rule["unreadable-input"]["locations"][0]["physicalLocation"]
    assert err["region"]["startLine"] == 2
    assert "error: " in result.stderr  # the log still says what broke


def test_clean_sarif_has_rules_and_no_results(tmp_path: Path, run_audit: RunAudit) -> None:
    f = write_yaml(tmp_path / "ok.yaml", wrap("Pod", compliant_spec()))
    result = run_audit(str(f), "--format", "sarif")
    assert result.exit_code == 0
    log = json.loads(result.stdout)
    jsonschema.validate(log, _SARIF_SUBSET)
    assert log["runs"][0]["results"] == []
    rules = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    assert rules == list(check_ids("nonroot"))
    assert set(rules) == {
        "runAsNonRoot",
        "runAsUser",
        "privileged",
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "windowsHostProcess",
        "rootGroups",
    }


def test_usage_errors(tmp_path: Path, run_audit: RunAudit) -> None:
    f = write_yaml(tmp_path / "x.yaml", wrap("Pod", compliant_spec()))
    assert run_audit(str(f), "--in-place").exit_code == 2
    assert run_audit("-", "--fix", "--in-place", input="").exit_code == 2
    assert run_audit(str(f), "--profile", "privileged").exit_code == 2
    assert run_audit().exit_code == 2


def test_non_pod_kinds_are_clean(tmp_path: Path, run_audit: RunAudit) -> None:
    f = write_yaml(
        tmp_path / "svc.yaml",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80}]},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"containers": "x"},
        },
    )
    result = run_audit(str(f))
    assert result.exit_code == 0
    assert "in 2 objects" in result.stdout


def test_container_helper_sanity() -> None:
    # guards the builders above: a bare container has no securityContext at all
    assert "securityContext" not in container()


# Inputs the audit cannot judge are never passed silently: a pod-bearing kind written in the
# wrong case (kind: deployment) or without apiVersion is an error (exit 2), not a pass; other
# kinds stay unjudged. JSON entries carry every documented key with the violating object's values.
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
