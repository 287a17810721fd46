"""Config rollouts, the pure half: which ConfigMaps/Secrets a spec reads, the hash of their
versions, the annotation on the pod templates, and which HardenedServices a change concerns.
(tests/node/test_node_config_rollout.py changes a ConfigMap and a Secret on the real node.)"""

from __future__ import annotations

from typing import Any

from hardened_operator.builders import build_objects
from hardened_operator.controller import config_rollout
from hardened_operator.controller.cache import Cache

SPEC: dict[str, Any] = {
    "image": "busybox:1.36",
    "env": [
        {"name": "A", "value": "1"},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "b"}}},
        {"name": "C", "valueFrom": {"secretKeyRef": {"name": "token", "key": "c"}}},
        {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ],
    "envFrom": [{"configMapRef": {"name": "shared"}}, {"secretRef": {"name": "db"}}],
}


def hsvc(name: str, namespace: str = "apps", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ai-system.io/v1alpha1",
        "kind": "HardenedService",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"image": "busybox:1.36", **spec},
    }


def config(kind: str, name: str, version: str, namespace: str = "apps") -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "uid": f"u-{name}",
                     "resourceVersion": version},
        "data": {"password": "hunter2"},
    }  # fmt: skip


def test_references_are_every_configmap_and_secret_of_env_and_env_from() -> None:
    assert config_rollout.references(SPEC) == {
        ("ConfigMap", "settings"),
        ("ConfigMap", "shared"),
        ("Secret", "token"),
        ("Secret", "db"),
    }
    assert config_rollout.references({"image": "x"}) == set()
    assert config_rollout.references({"env": "garbage", "envFrom": [None, 3]}) == set()


def test_the_hash_follows_versions_and_never_the_data() -> None:
    cache = Cache()
    cache.observe(config("Secret", "token", "10"))
    refs = {("Secret", "token"), ("ConfigMap", "settings")}
    first = config_rollout.config_hash("apps", refs, cache.get)
    assert first == config_rollout.config_hash("apps", refs, cache.get)  # deterministic
    # The cache keeps names and versions only: the Secret's value is not there to leak.
    assert "hunter2" not in repr(cache.get("Secret", "apps", "token"))
    cache.observe(config("Secret", "token", "11"))
    second = config_rollout.config_hash("apps", refs, cache.get)
    assert second != first
    cache.observe(config("ConfigMap", "settings", "12"))  # was absent: creating it is a change
    assert config_rollout.config_hash("apps", refs, cache.get) != second


def test_the_hash_lands_on_every_deployment_pod_template_only() -> None:
    desired = build_objects(hsvc("web", debug=True, ports=[{"containerPort": 80}]))
    annotated = config_rollout.annotate(desired, "abc")
    for before, after in zip(desired, annotated, strict=True):
        if before["kind"] == "Deployment":
            notes = after["spec"]["template"]["metadata"]["annotations"]
            assert notes[config_rollout.HASH_ANNOTATION] == "abc"
        else:
            assert after == before
    assert "annotations" not in desired[-1]["spec"]["template"]["metadata"], "input unchanged"
    assert config_rollout.annotate(desired, None) == desired


def test_a_change_concerns_only_the_hardenedservices_that_read_it() -> None:
    services = [
        hsvc("reads-it", envFrom=[{"configMapRef": {"name": "shared"}}]),
        hsvc("reads-other", envFrom=[{"configMapRef": {"name": "other"}}]),
        hsvc("elsewhere", namespace="other-ns", envFrom=[{"configMapRef": {"name": "shared"}}]),
        hsvc("secret-of-that-name", envFrom=[{"secretRef": {"name": "shared"}}]),
    ]
    assert config_rollout.users("apps", "ConfigMap", "shared", services) == ["reads-it"]
    assert config_rollout.users("apps", "Secret", "shared", services) == ["secret-of-that-name"]


def test_configmaps_and_secrets_are_never_indexed_as_owned() -> None:
    cache = Cache()
    labelled = config("ConfigMap", "web-settings", "5")
    labelled["metadata"]["labels"] = {"app.kubernetes.io/instance": "web"}
    cache.observe(labelled)
    assert cache.owned("apps", "web") == []
