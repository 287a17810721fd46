"""A steady stream of compliant pod creations through the API server, every outcome counted.

Server-side dry-run creates: each one runs the whole admission chain (our webhook through its
Service included) without filling the node with 1,200 pods. Bounded in rate and time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from hardened_operator.k8s import bootstrap
from tests.node.node_support import compliant_pod, core_api

COMPLIANT_POD: dict[str, Any] = compliant_pod()


@dataclass
class LoadResult:
    attempted: int = 0
    admitted: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    failure_times: list[float] = field(default_factory=list)  # seconds since the start

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


class AdmissionLoad:
    """``with AdmissionLoad(kubeconfig, namespace, rate=20) as load: ...; load.result``."""

    def __init__(self, kubeconfig: Path, namespace: str, rate: float = 20, workers: int = 4):
        self.kubeconfig, self.namespace, self.rate, self.workers = (
            kubeconfig,
            namespace,
            rate,
            workers,
        )
        self.result = LoadResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.started = 0.0

    def __enter__(self) -> AdmissionLoad:
        self.started = time.monotonic()
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _work(self, index: int) -> None:
        api = bootstrap.api_client(self.kubeconfig)
        core = core_api(api)
        interval = self.workers / self.rate
        next_at = time.monotonic() + index * interval / self.workers
        try:
            while not self._stop.is_set():
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
                outcome = "admitted"
                try:
                    core.create_namespaced_pod(
                        self.namespace, COMPLIANT_POD, dry_run="All", _request_timeout=15
                    )
                except ApiException as error:
                    outcome = f"{error.status}: {str(error.body)[:300]}"
                except Exception as error:  # timeouts, resets: a failure all the same
                    outcome = f"{type(error).__name__}: {str(error)[:300]}"
                with self._lock:
                    self.result.attempted += 1
                    if outcome == "admitted":
                        self.result.admitted += 1
                    else:
                        self.result.failures[outcome] += 1
                        self.result.failure_times.append(time.monotonic() - self.started)
        finally:
            api.close()
