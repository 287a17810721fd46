"""Background reports (pure: no I/O here): cluster objects → report objects, in the report
API chosen (:mod:`.apis`: ``wgpolicyk8s.io`` PolicyReports or ``openreports.io`` Reports).

Rule of this layer: it decides *what* a namespace's report says -- which objects are
reported (:func:`~.findings.findings_for`: ``workloads.judged_as``, a finding shared with
the controlling owner is the owner's, as the audit judges a cluster and its manifests), one
result per failing object and check, exact summary counts, the size bound -- and never
talks to the API.
``controller/reports.py`` feeds it watch events and writes what it builds through ``k8s/``.
Like ``audit`` and ``migrate`` it sits above ``workloads`` (whose ``review_object`` makes
every decision) and may not import kubernetes, kopf or aiohttp.
"""

from __future__ import annotations

from hardened_operator.reports.apis import (
    DEFAULT_REPORT_API,
    REPORT_API_NAMES,
    REPORT_APIS,
    ReportApi,
    ReportApiName,
    report_api,
)
from hardened_operator.reports.findings import (
    INVALID_OBJECT,
    CheckFailure,
    Judged,
    ObjectFindings,
    findings_for,
    judge_object,
)
from hardened_operator.reports.policyreport import (
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
    "DEFAULT_REPORT_API",
    "INVALID_OBJECT",
    "MAX_REPORT_BYTES",
    "MAX_RESULTS",
    "OMITTED_ANNOTATION",
    "REPORT_APIS",
    "REPORT_API_NAMES",
    "REPORT_NAME",
    "SOURCE",
    "CheckFailure",
    "Judged",
    "ObjectFindings",
    "ReportApi",
    "ReportApiName",
    "build_report",
    "comparable",
    "findings_for",
    "judge_object",
    "report_api",
    "violation_counts",
]
