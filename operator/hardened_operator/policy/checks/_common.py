"""Small helpers shared by the check modules (pure: no I/O here)."""

from __future__ import annotations

from ..fields import JsonObject, opt_mapping
from ..visitor import ContainerRef

_LABELS = {
    "container": "container",
    "initContainer": "init container",
    "ephemeralContainer": "ephemeral container",
}


def who(ref: ContainerRef) -> str:
    """``init container "setup"`` — the container as a human reads it."""
    return f'{_LABELS[ref.type]} "{ref.name}"'


def container_sub(ref: ContainerRef, key: str) -> JsonObject | None:
    """``securityContext.<key>`` of a container (an object or None), validated."""
    sc = ref.sc
    if sc is None:
        return None
    return opt_mapping(sc, key, ref.sc_path)
