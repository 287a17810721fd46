"""docs/dev.md's walkthrough, run line by line as a user would paste it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hardened_operator.dev import assets
from tests.support import walkthrough

pytestmark = pytest.mark.controlplane

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "dev.md"
MARKER = "<!-- walkthrough: run by tests/devcp/test_docs_walkthrough.py -->"
DOC_DIR = "/tmp/hardened-dev"


def test_walkthrough_runs_as_documented(tmp_path: Path) -> None:
    walkthrough.require_kubectl_assets()
    lines = walkthrough.bash_block_after(DOC.read_text(), MARKER)
    # Our own directory instead of /tmp/hardened-dev, so parallel runs never collide.
    steps = walkthrough.run(lines, DOC_DIR, tmp_path / "hardened-dev")

    by_command = walkthrough.outputs_by_command(steps)
    version = json.loads(by_command["kubectl get --raw /version"])
    assert version["gitVersion"] == assets.KUBERNETES_VERSION
    run_as = (
        "kubectl get deployment hello -o jsonpath='{.spec.template.spec.securityContext.runAsUser}'"
    )
    assert by_command[run_as].strip() == "1000"
    schema = by_command["kubectl apply -f docs/examples/hardenedservice/invalid-root.yaml"]
    assert "spec.securityContext.runAsUser" in schema
    root_pod = next(
        text for command, text in by_command.items() if command.startswith("kubectl run root")
    )
    assert 'admission webhook "enforce.hardened-operator-dev.ai-system.io" denied' in root_pod
    assert "runAsUser" in root_pod
    assert "api https://127.0.0.1:" in by_command[f"hardened dev status --dir {DOC_DIR}"]
    stopped = by_command[f"hardened dev down --dir {DOC_DIR}"]
    assert re.search(r"stopped operator \(pid \d+\), kube-apiserver \(pid \d+\), etcd", stopped)
