"""The one container visitor every check uses (pure: no I/O here).

Order follows PSA's ``visitContainers``: initContainers, containers, ephemeralContainers, so
names in reasons appear in the same order as in PSA's messages. Ephemeral containers (what
``kubectl debug`` adds) are visited like the others: skipping them is a known hole of other
policy engines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ..errors import MalformedFieldError
from .fields import JsonObject, opt_list, opt_mapping, opt_str
from .types import ContainerType

# (key in the pod spec, container type) in PSA's visiting order.
CONTAINER_LISTS: tuple[tuple[str, ContainerType], ...] = (
    ("initContainers", "initContainer"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeralContainer"),
)


class ContainerRef(NamedTuple):
    """One container and where it lives: ``path`` is relative to the pod spec.

    ``sc`` is the container's securityContext, read and type-checked once by the visitor,
    because almost every check needs it; ``sc_path`` is its path.
    """

    container: JsonObject
    type: ContainerType
    position: int  # index in its list (not "index": that is a tuple method)
    path: str  # e.g. "initContainers[0]"
    name: str  # "" when unset, like Go's zero value
    sc: JsonObject | None
    sc_path: str  # e.g. "initContainers[0].securityContext"

    def field(self, *parts: str) -> str:
        """Path of a field below this container, e.g. ``containers[1].securityContext.x``."""
        return ".".join((self.path, *parts))


def visit_containers(pod_spec: Mapping[str, Any]) -> tuple[ContainerRef, ...]:
    """All containers of a pod spec, or :class:`MalformedFieldError` for a wrong shape
    (including a container's securityContext that is not an object)."""
    refs: list[ContainerRef] = []
    for key, container_type in CONTAINER_LISTS:
        items = opt_list(pod_spec, key, "")
        if not items:
            continue
        for index, container in enumerate(items):
            path = f"{key}[{index}]"
            if type(container) is not dict and not isinstance(container, Mapping):
                raise MalformedFieldError(path, "an object", container)
            name = opt_str(container, "name", path) or ""
            sc = opt_mapping(container, "securityContext", path)
            refs.append(
                ContainerRef(
                    container, container_type, index, path, name, sc, f"{path}.securityContext"
                )
            )
    return tuple(refs)
