"""The plain manifests install on the local node the same way as the chart: `kubectl apply -k`.

The image is the one built here, given the manifests' own name inside containerd (as
`kind load` does), so `kubectl apply -k manifests/` runs unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardened_operator.dev import node, node_assets
from hardened_operator.dev import plane as plane_module
from tests.node.node_support import (
    NodeCluster,
    apps_api,
    create_hsvc,
    refusal_of_root_pod,
    running_pod,
    sample_service,
    user_namespace,
    wait_for,
)
from tests.node.test_node_operator_pod import IMAGE_REPOSITORY, VERSION, operator_image  # noqa: F401
from tests.support import controlplane

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]
MANIFEST_IMAGE = f"ghcr.io/ai-system/hardened-operator:{VERSION}"


@pytest.fixture(scope="module")
def manifests_installed(operator_image: Path) -> Iterator[NodeCluster]:  # noqa: F811
    directory = Path(tempfile.mkdtemp(prefix="hardened-manifests-"))
    started = plane_module.start(
        plane_module.Options(directory=directory, operator=False, tie_to_parent=True, node=True)
    )
    controlplane._install_cleanup(started.stop)
    cluster = NodeCluster(started)
    try:
        ctr = [
            str(node_assets.require_node_assets().path("ctr")), "--address",
            str(node.CONTAINERD_SOCKET), "-n", "k8s.io",
        ]  # fmt: skip
        for command in (
            ["images", "import", str(operator_image)],
            ["images", "tag", "--force", f"{IMAGE_REPOSITORY}:{VERSION}", MANIFEST_IMAGE],
        ):
            done = subprocess.run([*ctr, *command], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
        cluster.kubectl(
            "apply", "--server-side", "-f", "manifests/01-crd.yaml",
            "-f", "manifests/01-kopf-peering-crd.yaml",
            "-f", "manifests/01-kopf-namespaced-peering-crd.yaml", cwd=REPO,
        )  # fmt: skip
        cluster.kubectl("apply", "--server-side", "-k", "manifests/", cwd=REPO, timeout=120)
        api = cluster.api_client()

        def both_ready() -> bool:
            deployment = apps_api(api).read_namespaced_deployment(
                "hardened-operator", "hardened-system"
            )
            return bool((deployment.status.ready_replicas or 0) == 2)

        wait_for(both_ready, 240, "both replicas of the manifests' Deployment Ready")
        yield cluster
    finally:
        started.stop()
        if os.environ.get("HARDENED_KEEP_CONTROL_PLANE") != "1":
            shutil.rmtree(directory, ignore_errors=True)


def test_the_manifests_install_admits_and_reconciles_like_the_chart(
    manifests_installed: NodeCluster,
) -> None:
    api = manifests_installed.api_client()
    user_namespace(api, "apps")
    # manifests/ is the chart's default: the in-process policy refuses it, with our message.
    refusal = json.loads(refusal_of_root_pod(api, "apps"))["message"]
    assert 'hardened-operator policy "nonroot": Pod apps/root' in refusal, refusal

    create_hsvc(api, "apps", sample_service("web"))
    pod = running_pod(api, "apps", "web", timeout=240)
    assert manifests_installed.exec("apps", pod, "id -u").stdout.strip() == "1000"
