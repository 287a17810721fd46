"""Which admission requests carry a pod spec, and which subresources are worth a look."""

from __future__ import annotations

from typing import Final, NamedTuple

from hardened_operator.workloads import POD_BEARING


class Target(NamedTuple):
    """A resource we evaluate: its API group and the kind its objects must have."""

    group: str
    kind: str


# (API group, resource) -> the kind objects of that resource must be, from review's table of
# pod-bearing kinds. Keyed by group too: a CRD that happens to be called "deployments" in
# another group is not a Deployment.
TARGETS: Final[dict[tuple[str, str], Target]] = {
    (k.group, k.resource): Target(k.group, k.kind) for k in POD_BEARING
}
KIND_TO_RESOURCE: Final[dict[tuple[str, str], str]] = {
    (target.group, target.kind): resource for (_, resource), target in TARGETS.items()
}

# Pod subresources that cannot change what runs in the pod (PSA's list): allowed unseen.
# Every other pod subresource is evaluated as an update of the Pod it carries, like PSA:
# ``ephemeralcontainers`` (kubectl debug) adds containers, and an unknown, newer subresource
# might too, so a version-skewed webhook fails closed rather than open.
IGNORED_POD_SUBRESOURCES: Final = frozenset(
    {"status", "binding", "eviction", "exec", "attach", "log", "portforward", "proxy"}
)
# Workload subresources that cannot change the pod template. Any other workload subresource
# is evaluated if it carries the workload itself, and denied if it carries anything else.
IGNORED_WORKLOAD_SUBRESOURCES: Final = frozenset({"status", "scale"})


def group_of(api_version: str) -> str:
    """``apps/v1`` -> ``apps``; ``v1`` (the core group) -> ``""``."""
    return api_version.rpartition("/")[0]
