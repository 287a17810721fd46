"""Scaling and availability on the real node (issue 12, parts 1 and 2).

- ``/scale``: scaling the HardenedService through its scale subresource (what ``kubectl scale
  hsvc`` does) scales the Deployment; ``/scale`` reports the replicas and the pods' selector.
- The real HorizontalPodAutoscaler controller (kube-controller-manager's) scales a
  HardenedService through ``/scale``, up to ``minReplicas`` and down to ``maxReplicas``, and
  the operator does not fight it: the replicas the HPA wrote stay, and the Deployment follows.
  The bounds move it first (applied before any metric is read); then, with a stand-in for
  metrics-server (``fake_metrics``: the metrics.k8s.io API with usage the test chooses), the
  HPA scales the service up on measured memory use, through the same /scale; and down to
  ``minReplicas`` when the load drops, once the downscale stabilisation window (20 s on the
  dev node instead of 5 min: docs/dev.md) has seen two low samples, with no flap after.
- The PodDisruptionBudget made for 2 replicas stops a second eviction while the first pod is
  replaced (a ``kubectl drain`` evicts through the same Eviction API).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

import tests.node.fake_metrics as fake_metrics
from hardened_operator import API_GROUP, API_VERSION, PLURAL
from tests.node.node_support import (
    apps_api,
    condition,
    core_api,
    create_hsvc,
    pods_of,
    read_hsvc,
    sample_service,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.node

NO_VOLUMES = {v: {"enabled": False} for v in ("logs", "data", "models", "cache")}


def scaled_service(name: str, **spec: Any) -> dict[str, Any]:
    extra = {"volumes": NO_VOLUMES, "resources": {"requests": {"cpu": "10m"}}, **spec}
    return sample_service(name, extra=extra)


def deployment_replicas(api: Any, namespace: str, name: str) -> tuple[int, int]:
    """(spec.replicas, status.readyReplicas) of the workload Deployment; (-1, -1): none yet."""
    try:
        live = apps_api(api).read_namespaced_deployment(name, namespace)
    except ApiException as error:
        if error.status == 404:
            return -1, -1
        raise
    return int(live.spec.replicas or 0), int(live.status.ready_replicas or 0)


def wait_replicas(api: Any, namespace: str, name: str, count: int, timeout: float = 180) -> None:
    """Until the HardenedService asks for ``count`` and the Deployment has ``count`` ready."""

    def settled() -> bool | None:
        wanted = read_hsvc(api, namespace, name)["spec"].get("replicas")
        return (
            wanted == count and deployment_replicas(api, namespace, name) == (count, count)
        ) or None

    wait_for(settled, timeout, f"{namespace}/{name} at {count} ready replicas")


def test_scale_subresource_scales_the_deployment(node_api: Any, node_namespace: str) -> None:
    create_hsvc(
        node_api, node_namespace, scaled_service("scaled", disruptionBudget={"enabled": False})
    )
    wait_ready(node_api, node_namespace, "scaled")
    custom = client.CustomObjectsApi(node_api)
    custom.patch_namespaced_custom_object_scale(
        API_GROUP, API_VERSION, node_namespace, PLURAL, "scaled", {"spec": {"replicas": 2}}
    )
    wait_replicas(node_api, node_namespace, "scaled", 2)

    def reported() -> dict[str, Any] | None:
        scale = custom.get_namespaced_custom_object_scale(
            API_GROUP, API_VERSION, node_namespace, PLURAL, "scaled"
        )
        assert isinstance(scale, dict)
        return scale if (scale.get("status") or {}).get("replicas") == 2 else None

    scale = wait_for(reported, 60, "/scale reporting 2 replicas")
    selector = scale["status"]["selector"]
    selected = core_api(node_api).list_namespaced_pod(node_namespace, label_selector=selector)
    assert len([p for p in selected.items if p.metadata.deletion_timestamp is None]) == 2


def _replica_writers(hsvc: dict[str, Any]) -> set[str]:
    """Managers that own spec.replicas (server-side apply bookkeeping)."""
    return {
        entry.get("manager", "")
        for entry in hsvc["metadata"].get("managedFields") or []
        if "f:replicas" in str((entry.get("fieldsV1") or {}).get("f:spec", {}))
    }


def test_the_hpa_scales_the_hardenedservice_and_the_operator_does_not_fight(
    node_api: Any, node_namespace: str
) -> None:
    name = "autoscaled"
    autoscaling = {"minReplicas": 2, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}
    create_hsvc(node_api, node_namespace, scaled_service(name, replicas=1, autoscaling=autoscaling))
    hpa = _hpa_once_made(node_api, node_namespace, name)
    assert hpa.spec.scale_target_ref.kind == "HardenedService"

    # Below minReplicas: the HPA controller writes spec.replicas 2 through /scale.
    wait_replicas(node_api, node_namespace, name, 2, timeout=240)
    hsvc = read_hsvc(node_api, node_namespace, name)
    assert "kube-controller-manager" in _replica_writers(hsvc), hsvc["metadata"]["managedFields"]

    # No fight: for several HPA syncs (15 s each) and operator reconciles, nothing moves.
    generation = (
        apps_api(node_api).read_namespaced_deployment(name, node_namespace).metadata.generation
    )
    end = time.monotonic() + 40
    while time.monotonic() < end:
        assert read_hsvc(node_api, node_namespace, name)["spec"]["replicas"] == 2
        assert deployment_replicas(node_api, node_namespace, name)[0] == 2
        time.sleep(2)
    after = apps_api(node_api).read_namespaced_deployment(name, node_namespace).metadata.generation
    assert after == generation, "the Deployment was rewritten while nothing changed"

    # Above maxReplicas: lowering the bounds makes the HPA scale the service down to 1.
    client.CustomObjectsApi(node_api).patch_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        node_namespace,
        PLURAL,
        name,
        {"spec": {"autoscaling": {"minReplicas": 1, "maxReplicas": 1}}},
    )
    wait_replicas(node_api, node_namespace, name, 1, timeout=240)


def _hpa_once_made(api: Any, namespace: str, name: str) -> Any:
    hpas = client.AutoscalingV2Api(api)

    def made() -> Any:
        try:
            return hpas.read_namespaced_horizontal_pod_autoscaler(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    return wait_for(made, 60, f"the HPA {namespace}/{name}")


def _evict(api: Any, namespace: str, pod: str) -> int:
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": namespace},
    }
    try:
        core_api(api).create_namespaced_pod_eviction(pod, namespace, body)
    except ApiException as error:
        return int(error.status)
    return 201


def test_an_eviction_respects_the_disruption_budget(node_api: Any, node_namespace: str) -> None:
    name = "budgeted"
    create_hsvc(node_api, node_namespace, scaled_service(name, replicas=2))
    wait_replicas(node_api, node_namespace, name, 2)
    policy = client.PolicyV1Api(node_api)

    def allowed() -> int | None:
        try:
            pdb = policy.read_namespaced_pod_disruption_budget(name, node_namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return 1 if pdb.status and pdb.status.disruptions_allowed == 1 else None

    wait_for(allowed, 90, "the PDB allowing exactly one disruption")
    first, second = sorted(p.metadata.name for p in pods_of(node_api, node_namespace, name))[:2]
    assert _evict(node_api, node_namespace, first) == 201
    # The first pod is going and its replacement is not ready: the budget is spent.
    assert _evict(node_api, node_namespace, second) == 429
    # Once the replacement is ready, the budget allows one disruption again.
    wait_replicas(node_api, node_namespace, name, 2)
    wait_for(allowed, 90, "the PDB allowing a disruption again")
    assert _evict(node_api, node_namespace, second) == 201


def test_the_hpa_scales_on_measured_load_through_the_metrics_api(
    node_api: Any, node_namespace: str, tmp_path: Path
) -> None:
    # Memory, not CPU: the HPA discounts CPU samples of pods in their first 5 minutes.
    name = "loaded"
    autoscaling = {"minReplicas": 1, "maxReplicas": 3, "targetMemoryUtilizationPercentage": 50}
    spec = {"replicas": 1, "autoscaling": autoscaling,
            "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}}}  # fmt: skip
    with fake_metrics.served(node_api, tmp_path) as metrics:
        create_hsvc(node_api, node_namespace, scaled_service(name, **spec))
        wait_replicas(node_api, node_namespace, name, 1)
        metrics.usage = {"cpu": "5m", "memory": "16Mi"}  # 25% of the request: no reason to scale
        time.sleep(35)  # two HPA syncs with metrics below the target
        assert read_hsvc(node_api, node_namespace, name)["spec"]["replicas"] == 1
        assert metrics.requests > 0, "the HPA never asked the metrics API"

        metrics.usage = {"cpu": "5m", "memory": "128Mi"}  # 200%: four times the target
        wait_replicas(node_api, node_namespace, name, 3, timeout=240)  # capped at maxReplicas
        hsvc = read_hsvc(node_api, node_namespace, name)
        assert "kube-controller-manager" in _replica_writers(hsvc)
        end = time.monotonic() + 30  # and it stays there: no fight with the operator
        while time.monotonic() < end:
            assert deployment_replicas(node_api, node_namespace, name)[0] == 3
            time.sleep(2)


class History:
    """Every version of one HardenedService, as the API server's watch delivers it: what it
    asks for (``spec.replicas``) and its Ready condition. Polling would miss a change that
    lasts less than its interval; a watch sees each write."""

    def __init__(self, api: Any, namespace: str, name: str) -> None:
        self.api, self.namespace, self.name = api, namespace, name
        self.versions: list[tuple[float, int, str]] = []  # (monotonic, replicas, Ready)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def __enter__(self) -> History:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _follow(self) -> None:
        custom = client.CustomObjectsApi(self.api)
        version = None
        try:
            while not self._stop.is_set():
                # The kubernetes package's watch module has no annotations.
                stream = watch.Watch().stream  # type: ignore[no-untyped-call]
                for event in stream(  # type: ignore[no-untyped-call]
                    custom.list_namespaced_custom_object, API_GROUP, API_VERSION,
                    self.namespace, PLURAL, field_selector=f"metadata.name={self.name}",
                    resource_version=version, timeout_seconds=2,
                ):  # fmt: skip
                    hsvc = event["object"]
                    version = hsvc["metadata"]["resourceVersion"]
                    ready = condition(hsvc, "Ready")
                    self.versions.append(
                        (
                            time.monotonic(),
                            int(hsvc["spec"].get("replicas", -1)),
                            f"{ready.get('status')}/{ready.get('reason')}",
                        )
                    )
        except BaseException as error:  # the test reads it: a silent watcher proves nothing
            self.error = error

    def asked(self) -> list[int]:
        """The replicas asked for, each change once, in order."""
        changes: list[int] = []
        for _, replicas, _ in self.versions:
            if not changes or changes[-1] != replicas:
                changes.append(replicas)
        return changes

    def unready_since(self, start: float) -> list[tuple[float, str]]:
        """Each stretch after ``start`` in which Ready was not True: (seconds, state)."""
        stretches: list[tuple[float, str]] = []
        began: tuple[float, str] | None = None
        for at, _, ready in self.versions:
            if at < start:
                continue
            if not ready.startswith("True/") and began is None:
                began = (at, ready)
            elif ready.startswith("True/") and began is not None:
                stretches.append((at - began[0], began[1]))
                began = None
        if began is not None:
            stretches.append((time.monotonic() - began[0], began[1] + " (still)"))
        return stretches


def _rescales(api: Any, namespace: str, hpa: str) -> list[str]:
    """Every rescale the HPA controller made, from its ``SuccessfulRescale`` events (a repeated
    message is one event with a count, so a flap back and forth still counts twice)."""
    events = core_api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={hpa},reason=SuccessfulRescale"
    )
    return [
        str(event.message)
        for event in sorted(events.items, key=lambda e: e.first_timestamp or e.event_time)
        for _ in range(int(event.count or 1))
    ]


def test_the_hpa_scales_down_on_low_load_and_stays_down(
    node_api: Any, node_namespace: str, tmp_path: Path
) -> None:
    """Load high: up to maxReplicas; load low: down to minReplicas once the downscale
    stabilisation window has passed (20 s on the dev node, see docs/dev.md), the Deployment
    following through /scale and the HardenedService Ready on the way down; then nothing
    moves. A watch records every version of the HardenedService, so a flap is seen however
    brief."""
    name = "unloaded"
    autoscaling = {"minReplicas": 1, "maxReplicas": 3, "targetMemoryUtilizationPercentage": 50}
    spec = {"replicas": 1, "autoscaling": autoscaling,
            "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}}}  # fmt: skip
    with fake_metrics.served(node_api, tmp_path) as metrics:
        metrics.usage = {"cpu": "5m", "memory": "128Mi"}  # 200%: four times the target
        create_hsvc(node_api, node_namespace, scaled_service(name, **spec))
        with History(node_api, node_namespace, name) as history:
            wait_replicas(node_api, node_namespace, name, 3)
            wait_ready(node_api, node_namespace, name)

            metrics.usage = {"cpu": "5m", "memory": "2Mi"}  # 3%: one pod is plenty
            low = time.monotonic()
            wait_replicas(node_api, node_namespace, name, 1, timeout=90)
            hsvc = read_hsvc(node_api, node_namespace, name)
            assert "kube-controller-manager" in _replica_writers(hsvc)

            # And it stays there: through the next HPA sync (15 s) with the load still low,
            # nothing moves (the history below would show any write of spec.replicas).
            end = time.monotonic() + 20
            while time.monotonic() < end:
                assert deployment_replicas(node_api, node_namespace, name) == (1, 1)
                time.sleep(2)
            wait_ready(node_api, node_namespace, name, timeout=10)
        assert history.error is None, history.error
        assert history.asked() == [1, 3, 1], history.versions  # no flap, however short
        rescales = _rescales(node_api, node_namespace, name)
        assert [message.split(";")[0] for message in rescales] == [
            "New size: 3",
            "New size: 1",
        ], rescales
        # The stabilisation window (20 s on the dev node, more than one 15 s sync) holds the
        # scale-down until a second low sample: one dip alone does not shed pods.
        asked_one = min(at for at, replicas, _ in history.versions if at > low and replicas == 1)
        low_samples = [at for at in metrics.asked_at if low < at < asked_one]
        assert len(low_samples) >= 2, (low_samples, asked_one - low)
        # Ready stays True on the way down, but for the moment between the operator writing
        # the Deployment's replicas and the Deployment controller observing that write
        # (RolloutPending, controller/status.py): at most one such moment, well under 5 s.
        unready = history.unready_since(low)
        assert len(unready) <= 1 and all(
            seconds < 5 and state.startswith("False/RolloutPending") for seconds, state in unready
        ), (unready, history.versions)
