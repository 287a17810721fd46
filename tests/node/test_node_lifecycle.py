"""What happens over a HardenedService's life on a real node: failures the pods report,
garbage collection and claim retention with real data, drift and admission with a kubelet."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.node.node_support import (
    MISSING_IMAGE,
    SAMPLE_ROOT,
    NodeCluster,
    apps_api,
    condition,
    core_api,
    create_hsvc,
    delete_hsvc,
    pods_of,
    read_hsvc,
    refusal_of_root_pod,
    running_pod,
    sample_service,
    wait_for,
)

pytestmark = pytest.mark.node


def _reason_shows(api: Any, namespace: str, name: str, reason: str) -> dict[str, Any] | None:
    hsvc = read_hsvc(api, namespace, name)
    ready = condition(hsvc, "Ready")
    return hsvc if ready.get("status") == "False" and ready.get("reason") == reason else None


def _events_for(api: Any, namespace: str, name: str) -> list[Any]:
    events = core_api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name},involvedObject.kind=HardenedService"
    )
    return list(events.items)


@pytest.mark.parametrize(
    ("name", "changes", "reason", "words"),
    [
        ("gpus", {"extra": {"gpu": {"count": 64}}}, "Unschedulable", "nvidia.com/gpu"),
        ("nopull", {"image": MISSING_IMAGE}, "ImagePullBackOff", "does-not-exist"),
        ("crashes", {"env": {"CRASH": "1"}}, "CrashLoopBackOff", "app"),
        (
            "nosecret",
            {
                "extra": {
                    "env": [
                        {
                            "name": "TOKEN",
                            "valueFrom": {"secretKeyRef": {"name": "missing", "key": "token"}},
                        }
                    ]
                }
            },
            "CreateContainerConfigError",
            'secret "missing" not found',
        ),
    ],
)
def test_what_the_pods_report_is_the_hardenedservice_reason(
    node_cluster: NodeCluster,
    node_api: Any,
    node_namespace: str,
    name: str,
    changes: dict[str, Any],
    reason: str,
    words: str,
) -> None:
    create_hsvc(node_api, node_namespace, sample_service(name, **changes))

    hsvc = wait_for(
        lambda: _reason_shows(node_api, node_namespace, name, reason), 150, f"Ready reason {reason}"
    )
    assert words in condition(hsvc, "Ready")["message"]
    wait_for(
        lambda: [e for e in _events_for(node_api, node_namespace, name) if e.reason == reason],
        30,
        f"an Event {reason} on the HardenedService",
    )
    table = node_cluster.kubectl("-n", node_namespace, "get", "hsvc", name).stdout
    assert reason in table  # at a glance, without -o wide


def test_the_kubelet_refuses_a_root_image_that_slipped_past_admission(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    # runAsNonRoot without runAsUser passes every admission profile (PSA restricted too):
    # only the kubelet, which sees the image's user, can stop a root image here.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root-image"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "app",
                    "image": SAMPLE_ROOT,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    core = core_api(node_api)
    core.create_namespaced_pod(node_namespace, pod)

    def refused() -> str | None:
        current = core.read_namespaced_pod("root-image", node_namespace)
        for status in current.status.container_statuses or []:
            waiting = status.state.waiting
            if waiting and waiting.reason == "CreateContainerConfigError":
                return str(waiting.message)
        return None

    message = wait_for(refused, 90, "CreateContainerConfigError")
    assert "runAsNonRoot and image will run as root" in message


def test_the_same_root_image_runs_as_1000_in_a_hardenedservice(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    # The operator always sets runAsUser, so an image without USER cannot choose root.
    create_hsvc(node_api, node_namespace, sample_service("rootimage", image=SAMPLE_ROOT))
    pod = running_pod(node_api, node_namespace, "rootimage")
    assert node_cluster.exec(node_namespace, pod, "id -u").stdout.strip() == "1000"


def _claims(api: Any, namespace: str) -> list[str]:
    items = core_api(api).list_namespaced_persistent_volume_claim(namespace).items
    return sorted(c.metadata.name for c in items if c.metadata.deletion_timestamp is None)


def _gone(api: Any, namespace: str, name: str) -> bool:
    apps, core = apps_api(api), core_api(api)
    selector = f"app.kubernetes.io/instance={name}"
    return (
        not apps.list_namespaced_deployment(namespace, label_selector=selector).items
        and not apps.list_namespaced_replica_set(namespace, label_selector=selector).items
        and not core.list_namespaced_pod(namespace, label_selector=selector).items
        and not core.list_namespaced_service(namespace, label_selector=selector).items
    )


def test_retained_claims_keep_their_data_across_delete_and_recreate(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    create_hsvc(node_api, node_namespace, sample_service("keeper"))
    pod = running_pod(node_api, node_namespace, "keeper")
    wrote = node_cluster.exec(node_namespace, pod, "echo precious > /app/data/kept.txt")
    assert wrote.returncode == 0, wrote.stderr
    claims = _claims(node_api, node_namespace)
    assert len(claims) == 4

    delete_hsvc(node_api, node_namespace, "keeper")
    # The garbage collector (kube-controller-manager) follows the ownerReferences.
    wait_for(lambda: _gone(node_api, node_namespace, "keeper"), 120, "owned objects deleted")
    assert _claims(node_api, node_namespace) == claims  # Retain: the claims stay

    create_hsvc(node_api, node_namespace, sample_service("keeper"))
    pod = running_pod(node_api, node_namespace, "keeper")
    read = node_cluster.exec(node_namespace, pod, "cat /app/data/kept.txt")
    assert read.stdout.strip() == "precious"


def test_delete_policy_claims_go_with_the_hardenedservice(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    create_hsvc(
        node_api,
        node_namespace,
        sample_service("temporary", extra={"volumeReclaimPolicy": "Delete"}),
    )
    running_pod(node_api, node_namespace, "temporary")
    assert len(_claims(node_api, node_namespace)) == 4

    delete_hsvc(node_api, node_namespace, "temporary")
    wait_for(lambda: _gone(node_api, node_namespace, "temporary"), 120, "owned objects deleted")
    wait_for(lambda: _claims(node_api, node_namespace) == [], 120, "the claims deleted")


def test_admission_and_drift_correction_hold_with_a_kubelet(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    apps = apps_api(node_api)
    assert "runAsUser" in refusal_of_root_pod(node_api, node_namespace)

    create_hsvc(node_api, node_namespace, sample_service("drifty"))
    first = running_pod(node_api, node_namespace, "drifty")
    # A hand edit that would run the next pods as another user, and without the seccomp
    # profile: the operator puts its template back, and the pods that run are 1000 again.
    apps.patch_namespaced_deployment(
        "drifty",
        node_namespace,
        {"spec": {"template": {"spec": {"securityContext": {"runAsUser": 4242}}}}},
    )

    def reverted() -> bool:
        deployment = apps.read_namespaced_deployment("drifty", node_namespace)
        return bool(deployment.spec.template.spec.security_context.run_as_user == 1000)

    wait_for(reverted, 30, "the operator to revert the hand edit")
    time.sleep(2)
    pod = running_pod(node_api, node_namespace, "drifty")
    assert node_cluster.exec(node_namespace, pod, "id -u").stdout.strip() == "1000"
    assert {p.metadata.name for p in pods_of(node_api, node_namespace, "drifty")} >= {pod}
    assert first  # the first pod was running before the edit
