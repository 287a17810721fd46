"""Prometheus metrics of one webhook app, in a registry of its own.

A per-app ``CollectorRegistry`` keeps apps independent (tests start many; the operator
process has its own metrics). Label children are created lazily and cached, so a request
costs a dict lookup and a lock-protected add per metric, not a label resolution.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from hardened_operator.webhook.admission import Decision
from hardened_operator.webhook.cache import ReviewCache

METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
# Admission must answer within the API server's timeout (10 s by default, often 1-5 s);
# buckets resolve the sub-millisecond range a healthy webhook lives in.
LATENCY_BUCKETS: Final = (
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class WebhookMetrics:
    """Decisions by verdict/kind/mode, violations by check/kind/mode, bad bodies, latency."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # --workers: prometheus_client counts in files shared by the workers (it reads
        # PROMETHEUS_MULTIPROC_DIR when first imported); /metrics reports their sums.
        self._shared_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self._exposed = self.registry
        if self._shared_dir is not None:
            self._exposed = CollectorRegistry(auto_describe=True)
            MultiProcessCollector(self._exposed, path=self._shared_dir)  # type: ignore[no-untyped-call]
        self.decisions = Counter(
            "hardened_webhook_decisions_total",
            "Admission decisions, one per request answered with an AdmissionReview.",
            ["verdict", "kind", "mode"],
            registry=self.registry,
        )
        self.violations = Counter(
            "hardened_webhook_violations_total",
            "Failing checks, one per check per evaluated request that had violations.",
            ["check", "kind", "mode"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "hardened_webhook_rejected_requests_total",
            "Requests answered with an HTTP error instead of an AdmissionReview.",
            ["reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hardened_webhook_request_duration_seconds",
            "Time from reading the body to having the response ready, POST /validate.",
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self._decision_children: dict[tuple[str, str, str], Counter] = {}
        self._violation_children: dict[tuple[str, str, str], Counter] = {}
        self._cache: ReviewCache | None = None
        self._cache_counted = (0, 0)  # hits, misses already added to the shared counters
        self._cache_lookups: Counter | None = None

    def record(self, decision: Decision, mode: str) -> None:
        key = (decision.verdict, decision.kind, mode)
        child = self._decision_children.get(key)
        if child is None:
            child = self._decision_children[key] = self.decisions.labels(*key)
        child.inc()
        for check in decision.checks:
            vkey = (check, decision.kind, mode)
            vchild = self._violation_children.get(vkey)
            if vchild is None:
                vchild = self._violation_children[vkey] = self.violations.labels(*vkey)
            vchild.inc()
        if self._cache is not None:
            self._count_cache(self._cache)

    def watch_cache(self, cache: ReviewCache) -> None:
        """Export the policy memo's hits and misses (read at scrape time: no per-request cost;
        with workers, added to shared counters as requests are recorded)."""
        if self._shared_dir is None:
            self.registry.register(_CacheCollector(cache))
            return
        self._cache = cache
        self._cache_lookups = Counter(
            "hardened_webhook_policy_cache_lookups",
            "Policy evaluations answered from the memo (hit) or computed (miss).",
            ["result"],
            registry=self.registry,
        )

    def _count_cache(self, cache: ReviewCache) -> None:
        hits, misses = self._cache_counted
        if (cache.hits, cache.misses) == (hits, misses):
            return
        assert self._cache_lookups is not None
        self._cache_lookups.labels("hit").inc(cache.hits - hits)
        self._cache_lookups.labels("miss").inc(cache.misses - misses)
        self._cache_counted = (cache.hits, cache.misses)

    def reject(self, reason: str) -> None:
        self.rejected.labels(reason).inc()

    def observe(self, seconds: float) -> None:
        self.latency.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self._exposed)


class _CacheCollector(Collector):
    def __init__(self, cache: ReviewCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "hardened_webhook_policy_cache_lookups",
            "Policy evaluations answered from the memo (hit) or computed (miss).",
            labels=["result"],
        )
        family.add_metric(["hit"], self.cache.hits)
        family.add_metric(["miss"], self.cache.misses)
        yield family
