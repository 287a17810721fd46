"""Background reports (pure: no I/O here): cluster objects → PolicyReport objects.

Rule of this layer: it decides *what* a namespace's ``PolicyReport`` says -- which objects are
reported (:func:`~.findings.findings_for`: ``workloads.judged_as``, the top pod-bearing
owner, as the audit judges a cluster and its manifests), one result per failing object and
check, exact summary counts, the size bound -- and never talks to the API.
``controller/reports.py`` feeds it watch events and writes what it builds through ``k8s/``.
Like ``audit`` and ``migrate`` it sits above ``workloads`` (whose ``review_object`` makes
every decision) and may not import kubernetes, kopf or aiohttp.
"""

from __future__ import annotations

from hardened_operator.reports.findings import (
    INVALID_OBJECT,
    CheckFailure,
    ObjectFindings,
    findings_for,
    owner_watched,
)
from hardened_operator.reports.policyreport import (
    API_VERSION,
    KIND,
    MAX_REPORT_BYTES,
    MAX_RESULTS,
    OMITTED_ANNOTATION,
    REPORT_NAME,
    SOURCE,
    build_report,
    comparable,
    violation_counts,
)

__all__ = [
    "API_VERSION",
    "INVALID_OBJECT",
    "KIND",
    "MAX_REPORT_BYTES",
    "MAX_RESULTS",
    "OMITTED_ANNOTATION",
    "REPORT_NAME",
    "SOURCE",
    "CheckFailure",
    "ObjectFindings",
    "build_report",
    "comparable",
    "findings_for",
    "owner_watched",
    "violation_counts",
]
