"""Benchmark: 1000 HardenedServices created at once against the local control plane.

Measures, for ``hardened run`` and -- in the same run, same plane -- a no-op kopf operator
(``bench/noop_operator.py``) handling the same number of objects created the same way:

* time from the first create until every Deployment, PVC and Service exists and every status
  is current (``observedGeneration == generation``); for the no-op: until it has seen them all;
* operator RSS (peak, ``VmHWM``) and API writes per object (the operator's own counter);
* writes during an idle resync: the operator is restarted, compares all 1000, and must write
  nothing -- counted both by the operator and by the API server (``apiserver_request_total``).

Targets: <= 60 s, RSS <= 250 MB, 0 idle writes. Usage: ``.venv/bin/python bench/bench_operator.py
[--count N]``. Uses $KUBECONFIG when set, else starts etcd + kube-apiserver (``hardened dev``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MARKER = "<!-- bench:section -->"
WRITE_VERBS = {"APPLY", "PATCH", "POST", "PUT", "DELETE", "CREATE", "UPDATE"}
OUR_RESOURCES = {"deployments", "services", "persistentvolumeclaims", "hardenedservices", "events"}
TARGET_SECONDS, TARGET_RSS_MB = 60.0, 250.0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def wait(what: str, probe: Callable[[], bool], timeout: float, interval: float = 0.5) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if probe():
            return time.monotonic()
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


class Plane:
    """$KUBECONFIG's cluster, or a fresh local etcd + kube-apiserver."""

    def __init__(self) -> None:
        self._started: Any = None
        if os.environ.get("KUBECONFIG"):
            self.kubeconfig = Path(os.environ["KUBECONFIG"])
            return
        from hardened_operator.dev import plane

        directory = Path(tempfile.mkdtemp(prefix="bench-operator-"))
        log(f"starting etcd + kube-apiserver in {directory}")
        self._started = plane.start(
            plane.Options(directory=directory, operator=False, tie_to_parent=True)
        )
        self.kubeconfig = self._started.kubeconfig

    def stop(self) -> None:
        if self._started is not None:
            self._started.stop()

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1"}

    def api(self, pool: int = 32) -> Any:
        from kubernetes import client, config

        configuration = client.Configuration()
        # kubernetes.config (unlike kubernetes.client) has no annotations.
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig), client_configuration=configuration
        )
        configuration.connection_pool_maxsize = pool
        return client.ApiClient(configuration)


def raw_get(api: Any, path: str) -> bytes:
    """GET ``path`` with the client's credentials, without model deserialisation."""
    method, url, headers, body, _ = api.param_serialize(
        "GET", path, auth_settings=["BearerToken"], header_params={"Accept": "*/*"}
    )
    response = api.call_api(method, url, header_params=headers, body=body)
    data: bytes = response.read()
    if response.status >= 400:
        raise SystemExit(f"GET {path}: {response.status} {data[:300]!r}")
    return data


def get_json(api: Any, path: str) -> Any:
    return json.loads(raw_get(api, path))


def server_writes(api: Any) -> int:
    """Writes the API server served to our resources, from its own /metrics."""
    total = 0
    for line in raw_get(api, "/metrics").decode().splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(
            part.split("=", 1) for part in line[line.index("{") + 1 : line.index("}")].split(",")
        )
        verb, resource = labels.get("verb", "").strip('"'), labels.get("resource", "").strip('"')
        if verb in WRITE_VERBS and resource in OUR_RESOURCES:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def create_namespace(api: Any, name: str) -> None:
    from kubernetes import client

    # The client validates a plain dict into the model; its annotation names only the model.
    client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})  # type: ignore[arg-type]


def create_all(api: Any, namespace: str, count: int, services: int) -> float:
    """Create ``count`` HardenedServices concurrently (the first ``services`` with a port, so
    with a Service); returns the start time."""
    from kubernetes import client

    custom = client.CustomObjectsApi(api)

    def one(i: int) -> None:
        body: dict[str, Any] = {"apiVersion": "ai-system.io/v1alpha1", "kind": "HardenedService",
                "metadata": {"name": f"svc-{i:04d}", "namespace": namespace},
                "spec": {"image": f"ghcr.io/ai-system/svc:{i}"}}  # fmt: skip
        if i < services:
            body["spec"]["ports"] = [{"name": "http", "containerPort": 8080}]
        for attempt in range(5):
            try:
                custom.create_namespaced_custom_object(
                    "ai-system.io", "v1alpha1", namespace, "hardenedservices", body
                )
                return
            except client.exceptions.ApiException as error:
                if error.status not in (429, 500, 503, 504) or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(count)))
    log(f"created {count} HardenedServices in {time.monotonic() - start:.1f}s")
    return start


def counts(api: Any, namespace: str) -> dict[str, int]:
    base = f"/api/v1/namespaces/{namespace}"
    hsvcs = get_json(api, f"/apis/ai-system.io/v1alpha1/namespaces/{namespace}/hardenedservices")
    current = sum(
        1
        for h in hsvcs["items"]
        if (h.get("status") or {}).get("observedGeneration") == h["metadata"]["generation"]
        and (h.get("status") or {}).get("conditions")
    )
    return {
        "deployments": len(
            get_json(api, f"/apis/apps/v1/namespaces/{namespace}/deployments")["items"]
        ),
        "pvcs": len(get_json(api, f"{base}/persistentvolumeclaims")["items"]),
        "services": len(get_json(api, f"{base}/services")["items"]),
        "statuses": current,
    }


class Proc:
    def __init__(self, command: list[str], env: dict[str, str], log_file: Path) -> None:
        self.log_file = log_file
        with log_file.open("wb") as sink:
            self.popen = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        if self.popen.poll() is not None:
            tail = self.log_file.read_text(errors="replace")[-3000:]
            raise SystemExit(f"process exited {self.popen.returncode}:\n{tail}")
        return True

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start_operator(plane: Plane, namespace: str, work: Path) -> tuple[Proc, int]:
    port = free_port()
    command = [sys.executable, "-m", "hardened_operator.cli", "run", "--namespace", namespace,
               "--no-webhook", "--health-listen", f"127.0.0.1:{port}"]  # fmt: skip
    proc = Proc(command, plane.env(), work / f"operator-{time.time():.0f}.log")
    wait(
        "the operator's /operatorz",
        lambda: proc.alive() and http(port, "/operatorz")[0] == 200,
        120,
    )
    return proc, port


def http(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


def metric(port: int, prefix: str) -> float:
    status, text = http(port, "/metrics")
    if status != 200:
        raise SystemExit("cannot read the operator's metrics")
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix) and not line.startswith("#")
    )


def run_baseline(plane: Plane, api: Any, count: int, services: int, work: Path) -> dict[str, float]:
    namespace = f"bench-noop-{uuid.uuid4().hex[:6]}"
    create_namespace(api, namespace)
    progress = work / "noop-progress"
    progress.write_text("0")
    command = [sys.executable, str(HERE / "noop_operator.py"), "--namespace", namespace,
               "--progress", str(progress)]  # fmt: skip
    proc = Proc(command, plane.env(), work / "noop.log")
    try:
        time.sleep(3)  # kopf's start-up: login, listing an empty namespace
        proc.alive()
        start = create_all(api, namespace, count, services)
        done = wait(
            "the no-op operator to see every object",
            lambda: proc.alive() and int(progress.read_text() or 0) >= count,
            600,
            0.1,
        )
        return {
            "seconds": done - start,
            "rss_mb": rss_mb(proc.popen.pid),
            "cpu_s": cpu_seconds(proc.popen.pid),
        }
    finally:
        proc.stop()


def run_operator(plane: Plane, api: Any, count: int, services: int, work: Path) -> dict[str, float]:
    namespace = f"bench-op-{uuid.uuid4().hex[:6]}"
    create_namespace(api, namespace)
    proc, port = start_operator(plane, namespace, work)
    result: dict[str, float] = {}
    try:
        start = create_all(api, namespace, count, services)
        last: dict[str, int] = {}

        def converged() -> bool:
            nonlocal last
            proc.alive()
            last = counts(api, namespace)
            want = {"deployments": count, "pvcs": 4 * count, "services": services,
                    "statuses": count}  # fmt: skip
            return last == want

        done = wait("every object and status", converged, 900, 1.0)
        result["seconds"] = done - start
        result["rss_mb"] = rss_mb(proc.popen.pid)
        result["cpu_s"] = cpu_seconds(proc.popen.pid)
        result["writes"] = metric(port, "hardened_operator_api_writes_total")
        log(f"converged in {result['seconds']:.1f}s: {last}")
    finally:
        proc.stop()

    # Idle resync: a fresh process lists all of them and compares every one.
    before = server_writes(api)
    proc, port = start_operator(plane, namespace, work)
    try:
        wait(
            "every HardenedService compared after the restart",
            lambda: (
                proc.alive()
                and metric(port, 'hardened_operator_reconciles_total{result="unchanged"}') >= count
            ),
            600,
        )
        time.sleep(5)  # late watch events, too
        result["idle_writes"] = metric(port, "hardened_operator_api_writes_total")
        result["idle_rss_mb"] = rss_mb(proc.popen.pid)
    finally:
        proc.stop()
    result["idle_server_writes"] = server_writes(api) - before
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument(
        "--services",
        type=int,
        default=None,
        help="how many of them get a port, hence a ClusterIP Service (default: all; the "
        "local plane's service range is a /16)",
    )
    args = parser.parse_args()
    count = args.count
    services = count if args.services is None else min(args.services, count)
    plane = Plane()
    work = Path(tempfile.mkdtemp(prefix="bench-operator-work-"))
    try:
        api = plane.api()
        log(f"baseline: no-op kopf operator, {count} objects")
        base = run_baseline(plane, api, count, services, work)
        log(f"baseline: {base}")
        log(f"hardened run: {count} objects")
        ours = run_operator(plane, api, count, services, work)
        log(f"hardened run: {ours}")
    finally:
        plane.stop()

    ok_time = ours["seconds"] <= TARGET_SECONDS
    peak_rss = max(ours["rss_mb"], ours["idle_rss_mb"])  # converging, or listing on restart
    ok_rss = peak_rss <= TARGET_RSS_MB
    ok_idle = ours["idle_writes"] == 0 and ours["idle_server_writes"] == 0
    rows = [
        ("Time to converge (s)", f"{ours['seconds']:.1f}", f"{base['seconds']:.1f}",
         f"{ours['seconds'] / base['seconds']:.1f}x", f"<= {TARGET_SECONDS:.0f}", ok_time),
        ("Peak RSS (MB)", f"{peak_rss:.0f}", f"{base['rss_mb']:.0f}",
         f"{peak_rss / base['rss_mb']:.1f}x", f"<= {TARGET_RSS_MB:.0f}", ok_rss),
        ("Operator CPU (s)", f"{ours['cpu_s']:.1f}", f"{base['cpu_s']:.1f}",
         f"{ours['cpu_s'] / base['cpu_s']:.1f}x", "-", True),
        ("API writes per object", f"{ours['writes'] / count:.2f}", "0", "-", "-", True),
        ("Writes on idle resync (operator / API server)",
         f"{ours['idle_writes']:.0f} / {ours['idle_server_writes']:.0f}", "0", "-", "0", ok_idle),
    ]  # fmt: skip
    print(MARKER)
    print(f"{count} HardenedServices created at once (16 concurrent clients) on the local "
          "control plane (etcd + kube-apiserver, no kubelet); `hardened run --no-webhook` "
          "against a no-op kopf operator (`bench/noop_operator.py`) watching the same number "
          "of objects created the same way, in the same run.\n")  # fmt: skip
    print("| Measure | hardened run | no-op kopf | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for name, value, baseline, ratio, target, met in rows:
        print(f"| {name} | {value} | {baseline} | {ratio} | {target} | {'yes' if met else 'NO'} |")
    print(
        f"\nConverged = {count} Deployments, {4 * count} PVCs, {services} Services (the "
        f"{services} objects with a port) and {count} "
        "statuses with `observedGeneration == generation`. The no-op's time is until it has "
        "seen every object. Idle resync = a restarted operator comparing all objects; writes "
        "counted by the operator and by the API server's `apiserver_request_total` "
        "(deployments, services, PVCs, hardenedservices, events). "
        f"Peak RSS is the larger of converging ({ours['rss_mb']:.0f} MB) and the restart's "
        f"listing ({ours['idle_rss_mb']:.0f} MB). The API server shares the machine's cores, so "
        "times vary with its load from run to run."
    )
    return 0 if ok_time and ok_rss and ok_idle else 1


if __name__ == "__main__":
    raise SystemExit(main())
