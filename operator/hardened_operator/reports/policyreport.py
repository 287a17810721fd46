"""A namespace's findings → its report, in the API asked for (:mod:`.apis`: a
``wgpolicyk8s.io/v1alpha2`` ``PolicyReport`` or an ``openreports.io/v1alpha1`` ``Report``),
bounded (pure).

One report per namespace, named ``hardened-operator``, ``source: hardened-operator`` on every
result (and on the report, where the API has the field): one result per failing object and
check (``result: fail``; ``error`` for an object that cannot be judged), ``policy`` the
profile, ``rule`` the check id. What is said is the same in both APIs; only what
:data:`~.apis.REPORT_APIS` records differs.

Bounded in size: etcd refuses objects over ~1.5 MiB, and a namespace with 20,000 failing pods
would need ~10 MiB. The report lists at most :data:`MAX_RESULTS` results and at most
:data:`MAX_REPORT_BYTES` of them (a third of etcd's limit); the summary counts stay exact
(every failing object and check), and a last ``warn`` result, ``rule: results-omitted``, says
how many were left out (also in the :data:`OMITTED_ANNOTATION` annotation). Which results
are listed is deterministic (sorted by kind, name, check), so an unchanged namespace builds an
identical report and the controller writes nothing.

``pass`` is not counted: the report lists failures only (one ``pass`` per compliant object
and check would be most of the report, and most of etcd's writes).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Final

from hardened_operator import FIELD_MANAGER
from hardened_operator.policy import CHECKS, check_ids
from hardened_operator.policy.types import Profile
from hardened_operator.reports.apis import ReportApi
from hardened_operator.reports.findings import INVALID_OBJECT, CheckFailure, ObjectFindings

REPORT_NAME: Final = "hardened-operator"
SOURCE: Final = "hardened-operator"
CATEGORY: Final = "Pod Security"
MAX_RESULTS: Final = 1000
MAX_REPORT_BYTES: Final = 512 * 1024
OMITTED_RULE: Final = "results-omitted"
OMITTED_ANNOTATION: Final = "reports.ai-system.io/omitted-results"
PROFILE_ANNOTATION: Final = "reports.ai-system.io/profile"
MANAGED_BY: Final = {"app.kubernetes.io/managed-by": FIELD_MANAGER}
# Room kept for the report's own fields (metadata, summary, the omitted-results notice).
_ENVELOPE_BYTES: Final = 4096

# high: what runs as root or escapes the container (the nonroot profile's checks, PSA
# baseline's, ours); medium: the rest of PSA restricted (hardening: seccomp, volume types).
_HIGH_LEVELS: Final = frozenset({"baseline", "hardened"})
_NONROOT_CHECKS: Final = frozenset(check_ids("nonroot"))


def _severity(check: str) -> str | None:
    registered = CHECKS.get(check)
    if registered is None:  # the HardenedService checks (root identity, invalid spec); errors
        return None if check == INVALID_OBJECT else "high"
    high = check in _NONROOT_CHECKS or registered.level in _HIGH_LEVELS
    return "high" if high else "medium"


def _result(profile: Profile, found: ObjectFindings, failure: CheckFailure, ns: str) -> Any:
    properties = {"fields": failure.fields}
    if failure.fix:
        properties["fix"] = failure.fix
    result: dict[str, Any] = {
        "source": SOURCE,
        "policy": profile,
        "rule": failure.check,
        "category": CATEGORY,
        "result": failure.status,
        "scored": True,
        "message": failure.message,
        "properties": properties,
        "resources": [
            {
                "apiVersion": found.api_version,
                "kind": found.kind,
                "name": found.name,
                "namespace": ns,
                "uid": found.uid,
            }
        ],
    }
    severity = _severity(failure.check)
    if severity is not None:
        result["severity"] = severity
    return result


def violation_counts(objects: Iterable[ObjectFindings]) -> Counter[str]:
    """Failing objects per check (errors under ``invalid-object``): the gauge's values."""
    counts: Counter[str] = Counter()
    for found in objects:
        for failure in found.failures:
            counts[failure.check] += 1
    return counts


def build_report(
    namespace: str,
    objects: Iterable[ObjectFindings],
    profile: Profile,
    *,
    api: ReportApi,
    max_results: int = MAX_RESULTS,
    max_bytes: int = MAX_REPORT_BYTES,
) -> dict[str, Any] | None:
    """The namespace's report in ``api``, or None when nothing fails (the report is then
    deleted)."""
    ordered = sorted(objects, key=lambda f: (f.kind, f.name, f.uid))
    summary = {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}
    results: list[Any] = []
    budget = max_bytes - _ENVELOPE_BYTES
    omitted: Counter[str] = Counter()
    for found in ordered:
        for failure in found.failures:
            summary[failure.status] += 1
            if omitted or len(results) >= max_results:
                omitted[failure.status] += 1
                continue
            result = _result(profile, found, failure, namespace)
            # json.dumps' defaults (spaces, \u escapes) over-count any encoding the API
            # server or etcd uses: a bound on those; +2 for the list's separator.
            size = len(json.dumps(result)) + 2
            if size > budget:
                omitted[failure.status] += 1
                continue
            budget -= size
            results.append(result)
    if not summary["fail"] and not summary["error"]:
        return None
    annotations: dict[str, str] = {PROFILE_ANNOTATION: profile}
    if omitted:
        total = sum(omitted.values())
        annotations[OMITTED_ANNOTATION] = str(total)
        summary["warn"] += 1
        results.append(
            {
                "source": SOURCE,
                "policy": profile,
                "rule": OMITTED_RULE,
                "category": CATEGORY,
                "result": "warn",
                "scored": False,
                "message": (
                    f"{total} more results are not listed: this report lists the first "
                    f"{len(results)}, as many as fit in {max_results} results and "
                    f"{max_bytes // 1024} KiB (etcd refuses objects over ~1.5 MiB); the summary "
                    f"counts all of them. List them with: hardened audit --cluster -n {namespace}"
                ),
                "properties": {
                    "omittedFail": str(omitted["fail"]),
                    "omittedError": str(omitted["error"]),
                    "listed": str(len(results)),
                },
            }
        )
    report: dict[str, Any] = {
        "apiVersion": api.api_version,
        "kind": api.kind,
        "metadata": {
            "name": REPORT_NAME,
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
            "annotations": annotations,
        },
    }
    if api.report_source:
        report["source"] = SOURCE
    report["summary"] = summary
    report["results"] = results
    return report


def comparable(report: Mapping[str, Any] | None) -> Any:
    """What decides whether a write is needed: our labels and annotations, and every field
    of the body we write (the report's ``source``, absent in ``wgpolicyk8s.io``; summary;
    results).

    Built the same way from the report we would write and from the one the API server holds,
    so "unchanged" is decided without writing.
    """
    if report is None:
        return None
    meta = report.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    return {
        "labels": {k: labels.get(k) for k in MANAGED_BY},
        "annotations": {k: annotations.get(k) for k in (PROFILE_ANNOTATION, OMITTED_ANNOTATION)},
        "source": report.get("source"),
        "summary": report.get("summary"),
        "results": report.get("results"),
    }
