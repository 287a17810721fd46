"""What one HardenedService becomes: names, hardening, volumes, GPUs, probes, Service, debug."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hardened_operator.builders import build_objects, pod_templates


def service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ai-system.io/v1alpha1",
        "kind": "HardenedService",
        "metadata": {"name": "svc", "namespace": "ai"},
        "spec": {"image": "busybox:1.36", **spec},
    }


def by_name(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def workload(obj: dict[str, Any]) -> dict[str, Any]:
    return by_name(build_objects(obj))["Deployment/svc"]


def container(obj: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = workload(obj)["spec"]["template"]["spec"]["containers"]
    [main] = containers
    return main


def test_minimal_service_objects_and_order() -> None:
    names = [f"{o['kind']}/{o['metadata']['name']}" for o in build_objects(service())]
    assert names == [
        "PersistentVolumeClaim/svc-logs",
        "PersistentVolumeClaim/svc-data",
        "PersistentVolumeClaim/svc-models",
        "PersistentVolumeClaim/svc-cache",
        "Deployment/svc",
    ]


def test_pod_hardening_is_always_set() -> None:
    pod = workload(service())["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["terminationGracePeriodSeconds"] == 30
    [main] = pod["containers"]
    assert main["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }


def test_identity_and_options_follow_the_spec() -> None:
    obj = service(
        securityContext={
            "runAsUser": 2000,
            "runAsGroup": 3000,
            "fsGroup": 4000,
            "readOnlyRootFilesystem": False,
        },
        automountServiceAccountToken=True,
        serviceAccountName="reader",
        terminationGracePeriodSeconds=5,
        imagePullSecrets=[{"name": "regcred"}],
    )
    deployment = workload(obj)
    pod = deployment["spec"]["template"]["spec"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
        2000,
        3000,
    )
    assert pod["securityContext"]["fsGroup"] == 4000
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is False
    assert pod["automountServiceAccountToken"] is True
    assert pod["serviceAccountName"] == "reader"
    assert pod["terminationGracePeriodSeconds"] == 5
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    # The security label states the real UID, on the object and on its pods.
    assert deployment["metadata"]["labels"]["ai-system.io/run-as-user"] == "2000"
    assert (
        deployment["spec"]["template"]["metadata"]["labels"]["ai-system.io/run-as-user"] == "2000"
    )


def test_volumes_pvcs_mounts_and_tmp() -> None:
    obj = service(
        volumes={
            "logs": {"enabled": False},
            "models": {
                "size": "200Gi",
                "storageClassName": "fast",
                "accessModes": ["ReadOnlyMany"],
            },
        }
    )
    objects = by_name(build_objects(obj))
    assert "PersistentVolumeClaim/svc-logs" not in objects
    models = objects["PersistentVolumeClaim/svc-models"]
    assert models["spec"] == {
        "accessModes": ["ReadOnlyMany"],
        "resources": {"requests": {"storage": "200Gi"}},
        "storageClassName": "fast",
    }
    assert models["metadata"]["labels"]["ai-system.io/volume"] == "models"
    assert models["metadata"]["labels"]["app.kubernetes.io/component"] == "storage"
    assert objects["PersistentVolumeClaim/svc-data"]["spec"]["resources"]["requests"] == {
        "storage": "10Gi"
    }
    assert "storageClassName" not in objects["PersistentVolumeClaim/svc-data"]["spec"]
    pod = objects["Deployment/svc"]["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "tmp", "emptyDir": {}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "svc-data"}},
        {"name": "models", "persistentVolumeClaim": {"claimName": "svc-models"}},
        {"name": "cache", "persistentVolumeClaim": {"claimName": "svc-cache"}},
    ]
    assert pod["containers"][0]["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "data", "mountPath": "/app/data"},
        {"name": "models", "mountPath": "/app/models"},
        {"name": "cache", "mountPath": "/app/cache"},
    ]


def test_all_volumes_disabled_still_has_a_writable_tmp() -> None:
    off = {"enabled": False}
    obj = service(volumes={"logs": off, "data": off, "models": off, "cache": off})
    objects = build_objects(obj)
    assert [o["kind"] for o in objects] == ["Deployment"]
    pod = objects[0]["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {}}]
    assert objects[0]["spec"]["strategy"] == {"type": "RollingUpdate"}


@pytest.mark.parametrize(
    ("modes", "strategy"),
    [
        (["ReadWriteOnce"], "Recreate"),
        (["ReadWriteOncePod"], "Recreate"),
        (["ReadWriteMany"], "RollingUpdate"),
        (["ReadOnlyMany"], "RollingUpdate"),
        (["ReadWriteOnce", "ReadWriteMany"], "RollingUpdate"),
    ],
)
def test_strategy_avoids_deadlocking_on_single_node_volumes(
    modes: list[str], strategy: str
) -> None:
    volume = {"accessModes": modes}
    obj = service(volumes={"logs": volume, "data": volume, "models": volume, "cache": volume})
    assert workload(obj)["spec"]["strategy"] == {"type": strategy}


def test_gpu_limits_requests_toleration_runtime_and_selector() -> None:
    obj = service(
        gpu={"count": 2, "runtimeClassName": "nvidia", "nodeSelector": {"gpu": "a100"}},
        nodeSelector={"zone": "eu-1"},
        resources={"limits": {"memory": "8Gi", "cpu": 2}, "requests": {"cpu": "500m"}},
        tolerations=[
            {"key": "dedicated", "operator": "Equal", "value": "ai", "effect": "NoSchedule"}
        ],
    )
    pod = workload(obj)["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == {
        "limits": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "2"},
        "requests": {"cpu": "500m", "nvidia.com/gpu": "2"},
    }
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "ai", "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    ]
    assert pod["runtimeClassName"] == "nvidia"
    assert pod["nodeSelector"] == {"gpu": "a100", "zone": "eu-1"}


def test_gpu_toleration_is_not_duplicated_and_custom_resource_names_work() -> None:
    wanted = {"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    obj = service(gpu={"count": 1, "resourceName": "amd.com/gpu"}, tolerations=[wanted])
    pod = workload(obj)["spec"]["template"]["spec"]
    assert pod["tolerations"] == [wanted]
    assert pod["containers"][0]["resources"]["limits"] == {"amd.com/gpu": "1"}


def test_no_gpu_means_no_gpu_resources_or_toleration() -> None:
    pod = workload(service())["spec"]["template"]["spec"]
    assert "resources" not in pod["containers"][0]
    assert "tolerations" not in pod and "runtimeClassName" not in pod and "nodeSelector" not in pod


def test_without_a_tcp_port_no_probe_is_invented() -> None:
    # An exec default (python -c ...) fails in every image without that command: none at all.
    main = container(service())
    assert not {"startupProbe", "livenessProbe", "readinessProbe"} & set(main)


def test_a_probe_with_only_timings_and_no_tcp_port_is_left_out() -> None:
    obj = service(
        probes={"liveness": {"failureThreshold": 10}, "readiness": {"exec": {"command": ["true"]}}}
    )
    main = container(obj)
    assert "livenessProbe" not in main
    assert main["readinessProbe"]["exec"] == {"command": ["true"]}


def test_default_probes_check_the_first_tcp_port() -> None:
    obj = service(
        ports=[
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
            {"name": "http", "containerPort": 8080},
        ]
    )
    main = container(obj)
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert main[kind]["tcpSocket"] == {"port": 8080}
        assert "exec" not in main[kind]


def test_only_udp_ports_get_no_default_probe() -> None:
    main = container(service(ports=[{"containerPort": 53, "protocol": "UDP"}]))
    assert "livenessProbe" not in main


def test_user_probe_fields_override_defaults_one_by_one() -> None:
    obj = service(
        ports=[{"name": "http", "containerPort": 8080}],
        probes={
            "readiness": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5},
            "liveness": {"failureThreshold": 10},
        },
    )
    main = container(obj)
    assert main["readinessProbe"] == {
        "httpGet": {"port": "http", "path": "/ready"},
        "periodSeconds": 5,
        "timeoutSeconds": 10,
        "failureThreshold": 3,
    }
    assert main["livenessProbe"] == {
        "tcpSocket": {"port": 8080},
        "periodSeconds": 30,
        "timeoutSeconds": 10,
        "failureThreshold": 10,
    }


def test_service_mirrors_the_ports_and_selects_only_the_workload() -> None:
    obj = service(
        ports=[
            {"name": "http", "containerPort": 8080},
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
        ],
        debug=True,
    )
    objects = by_name(build_objects(obj))
    svc = objects["Service/svc"]
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080},
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
    ]
    selector = svc["spec"]["selector"]
    assert (
        selector.items()
        <= objects["Deployment/svc"]["spec"]["template"]["metadata"]["labels"].items()
    )
    debug_labels = objects["Deployment/svc-debug"]["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= debug_labels.items(), "the debug pod must not receive traffic"


def test_no_ports_no_service() -> None:
    assert all(o["kind"] != "Service" for o in build_objects(service()))


def test_debug_deployment_is_a_non_root_sleeping_shell_with_the_volumes() -> None:
    obj = service(
        replicas=3,
        ports=[{"containerPort": 8080}],
        gpu={"count": 1},
        env=[{"name": "A", "value": "1"}],
        command=["server"],
        debug=True,
    )
    objects = by_name(build_objects(obj))
    debug = objects["Deployment/svc-debug"]
    main_pod = objects["Deployment/svc"]["spec"]["template"]["spec"]
    pod = debug["spec"]["template"]["spec"]
    assert debug["spec"]["replicas"] == 1
    assert debug["metadata"]["labels"]["app.kubernetes.io/component"] == "debug"
    assert debug["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "debug"
    assert pod["securityContext"] == main_pod["securityContext"]
    assert pod["volumes"] == main_pod["volumes"]
    [shell] = pod["containers"]
    assert shell["name"] == "debug"
    assert shell["command"][0] == "sh" and "sleep" in shell["command"][-1]
    assert shell["securityContext"] == main_pod["containers"][0]["securityContext"]
    assert shell["volumeMounts"] == main_pod["containers"][0]["volumeMounts"]
    assert shell["env"] == [{"name": "A", "value": "1"}]
    assert "ports" not in shell and "livenessProbe" not in shell
    assert "resources" not in shell, "the debug shell must not hold a GPU"
    preferred = pod["affinity"]["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert (
        preferred[0]["podAffinityTerm"]["labelSelector"]["matchLabels"][
            "app.kubernetes.io/component"
        ]
        == "workload"
    )


def test_debug_keeps_a_user_pod_affinity_as_is() -> None:
    affinity: dict[str, Any] = {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}
    }
    objects = by_name(build_objects(service(affinity=affinity, debug=True)))
    assert objects["Deployment/svc-debug"]["spec"]["template"]["spec"]["affinity"] == affinity
    assert objects["Deployment/svc"]["spec"]["template"]["spec"]["affinity"] == affinity


def test_pod_labels_annotations_and_selector_stability() -> None:
    plain = workload(service())
    labelled = workload(
        service(
            podLabels={"team": "search"},
            podAnnotations={"prometheus.io/scrape": "true"},
            securityContext={"runAsUser": 4242},
            replicas=7,
            image="other:2",
        )
    )
    # The selector is immutable in a Deployment: no spec field may change it.
    assert labelled["spec"]["selector"] == plain["spec"]["selector"]
    template = labelled["spec"]["template"]["metadata"]
    assert template["labels"]["team"] == "search"
    assert template["annotations"] == {"prometheus.io/scrape": "true"}


def test_env_and_env_from_pass_through() -> None:
    env = [
        {"name": "A", "value": "1"},
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {
            "name": "C",
            "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": 1}},
        },
    ]
    env_from = [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}]
    main = container(service(env=env, envFrom=env_from, args=["--x"]))
    assert main["env"][:2] == env[:2]
    assert main["env"][2]["valueFrom"]["resourceFieldRef"]["divisor"] == "1"
    assert main["envFrom"] == [{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}]
    assert main["args"] == ["--x"] and "command" not in main


def test_namespace_is_copied_only_when_present() -> None:
    obj = service()
    del obj["metadata"]["namespace"]
    assert all("namespace" not in o["metadata"] for o in build_objects(obj))
    assert all(o["metadata"]["namespace"] == "ai" for o in build_objects(service()))


def test_output_does_not_depend_on_input_key_order() -> None:
    spec = {
        "image": "x",
        "ports": [{"containerPort": 80, "name": "http"}],
        "debug": True,
        "podLabels": {"b": "2", "a": "1"},
        "gpu": {"count": 1},
    }
    reordered = dict(reversed(list(spec.items())))
    reordered["podLabels"] = {"a": "1", "b": "2"}
    first = build_objects(service(**spec))
    second = build_objects(service(**reordered))
    assert first == second
    assert json.dumps(first) == json.dumps(second), "same key order too"


def test_pod_templates_labels_and_content() -> None:
    templates = pod_templates(service(debug=True))
    assert [label for label, _ in templates] == ["Deployment/svc", "Deployment/svc-debug"]
    objects = by_name(build_objects(service(debug=True)))
    assert templates[0][1] == objects["Deployment/svc"]["spec"]["template"]
    assert templates[1][1] == objects["Deployment/svc-debug"]["spec"]["template"]


def test_mapping_views_are_accepted_and_output_is_plain_data() -> None:
    from types import MappingProxyType as View

    affinity = View({"nodeAffinity": View({"x": (View({"a": 1}),)})})
    obj = View(
        {
            "apiVersion": "ai-system.io/v1alpha1",
            "kind": "HardenedService",
            "metadata": View({"name": "svc"}),
            "spec": View(
                {"image": "x", "ports": (View({"containerPort": 80}),), "affinity": affinity}
            ),
        }
    )
    objects = build_objects(obj)
    pod = by_name(objects)["Deployment/svc"]["spec"]["template"]["spec"]
    assert pod["affinity"] == {"nodeAffinity": {"x": [{"a": 1}]}}
    assert type(pod["affinity"]["nodeAffinity"]) is dict
    json.dumps(objects)  # plain JSON types all the way down
