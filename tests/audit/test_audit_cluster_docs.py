"""docs/audit.md's ``--cluster`` section: its walkthrough runs as written on the control
plane and prints what the document shows; its ClusterRole grants what the audit reads."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from hardened_operator.workloads import POD_BEARING
from tests.audit.audit_support import ROOT
from tests.audit.cluster_support import comparable, run_hardened
from tests.support import walkthrough
from tests.support.controlplane import ControlPlaneHandle

DOC = (ROOT / "docs" / "audit.md").read_text()
SECTION = DOC.split("## `--cluster`", 1)[1].split("\n## ", 1)[0]
MARKER = "<!-- walkthrough: audit --cluster -->"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", SECTION, re.DOTALL)


def _normalized(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def test_the_documented_cluster_role_grants_exactly_what_the_audit_reads() -> None:
    (role,) = [yaml.safe_load(block) for block in _blocks("yaml")]
    granted = {
        (group, resource)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        if sorted(rule["verbs"]) == ["get", "list"]
    }
    wanted = {(kind.group, kind.resource) for kind in POD_BEARING} | {("", "namespaces")}
    assert granted == wanted


def _kubectl_dir() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        walkthrough.require_kubectl_assets()
        from hardened_operator.dev import assets

        kubectl = str(assets.require_assets().kubectl)
    return str(Path(kubectl).parent)


@pytest.mark.controlplane
def test_walkthrough_runs_as_written_and_prints_what_the_document_shows(
    control_plane: ControlPlaneHandle, tmp_path: Path
) -> None:
    namespace = f"shop-{uuid.uuid4().hex[:6]}"
    lines = walkthrough.bash_block_after(DOC, MARKER)
    script = ["exec 2>&1"]
    for index, line in enumerate(lines):
        command = re.sub(r"\bshop\b", namespace, line)
        script += [f"echo '::begin {index}'", command, f'echo "::end {index} $?"']
    env: dict[str, Any] = {**control_plane.env(), "NO_COLOR": "1"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), _kubectl_dir(), env["PATH"]])
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    outputs: dict[int, str] = {}
    for index, line in enumerate(lines):
        found = re.search(rf"::begin {index}\n(.*?)::end {index} (\d+)", result.stdout, re.DOTALL)
        assert found is not None, f"never ran: {line}\n{result.stdout}"
        expected = re.search(r"# exit (\d)", line)
        status = int(found.group(2))
        assert status == (int(expected.group(1)) if expected else 0), f"{line}\n{found.group(1)}"
        outputs[index] = found.group(1)
    try:
        audit_output = next(
            outputs[i] for i, line in enumerate(lines) if line.endswith("# exit 1: findings")
        )
        real = _normalized(audit_output.replace(namespace, "shop"))
        shown = _normalized(_blocks("text")[0])
        for row in shown:
            prefix = row.split("…")[0].strip()
            assert any(line.startswith(prefix) for line in real), (row, real)
        # The export audited offline has the same findings as the cluster.
        offline = json.loads((tmp_path / "offline.json").read_text())
        live = run_hardened(
            "audit", "--cluster", "-n", namespace, "--format", "json", env=env
        )  # fmt: skip
        assert offline and comparable(json.loads(live.stdout)) == comparable(offline)
        sarif = json.loads((tmp_path / f"{namespace}.sarif").read_text())  # renamed too
        (row_json,) = sarif["runs"][0]["properties"]["namespaces"]
        assert (row_json["mode"], row_json["refusedIfEnforced"]) == ("warn", 2)
    finally:
        subprocess.run(
            ["kubectl", "delete", "namespace", namespace, "--wait=false"],
            env=env, capture_output=True, check=False, timeout=60,
        )  # fmt: skip
