"""The report writer's timing and state, against a fake API (no kopf, no server): writes are
debounced per namespace and bounded under churn, skipped when nothing changed, a kopf
re-listing rebuilds the state (deletions it never saw), events during a LIST win over it, a
CRD installed later is found, and a child is judged again when what its owner found changes."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from hardened_operator.controller.reports import REREAD_LIMIT, Reports, ReportSettings
from hardened_operator.errors import NotFoundError
from hardened_operator.k8s.resources import Resource

ROOT = {"securityContext": {"runAsUser": 0}}


def owned(obj: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """``obj`` naming ``owner`` its controller."""
    meta = owner["metadata"]
    reference = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"],
                 "uid": meta["uid"], "controller": True}  # fmt: skip
    obj["metadata"]["ownerReferences"] = [reference]
    return obj


def replica_set(name: str, *, root: bool = True) -> dict[str, Any]:
    """A ReplicaSet whose template is :func:`pod`'s spec."""
    template = pod(name, root=root)
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": template["metadata"] | {"uid": f"uid-rs-{name}"},
        "spec": {"template": {"spec": template["spec"]}},
    }


def pod(name: str, namespace: str = "team", *, root: bool = True) -> dict[str, Any]:
    context = ROOT if root else {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"},
        "spec": {"containers": [{"name": "app", "image": "a:1", **context}]},
    }


class FakeApi:
    """Pod-bearing objects (``pods``, by uid, any kind) and PolicyReports in memory; counts
    the report writes."""

    def __init__(self, pods: list[dict[str, Any]], *, crd: bool = True) -> None:
        self.pods = {p["metadata"]["uid"]: p for p in pods}
        self.reports: dict[str, dict[str, Any]] = {}
        self.crd = crd
        self.writes: list[tuple[str, str]] = []  # (verb, namespace)
        self.list_delay = 0.0
        self.listing = asyncio.Event()
        self.finds: list[str] = []  # names read again, one by one

    async def pages(
        self, resource: Resource, namespace: str | None = None, **_: Any
    ) -> AsyncIterator[list[dict[str, Any]]]:
        if resource.plural == "policyreports":
            if not self.crd:
                raise NotFoundError("the server could not find the requested resource", status=404)
            yield [copy.deepcopy(r) for r in self.reports.values()]
            return
        if resource.plural == "pods":
            self.listing.set()
            await asyncio.sleep(self.list_delay)
        yield [copy.deepcopy(o) for o in self.pods.values() if o["kind"] == resource.kind]

    async def find(self, resource: Resource, namespace: str, name: str) -> Any:
        self.finds.append(name)
        for obj in self.pods.values():
            meta = obj["metadata"]
            if (obj["kind"], meta["namespace"], meta["name"]) == (resource.kind, namespace, name):
                return copy.deepcopy(obj)
        return None

    async def patch(
        self, resource: Resource, namespace: str, name: str, body: Any, **_: Any
    ) -> Any:
        if not self.crd:
            raise NotFoundError("no PolicyReport", status=404)
        self.writes.append(("apply", namespace))
        self.reports[namespace] = copy.deepcopy(body)
        return body

    async def delete(self, resource: Resource, namespace: str, name: str) -> None:
        self.writes.append(("delete", namespace))
        self.reports.pop(namespace, None)

    async def close(self) -> None:
        pass


FAST = ReportSettings(profile="nonroot", quiet_seconds=0.2, max_delay_seconds=0.6,
                      relist_grace_seconds=0.3, crd_recheck_seconds=0.3)  # fmt: skip


def run(
    api: FakeApi, body: Callable[[Reports], Awaitable[None]], settings: ReportSettings = FAST
) -> None:
    async def main() -> None:
        reports = Reports(settings)
        reports.start(api)  # type: ignore[arg-type]  # the fake has the calls we make
        try:
            await body(reports)
        finally:
            await reports.stop()

    asyncio.run(main())


def failing(api: FakeApi, namespace: str = "team") -> set[str]:
    report = api.reports.get(namespace)
    return {r["resources"][0]["name"] for r in (report or {}).get("results", [])}


def test_a_burst_of_events_is_one_write_and_no_change_is_no_write() -> None:
    api = FakeApi([pod("a")])

    async def body(reports: Reports) -> None:
        await asyncio.sleep(0.5)
        assert api.writes == [("apply", "team")]
        for i in range(20):  # a burst: one write once the namespace is quiet
            reports.observe("ADDED", pod(f"b{i}"))
        await asyncio.sleep(0.5)
        assert api.writes == [("apply", "team")] * 2
        assert failing(api) == {"a"} | {f"b{i}" for i in range(20)}
        # Events that change nothing the report says, and a change undone at once: no write.
        reports.observe("MODIFIED", pod("a") | {"status": {"phase": "Running"}})
        reports.observe("ADDED", pod("c"))
        reports.observe("DELETED", pod("c"))
        await asyncio.sleep(0.5)
        assert len(api.writes) == 2

    run(api, body)


def test_a_namespace_that_never_goes_quiet_is_written_at_most_every_max_delay() -> None:
    api = FakeApi([pod("a")])

    async def body(reports: Reports) -> None:
        await asyncio.sleep(0.5)
        before = len(api.writes)
        for i in range(30):  # 1.5 s of a change every 50 ms: never quiet for 0.2 s
            reports.observe("ADDED", pod(f"churn{i}"))
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.4)
        writes = len(api.writes) - before
        assert 2 <= writes <= 1.5 / 0.6 + 2  # bounded by max_delay, and the last state lands
        assert len(failing(api)) == 31

    run(api, body)


def test_clean_namespace_report_deleted_and_other_namespaces_untouched() -> None:
    api = FakeApi([pod("a"), pod("b", "other")])

    async def body(reports: Reports) -> None:
        await asyncio.sleep(0.5)
        assert set(api.reports) == {"team", "other"}
        reports.observe("MODIFIED", pod("a", root=False))
        await asyncio.sleep(0.5)
        assert set(api.reports) == {"other"}
        assert api.writes.count(("delete", "team")) == 1
        assert api.writes.count(("apply", "other")) == 1

    run(api, body)


def test_a_restart_reads_the_reports_and_writes_nothing_and_deletes_stale_ones() -> None:
    api = FakeApi([pod("a"), pod("b", "gone")])
    run(api, lambda _: asyncio.sleep(0.5))
    assert set(api.reports) == {"team", "gone"}
    del api.pods["uid-gone-b"]  # deleted while no operator ran
    api.writes.clear()
    run(api, lambda _: asyncio.sleep(0.5))
    assert api.writes == [("delete", "gone")]


def test_a_kopf_relisting_rebuilds_the_state_with_the_deletions_it_missed() -> None:
    api = FakeApi([pod("a"), pod("b")])

    async def body(reports: Reports) -> None:
        await asyncio.sleep(0.5)
        assert failing(api) == {"a", "b"}
        # Paused (peering) while b was deleted: no event. On resume kopf lists again.
        del api.pods["uid-team-b"]
        await asyncio.sleep(0.4)  # past relist_grace_seconds
        reports.observe(None, pod("a"))
        await asyncio.sleep(0.6)
        assert failing(api) == {"a"}

    run(api, body)


def test_events_during_the_listing_win_over_it() -> None:
    api = FakeApi([pod("a"), pod("b")])
    api.list_delay = 0.3

    async def body(reports: Reports) -> None:
        await api.listing.wait()  # the LIST is under way (it returns a and b) ...
        reports.observe("DELETED", pod("b"))  # ... when b's deletion arrives
        await asyncio.sleep(0.8)
        assert failing(api) == {"a"}

    run(api, body)


def test_without_the_crd_it_says_so_once_then_writes_when_it_appears(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = FakeApi([pod("a")], crd=False)

    async def body(reports: Reports) -> None:
        await asyncio.sleep(1.0)  # several rechecks
        assert api.writes == [] and reports.failing("team") == 1
        api.crd = True
        await asyncio.sleep(0.8)
        assert failing(api) == {"a"}

    with caplog.at_level(logging.INFO, logger="hardened_operator.controller.reports"):
        run(api, body)
    absent = [
        r for r in caplog.records if "CRD" in r.getMessage() and "not installed" in r.getMessage()
    ]
    assert len(absent) == 1 and absent[0].levelno == logging.WARNING
    assert any("installed now" in r.getMessage() for r in caplog.records)


def test_exempt_namespaces_are_not_reported() -> None:
    api = FakeApi([pod("a", "kube-system"), pod("b")])
    settings = ReportSettings(
        profile="nonroot", exempt_namespaces=frozenset({"kube-system"}), quiet_seconds=0.1
    )

    async def body(reports: Reports) -> None:
        reports.observe("ADDED", pod("c", "kube-system"))
        await asyncio.sleep(0.5)
        assert set(api.reports) == {"team"}

    run(api, body, settings)


def test_an_unexpected_failure_is_logged_and_the_writer_starts_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = FakeApi([pod("a")])
    real_patch = api.patch
    calls = 0

    async def patch_failing_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug")
        return await real_patch(*args, **kwargs)

    api.patch = patch_failing_once  # type: ignore[method-assign]

    async def body(reports: Reports) -> None:
        await asyncio.sleep(1.5)  # the failure, max_delay_seconds (0.6), a new start
        assert failing(api) == {"a"}

    with caplog.at_level(logging.ERROR, logger="hardened_operator.controller.reports"):
        run(api, body)
    assert any("starting over" in r.getMessage() for r in caplog.records)


# ----------------------------------------------------------------- children and their owners


def test_a_child_seen_before_its_owner_is_judged_again_when_the_owner_arrives() -> None:
    owner = replica_set("web")
    child = owned(pod("web-1"), owner)
    api = FakeApi([child])

    async def body(reports: Reports) -> None:
        await asyncio.sleep(0.5)
        assert failing(api) == {"web-1"}  # its owner not seen: judged whole
        api.pods[owner["metadata"]["uid"]] = owner
        reports.observe("ADDED", owner)
        await asyncio.sleep(0.6)
        assert api.finds == ["web-1"]  # read again, once
        assert failing(api) == {"web"}  # the root template is the ReplicaSet's

    run(api, body)


def test_an_owner_fixed_later_leaves_its_child_reported_for_what_it_still_runs() -> None:
    owner = replica_set("web")
    child = owned(pod("web-1"), owner)
    api = FakeApi([owner, child])

    async def body(reports: Reports) -> None:
        await asyncio.sleep(0.5)
        assert failing(api) == {"web"} and api.finds == []
        fixed = replica_set("web", root=False)
        api.pods[owner["metadata"]["uid"]] = fixed
        reports.observe("MODIFIED", fixed)
        await asyncio.sleep(0.6)
        assert failing(api) == {"web-1"}  # the Pod still runs as root: its own now
        # Deleted meanwhile: read again, it is gone from the report.
        del api.pods[child["metadata"]["uid"]]
        reports.observe("MODIFIED", replica_set("web"))
        await asyncio.sleep(0.6)
        assert failing(api) == {"web"}

    run(api, body)


def test_a_child_an_event_judged_during_the_listing_is_judged_again_after_it() -> None:
    owner = replica_set("web")
    child = owned(pod("web-1"), owner)
    api = FakeApi([owner, child])
    api.list_delay = 0.3

    async def body(reports: Reports) -> None:
        await api.listing.wait()  # our LIST is under way; kopf's own listing sends the Pod
        reports.observe(None, child)  # judged whole: no owner known yet
        await asyncio.sleep(0.9)
        assert failing(api) == {"web"}
        assert api.finds == ["web-1"]

    run(api, body)


def test_a_forged_owner_reference_hides_nothing() -> None:
    compliant = replica_set("web", root=False)
    forged = owned(pod("forged"), compliant)
    api = FakeApi([compliant, forged])

    async def body(reports: Reports) -> None:
        await asyncio.sleep(0.5)
        assert failing(api) == {"forged"}

    run(api, body)


def test_many_children_judged_during_the_listing_are_listed_once_more_not_read_one_by_one() -> None:
    owner = replica_set("web")
    children = [owned(pod(f"web-{i}"), owner) for i in range(REREAD_LIMIT + 1)]
    api = FakeApi([owner, *children])
    api.list_delay = 0.3

    async def body(reports: Reports) -> None:
        await api.listing.wait()
        for child in children:  # kopf's first listing, racing ours
            reports.observe(None, child)
        api.list_delay = 0.0
        await asyncio.sleep(1.0)
        assert failing(api) == {"web"}
        assert api.finds == []

    run(api, body)
