"""The APIs a namespace's report can be written in, and everything that differs between them
(pure): one table, :data:`REPORT_APIS`, read by the builder (:func:`~.policyreport.
build_report`), the writer (``controller/reports.py``: the resource, the CRD it waits for) and
``hardened run --reports-api``. The chart's copy (``reports.api``: its schema's enum, the
group and resource its RBAC grants and the CRD file it installs, ``files/report-apis.yaml``)
is held equal to this table by ``tests/operator/test_operator_reports_chart.py``.

- ``wgpolicyk8s``: ``wgpolicyk8s.io/v1alpha2`` ``PolicyReport``, the Kubernetes policy working
  group's API (kubernetes-sigs/wg-policy-prototypes): what Kyverno < 1.15, Kubewarden and
  Policy Reporter read today. The default.
- ``openreports``: ``openreports.io/v1alpha1`` ``Report`` (openreports/reports-api), its
  successor, which Kyverno >= 1.15 writes with ``--openreportsEnabled`` and Policy Reporter
  reads. The same summary and result schema (same fields, same ``result`` and ``severity``
  values, ``policy`` the only required field of a result); the report itself may also name
  its ``source`` (a field ``wgpolicyk8s.io`` does not have: its API server would prune it).

Both keep ``scope`` unset: a report here lists many objects of a namespace, each named in its
result's ``resources``; ``scope`` names the one object a report is about (Kyverno's
per-resource reports). OpenReports' optional ``configuration`` is not written either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, get_args

ReportApiName = Literal["wgpolicyk8s", "openreports"]


@dataclass(frozen=True)
class ReportApi:
    """One report API: where its reports live and how they differ."""

    name: ReportApiName  # what --reports-api and the chart's reports.api say
    group: str
    version: str
    kind: str  # namespaced
    plural: str
    short_name: str  # kubectl get <short_name>
    # The report names its producer at top level (OpenReports' Report.source); every result
    # names it too, in both APIs.
    report_source: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"


REPORT_APIS: Final[Mapping[ReportApiName, ReportApi]] = MappingProxyType(
    {
        "wgpolicyk8s": ReportApi(
            name="wgpolicyk8s",
            group="wgpolicyk8s.io",
            version="v1alpha2",
            kind="PolicyReport",
            plural="policyreports",
            short_name="polr",
            report_source=False,
        ),
        "openreports": ReportApi(
            name="openreports",
            group="openreports.io",
            version="v1alpha1",
            kind="Report",
            plural="reports",
            short_name="reps",
            report_source=True,
        ),
    }
)
REPORT_API_NAMES: Final[tuple[ReportApiName, ...]] = get_args(ReportApiName)
DEFAULT_REPORT_API: Final[ReportApiName] = "wgpolicyk8s"


def report_api(name: str) -> ReportApi:
    """The API called ``name``; a name not in the table is refused, never defaulted."""
    for api in REPORT_APIS.values():
        if api.name == name:
            return api
    raise ValueError(f"unknown report API {name!r} (known: {', '.join(REPORT_API_NAMES)})")
