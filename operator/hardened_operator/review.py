"""The old name of :mod:`hardened_operator.workloads`, kept for the modules that still import it.

``review`` read like Kubernetes' AdmissionReview; the module maps any object to its pod specs
and their violations, so it is ``workloads`` now. Import from there.
"""

from __future__ import annotations

from hardened_operator.workloads import (
    IDENTITY_CHECK,
    POD_BEARING,
    POD_BEARING_KINDS,
    SPEC_VALIDATION_CHECK,
    PodBearingKind,
    PodSpecRef,
    admission_resources,
    pod_specs,
    review_object,
)

__all__ = [
    "IDENTITY_CHECK",
    "POD_BEARING",
    "POD_BEARING_KINDS",
    "SPEC_VALIDATION_CHECK",
    "PodBearingKind",
    "PodSpecRef",
    "admission_resources",
    "pod_specs",
    "review_object",
]
