"""``hardened audit --fix``: minimal securityContext edits whose output passes the audit."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hardened_operator.audit.rewrite import fix_source, guess_indent
from hardened_operator.audit.sources import Source
from tests.audit.audit_manifests import KINDS, bad_specs, compliant_spec, container, wrap
from tests.audit.audit_support import RunAudit, parse_json, write_yaml


def _fix(text: str, profile: str = "nonroot", name: str = "x.yaml") -> str:
    return fix_source(Source(name, text, name.endswith(".json")), profile).text  # type: ignore[arg-type]


def _strip_security(value: Any) -> Any:
    """The object without securityContext subtrees: what --fix must leave untouched."""
    if isinstance(value, dict):
        return {k: _strip_security(v) for k, v in value.items() if k != "securityContext"}
    if isinstance(value, list):
        return [_strip_security(v) for v in value]
    return value


@pytest.mark.parametrize("profile", ["nonroot", "restricted"])
@pytest.mark.parametrize("kind", KINDS)
def test_fix_then_audit_passes_for_every_kind_and_case(
    tmp_path: Path, run_audit: RunAudit, kind: str, profile: str
) -> None:
    docs = [wrap(kind, spec, name) for name, spec in sorted(bad_specs().items())]
    f = write_yaml(tmp_path / "in.yaml", *docs)
    assert run_audit(str(f), "--profile", profile).exit_code == 1
    fixed = run_audit(str(f), "--fix", "--profile", profile)
    assert fixed.exit_code == 0, fixed.output
    out = tmp_path / "out.yaml"
    out.write_text(fixed.stdout)
    audited = run_audit(str(out), "--profile", profile)
    assert audited.exit_code == 0, audited.output
    # only securityContext changed, object for object
    after = list(yaml.safe_load_all(fixed.stdout))
    assert [_strip_security(d) for d in after] == [_strip_security(d) for d in docs]
    # idempotent: fixing the fixed output changes nothing
    assert _fix(fixed.stdout, profile) == fixed.stdout


def test_fix_is_minimal_and_uses_the_app_uid() -> None:
    spec = compliant_spec()
    spec["securityContext"]["runAsUser"] = 0
    spec["initContainers"] = [container("init", privileged=True, runAsNonRoot=False)]
    text = yaml.safe_dump(wrap("Pod", spec), sort_keys=False)
    fixed = yaml.safe_load(_fix(text))["spec"]
    assert fixed["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsUser": 1000,
    }
    assert fixed["initContainers"][0]["securityContext"] == {
        "privileged": False,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert fixed["containers"] == spec["containers"]  # already compliant: untouched


def test_disallowed_capability_adds_are_removed() -> None:
    spec = compliant_spec()
    caps = spec["containers"][0]["securityContext"]["capabilities"]
    caps["add"] = ["SYS_ADMIN", "NET_BIND_SERVICE"]
    caps["drop"] = ["NET_RAW"]
    fixed = yaml.safe_load(_fix(yaml.safe_dump(wrap("Pod", spec))))
    assert fixed["spec"]["containers"][0]["securityContext"]["capabilities"] == {
        "add": ["NET_BIND_SERVICE"],
        "drop": ["ALL"],
    }


COMMENTED = """\
# Deployment of the web tier.
apiVersion: apps/v1   # keep: apps/v1
kind: Deployment
metadata:
  name: web # the name
  annotations:
    note: "quoted 'value'"
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app   # main container
          image: "nginx:1.25"
          args: ['--port', "8080"]
          securityContext:
            runAsUser: 0  # was root
        # the sidecar ships logs
        - name: logs
          image: fluent-bit
          command:
            - /fluent-bit
      # end of pod spec
---
# a config map, untouched
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}   # flow style kept
data:
  script: |
    #!/bin/sh
    echo hi
"""


def test_fix_keeps_comments_order_quotes_and_untouched_documents(
    tmp_path: Path, run_audit: RunAudit
) -> None:
    fixed = _fix(COMMENTED)
    for kept in (
        "# Deployment of the web tier.\n",
        "apiVersion: apps/v1   # keep: apps/v1\n",
        "  name: web # the name\n",
        "    note: \"quoted 'value'\"\n",
        "      labels: {app: web}\n",
        "        - name: app   # main container\n",
        '          image: "nginx:1.25"\n',
        "          args: ['--port', \"8080\"]\n",
        "            runAsUser: 1000",
        "        # the sidecar ships logs\n        - name: logs\n",
        "      # end of pod spec\n",
    ):
        assert kept in fixed, kept
    # the second document is byte for byte the same
    assert fixed.split("---\n", 1)[1] == COMMENTED.split("---\n", 1)[1]
    # comments stay in front of what they describe: the sidecar comment still precedes it
    assert fixed.index("# the sidecar ships logs") < fixed.index("- name: logs")
    assert fixed.index("# the sidecar ships logs") > fixed.index("allowPrivilegeEscalation")
    # key order: new keys appended, old ones in place
    lines = fixed.splitlines()
    assert lines.index("  replicas: 2") < lines.index("  template:")
    f = tmp_path / "fixed.yaml"
    f.write_text(fixed)
    assert run_audit(str(f)).exit_code == 0
    assert _fix(fixed) == fixed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a:\n  b:\n  - x\n", (2, 0)),
        ("a:\n  b:\n    - x\n", (2, 2)),
        ("a:\n    b:\n        - x\n", (4, 4)),
        ("a: 1\n", (2, 0)),
    ],
)
def test_guess_indent(text: str, expected: tuple[int, int]) -> None:
    assert guess_indent(text) == expected


def test_fix_keeps_the_sequence_style_of_the_file() -> None:
    doc = wrap("Pod", bad_specs()["bare"])
    flush = yaml.safe_dump(doc, sort_keys=False)  # PyYAML: "- " flush with the parent key
    fixed = _fix(flush)
    assert "\n  - name: app\n" in flush and "\n  - name: app\n" in fixed
    assert "\n        drop:\n        - ALL\n" in fixed  # capabilities.drop in the same flush style


def test_json_is_fixed_as_json(tmp_path: Path, run_audit: RunAudit) -> None:
    doc = wrap("Deployment", bad_specs()["init-root"])
    f = tmp_path / "d.json"
    f.write_text(json.dumps(doc, indent=4) + "\n")
    result = run_audit(str(f), "--fix")
    assert result.exit_code == 0
    fixed = json.loads(result.stdout)
    assert (
        fixed["spec"]["template"]["spec"]["initContainers"][0]["securityContext"]["runAsUser"]
        == 1000
    )
    assert result.stdout.startswith('{\n    "apiVersion"')  # indentation of the file kept
    assert list(fixed) == list(doc)
    out = tmp_path / "fixed.json"
    out.write_text(result.stdout)
    assert run_audit(str(out)).exit_code == 0


def test_in_place_rewrites_only_changed_files(tmp_path: Path, run_audit: RunAudit) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(COMMENTED)
    good = write_yaml(tmp_path / "good.yaml", wrap("Pod", compliant_spec()))
    good_before = good.read_text()
    result = run_audit(str(tmp_path), "--fix", "--in-place")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"fixed: {bad} (" in result.stderr
    assert good.read_text() == good_before
    assert "# the sidecar ships logs" in bad.read_text()
    assert run_audit(str(tmp_path)).exit_code == 0


def test_fix_several_files_to_stdout_is_one_stream(tmp_path: Path, run_audit: RunAudit) -> None:
    a = write_yaml(tmp_path / "a.yaml", wrap("Pod", bad_specs()["bare"], "a"))
    b = write_yaml(tmp_path / "b.yaml", wrap("Job", bad_specs()["bare"], "b"))
    result = run_audit(str(a), str(b), "--fix")
    assert result.exit_code == 0
    assert f"# Source: {a}" in result.stdout and f"# Source: {b}" in result.stdout
    docs = list(yaml.safe_load_all(result.stdout))
    assert [d["metadata"]["name"] for d in docs] == ["a", "b"]


def test_restricted_unfixable_fields_are_reported(tmp_path: Path, run_audit: RunAudit) -> None:
    spec = bad_specs()["bare"]
    spec["hostNetwork"] = True
    spec["volumes"] = [{"name": "root", "hostPath": {"path": "/"}}]
    f = write_yaml(tmp_path / "host.yaml", wrap("Deployment", spec))
    result = run_audit(str(f), "--fix", "--profile", "restricted", "--format", "json")
    assert result.exit_code == 1
    fixed = yaml.safe_load(result.stdout)["spec"]["template"]["spec"]
    assert fixed["hostNetwork"] is True and fixed["volumes"] == spec["volumes"]  # not ours to drop
    assert fixed["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "unfixable" in result.stderr
    remaining = json.loads(result.stderr.split("unfixable (fix these by hand):\n", 1)[1])
    assert {e["check"] for e in remaining} == {"hostNamespaces", "restrictedVolumes"}


def test_fix_list_items_and_stdin(run_audit: RunAudit) -> None:
    lst = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            wrap("Pod", bad_specs()["ephemeral-bare"], "a"),
            wrap("Pod", compliant_spec(), "b"),
        ],
    }
    result = run_audit("-", "--fix", input=yaml.safe_dump(lst))
    assert result.exit_code == 0, result.output
    items = yaml.safe_load(result.stdout)["items"]
    eph = items[0]["spec"]["ephemeralContainers"][0]["securityContext"]
    assert eph["allowPrivilegeEscalation"] is False
    assert items[1] == lst["items"][1]


def test_fix_hardened_service_identity(tmp_path: Path, run_audit: RunAudit) -> None:
    hs = {
        "apiVersion": "ai-system.io/v1alpha1",
        "kind": "HardenedService",
        "metadata": {"name": "svc"},
        "spec": {"image": "registry.example/app:1", "securityContext": {"runAsUser": 0}},
    }
    f = write_yaml(tmp_path / "hs.yaml", hs)
    result = run_audit(str(f), "--fix")
    fixed = yaml.safe_load(result.stdout)
    assert fixed["spec"]["securityContext"]["runAsUser"] == 1000
    assert "template" not in fixed["spec"]  # nothing invented outside the securityContext


def test_unparsable_input_is_not_rewritten(tmp_path: Path, run_audit: RunAudit) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("a: [\n")
    result = run_audit(str(f), "--fix", "--in-place")
    assert result.exit_code == 2
    assert f.read_text() == "a: [\n"
    assert f"{f}:2" in result.stderr


def test_already_compliant_output_is_identical() -> None:
    text = COMMENTED.split("---\n", 1)[1]
    assert _fix(text) == text
    doc = copy.deepcopy(wrap("Pod", compliant_spec()))
    text = json.dumps(doc)
    assert _fix(text, name="x.json") == text


def test_json_output_entries_after_fix_are_unfixable_only(
    tmp_path: Path, run_audit: RunAudit
) -> None:
    spec = bad_specs()["bare"]
    spec["hostPID"] = True
    f = write_yaml(tmp_path / "p.yaml", wrap("Pod", spec))
    result = run_audit(str(f), "--fix", "--profile", "restricted", "--format", "json")
    assert result.exit_code == 1
    entries = json.loads(result.stderr.split("unfixable (fix these by hand):\n", 1)[1])
    assert [e["check"] for e in entries] == ["hostNamespaces"]
    assert entries[0]["line"] == result.stdout.splitlines().index("  hostPID: true") + 1


def test_windows_line_endings_are_kept() -> None:
    text = yaml.safe_dump(wrap("Pod", bad_specs()["bare"]), sort_keys=False).replace("\n", "\r\n")
    fixed = _fix(text)
    assert fixed != text and "\n" not in fixed.replace("\r\n", "")
    doc = json.dumps(wrap("Pod", bad_specs()["bare"]), indent=2).replace("\n", "\r\n")
    fixed = _fix(doc, name="x.json")
    assert fixed != doc and "\n" not in fixed.replace("\r\n", "")


def test_flow_style_and_anchors_are_kept(tmp_path: Path, run_audit: RunAudit) -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - {name: a, image: b}\n"
        "  - name: c\n    image: b\n    securityContext: &s {runAsUser: 0}\n"
        "  - name: d\n    image: b\n    securityContext: *s\n"
    )
    fixed = _fix(text)
    assert "  - {name: a, image: b, securityContext: {" in fixed
    assert "securityContext: &s {runAsUser: 1000" in fixed and "securityContext: *s\n" in fixed
    f = tmp_path / "f.yaml"
    f.write_text(fixed)
    assert run_audit(str(f)).exit_code == 0


def test_round_trip_failure_is_reported_not_a_traceback(
    tmp_path: Path, run_audit: RunAudit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ruamel.yaml.error import YAMLError

    from hardened_operator.audit import rewrite

    def refuse(body: str, edits: object) -> str:
        raise YAMLError("simulated round-trip refusal")

    monkeypatch.setattr(rewrite, "_round_trip", refuse)
    f = write_yaml(tmp_path / "p.yaml", wrap("Pod", bad_specs()["bare"]))
    before = f.read_text()
    result = run_audit(str(f), "--fix", "--in-place")
    assert result.exit_code == 2
    assert f"{f}:1" in result.stderr and "cannot rewrite this document" in result.stderr
    assert f.read_text() == before


RESTRICTED_FIELDS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    metadata:
      annotations:
        container.apparmor.security.beta.kubernetes.io/app: unconfined
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
        appArmorProfile: {type: Unconfined}
        seLinuxOptions: {user: root, type: spc_t}
      containers:
      - name: app
        image: x
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          procMount: Unmasked
          windowsOptions: {hostProcess: true}
"""


def test_restricted_security_fields_and_apparmor_annotation_are_fixed(
    tmp_path: Path, run_audit: RunAudit
) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(RESTRICTED_FIELDS)
    before = {
        e["check"]
        for e in parse_json(run_audit(str(f), "--profile", "restricted", "--format", "json"))
    }
    assert {"appArmorProfile", "seLinuxOptions", "windowsHostProcess"} <= before
    result = run_audit(str(f), "--fix", "--profile", "restricted")
    assert result.exit_code == 0, result.output
    fixed = yaml.safe_load(result.stdout)["spec"]["template"]
    annotation = "container.apparmor.security.beta.kubernetes.io/app"
    assert fixed["metadata"]["annotations"][annotation] == "runtime/default"
    assert fixed["spec"]["securityContext"]["appArmorProfile"] == {"type": "RuntimeDefault"}
    assert fixed["spec"]["securityContext"]["seLinuxOptions"] == {}
    sc = fixed["spec"]["containers"][0]["securityContext"]
    assert sc["procMount"] == "Default" and sc["windowsOptions"] == {"hostProcess": False}


def test_unusual_line_breaks_do_not_shift_documents(tmp_path: Path, run_audit: RunAudit) -> None:
    first = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  s: "a\u2028b"\n'
    second = yaml.safe_dump(wrap("Pod", bad_specs()["bare"]), sort_keys=False)
    text = first + "---\n# the pod\n" + second
    fixed = _fix(text)
    assert fixed.startswith(first + "---\n# the pod\n")
    f = tmp_path / "u.yaml"
    f.write_text(fixed)
    assert run_audit(str(f)).exit_code == 0


def test_in_place_keeps_permissions_and_leaves_no_temporary_file(
    tmp_path: Path, run_audit: RunAudit
) -> None:
    f = write_yaml(tmp_path / "p.yaml", wrap("Pod", bad_specs()["bare"]))
    f.chmod(0o640)
    assert run_audit(str(f), "--fix", "--in-place").exit_code == 0
    assert f.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]
    assert run_audit(str(f)).exit_code == 0
