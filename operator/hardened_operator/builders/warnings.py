"""Spec choices that are legal but risky, as short warnings (pure: no I/O here).

The webhook returns them as admission warnings (kubectl prints them on ``apply``), and the
operator reports them in the ``SpecWarnings`` condition, so they are seen either way.
Each warning names the field to change. Never a value from the spec beyond names and sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hardened_operator.builders.availability import most_replicas, stateful
from hardened_operator.builders.pod import (
    PROBE_KINDS,
    probe,
    single_node_claims,
    single_node_volumes,
)
from hardened_operator.model import HardenedService, VolumeSpec
from hardened_operator.model.quantity import parse_quantity
from hardened_operator.model.validation import parse

LARGE_STORAGE_BYTES: Final = 50 * 1024**3
"""Storage left at the default sizes above which a HardenedService is warned (all four volumes
at their defaults ask for 71Gi: more than most services use, and it is easy not to notice)."""


def _default_size(volume: VolumeSpec) -> bool:
    # Sizes the API server filled in look like sizes the user wrote: compare with the default.
    default: object = type(volume).model_fields["size"].default
    return volume.size == default


def spec_warnings(hs: HardenedService) -> list[str]:
    """The warnings for a parsed HardenedService, in a fixed order (empty: nothing risky)."""
    spec = hs.spec
    out: list[str] = []
    single = single_node_claims(hs)
    if single and most_replicas(hs) > 1 and not stateful(hs):
        out.append(
            f"up to {most_replicas(hs)} replicas share the single-node (ReadWriteOnce) volumes "
            f"{', '.join(single)}: replicas on other nodes cannot mount them; give them "
            "accessModes [ReadWriteMany], disable them, or use workload: StatefulSet"
        )
    missing = [kind for kind in PROBE_KINDS if probe(hs, kind) is None]
    if missing:
        out.append(
            f"no {'/'.join(missing)} probe: no TCP port to check and no handler given, and no "
            "command is assumed to exist in the image; set spec.probes.<p>.exec/httpGet"
        )
    defaulted = [(name, v.size) for name, v in spec.volumes.enabled() if _default_size(v)]
    total = sum(parse_quantity(size) for _, size in defaulted)
    if total > LARGE_STORAGE_BYTES:
        sizes = ", ".join(f"{name} {size}" for name, size in defaulted)
        out.append(
            f"the default volume sizes request {float(total) / 1024**3:g}Gi of storage ({sizes}); "
            "disable the volumes the service does not use (volumes.<v>.enabled: false) or size them"
        )
    if spec.rollingUpdate is not None and stateful(hs):
        out.append("rollingUpdate is ignored: a StatefulSet replaces its pods one at a time")
    elif spec.rollingUpdate is not None and single_node_volumes(hs):
        out.append(
            "rollingUpdate is ignored: single-node volumes make the Deployment Recreate its pods"
        )
    autoscaling = spec.autoscaling
    if autoscaling is not None:
        requests = (spec.resources.requests or {}) if spec.resources else {}
        for resource, target in (
            ("cpu", autoscaling.targetCPUUtilizationPercentage),
            ("memory", autoscaling.targetMemoryUtilizationPercentage),
        ):
            if target is not None and resource not in requests:
                out.append(
                    f"autoscaling on {resource} needs resources.requests.{resource}: the "
                    "autoscaler measures utilisation against the request and cannot scale "
                    "without it"
                )
    return out


def warnings_for(obj: Mapping[str, Any]) -> list[str]:
    """``spec_warnings`` of a HardenedService mapping (raises ``SpecValidationError``)."""
    return spec_warnings(parse(obj))
