"""The only package that talks to the Kubernetes API.

Rule: every request the operator makes goes through :class:`~.client.KubeClient` (server-side
apply as field manager ``hardened-operator``, reads, status patches, Events), so that errors are
mapped to ``errors.ApiError`` subclasses in one place and every write is counted. Pure helpers
that decide *whether* to write (:mod:`.diff`) live here too, next to the calls they gate.
"""

from __future__ import annotations

from hardened_operator.k8s.client import (
    KubeClient,
    RetryPolicy,
    bearer_header,
    load_configuration,
    load_connection,
)
from hardened_operator.k8s.diff import drift, owner_uids

__all__ = [
    "KubeClient",
    "RetryPolicy",
    "bearer_header",
    "drift",
    "load_configuration",
    "load_connection",
    "owner_uids",
]
