"""Hypothesis strategies for valid HardenedService objects, covering every spec field."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

DNS_LABEL = st.from_regex(r"\A[a-z]([a-z0-9-]{0,14}[a-z0-9])?\Z", fullmatch=True)
# metadata.name: any DNS-1035 label up to the 63-character limit (long names stress the
# <name>-debug and <name>-models derived names).
NAME = st.one_of(DNS_LABEL, st.from_regex(r"\A[a-z][a-z0-9-]{60}[a-z0-9]\Z", fullmatch=True))
LABEL_VALUE = st.from_regex(r"\A([A-Za-z0-9]([A-Za-z0-9_.-]{0,10}[A-Za-z0-9])?)?\Z", fullmatch=True)
SIZE = st.sampled_from(["1Gi", "10Gi", "500Mi", "2Ti", "100G"])
ID = st.integers(min_value=1, max_value=2147483647)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
ACCESS_MODES = st.one_of(
    st.lists(
        st.sampled_from(["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    st.just(["ReadWriteOncePod"]),  # only on its own (the API server's rule)
)


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts where each key is independently present or absent."""
    return st.fixed_dictionaries({}, optional=fields)


ENV_VAR = st.one_of(
    st.fixed_dictionaries({"name": DNS_LABEL.map(str.upper), "value": TEXT}),
    st.fixed_dictionaries(
        {
            "name": DNS_LABEL,
            "valueFrom": st.one_of(
                st.fixed_dictionaries(
                    {"fieldRef": st.fixed_dictionaries({"fieldPath": st.just("metadata.name")})}
                ),
                st.fixed_dictionaries(
                    {
                        "secretKeyRef": st.fixed_dictionaries(
                            {"name": DNS_LABEL, "key": DNS_LABEL},
                            optional={"optional": st.booleans()},
                        )
                    }
                ),
                st.fixed_dictionaries(
                    {
                        "configMapKeyRef": st.fixed_dictionaries(
                            {"name": DNS_LABEL, "key": DNS_LABEL}
                        )
                    }
                ),
                st.fixed_dictionaries(
                    {
                        "resourceFieldRef": st.fixed_dictionaries(
                            {"resource": st.just("limits.memory")},
                            optional={"divisor": st.sampled_from(["1Mi", 1])},
                        )
                    }
                ),
            ),
        }
    ),
)
ENV_FROM = st.one_of(
    st.fixed_dictionaries(
        {"configMapRef": st.fixed_dictionaries({"name": DNS_LABEL})},
        optional={"prefix": st.just("CFG_")},
    ),
    st.fixed_dictionaries(
        {
            "secretRef": st.fixed_dictionaries(
                {"name": DNS_LABEL}, optional={"optional": st.booleans()}
            )
        }
    ),
)


@st.composite
def ports(draw: st.DrawFn) -> list[dict[str, Any]]:
    numbers = draw(
        st.lists(st.integers(min_value=1, max_value=65535), min_size=1, max_size=4, unique=True)
    )
    named = len(numbers) > 1 or draw(st.booleans())
    result = []
    for index, number in enumerate(numbers):
        port: dict[str, Any] = {"containerPort": number}
        if named:
            port["name"] = f"p{index}-{draw(st.sampled_from(['http', 'grpc', 'metrics']))}"
        protocol = draw(st.sampled_from([None, "TCP", "UDP", "SCTP"]))
        if protocol is not None:
            port["protocol"] = protocol
        result.append(port)
    return result


PROBE_HANDLER: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"exec": st.fixed_dictionaries({"command": st.just(["true"])})}),
    st.fixed_dictionaries(
        {
            "httpGet": st.fixed_dictionaries(
                {"port": st.one_of(st.integers(1, 65535), st.just("http"))},
                optional={
                    "path": st.just("/healthz"),
                    "scheme": st.sampled_from(["HTTP", "HTTPS"]),
                },
            )
        }
    ),
    st.fixed_dictionaries({"tcpSocket": st.fixed_dictionaries({"port": st.integers(1, 65535)})}),
    st.fixed_dictionaries({"grpc": st.fixed_dictionaries({"port": st.integers(1, 65535)})}),
)
PROBE_TIMINGS = _optional(
    initialDelaySeconds=st.integers(0, 600),
    periodSeconds=st.integers(1, 600),
    timeoutSeconds=st.integers(1, 60),
    failureThreshold=st.integers(1, 100),
)


@st.composite
def probe(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    result = {**draw(PROBE_HANDLER), **draw(PROBE_TIMINGS)}
    if kind == "readiness" and draw(st.booleans()):
        result["successThreshold"] = draw(st.integers(1, 5))
    if kind != "readiness" and draw(st.booleans()):
        result["terminationGracePeriodSeconds"] = draw(st.integers(1, 120))
    return result


VOLUME = _optional(
    enabled=st.booleans(),
    size=SIZE,
    storageClassName=DNS_LABEL,
    accessModes=ACCESS_MODES,
)
# Ascending amounts per resource, mixing notations, so "request <= limit" is an index order.
_AMOUNTS: dict[str, list[int | str]] = {
    "cpu": ["100m", "500m", 1, "1500m", "2", 4],
    "memory": ["64Mi", "128M", "1Gi", "1.5Gi", 4294967296, "8Gi"],
    "ephemeral-storage": ["500Mi", "1Gi", "10G", "20Gi"],
}


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    """requests/limits the API server accepts: requests never above limits."""
    limits: dict[str, Any] = {}
    requests: dict[str, Any] = {}
    for name, amounts in _AMOUNTS.items():
        low, high = sorted(draw(st.lists(st.integers(0, len(amounts) - 1), min_size=2, max_size=2)))
        which = draw(st.sampled_from(["none", "requests", "limits", "both"]))
        if which in ("requests", "both"):
            requests[name] = amounts[low]
        if which in ("limits", "both"):
            limits[name] = amounts[high]
    if draw(st.booleans()):  # extended resources: whole numbers, requests == limits
        count = draw(st.integers(1, 4))
        limits["example.com/fpga"] = count
        if draw(st.booleans()):
            requests["example.com/fpga"] = str(count)
    result: dict[str, Any] = {}
    # bool(): with a dict on the left, mypy would type the draw as a dict strategy.
    if bool(limits) or draw(st.booleans()):
        result["limits"] = limits
    if bool(requests) or draw(st.booleans()):
        result["requests"] = requests
    return result


TOLERATION = st.one_of(
    st.fixed_dictionaries(
        {"key": DNS_LABEL, "operator": st.just("Equal"), "value": LABEL_VALUE},
        optional={"effect": st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"])},
    ),
    st.fixed_dictionaries(
        {"key": DNS_LABEL, "operator": st.just("Exists"), "effect": st.just("NoExecute")},
        optional={"tolerationSeconds": st.integers(0, 3600)},
    ),
)
NODE_AFFINITY = st.just(
    {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                    ]
                }
            ]
        }
    }
)
POD_AFFINITY_TERMS = st.just(
    {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 50,
                "podAffinityTerm": {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": {"tier": "cache"}},
                },
            }
        ]
    }
)
USER_LABEL_KEY_FOR_SELECTORS = st.one_of(DNS_LABEL, DNS_LABEL.map(lambda k: f"example.com/{k}"))
INT_OR_PERCENT = st.one_of(st.integers(1, 5), st.sampled_from(["1%", "25%", "100%"]))


@st.composite
def autoscaling(draw: st.DrawFn) -> dict[str, Any]:
    """min <= max, and at least one utilisation target (the model's rules)."""
    low, high = sorted(draw(st.lists(st.integers(1, 50), min_size=2, max_size=2)))
    result: dict[str, Any] = {"maxReplicas": high}
    if draw(st.booleans()):
        result["minReplicas"] = low
    targets = draw(
        st.sampled_from(
            [
                ("targetCPUUtilizationPercentage",),
                ("targetMemoryUtilizationPercentage",),
                ("targetCPUUtilizationPercentage", "targetMemoryUtilizationPercentage"),
            ]
        )
    )
    for target in targets:
        result[target] = draw(st.integers(1, 1000))
    return result


_SELECTOR = st.fixed_dictionaries(
    {
        "matchLabels": st.dictionaries(
            USER_LABEL_KEY_FOR_SELECTORS, LABEL_VALUE, min_size=1, max_size=2
        )
    }
)
NETWORK_PEER = st.one_of(
    st.fixed_dictionaries({"podSelector": _SELECTOR}),
    st.fixed_dictionaries({"namespaceSelector": _SELECTOR}, optional={"podSelector": _SELECTOR}),
)

ROLLING_UPDATE = _optional(
    maxSurge=st.one_of(st.just(0), INT_OR_PERCENT), maxUnavailable=INT_OR_PERCENT
)

USER_LABEL_KEY = st.one_of(DNS_LABEL, DNS_LABEL.map(lambda k: f"example.com/{k}"))


@st.composite
def hardened_services(draw: st.DrawFn) -> dict[str, Any]:
    """A valid HardenedService object exercising any combination of spec fields."""
    spec: dict[str, Any] = {
        "image": draw(st.sampled_from(["busybox:1.36", "ghcr.io/x/y@sha256:" + "a" * 64]))
    }
    optional = draw(
        _optional(
            replicas=st.integers(0, 20),
            command=st.lists(TEXT, max_size=3),
            args=st.lists(TEXT, max_size=3),
            env=st.lists(ENV_VAR, max_size=4),
            envFrom=st.lists(ENV_FROM, max_size=2),
            ports=ports(),
            securityContext=_optional(
                runAsUser=ID, runAsGroup=ID, fsGroup=ID, readOnlyRootFilesystem=st.booleans()
            ),
            volumes=_optional(logs=VOLUME, data=VOLUME, models=VOLUME, cache=VOLUME),
            volumeReclaimPolicy=st.sampled_from(["Retain", "Delete"]),
            gpu=_optional(
                count=st.integers(0, 8),
                resourceName=st.sampled_from(
                    ["nvidia.com/gpu", "amd.com/gpu", "gpu.intel.com/i915"]
                ),
                runtimeClassName=st.sampled_from(["nvidia", "kata-gpu"]),
                nodeSelector=st.dictionaries(
                    st.just("gpu.example.com/type"), LABEL_VALUE, max_size=1
                ),
            ),
            resources=resources(),
            probes=_optional(
                startup=probe("startup"), liveness=probe("liveness"), readiness=probe("readiness")
            ),
            serviceAccountName=DNS_LABEL,
            automountServiceAccountToken=st.booleans(),
            imagePullSecrets=st.lists(st.fixed_dictionaries({"name": DNS_LABEL}), max_size=2),
            nodeSelector=st.dictionaries(st.just("kubernetes.io/os"), st.just("linux"), max_size=1),
            tolerations=st.lists(TOLERATION, max_size=3),
            affinity=_optional(nodeAffinity=NODE_AFFINITY, podAffinity=POD_AFFINITY_TERMS),
            podLabels=st.dictionaries(USER_LABEL_KEY, LABEL_VALUE, max_size=3),
            podAnnotations=st.dictionaries(USER_LABEL_KEY, TEXT, max_size=3),
            terminationGracePeriodSeconds=st.integers(0, 3600),
            debug=st.booleans(),
            autoscaling=autoscaling(),
            disruptionBudget=_optional(enabled=st.booleans(), maxUnavailable=INT_OR_PERCENT),
            topologySpread=st.booleans(),
            workload=st.sampled_from(["Deployment", "StatefulSet"]),
            networkPolicy=_optional(allowFrom=st.lists(NETWORK_PEER, max_size=2)),
            rollingUpdate=ROLLING_UPDATE,
        )
    )
    spec.update(optional)
    metadata: dict[str, Any] = {"name": draw(NAME)}
    if draw(st.booleans()):
        metadata["namespace"] = draw(DNS_LABEL)
    return {
        "apiVersion": "ai-system.io/v1alpha1",
        "kind": "HardenedService",
        "metadata": metadata,
        "spec": spec,
    }
