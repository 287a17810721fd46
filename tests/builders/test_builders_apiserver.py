"""Generated objects against kube-apiserver itself: server-side dry-run creates of everything
the builders make for generated specs. This goes beyond the published schemas (which
kubernetes-validate checks): the API server's own validation of Deployments, Services and
PVCs (selector vs labels, probe rules, tolerations, resources, names)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hardened_operator.builders import build_objects
from hardened_operator.k8s import bootstrap
from tests.builders.builders_strategies import hardened_services

pytestmark = pytest.mark.controlplane

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "hardenedservice"


@pytest.fixture(scope="module")
def dry_run_namespace(control_plane: Any) -> Iterator[tuple[Any, str]]:
    api = control_plane.api_client()
    name = f"t-builders-{uuid.uuid4().hex[:6]}"
    bootstrap.create_namespace(api, name)
    try:
        yield api, name
    finally:
        bootstrap.delete_namespace(api, name)
        api.close()


def dry_run_create(api: Any, namespace: str, obj: dict[str, Any]) -> None:
    obj = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
    kind = obj["kind"]
    # The type: ignores below: the client validates a plain dict into the model; its
    # annotations name only the model.
    try:
        if kind == "Deployment":
            client.AppsV1Api(api).create_namespaced_deployment(
                namespace,
                obj,  # type: ignore[arg-type]
                dry_run="All",
                field_validation="Strict",
            )
        elif kind == "Service":
            client.CoreV1Api(api).create_namespaced_service(
                namespace,
                obj,  # type: ignore[arg-type]
                dry_run="All",
                field_validation="Strict",
            )
        elif kind == "PersistentVolumeClaim":
            client.CoreV1Api(api).create_namespaced_persistent_volume_claim(
                namespace,
                obj,  # type: ignore[arg-type]
                dry_run="All",
                field_validation="Strict",
            )
        elif kind == "StatefulSet":
            client.AppsV1Api(api).create_namespaced_stateful_set(
                namespace,
                obj,  # type: ignore[arg-type]
                dry_run="All",
                field_validation="Strict",
            )
        elif kind == "NetworkPolicy":
            client.NetworkingV1Api(api).create_namespaced_network_policy(
                namespace,
                obj,  # type: ignore[arg-type]
                dry_run="All",
                field_validation="Strict",
            )
        elif kind == "HorizontalPodAutoscaler":
            client.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler(
                namespace,
                obj,  # type: ignore[arg-type]
                dry_run="All",
                field_validation="Strict",
            )
        elif kind == "PodDisruptionBudget":
            client.PolicyV1Api(api).create_namespaced_pod_disruption_budget(
                namespace,
                obj,  # type: ignore[arg-type]
                dry_run="All",
                field_validation="Strict",
            )
        else:  # pragma: no cover - the builders make nothing else
            pytest.fail(f"unexpected kind {kind}")
    except ApiException as error:
        message = json.loads(error.body or "{}").get("message", error.body)
        pytest.fail(f"{kind}/{obj['metadata']['name']} refused ({error.status}): {message}")


@pytest.mark.parametrize(
    "example",
    sorted(p for p in EXAMPLES.glob("*.yaml") if not p.name.startswith("invalid-")),
    ids=lambda p: p.stem,
)
def test_examples_render_to_objects_the_api_server_accepts(
    dry_run_namespace: tuple[Any, str], example: Path
) -> None:
    api, namespace = dry_run_namespace
    for doc in yaml.safe_load_all(example.read_text(encoding="utf-8")):
        for obj in build_objects(doc):
            dry_run_create(api, namespace, obj)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(obj=hardened_services())
def test_generated_specs_render_to_objects_the_api_server_accepts(
    dry_run_namespace: tuple[Any, str], obj: dict[str, Any]
) -> None:
    api, namespace = dry_run_namespace
    for item in build_objects(obj):
        dry_run_create(api, namespace, item)
