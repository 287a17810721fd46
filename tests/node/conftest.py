"""The real node the runtime tests share: ``hardened dev up --node`` semantics, once a module.

One node per machine (dev/node.py), so the fixture is module-scoped: each test module that
uses it gets its own node (~15 s to start), and modules that start nodes themselves
(test_node_cleanup.py, test_node_docs.py) never find one already running.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd + runc, the kubelet,
the volume provisioner and the operator (``hardened run``, webhook registered), all tied to
pytest like the API-only plane (support/controlplane.py). When the node cannot start: skip
with the reason locally, fail in CI (``HARDENED_REQUIRE_CONTROL_PLANE=1`` or ``CI=true``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hardened_operator.dev import plane as plane_module
from hardened_operator.k8s import bootstrap
from tests.node.node_support import NodeCluster, user_namespace
from tests.support import controlplane


@pytest.fixture(scope="module")
def node_cluster() -> Iterator[NodeCluster]:
    reason = None
    if os.geteuid() != 0:
        reason = "the local node needs root (containerd, runc, the kubelet)"
    elif os.environ.get("KUBECONFIG"):
        reason = "KUBECONFIG is set: the node tests start their own cluster; unset it"
    if reason is not None:
        if controlplane.required():
            pytest.fail(f"{reason} (CI=true)", pytrace=False)
        pytest.skip(reason)
    directory = Path(tempfile.mkdtemp(prefix="hardened-node-"))
    try:
        started = plane_module.start(
            plane_module.Options(
                directory=directory,
                operator=True,
                admission="operator",
                tie_to_parent=True,
                node=True,
            )
        )
    except Exception as error:
        if os.environ.get("HARDENED_KEEP_CONTROL_PLANE") != "1":
            shutil.rmtree(directory, ignore_errors=True)
        message = f"the local node did not start: {error}"
        if controlplane.required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    controlplane._install_cleanup(started.stop)
    try:
        yield NodeCluster(started)
    finally:
        started.stop()
        if os.environ.get("HARDENED_KEEP_CONTROL_PLANE") != "1":
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def node_api(node_cluster: NodeCluster) -> Iterator[Any]:
    api = node_cluster.api_client()
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def node_namespace(node_api: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace the test creates like a user would: no ServiceAccount made by hand.

    The ServiceAccount controller gives it ``default``; the fixture waits for that, since the
    ServiceAccount admission plugin refuses pods until it exists.
    """
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:30].strip("-")
    name = f"n-{stem}-{uuid.uuid4().hex[:6]}"
    user_namespace(node_api, name)
    try:
        yield name
    finally:
        bootstrap.delete_namespace(node_api, name)
