"""Small helpers shared by the check modules (pure: no I/O here)."""

from __future__ import annotations

from ..fields import JsonObject, opt_mapping
from ..visitor import ContainerRef


def container_sub(ref: ContainerRef, key: str) -> JsonObject | None:
    """``securityContext.<key>`` of a container (an object or None), validated."""
    sc = ref.sc
    if sc is None:
        return None
    return opt_mapping(sc, key, ref.sc_path)
