"""Config rollouts on the real node (issue 12 part 3): changing a ConfigMap rolls exactly the
pods of the HardenedServices that read it, the new pods see the new value, and a Secret's
change rolls its reader without its value appearing in the annotation, the operator's Events
or its log. The dev plane runs the operator with ``--config-rollouts``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from hardened_operator.controller.config_rollout import HASH_ANNOTATION
from tests.node.node_support import (
    NodeCluster,
    apps_api,
    core_api,
    create_hsvc,
    pods_of,
    running_pod,
    sample_service,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.node

NO_VOLUMES = {v: {"enabled": False} for v in ("logs", "data", "models", "cache")}
SECRET_VALUE = "s3cr3t-value-9f2c"


def service(name: str, **spec: Any) -> dict[str, Any]:
    return sample_service(name, extra={"volumes": NO_VOLUMES, **spec})


def pod_uids(api: Any, namespace: str, name: str) -> set[str]:
    return {str(p.metadata.uid) for p in pods_of(api, namespace, name)}


def template_hash(api: Any, namespace: str, name: str) -> str | None:
    live = apps_api(api).read_namespaced_deployment(name, namespace)
    return (live.spec.template.metadata.annotations or {}).get(HASH_ANNOTATION)


def rolled(api: Any, namespace: str, name: str, before: set[str]) -> set[str] | None:
    """The new pods once every old one is gone and a new one is ready (else None)."""
    running_pod(api, namespace, name)
    now = pod_uids(api, namespace, name)
    return now if now and not now & before else None


def test_a_configmap_change_rolls_exactly_the_pods_that_read_it(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    core = core_api(node_api)
    body = {"metadata": {"name": "greeting"}, "data": {"GREETING": "hello"}}
    core.create_namespaced_config_map(node_namespace, body)
    create_hsvc(
        node_api,
        node_namespace,
        service("reader", envFrom=[{"configMapRef": {"name": "greeting"}}]),
    )
    create_hsvc(node_api, node_namespace, service("bystander"))
    wait_ready(node_api, node_namespace, "reader")
    wait_ready(node_api, node_namespace, "bystander")
    reader_pods = pod_uids(node_api, node_namespace, "reader")
    bystander_pods = pod_uids(node_api, node_namespace, "bystander")
    first_hash = template_hash(node_api, node_namespace, "reader")
    assert first_hash and template_hash(node_api, node_namespace, "bystander") is None

    core.patch_namespaced_config_map("greeting", node_namespace, {"data": {"GREETING": "bonjour"}})
    wait_for(lambda: rolled(node_api, node_namespace, "reader", reader_pods), 180, "reader rolled")
    assert template_hash(node_api, node_namespace, "reader") != first_hash
    pod = running_pod(node_api, node_namespace, "reader")
    seen = node_cluster.exec(node_namespace, pod, 'printf %s "$GREETING"')
    assert seen.stdout == "bonjour", seen.stderr
    # The other service's pods were not touched.
    assert pod_uids(node_api, node_namespace, "bystander") == bystander_pods


def test_a_secret_change_rolls_its_reader_and_its_value_shows_nowhere(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    core = core_api(node_api)
    core.create_namespaced_secret(
        node_namespace, {"metadata": {"name": "token"}, "stringData": {"TOKEN": "first"}}
    )
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "token", "key": "TOKEN"}}}]
    create_hsvc(node_api, node_namespace, service("secretive", env=env))
    wait_ready(node_api, node_namespace, "secretive")
    before = pod_uids(node_api, node_namespace, "secretive")

    core.patch_namespaced_secret("token", node_namespace, {"stringData": {"TOKEN": SECRET_VALUE}})
    wait_for(lambda: rolled(node_api, node_namespace, "secretive", before), 180, "rolled")
    pod = running_pod(node_api, node_namespace, "secretive")
    assert node_cluster.exec(node_namespace, pod, 'printf %s "$TOKEN"').stdout == SECRET_VALUE

    live = apps_api(node_api).read_namespaced_deployment("secretive", node_namespace)
    assert SECRET_VALUE not in str(live.spec.template.metadata.annotations)
    events = client.CoreV1Api(node_api).list_namespaced_event(node_namespace)
    assert all(SECRET_VALUE not in (e.message or "") for e in events.items)
    logs = [r.log for r in node_cluster.plane.records if r.name == "operator"]
    assert logs, "the dev plane runs the operator as a process with a log"
    assert all(SECRET_VALUE not in Path(log).read_text(errors="replace") for log in logs)
