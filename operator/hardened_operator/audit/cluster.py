"""Audit objects read from a cluster, and say namespace by namespace what enforcement refuses.

Pure, like the rest of ``audit``: the objects arrive as plain dicts (``k8s.inventory`` reads
them; ``cli/_audit_cluster.py`` wires the two), each judged by the same :func:`audit_object`
as a file's objects (``workloads.judged_as``: a finding an object shares with its controlling
owner is the owner's when that owner was read -- the inventory reads owners first -- as in
files whose owner is in the input), so a cluster and its export to files give the same
findings. What each owner found is kept by uid, as signatures only (``workloads.JudgedOwners``):
memory follows the number of workloads, not their size. An object
read from the API has no file and no line: its ``file`` is its API path
(``apis/apps/v1/namespaces/shop/deployments/web``) and ``line`` is None.

Lists that could not be read become ``unread-objects`` error entries: the report is then
partial and exits 2, never "clean".

The mode of a namespace comes from its labels through the label conditions the webhook
registration routes by (``dev.manifests.mode_label_conditions``: passed in, not copied here)
and the exempt namespaces (``cli/_exemptions.py``, as ``hardened webhook`` computes them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hardened_operator.audit.documents import KubeObject
from hardened_operator.audit.report import INVALID, UNREAD, Entry, Report, audit_object
from hardened_operator.errors import PolicyError
from hardened_operator.policy.types import Profile
from hardened_operator.workloads import JudgedOwners

EXEMPT: Final = "exempt"  # never reviewed: exempt by name
DISABLED: Final = "disabled"  # no mode's condition matches: the webhook is not called
UNKNOWN: Final = "unknown"  # the namespace's labels could not be read
# When several conditions match (a hand-written registration), the API server calls every
# matching webhook and any denial refuses: the strictest mode decides.
_STRICTNESS: Final = ("enforce", "warn", "audit")

ModeConditions = Mapping[str, Mapping[str, Any]]  # mode -> a matchExpressions entry


def _no_line(_field: str) -> int | None:
    return None


def expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """One ``matchExpressions`` entry against a namespace's labels (Kubernetes' semantics:
    ``NotIn`` and ``DoesNotExist`` match a namespace without the label)."""
    key, operator = expression.get("key"), expression.get("operator")
    values = expression.get("values") or ()
    if operator == "In":
        return key in labels and labels[str(key)] in values
    if operator == "NotIn":
        return key not in labels or labels[str(key)] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise PolicyError(f"label selector operator {operator!r} is not In/NotIn/Exists/DoesNotExist")


def namespace_mode(
    name: str,
    labels: Mapping[str, str] | None,
    conditions: ModeConditions,
    exempt: frozenset[str],
) -> str:
    """``exempt``, the mode whose condition the labels match (strictest first), ``disabled``
    when none does, or ``unknown`` when the labels could not be read (``labels`` None)."""
    if name in exempt:
        return EXEMPT
    if labels is None:
        return UNKNOWN
    matched = {
        mode for mode, condition in conditions.items() if expression_matches(condition, labels)
    }
    for mode in _STRICTNESS:
        if mode in matched:
            return mode
    return next(iter(sorted(matched)), DISABLED)


@dataclass(frozen=True)
class NamespaceSummary:
    """One namespace: its mode, what was read there and what admission refuses of it."""

    name: str
    label: str | None  # the value of the enforce label, None when absent or unknown
    mode: str
    objects: int
    violating: int  # objects with at least one violation
    invalid: int  # objects the policy cannot judge (the webhook refuses them in every mode)
    unread: tuple[str, ...] = ()  # resources not read here: the counts are partial

    @property
    def reviewed(self) -> bool:
        return self.mode not in (EXEMPT, DISABLED)

    @property
    def refused_now(self) -> int | None:
        """Objects the webhook refuses on their next create or update, as labelled now
        (None: unknown, the labels could not be read)."""
        if self.mode == UNKNOWN:
            return None
        if not self.reviewed:
            return 0
        return (self.violating if self.mode == "enforce" else 0) + self.invalid

    @property
    def refused_if_enforced(self) -> int:
        """The same if the namespace were labelled ``enforce`` (exemptions still apply)."""
        return 0 if self.mode == EXEMPT else self.violating + self.invalid

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.name,
            "label": self.label,
            "mode": self.mode,
            "objects": self.objects,
            "violating": self.violating,
            "invalid": self.invalid,
            "refusedNow": self.refused_now,
            "refusedIfEnforced": self.refused_if_enforced,
            "partial": bool(self.unread),
            "unread": list(self.unread),
        }


@dataclass
class ClusterAudit:
    """A report being built from a cluster's objects, with what it needs per namespace."""

    profile: Profile
    report: Report = field(default_factory=Report)
    objects_by_namespace: Counter[str] = field(default_factory=Counter)
    unread_by_namespace: dict[str | None, list[str]] = field(default_factory=dict)
    not_served: list[str] = field(default_factory=list)
    owners: JudgedOwners = field(default_factory=JudgedOwners)

    def add_object(self, path: str, obj: Mapping[str, Any]) -> None:
        """Judge one object read from the API (``path``: its API path), after its owners
        (``inventory.read_pod_bearing`` reads owners first): what it shares with an owner read
        before it is that owner's. Every object read counts in its namespace's ``objects``,
        those whose findings are all their owner's too."""
        self.report.objects += 1
        metadata = obj.get("metadata")
        namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        self.objects_by_namespace[namespace if isinstance(namespace, str) else ""] += 1
        kube = KubeObject(file=path.lstrip("/"), line=None, obj=obj, locate=_no_line)
        self.report.entries.extend(audit_object(kube, self.profile, self.owners, self.owners))

    def add_unread(
        self, path: str, resource: str, kind: str, namespace: str | None, message: str
    ) -> None:
        """A list that could not be read: an error entry, and the namespace marked partial."""
        where = f"in namespace {namespace}" if namespace else "in any namespace"
        text = f"cannot list {resource} {where}: {message}; those objects were not audited"
        entry = Entry("error", path.lstrip("/"), None, UNREAD, text, kind=kind, namespace=namespace)
        self.report.entries.append(entry)
        self.unread_by_namespace.setdefault(namespace, []).append(resource)

    @property
    def partial(self) -> bool:
        return bool(self.unread_by_namespace)

    def unread_everywhere(self) -> list[str]:
        """Resources that could not be read in any namespace (cluster-wide)."""
        return list(self.unread_by_namespace.get(None, []))

    def summaries(
        self,
        labels: Mapping[str, Mapping[str, str]],
        conditions: ModeConditions,
        exempt: frozenset[str],
        label_key: str,
        namespaces: Iterable[str] = (),
    ) -> list[NamespaceSummary]:
        """One row per namespace that has objects, something unread, or is in ``namespaces``
        (the ones asked for), sorted by name. ``labels`` holds the namespaces whose labels
        were read; any other namespace's mode is ``unknown``."""
        violating: dict[str, set[tuple[Any, ...]]] = {}
        invalid: dict[str, set[tuple[Any, ...]]] = {}
        for entry in self.report.entries:
            key = (entry.kind, entry.name, entry.file)
            if entry.type == "violation":
                violating.setdefault(entry.namespace or "", set()).add(key)
            elif entry.check == INVALID:
                invalid.setdefault(entry.namespace or "", set()).add(key)
        names = set(self.objects_by_namespace) | set(namespaces)
        names |= {ns for ns in self.unread_by_namespace if ns is not None}
        rows = []
        for name in sorted(names):
            found = labels.get(name)
            label = found.get(label_key) if found is not None else None
            rows.append(
                NamespaceSummary(
                    name=name,
                    label=label,
                    mode=namespace_mode(name, found, conditions, exempt),
                    objects=self.objects_by_namespace.get(name, 0),
                    violating=len(violating.get(name, ())),
                    invalid=len(invalid.get(name, ())),
                    unread=tuple(self.unread_by_namespace.get(name, ())),
                )
            )
        return rows


def render_namespace_table(rows: list[NamespaceSummary], cluster_wide_unread: list[str]) -> str:
    """The per-namespace summary as a table, then what it adds up to."""
    header = ("NAMESPACE", "LABEL", "MODE", "OBJECTS", "VIOLATING", "REFUSED-NOW", "IF-ENFORCED")
    table = [
        (
            row.name,
            row.label if row.label is not None else ("?" if row.mode == UNKNOWN else "-"),
            row.mode,
            str(row.objects),
            str(row.violating + row.invalid),
            "?" if row.refused_now is None else str(row.refused_now),
            str(row.refused_if_enforced),
            f"PARTIAL: not read: {', '.join(row.unread)}" if row.unread else "",
        )
        for row in rows
    ]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    lines = []
    for cells in [header, *table]:
        padded = [cells[i].ljust(widths[i]) for i in range(len(header))]
        note = cells[len(header)] if len(cells) > len(header) else ""
        lines.append("  ".join([*padded, note]).rstrip())
    now = sum(row.refused_now or 0 for row in rows)
    enforced = sum(row.refused_if_enforced for row in rows)
    spread = sum(1 for row in rows if row.refused_now)
    lines.append("")
    lines.append(
        f"Admission refuses {now} object(s) in {spread} namespace(s) on their next create or "
        f"update as labelled now; {enforced} if every namespace that is not exempt enforced."
    )
    unknown = [row.name for row in rows if row.mode == UNKNOWN]
    if unknown:
        lines.append(
            f"PARTIAL: the labels (so the mode) of {', '.join(unknown)} could not be read."
        )
    partial = [row.name for row in rows if row.unread]
    if partial or cluster_wide_unread:
        where = ", ".join(partial) if partial else ""
        wide = ", ".join(cluster_wide_unread)
        parts = [f"in {where}" if where else "", f"cluster-wide: {wide}" if wide else ""]
        lines.append(
            "PARTIAL: some objects could not be listed ("
            + "; ".join(p for p in parts if p)
            + "); they were not audited and the counts above leave them out."
        )
    return "\n".join(lines) + "\n"
