"""Audit objects with the policy and collect what to report (pure apart from reading sources).

An :class:`Entry` is one line of the report: a policy violation, or an input we could not use
(unreadable file, object of the wrong shape). Inputs we cannot judge are never passed silently:
they make the exit code 2, so a CI job cannot go green on a file the audit did not understand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hardened_operator.audit.documents import KubeObject, Note, parse_source
from hardened_operator.audit.sources import Source
from hardened_operator.errors import InputError, ManifestParseError
from hardened_operator.policy.types import Profile, Violation
from hardened_operator.workloads import (
    MAKERS,
    POD_BEARING_KINDS,
    JudgedOwners,
    OwnerLookup,
    judge,
)

# "deployment" or "POD" is no kind the API server knows, but it is plainly meant as one that
# carries pods: judging it "not pod-bearing" would pass a root pod silently.
_KINDS_BY_LOWER = {kind.lower(): kind for kind in POD_BEARING_KINDS}

EXIT_CLEAN = 0
EXIT_VIOLATIONS = 1
EXIT_UNREADABLE = 2

UNREADABLE = "unreadable-input"
INVALID = "invalid-object"
UNREAD = "unread-objects"
ERROR_CHECKS = {
    UNREADABLE: "The input could not be read or parsed as YAML/JSON.",
    INVALID: "The object has a field of the wrong shape; it cannot be judged, so it fails.",
    UNREAD: "Objects in the cluster could not be listed (RBAC, API error): the result is partial.",
}

EntryType = Literal["violation", "error"]


@dataclass(frozen=True)
class Entry:
    """One reported problem, located as precisely as we can."""

    type: EntryType
    file: str
    line: int | None
    check: str
    message: str
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    container: str | None = None
    container_type: str | None = None
    field: str | None = None
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "file": self.file,
            "line": self.line,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "container": self.container,
            "containerType": self.container_type,
            "check": self.check,
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass
class Report:
    """Everything one audit run found; ``exit_code`` is what the CLI returns."""

    entries: list[Entry] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    files: int = 0
    objects: int = 0
    origin: str | None = None  # where the objects came from when not files ("cluster URL")

    @property
    def violations(self) -> list[Entry]:
        return [e for e in self.entries if e.type == "violation"]

    @property
    def errors(self) -> list[Entry]:
        return [e for e in self.entries if e.type == "error"]

    @property
    def exit_code(self) -> int:
        if self.errors:
            return EXIT_UNREADABLE
        if self.violations:
            return EXIT_VIOLATIONS
        return EXIT_CLEAN


def _metadata(obj: KubeObject) -> tuple[str | None, str | None]:
    meta = obj.obj.get("metadata")
    if not isinstance(meta, Mapping):
        return None, None
    namespace = meta.get("namespace")
    name = meta.get("name") or meta.get("generateName")
    return (
        namespace if isinstance(namespace, str) else None,
        name if isinstance(name, str) else None,
    )


def error_entry(exc: ManifestParseError) -> Entry:
    message = str(exc)
    where = exc.file or "<input>"
    if exc.line is not None:
        where = f"{where}:{exc.line}"
    prefix = f"{where}: "
    if message.startswith(prefix):  # ManifestParseError already says where; don't repeat it
        message = message[len(prefix) :]
    return Entry("error", exc.file or "<input>", exc.line, UNREADABLE, message)


def violation_entry(obj: KubeObject, violation: Violation) -> Entry:
    return Entry(
        "violation",
        obj.file,
        obj.locate(violation.field),
        violation.check,
        violation.message,
        kind=violation.kind,
        namespace=violation.namespace,
        name=violation.name,
        container=violation.container,
        container_type=violation.container_type,
        field=violation.field,
        fix=violation.fix,
    )


def _no_owner(_ref: object) -> None:
    return None


def audit_object(
    obj: KubeObject,
    profile: Profile,
    owners: OwnerLookup = _no_owner,
    remember: JudgedOwners | None = None,
) -> list[Entry]:
    """The entries for one object: its violations less those its judged owner has too
    (``workloads.judged_as``; ``owners`` says what each owner found: none known, judged
    whole), or one error if it has the wrong shape. ``remember``: where to keep what it
    found, for the objects it owns."""
    kind = obj.obj.get("kind")
    meant = _KINDS_BY_LOWER.get(kind.lower()) if isinstance(kind, str) else None
    if meant is not None and meant != kind:
        namespace, name = _metadata(obj)
        message = f"kind {kind!r} is not a Kubernetes kind (kinds are case-sensitive): {meant}?"
        return [Entry("error", obj.file, obj.line, INVALID, message, kind, namespace, name)]
    try:
        judgement = judge(obj.obj, owners, profile)
    except InputError as exc:
        namespace, name = _metadata(obj)
        bad_field = getattr(exc, "field", None)
        line = obj.locate(bad_field) if isinstance(bad_field, str) else obj.line
        return [
            Entry(
                "error",
                obj.file,
                line,
                INVALID,
                str(exc),
                kind=str(obj.obj.get("kind")),
                namespace=namespace,
                name=name,
                field=bad_field if isinstance(bad_field, str) else None,
            )
        ]
    if remember is not None:
        remember.remember(obj.obj, judgement.found)
    return [violation_entry(obj, v) for v in judgement.reported]


def judged_owners(
    items: Iterable[KubeObject | Note | ManifestParseError], profile: Profile
) -> JudgedOwners:
    """What every owner among ``items`` found, by uid (``kubectl get -o yaml`` keeps uids and
    ``ownerReferences``; hand-written manifests have neither, and every object is judged
    whole). Two objects claiming one uid vouch only for what both found; one that cannot be
    judged vouches for nothing."""
    owners = JudgedOwners()
    for item in items:
        if isinstance(item, KubeObject) and item.obj.get("kind") in MAKERS:
            try:
                found = judge(item.obj, _no_owner, profile).found
            except InputError:
                continue
            owners.remember(item.obj, found, merge=True)
    return owners


def audit_items(
    items: Iterable[KubeObject | Note | ManifestParseError],
    profile: Profile,
    report: Report,
    owners: OwnerLookup = _no_owner,
) -> None:
    """Add ``items`` to ``report``; ``owners``: what the owners judged with them found."""
    for item in items:
        if isinstance(item, ManifestParseError):
            report.entries.append(error_entry(item))
        elif isinstance(item, Note):
            report.notes.append(item)
        else:
            report.objects += 1
            report.entries.extend(audit_object(item, profile, owners))


def audit_sources(sources: Iterable[Source | ManifestParseError], profile: Profile) -> Report:
    """Audit every source; unreadable ones become error entries, never exceptions.

    All sources are parsed, and the owners among them judged, before any object is
    reported: a finding an object shares with its controlling owner anywhere in the input (by
    uid) is the owner's (``workloads.judged_as``, the rule ``--cluster`` follows), so a
    cluster exported to files gives the cluster's findings.
    """
    report = Report()
    parsed: list[list[KubeObject | Note | ManifestParseError]] = []
    for source in sources:
        if isinstance(source, ManifestParseError):
            parsed.append([source])
            continue
        report.files += 1
        parsed.append(list(parse_source(source)))
    owners = judged_owners((item for items in parsed for item in items), profile)
    for items in parsed:
        audit_items(items, profile, report, owners)
    return report
