"""Background reports (``hardened run --reports``): one per namespace, kept current from
watch events, in the report API ``--reports-api`` chose (``reports/apis.py``: a
``wgpolicyk8s.io`` PolicyReport or an ``openreports.io`` Report; only the resource written
and the CRD waited for differ here).

What it keeps: per namespace, the failing objects only (:class:`~hardened_operator.reports.
ObjectFindings`: names, check ids, bounded messages), and per workload that can own one
(``workloads.MAKERS``) what it found, as signatures (``workloads.JudgedOwners``); never
object bodies. Every event of a pod-bearing kind (kopf's ``on.event``, the watches the
reconciler already runs) re-judges that one object against what its controlling owner found
(``workloads.judged_as``: what they share is reported on the owner); when what it says
changed, its namespace is marked dirty. Nothing rescans the cluster on a timer.

Owners and children: an object is judged against what its owner was known to have found at
its own event. An owner not seen yet (its watch event comes after its child's; kopf's
listing races ours at start) vouches for nothing: the child is reported whole -- more, never
less. Each failing child is kept with the owner it depends on (names and uids, no body), and
when that owner's findings change (first seen, edited, deleted; or differently after a
LIST) the children judged against something else are read again (one LIST by name each:
the operator may list, not get) and judged again. A child whose re-read fails keeps its
judgement until its own next event or the next LIST.

When it writes: a dirty namespace is flushed once it has been quiet for ``quiet_seconds``,
or ``max_delay_seconds`` after its first change at the latest (a namespace that never stops
changing is still written at most once per ``max_delay_seconds``). The report is built (pure:
:mod:`hardened_operator.reports`) and compared with the one the API server holds (read once at
start, then what we wrote): equal means no write. A namespace that becomes clean, or loses
its last failing object, has its report deleted.

Start-up: one paged LIST per kind, owners first (``workloads.OWNERS_FIRST``), builds the
state (a report is only ever built from a complete view: never half a listing), and a LIST
of our reports says what exists, so a restart with nothing changed writes nothing and a
report left by a namespace that became clean while we were down is deleted. Events that
arrive meanwhile win over the listing for the objects they name. When kopf lists a kind
again later (its watch resumed after a pause in peering, or expired), objects deleted in
between gave no event: the state is then rebuilt by the same LIST, once.

The API's CRD (``policyreports.wgpolicyk8s.io``, ``reports.openreports.io``) is often absent:
that is logged once, the gauge ``hardened_policy_violations`` is kept anyway, and the API is
asked again every ``crd_recheck_seconds`` (one LIST of at most one item); reports are written
once it appears.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from hardened_operator.errors import ApiError, ConflictError, NotFoundError
from hardened_operator.k8s import KubeClient
from hardened_operator.k8s import metrics as m
from hardened_operator.k8s.client import APPLY_PATCH
from hardened_operator.k8s.resources import Resource
from hardened_operator.k8s.statuses import namespace_terminating
from hardened_operator.policy.types import Profile
from hardened_operator.reports import (
    DEFAULT_REPORT_API,
    REPORT_APIS,
    REPORT_NAME,
    Judged,
    ObjectFindings,
    ReportApi,
    build_report,
    comparable,
    judge_object,
    violation_counts,
)
from hardened_operator.reports.policyreport import MANAGED_BY
from hardened_operator.workloads import (
    OWNERS_FIRST,
    POD_BEARING,
    JudgedOwners,
    OwnerFindings,
    PodBearingKind,
)

log = logging.getLogger(__name__)


class _IncompleteRead(Exception):
    """A LIST of the complete view failed: a report built without it could pass what fails."""


KOPF_WORKERS_PER_KIND = 1000
LIST_PAGE = 500  # objects per LIST request, ours and kopf's (kubectl's chunk size)
# Arguments: the API's kind, its CRD's name, the recheck period.
CRD_ABSENT = (
    "policy reports: the %s CRD (%s) is not installed: no reports are written (the "
    "hardened_policy_violations gauge is kept); looking again every %.0fs. Install it: helm "
    "value reports.installCRD=true, see docs/reports.md"
)
_OURS = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())


_KINDS = {kind.kind: kind for kind in POD_BEARING}
# More children than this judged against owners not known yet after a LIST (kopf's own first
# listing raced ours): one more LIST is cheaper than reading each again.
REREAD_LIMIT = 100


@dataclass(frozen=True, slots=True)
class _Child:
    """A failing object whose report depends on its owner: how to read it again."""

    namespace: str
    kind: str
    name: str
    owner: str
    against: OwnerFindings | None  # what the owner was known to have found when judged


class _Children:
    """Failing children by owner uid, and each child's owner (names and uids only)."""

    def __init__(self) -> None:
        self.by_owner: dict[str, dict[str, _Child]] = {}
        self.owner_of: dict[str, str] = {}

    def set(self, uid: str, child: _Child | None) -> None:
        owner = self.owner_of.pop(uid, None)
        if owner is not None:
            children = self.by_owner.get(owner, {})
            children.pop(uid, None)
            if not children:
                self.by_owner.pop(owner, None)
        if child is not None:
            self.owner_of[uid] = child.owner
            self.by_owner.setdefault(child.owner, {})[uid] = child

    def get(self, uid: str) -> _Child | None:
        owner = self.owner_of.get(uid)
        return self.by_owner[owner][uid] if owner is not None else None

    def stale(self, owner: str, now: OwnerFindings | None) -> list[tuple[str, _Child]]:
        """The children of ``owner`` judged against something other than ``now``."""
        children = self.by_owner.get(owner, {})
        return [(uid, child) for uid, child in children.items() if child.against != now]


def _resource(kind: PodBearingKind) -> Resource:
    return Resource(kind.group, kind.version, kind.resource, kind.kind)


def report_resource(api: ReportApi) -> Resource:
    """Where ``api``'s reports are read and written."""
    return Resource(api.group, api.version, api.plural, api.kind)


@dataclass(frozen=True)
class ReportSettings:
    profile: Profile
    api: ReportApi = REPORT_APIS[DEFAULT_REPORT_API]
    exempt_namespaces: frozenset[str] = frozenset()
    namespaces: tuple[str, ...] = ()  # empty: all (as `hardened run -n`)
    quiet_seconds: float = 1.0
    max_delay_seconds: float = 10.0
    relist_grace_seconds: float = 30.0  # silence before a listing event that means a relist
    crd_recheck_seconds: float = 60.0


@dataclass
class _Dirty:
    first: float
    last: float

    def due_at(self, quiet: float, max_delay: float) -> float:
        return min(self.last + quiet, self.first + max_delay)


class Reports:
    """The state and the writer; :meth:`observe` is called by kopf's handlers (same loop)."""

    def __init__(self, settings: ReportSettings) -> None:
        self.settings = settings
        self._reports = report_resource(settings.api)
        self._objects: dict[str, dict[str, ObjectFindings]] = {}  # namespace -> uid -> found
        self._owners = JudgedOwners()  # what each owner seen found (its children's judge)
        self._children = _Children()  # failing objects whose report depends on an owner
        self._reread: set[str] = set()  # owners whose stale children are to be read again
        self._relisted_for_owners = False  # the last LIST was repeated for stale children
        self._written: dict[str, Any] = {}  # namespace -> comparable() of the live report
        self._known_reports = False  # _written holds every report of ours that exists
        self._dirty: dict[str, _Dirty] = {}
        self._gauge: dict[str, set[str]] = {}  # namespace -> checks with a gauge series
        self._touched: dict[str, str] | None = {}  # uid -> namespace, while a LIST runs
        self._primed_at: float | None = None
        self._last_listing = 0.0  # time.monotonic() of kopf's last listing event
        self._relist = False
        self._crd: bool | None = None  # None: not asked yet
        self._crd_asked_at = 0.0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: KubeClient | None = None

    # -- events (kopf's loop) -------------------------------------------------------------

    def observe(self, event_type: str | None, obj: Mapping[str, Any]) -> None:
        """One watch event: re-judge the object; mark its namespace dirty if that changed."""
        meta = obj.get("metadata")
        if not isinstance(meta, Mapping):
            return
        namespace, uid = meta.get("namespace"), meta.get("uid")
        if not isinstance(namespace, str) or not isinstance(uid, str):
            return
        if namespace in self.settings.exempt_namespaces:
            return
        before = self._owners.get(uid)
        if event_type == "DELETED":
            self._owners.forget(uid)
            self._children.set(uid, None)
            found = None
        else:
            found = self._judge(obj, self._owners, self._children)
        if self._owners.get(uid) != before and uid in self._children.by_owner:
            self._reread.add(uid)  # what its children were compared with changed
            self._poke()
        if self._touched is not None:
            self._touched[uid] = namespace
        if self._set(namespace, uid, found):
            self._mark(namespace)
        if event_type is None:
            self._listing_event(time.monotonic())

    def _listing_event(self, now: float) -> None:
        """kopf lists a kind again -- resumed after a peering pause, or its watch expired --
        when a listing event follows a silence: deletions in between sent no event, so the
        state is rebuilt from a LIST, once. (Its first listing, under way while ours runs or
        right after, is one continuous stream of them: no reason to start over.)"""
        last, self._last_listing = self._last_listing, now
        primed, grace = self._primed_at, self.settings.relist_grace_seconds
        if primed is None or now - primed <= grace or now - last <= grace:
            return
        self._relist = True
        self._poke()

    def _judge(
        self, obj: Mapping[str, Any], owners: JudgedOwners, children: _Children
    ) -> ObjectFindings | None:
        """Judge ``obj`` against ``owners``; keep in ``children`` what that depends on."""
        judged: Judged = judge_object(obj, self.settings.profile, owners)
        meta = obj.get("metadata") or {}
        child = None
        if judged.owner is not None:  # it found something: what its owner has is not its own
            child = _Child(str(meta.get("namespace")), str(obj.get("kind")),
                           str(meta.get("name")), judged.owner, judged.against)  # fmt: skip
        children.set(str(meta.get("uid")), child)
        return judged.findings

    def _set(self, namespace: str, uid: str, found: ObjectFindings | None) -> bool:
        objects = self._objects.get(namespace)
        current = objects.get(uid) if objects else None
        if current == found:
            return False
        if found is None:
            assert objects is not None
            del objects[uid]
            if not objects:
                del self._objects[namespace]
        else:
            self._objects.setdefault(namespace, {})[uid] = found
        return True

    def _mark(self, namespace: str) -> None:
        now = time.monotonic()
        dirty = self._dirty.get(namespace)
        if dirty is None:
            self._dirty[namespace] = _Dirty(now, now)
        else:
            dirty.last = now
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def failing(self, namespace: str) -> int:
        """Failing objects kept for ``namespace`` (for tests and logs)."""
        return len(self._objects.get(namespace, ()))

    # -- life cycle -------------------------------------------------------------------------

    def start(self, client: KubeClient) -> None:
        self._client = client
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="policy reports")
        self._task.add_done_callback(_log_crash)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.close()

    async def _run(self) -> None:
        # A bug must not end the reports for the life of the process: log it, start over.
        while True:
            try:
                await self._serve()
            except _IncompleteRead as exc:
                log.error(
                    "policy reports: %s; no report is written until every kind can be read "
                    "(the reports already written stay as they are); reading again in %.0f s",
                    exc,
                    self.settings.max_delay_seconds,
                )
                await asyncio.sleep(self.settings.max_delay_seconds)
            except Exception:
                log.exception("policy reports failed; starting over")
                await asyncio.sleep(self.settings.max_delay_seconds)

    async def _serve(self) -> None:
        assert self._wake is not None
        await self._prime()
        while True:
            self._wake.clear()
            if self._relist:
                self._relist = False
                await self._prime()
                continue
            if self._reread:
                owners, self._reread = self._reread, set()
                await self._read_again(owners)
                continue
            now = time.monotonic()
            quiet, max_delay = self.settings.quiet_seconds, self.settings.max_delay_seconds
            if self._crd is False and now - self._crd_asked_at >= self.settings.crd_recheck_seconds:
                if await self._ask_crd():
                    stale = {ns for ns, live in self._written.items() if live is not None}
                    self._dirty.update(
                        {ns: _Dirty(now, now) for ns in stale | self._objects.keys()}
                    )
                continue
            due = [ns for ns, d in self._dirty.items() if d.due_at(quiet, max_delay) <= now]
            if due:
                for namespace in due:
                    del self._dirty[namespace]
                    await self._flush(namespace)
                continue
            deadlines = [d.due_at(quiet, max_delay) for d in self._dirty.values()]
            if self._crd is False:
                deadlines.append(self._crd_asked_at + self.settings.crd_recheck_seconds)
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    # -- the complete view: LISTs -------------------------------------------------------------

    async def _prime(self) -> None:
        """Rebuild the state from one paged LIST per kind (and namespace)."""
        client = self._client
        assert client is not None
        started = time.monotonic()
        self._primed_at = None  # kopf's listing events meanwhile are no reason to start over
        self._touched = {}
        fresh: dict[str, dict[str, ObjectFindings]] = {}
        owners, children = JudgedOwners(), _Children()
        objects = 0
        for scope in self.settings.namespaces or (None,):
            for kind in OWNERS_FIRST:  # an owner is judged before what it owns
                objects += await self._list_kind(client, kind, scope, fresh, owners, children)
        # Events that arrived during the LISTs are as new or newer: they win.
        touched, self._touched = self._touched, None
        for uid, namespace in touched.items():
            owners.take(self._owners, uid)
            children.set(uid, self._children.get(uid))
            now_found = self._objects.get(namespace, {}).get(uid)
            fresh.get(namespace, {}).pop(uid, None)
            if now_found is not None:
                fresh.setdefault(namespace, {})[uid] = now_found
        fresh = {ns: objs for ns, objs in fresh.items() if objs}
        # Every namespace that has, had, or shows failures is compared (a write only where
        # the report or gauge differs): a write that failed before is retried too.
        known = fresh.keys() | self._objects.keys() | self._gauge.keys()
        self._objects = fresh
        self._owners, self._children = owners, children
        self._after_prime(touched)
        await self._ask_crd()
        now = time.monotonic()
        for namespace in known | {ns for ns, live in self._written.items() if live is not None}:
            self._dirty.setdefault(namespace, _Dirty(now, now))
        self._primed_at = time.monotonic()
        log.info(
            "policy reports: %d objects read in %.1fs, %d failing in %d namespaces",
            objects,
            self._primed_at - started,
            sum(len(v) for v in fresh.values()),
            len(fresh),
        )

    def _after_prime(self, touched: Mapping[str, str]) -> None:
        """Children judged against other findings than their owner's now -- by an event
        during the LISTs, against owners as known then (at start: none yet), or by the LIST
        before an event changed their owner -- are read again; when many are (kopf's own
        first listing raced ours), everything is listed once more, now the owners are known."""
        # The owners of children judged by an event, and owners an event changed (their
        # children the LISTs judged were compared with what the LIST said).
        owners = {uid for uid in touched if uid in self._children.by_owner}
        owners |= {
            self._children.owner_of[uid] for uid in touched if uid in self._children.owner_of
        }
        counts = {
            owner: len(self._children.stale(owner, self._owners.get(owner))) for owner in owners
        }
        stale = {owner for owner, count in counts.items() if count}
        count = sum(counts.values())
        if count > REREAD_LIMIT and not self._relisted_for_owners:
            self._relisted_for_owners = True
            self._relist = True
            return
        self._relisted_for_owners = False
        self._reread |= stale

    async def _read_again(self, owners: set[str]) -> None:
        """Judge again the children of ``owners`` that were judged against other findings."""
        client = self._client
        assert client is not None
        for owner in owners:
            for uid, child in self._children.stale(owner, self._owners.get(owner)):
                kind = _KINDS[child.kind]
                try:
                    obj = await client.find(_resource(kind), child.namespace, child.name)
                except ApiError as exc:
                    log.warning(
                        "policy reports: cannot read %s %s/%s again (at its next event): %s",
                        child.kind,
                        child.namespace,
                        child.name,
                        exc,
                    )
                    continue
                if obj is None or (obj.get("metadata") or {}).get("uid") != uid:
                    self.observe(
                        "DELETED", {"metadata": {"namespace": child.namespace, "uid": uid}}
                    )
                else:
                    self.observe("MODIFIED", obj)

    async def _list_kind(
        self,
        client: KubeClient,
        kind: PodBearingKind,
        namespace: str | None,
        into: dict[str, dict[str, ObjectFindings]],
        owners: JudgedOwners,
        children: _Children,
    ) -> int:
        count = 0
        try:
            async for page in client.pages(_resource(kind), namespace, page_size=LIST_PAGE):
                for item in page:
                    count += 1
                    item.setdefault("kind", kind.kind)
                    item.setdefault("apiVersion", _resource(kind).api_version)
                    meta = item.get("metadata") or {}
                    ns, uid = meta.get("namespace"), meta.get("uid")
                    if not ns or not uid or ns in self.settings.exempt_namespaces:
                        continue
                    found = self._judge(item, owners, children)
                    if found is not None:
                        into.setdefault(ns, {})[uid] = found
        except NotFoundError:
            pass  # not served here (the HardenedService CRD not installed): none to judge
        except ApiError as exc:
            # A partial view would report a namespace cleaner than it is (fail open): no
            # report is written from it; ``_run`` reads everything again later.
            raise _IncompleteRead(f"cannot list {kind.resource}: {exc}") from exc
        return count

    async def _ask_crd(self) -> bool:
        """Is the report API's CRD served? Logs only when the answer changes. Reads our
        existing reports when it is."""
        client, api = self._client, self.settings.api
        assert client is not None
        self._crd_asked_at = time.monotonic()
        before = self._crd
        try:
            written: dict[str, Any] = {}
            for scope in self.settings.namespaces or (None,):
                async for page in client.pages(self._reports, scope, label_selector=_OURS):
                    for report in page:
                        ns = (report.get("metadata") or {}).get("namespace")
                        if isinstance(ns, str):
                            written[ns] = comparable(report)
        except NotFoundError:
            self._crd = False
        except ApiError as exc:
            self._crd = False
            if before is not False:
                log.error(
                    "policy reports: cannot read %s (%s); none are written", api.crd_name, exc
                )
            return False
        else:
            self._crd = True
            self._written = written
            self._known_reports = True
        if self._crd is False and before is not False:
            log.warning(CRD_ABSENT, api.kind, api.crd_name, self.settings.crd_recheck_seconds)
        elif self._crd and before is False:
            log.info("policy reports: the %s CRD is installed now: writing reports", api.kind)
        return self._crd

    # -- writes -------------------------------------------------------------------------------

    def _update_gauge(self, namespace: str, objects: Mapping[str, ObjectFindings]) -> None:
        counts = violation_counts(objects.values())
        for check in self._gauge.get(namespace, set()) - counts.keys():
            m.POLICY_VIOLATIONS.remove(namespace, check)
        for check, count in counts.items():
            m.POLICY_VIOLATIONS.labels(namespace, check).set(count)
        if counts:
            self._gauge[namespace] = set(counts)
        else:
            self._gauge.pop(namespace, None)

    async def _flush(self, namespace: str) -> None:
        objects = self._objects.get(namespace, {})
        self._update_gauge(namespace, objects)
        if not self._crd or not self._known_reports:
            return
        client = self._client
        assert client is not None
        report = build_report(
            namespace, objects.values(), self.settings.profile, api=self.settings.api
        )
        wanted = comparable(report)
        if wanted == self._written.get(namespace):
            return  # what the API server holds already
        try:
            if report is None:
                await client.delete(self._reports, namespace, REPORT_NAME)
                self._written.pop(namespace, None)
                log.info("policy reports: %s is clean: report deleted", namespace)
                return
            await client.patch(
                self._reports, namespace, REPORT_NAME, report, content_type=APPLY_PATCH
            )
        except NotFoundError:
            # The namespace is gone (its report with it), or the CRD was removed.
            if not await self._ask_crd():
                return
            log.info("policy reports: %s: namespace gone, nothing to write", namespace)
            return
        except ConflictError as exc:
            log.warning("policy reports: %s: someone else owns fields of the report: %s",
                        namespace, exc)  # fmt: skip
            return
        except ApiError as exc:
            terminating = namespace_terminating(exc)
            log.log(
                logging.DEBUG if terminating else logging.WARNING,
                "policy reports: cannot write %s's report (again later): %s",
                namespace,
                exc,
            )
            if not terminating:
                now = time.monotonic()
                self._dirty.setdefault(namespace, _Dirty(now, now))
            return
        self._written[namespace] = wanted
        summary = report["summary"]
        log.info(
            "policy reports: %s: %d failing, %d errors, %d listed",
            namespace,
            summary["fail"],
            summary["error"],
            len(report["results"]),
        )


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("policy reports stopped: %r", task.exception(), exc_info=task.exception())


def register(registry: kopf.OperatorRegistry, reports: Reports, kubeconfig: str | None) -> None:
    """The report handlers, in the operator's registry: one event handler per pod-bearing
    kind, and the start/stop of the writer."""
    from hardened_operator.k8s import load_connection

    @kopf.on.startup(registry=registry)
    async def reports_startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        # kopf runs a worker per object, holding its body, until it idles: listing every Pod
        # of a cluster at once would hold them all. At most this many per watched kind at
        # once bounds that, and kopf's first listing then takes longer -- which the reports
        # do not wait for (they LIST on their own).
        settings.queueing.worker_limit = KOPF_WORKERS_PER_KIND
        # kopf's first LIST is one response unless chunked: every Pod's JSON at once.
        settings.watching.chunk_size = LIST_PAGE
        reports.start(KubeClient(load_connection(kubeconfig)))

    @kopf.on.cleanup(registry=registry)
    async def reports_cleanup(**_: Any) -> None:
        await reports.stop()

    for kind in POD_BEARING:
        _register_kind(registry, reports, kind)


def _register_kind(registry: kopf.OperatorRegistry, reports: Reports, kind: PodBearingKind) -> None:
    api_version = _resource(kind).api_version

    async def on_event(*, event: Mapping[str, Any], **_: Any) -> None:
        obj = event.get("object")
        if isinstance(obj, Mapping):
            reports.observe(
                event.get("type"), {"kind": kind.kind, "apiVersion": api_version, **obj}
            )

    kopf.on.event(
        kind.group, kind.version, kind.resource, id=f"report_{kind.resource}", registry=registry
    )(on_event)
