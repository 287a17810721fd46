"""The policy memo: exact-bytes keys, never a wrong hit, bounded, errors not remembered."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hardened_operator import workloads as workloads_module
from hardened_operator.errors import InputError
from hardened_operator.webhook import WebhookConfig, evaluate_review
from hardened_operator.webhook.cache import MAX_KEY_BYTES, ReviewCache
from tests.webhook.test_decide import CASES
from tests.webhook.webhook_support import pod, review, root_pod_spec, workload


def test_every_decision_is_the_same_with_the_memo() -> None:
    cache = ReviewCache()
    for _ in range(2):  # the second round is answered from the memo where it applies
        for _, body, mode, config, *_ in CASES:
            plain = evaluate_review(copy.deepcopy(body), config, mode)
            memo = evaluate_review(copy.deepcopy(body), config, mode, reviewer=cache.violations)
            assert memo == plain
    assert cache.hits > 0


def test_bookkeeping_metadata_is_ignored_but_nothing_else() -> None:
    cache = ReviewCache()
    first = workload("Deployment", root_pod_spec())
    again = copy.deepcopy(first)
    again["metadata"].update(
        uid="other",
        resourceVersion="9",
        creationTimestamp="2026-11-28T08:00:00Z",
        generation=4,
        managedFields=[{"manager": "kubectl", "time": "now"}],
    )
    assert cache.violations(first, "nonroot") == cache.violations(again, "nonroot")
    assert (cache.hits, cache.misses) == (1, 1)

    renamed = copy.deepcopy(first)
    renamed["metadata"]["name"] = "other"  # violations name the object: must not be shared
    assert cache.violations(renamed, "nonroot")[0].name == "other"
    fixed = workload("Deployment")
    assert cache.violations(fixed, "nonroot") == []
    annotated = copy.deepcopy(first)
    annotated["metadata"]["annotations"] = {"a": "b"}
    cache.violations(annotated, "nonroot")
    cache.violations(first, "restricted")
    assert cache.misses == 5


def test_errors_are_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    def flaky(obj: Any, profile: str = "nonroot") -> list[Any]:
        nonlocal calls
        calls += 1
        raise InputError("bad shape")

    monkeypatch.setattr(workloads_module, "review_object", flaky)
    cache = ReviewCache()
    for _ in range(2):
        with pytest.raises(InputError):
            cache.violations(pod(), "nonroot")
    assert calls == 2 and len(cache) == 0


def test_bounded() -> None:
    cache = ReviewCache(max_entries=3)
    for i in range(5):
        cache.violations(pod(name=f"p{i}"), "nonroot")
    assert len(cache) == 3
    cache.violations(pod(name="p0"), "nonroot")  # evicted: computed again
    assert cache.hits == 0
    big = pod()
    big["metadata"]["annotations"] = {"blob": "x" * MAX_KEY_BYTES}
    cache.violations(big, "nonroot")
    cache.violations(big, "nonroot")
    assert cache.hits == 0  # too big to keep
    off = ReviewCache(max_entries=0)
    off.violations(pod(), "nonroot")
    assert len(off) == 0


def test_config_can_turn_it_off() -> None:
    with pytest.raises(Exception, match="cache_entries"):
        WebhookConfig(cache_entries=-1)
    assert (
        evaluate_review(review(pod(root_pod_spec())), WebhookConfig(cache_entries=0)).verdict
        == "deny"
    )
