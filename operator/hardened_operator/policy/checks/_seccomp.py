"""Reading seccompProfile.type at pod and container level (shared by both seccomp checks)."""

from __future__ import annotations

from ..check import PodView
from ..fields import JsonObject, opt_mapping, opt_str

VALID_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def seccomp_type(sc: JsonObject | None, sc_path: str) -> str | None:
    """None if no seccompProfile is set; its type ("" when unset) otherwise."""
    if sc is None:
        return None
    profile = opt_mapping(sc, "seccompProfile", sc_path)
    if profile is None:
        return None
    return opt_str(profile, "type", f"{sc_path}.seccompProfile") or ""


def pod_seccomp_type(pod: PodView) -> str | None:
    return seccomp_type(pod.security_context, "securityContext")
