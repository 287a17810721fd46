"""The README's "Run it for real" walkthrough, run line by line on a real node."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import walkthrough

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]
MARKER = "<!-- node: run by tests/node/test_node_docs.py -->"


def test_the_readme_node_walkthrough_runs_a_pod_as_1000(tmp_path: Path) -> None:
    walkthrough.require_kubectl_assets()
    lines = walkthrough.bash_block_after((REPO / "README.md").read_text(), MARKER)
    steps = walkthrough.run(lines, ".dev-node", tmp_path / "dev-node")

    by_command = walkthrough.outputs_by_command(steps)
    table = by_command["kubectl -n demo get hsvc sample-app"]
    assert "True" in table and "ReplicasReady" in table
    ids = by_command["kubectl -n demo exec deploy/sample-app -c app -- id"]
    assert ids.strip() == "uid=1000(ai) gid=1000(ai) groups=1000(ai)"
    refused = by_command["kubectl -n demo exec deploy/sample-app -c app -- touch /probe"]
    assert "Read-only file system" in refused
    assert "killed" in by_command["hardened dev down --dir .dev-node"]


IN_CLUSTER = "<!-- in-cluster: run by tests/node/test_node_docs.py -->"


def test_the_readme_in_cluster_install_runs_the_operator_as_a_pod(tmp_path: Path) -> None:
    walkthrough.require_kubectl_assets()
    lines = walkthrough.bash_block_after((REPO / "README.md").read_text(), IN_CLUSTER)
    steps = walkthrough.run(lines, ".dev-cluster", tmp_path / "dev-cluster")

    by_command = walkthrough.outputs_by_command(steps)
    pods = next(text for command, text in by_command.items() if "get pods" in command)
    assert len(re.findall(r"\b1/1\s+Running\b", pods)) == 2, pods
    ids = by_command["kubectl -n demo exec deploy/sample-app -c app -- id"]
    assert ids.strip() == "uid=1000(ai) gid=1000(ai) groups=1000(ai)"
    refused = next(text for command, text in by_command.items() if "run root" in command)
    # The chart's default: the in-process policy refuses it (the webhook keeps HardenedServices).
    assert "ValidatingAdmissionPolicy 'hardened-operator'" in refused
    assert 'hardened-operator policy "nonroot"' in refused
    proven = next(text for command, text in by_command.items() if "helm test" in command)
    assert 'ENFORCED in namespace "default"' in proven, proven
