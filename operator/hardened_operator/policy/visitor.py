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
    """One container and where it lives: ``path`` is relative to the pod spec."""

    container: JsonObject
    type: ContainerType
    position: int  # index in its list (not "index": that is a tuple method)
    path: str  # e.g. "initContainers[0]"
    name: str  # "" when unset, like Go's zero value

    def field(self, *parts: str) -> str:
        """Path of a field below this container, e.g. ``containers[1].securityContext.x``."""
        return ".".join((self.path, *parts))

    def security_context(self) -> JsonObject | None:
        return opt_mapping(self.container, "securityContext", self.path)


def visit_containers(pod_spec: Mapping[str, Any]) -> tuple[ContainerRef, ...]:
    """All containers of a pod spec, or :class:`MalformedFieldError` for a wrong shape."""
    refs: list[ContainerRef] = []
    for key, container_type in CONTAINER_LISTS:
        items = opt_list(pod_spec, key, "")
        if not items:
            continue
        for index, container in enumerate(items):
            path = f"{key}[{index}]"
            if not isinstance(container, Mapping):
                raise MalformedFieldError(path, "an object", container)
            name = opt_str(container, "name", path) or ""
            refs.append(ContainerRef(container, container_type, index, path, name))
    return tuple(refs)
