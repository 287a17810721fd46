"""Run ``hardened run`` as a subprocess against the test control plane, and read it.

kopf must never run inside a test's event loop (its shutdown cancels foreign tasks), so every
control-plane test talks to a real operator process, exactly as a user would start it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hardened_operator import API_GROUP, API_VERSION, PLURAL

T = TypeVar("T")
HARDENED = [sys.executable, "-m", "hardened_operator.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class OperatorProcess:
    process: subprocess.Popen[bytes]
    health_port: int
    webhook_port: int | None
    log: Path

    @property
    def webhook_url(self) -> str:
        return f"https://127.0.0.1:{self.webhook_port}/validate"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}{path}", timeout=5
            ) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def metrics(self) -> dict[str, float]:
        """Samples of our own counters, keyed like ``name{label="v",...}``."""
        status, text = self.get("/metrics")
        assert status == 200, text
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
        return samples

    def writes(self) -> float:
        """Every API write this process issued (the ``api_writes_total`` counter)."""
        return sum(
            v
            for k, v in self.metrics().items()
            if k.startswith("hardened_operator_api_writes_total")
        )

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.25
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except AssertionError:
            raise
        except Exception as error:  # the API may be busy; keep the last error for the report
            last = error
        else:
            if result:
                return result
            last = result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


@contextmanager
def running_operator(
    env: dict[str, str],
    namespace: str,
    log_dir: Path,
    *args: str,
    webhook: bool = False,
    webhook_port: int | None = None,
    operator_namespace: str | None = None,
    ready_timeout: float = 60.0,
) -> Iterator[OperatorProcess]:
    """``hardened run -n NAMESPACE`` until the block ends (SIGTERM, then SIGKILL)."""
    health = free_port()
    if webhook and webhook_port is None:
        webhook_port = free_port()
    command = [
        *HARDENED,
        "run",
        "--namespace",
        namespace,
        "--operator-namespace",
        operator_namespace or namespace,
        "--health-listen",
        f"127.0.0.1:{health}",
    ]
    if webhook:
        command += ["--webhook-listen", f"127.0.0.1:{webhook_port}"]
    else:
        command += ["--no-webhook"]
    command += list(args)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"operator-{int(time.time() * 1000)}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    op = OperatorProcess(process, health, webhook_port, log)
    try:
        # /readyz says admission is served; /operatorz that the reconciler works too.
        wait_for(
            "the operator's /readyz and /operatorz",
            lambda: (
                not _died(op) and op.get("/readyz")[0] == 200 and op.get("/operatorz")[0] == 200
            ),
            ready_timeout,
        )
        yield op
    except BaseException:
        # Shown by pytest with the failure: what the operator was doing.
        print(f"--- {log} (tail) ---\n{op.logs()[-6000:]}", file=sys.stderr)
        raise
    finally:
        stop(op)


def _died(op: OperatorProcess) -> bool:
    if op.process.poll() is not None:
        raise AssertionError(f"hardened run exited {op.process.returncode}:\n{op.logs()[-3000:]}")
    return False


def stop(op: OperatorProcess, sig: signal.Signals = signal.SIGTERM) -> None:
    if op.process.poll() is None:
        os.kill(op.process.pid, sig)
        try:
            op.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            op.process.kill()
            op.process.wait(timeout=10)


# -- API helpers (official client, like a user's kubectl) -----------------------------------


def hsvc(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "HardenedService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"image": "ghcr.io/ai-system/web:1.0", **spec},
    }


def custom(api: Any) -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(api)


def create_hsvc(api: Any, obj: dict[str, Any]) -> dict[str, Any]:
    ns = obj["metadata"]["namespace"]
    result: dict[str, Any] = custom(api).create_namespaced_custom_object(
        API_GROUP, API_VERSION, ns, PLURAL, obj
    )
    return result


def get_hsvc(api: Any, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = custom(api).get_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, PLURAL, name
    )
    return result


def patch_hsvc(api: Any, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = custom(api).patch_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, PLURAL, name, patch
    )
    return result


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def plain(api: Any, obj: Any) -> dict[str, Any]:
    """A client model object as the API's JSON (camelCase keys), or None."""
    result: dict[str, Any] = api.sanitize_for_serialization(obj)
    return result


def read(api: Any, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    """An object of a kind the operator generates, as plain JSON; None when absent."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    readers = {
        "Deployment": client.AppsV1Api(api).read_namespaced_deployment,
        "Service": client.CoreV1Api(api).read_namespaced_service,
        "PersistentVolumeClaim": client.CoreV1Api(api).read_namespaced_persistent_volume_claim,
        "HorizontalPodAutoscaler": client.AutoscalingV2Api(
            api
        ).read_namespaced_horizontal_pod_autoscaler,
        "PodDisruptionBudget": client.PolicyV1Api(api).read_namespaced_pod_disruption_budget,
        "NetworkPolicy": client.NetworkingV1Api(api).read_namespaced_network_policy,
    }
    try:
        return plain(api, readers[kind](name, namespace))
    except ApiException as error:
        if error.status == 404:
            return None
        raise
