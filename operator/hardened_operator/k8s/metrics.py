"""Prometheus metrics of the API traffic (one registry for the whole operator process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

API_REQUESTS = Counter(
    "hardened_operator_api_requests_total",
    "Kubernetes API requests issued by the operator, by verb, resource and HTTP status code.",
    ["verb", "resource", "code"],
    registry=REGISTRY,
)
API_WRITES = Counter(
    "hardened_operator_api_writes_total",
    "Kubernetes API writes (create/apply/patch/delete) issued by the operator; "
    "an idle resync must not move it.",
    ["verb", "resource"],
    registry=REGISTRY,
)
API_RETRIES = Counter(
    "hardened_operator_api_retries_total",
    "Kubernetes API calls retried after a transient failure (5xx, 429, timeout, connection).",
    ["verb", "resource"],
    registry=REGISTRY,
)
RECONCILES = Counter(
    "hardened_operator_reconciles_total",
    "HardenedService reconciliations by result (unchanged, applied, failed).",
    ["result"],
    registry=REGISTRY,
)
DRIFT_CORRECTIONS = Counter(
    "hardened_operator_drift_corrections_total",
    "Owned objects put back after someone else changed fields the operator manages.",
    ["kind"],
    registry=REGISTRY,
)
RECONCILE_SECONDS = Histogram(
    "hardened_operator_reconcile_duration_seconds",
    "Time spent reconciling one HardenedService.",
    registry=REGISTRY,
)
API_REACHABLE = Gauge(
    "hardened_operator_api_reachable",
    "1 while the API server answers the operator's credentials (probed every few seconds), "
    "else 0. Not part of readiness: admission needs no API access.",
    registry=REGISTRY,
)
RECONCILER_READY = Gauge(
    "hardened_operator_reconciler_ready",
    "1 while the reconciler can work (kopf started and logged in, API reachable): "
    "what GET /operatorz says; else 0.",
    registry=REGISTRY,
)
RESYNCS = Counter(
    "hardened_operator_resyncs_total",
    "Completed periodic resyncs (every HardenedService re-compared against its owned objects).",
    registry=REGISTRY,
)
POLICY_VIOLATIONS = Gauge(
    "hardened_policy_violations",
    "Objects failing a check of the policy profile, by namespace and check, as the background "
    "reports see them (hardened run --reports); a namespace's series go when it is clean.",
    ["namespace", "check"],
    registry=REGISTRY,
)
