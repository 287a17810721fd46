"""Benchmark: background PolicyReports (``hardened run --reports``) against the local control
plane, with the reports-off operator as the baseline in the same run.

Objects: ``--namespaces`` namespaces of ``--pods`` bare Pods each (half of them running as
root, so failing), plus one namespace of ``--big`` failing Pods (over the report's cap). The
PolicyReport CRD is the chart's vendored copy. The operator runs cluster-wide (as the chart
runs it), ``--no-webhook``, once with ``--no-reports`` (the baseline) and once with
``--reports``; each run is measured the same way:

* memory: peak RSS (``VmHWM``) over start-up and the measurements, and RSS once settled;
* reports on only: time from start until every namespace's report is written; the update
  latency (a failing Pod created, or deleted, until the report's ``summary.fail`` says so,
  polled every 20 ms), median and max of ``--changes`` changes; report writes while idle
  (must be 0) and during ``--churn-seconds`` of continuous create/delete in one namespace
  (a failing Pod created every few ms: the per-namespace debounce writes at most once per
  10 s, plus the last).

Usage: ``.venv/bin/python bench/bench_reports.py [--pods N] ...``. Uses $KUBECONFIG when set,
else starts etcd + kube-apiserver (``hardened dev``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from bench_operator import (
    Plane,
    Proc,
    cpu_seconds,
    create_namespace,
    free_port,
    http,
    log,
    metric,
    rss_mb,
    wait,
)

ROOT = Path(__file__).resolve().parents[1]
CRD_FILE = ROOT / "helm/hardened-operator/files/policyreports.wgpolicyk8s.io.yaml"
MARKER = "<!-- bench:section -->"
REPORT = ("wgpolicyk8s.io", "v1alpha2", "policyreports", "hardened-operator")
COMPLIANT = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
ROOT_CONTEXT = {"runAsUser": 0}


def pod(name: str, failing: bool) -> dict[str, Any]:
    context = ROOT_CONTEXT if failing else COMPLIANT
    container = {"name": "app", "image": "registry.example/app:1", "securityContext": context}
    return {"metadata": {"name": name}, "spec": {"containers": [container]}}


def create_pods(api: Any, items: list[tuple[str, str, bool]]) -> None:
    from kubernetes import client

    core = client.CoreV1Api(api)

    def one(item: tuple[str, str, bool]) -> None:
        namespace, name, failing = item
        for attempt in range(5):
            try:
                core.create_namespaced_pod(namespace, pod(name, failing))  # type: ignore[arg-type]
                return
            except client.exceptions.ApiException as error:
                if error.status not in (429, 500, 503, 504) or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, items))


def report_fail(api: Any, namespace: str) -> int | None:
    from kubernetes import client

    try:
        found: Any = client.CustomObjectsApi(api).get_namespaced_custom_object(
            REPORT[0], REPORT[1], namespace, REPORT[2], REPORT[3]
        )
    except client.exceptions.ApiException as error:
        if error.status == 404:
            return None
        raise
    return int(found["summary"]["fail"])


def start(plane: Plane, work: Path, reports: bool) -> tuple[Proc, int]:
    port = free_port()
    command = [sys.executable, "-m", "hardened_operator.cli", "run", "--all-namespaces",
               "--no-webhook", "--health-listen", f"127.0.0.1:{port}",
               "--reports" if reports else "--no-reports"]  # fmt: skip
    name = "on" if reports else "off"
    proc = Proc(command, plane.env(), work / f"operator-reports-{name}.log")
    wait("/operatorz", lambda: proc.alive() and http(port, "/operatorz")[0] == 200, 120, 0.2)
    return proc, port


def report_writes(port: int) -> float:
    return metric(port, 'hardened_operator_api_writes_total{resource="policyreports"')


def measure_off(plane: Plane, work: Path, settle: float) -> dict[str, float]:
    proc, _ = start(plane, work, reports=False)
    try:
        time.sleep(settle)
        return {
            "peak_mb": rss_mb(proc.popen.pid),
            "rss_mb": rss_mb(proc.popen.pid, "VmRSS"),
            "cpu_s": cpu_seconds(proc.popen.pid),
        }
    finally:
        proc.stop()


def measure_on(
    plane: Plane, api: Any, work: Path, expected: dict[str, int], args: argparse.Namespace
) -> dict[str, Any]:
    started = time.monotonic()
    proc, port = start(plane, work, reports=True)
    result: dict[str, Any] = {}
    try:
        done = wait(
            "every namespace's report",
            lambda: proc.alive() and all(report_fail(api, ns) == n for ns, n in expected.items()),
            600,
            0.2,
        )
        result["first_reports_s"] = done - started
        from kubernetes import client as kclient

        big: Any = kclient.CustomObjectsApi(api).get_namespaced_custom_object(
            REPORT[0], REPORT[1], max(expected, key=lambda ns: expected[ns]), REPORT[2], REPORT[3]
        )
        result["big_report_kib"] = len(json.dumps(big)) / 1024
        result["big_listed"] = len(big["results"])
        time.sleep(args.settle)
        result["rss_mb"] = rss_mb(proc.popen.pid, "VmRSS")
        writes = report_writes(port)
        time.sleep(10)
        result["idle_writes"] = report_writes(port) - writes

        namespaces = sorted(ns for ns in expected if not ns.endswith("-big"))
        per_pod = expected[namespaces[0]] // (args.pods // 2)  # failing checks of one root pod
        latencies = []
        from kubernetes import client

        core = client.CoreV1Api(api)
        for i in range(args.changes):
            namespace = namespaces[i % len(namespaces)]
            name = f"change-{i}"
            before = report_fail(api, namespace) or 0

            def counts(fail: int, ns: str = namespace) -> Callable[[], bool]:
                return lambda: report_fail(api, ns) == fail

            t0 = time.monotonic()
            create_pods(api, [(namespace, name, True)])
            wait("the report to count the new pod", counts(before + per_pod), 60, 0.02)
            latencies.append(time.monotonic() - t0)
            t0 = time.monotonic()
            core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
            wait("the report to drop the pod", counts(before), 60, 0.02)
            latencies.append(time.monotonic() - t0)
        # The first change lands while kopf may still work through its first listing.
        result["latency_first_s"] = latencies[0]
        result["latency_median_s"] = statistics.median(latencies[1:])
        result["latency_max_s"] = max(latencies[1:])
        result["changes"] = len(latencies)

        # Churn: a failing Pod created in one namespace every few ms, never a quiet second.
        namespace = namespaces[0]
        writes = report_writes(port)
        deadline = time.monotonic() + args.churn_seconds
        churned = 0
        while time.monotonic() < deadline:
            create_pods(api, [(namespace, f"churn-{churned}", True)])
            churned += 1
        time.sleep(3)
        result["churn_changes"] = churned
        result["churn_writes"] = report_writes(port) - writes
        result["peak_mb"] = rss_mb(proc.popen.pid)
        result["cpu_s"] = cpu_seconds(proc.popen.pid)
    finally:
        proc.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--pods", type=int, default=200, help="per namespace (half failing)")
    parser.add_argument("--big", type=int, default=20000, help="failing pods in one namespace")
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--churn-seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args()

    from hardened_operator.k8s import bootstrap
    from hardened_operator.reports import MAX_RESULTS, findings_for

    found = findings_for(pod("x", True) | {"kind": "Pod", "apiVersion": "v1"}, "nonroot")
    assert found is not None
    root_failures = len(found.failures)  # failing checks of one root Pod
    plane = Plane()
    work = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    try:
        api = plane.api()
        bootstrap.install_crd(api, yaml.safe_load(CRD_FILE.read_text()))
        run = uuid.uuid4().hex[:6]
        items: list[tuple[str, str, bool]] = []
        expected: dict[str, int] = {}
        for n in range(args.namespaces):
            namespace = f"bench-rep-{run}-{n:02d}"
            create_namespace(api, namespace)
            bootstrap.ensure_service_account(api, namespace)
            items += [(namespace, f"p{i:04d}", i % 2 == 0) for i in range(args.pods)]
            expected[namespace] = (args.pods + 1) // 2 * root_failures
        big = f"bench-rep-{run}-big"
        create_namespace(api, big)
        bootstrap.ensure_service_account(api, big)
        items += [(big, f"p{i:05d}", True) for i in range(args.big)]
        expected[big] = args.big * root_failures
        t0 = time.monotonic()
        create_pods(api, items)
        log(f"created {len(items)} pods in {time.monotonic() - t0:.1f}s")

        off = measure_off(plane, work, args.settle)
        log(f"reports off: {off}")
        on = measure_on(plane, api, work, expected, args)
        log(f"reports on: {on}")
    finally:
        plane.stop()

    pods = len(items)
    failing = sum(1 for *_, f in items if f)
    print(MARKER)
    print(
        f"`hardened run --all-namespaces --no-webhook --reports` against the same command with "
        f"`--no-reports` (the baseline), in the same run, on the local control plane (etcd + "
        f"kube-apiserver, no kubelet) holding {pods} bare Pods ({failing} failing the nonroot "
        f"profile) in {args.namespaces + 1} namespaces, one of them with {args.big} failing "
        f"Pods ({expected[big]} failing results; a report lists at most {MAX_RESULTS}).\n"
    )
    print("| Measure | reports on | reports off | ratio |")
    print("|---|---|---|---|")
    for label, key in (("Peak RSS (MB)", "peak_mb"), ("RSS settled (MB)", "rss_mb"),
                       ("Operator CPU (s)", "cpu_s")):  # fmt: skip
        print(f"| {label} | {on[key]:.0f} | {off[key]:.0f} | {on[key] / off[key]:.2f}x |")
    print()
    print("| Reports on | value |")
    print("|---|---|")
    print(f"| Start to every report written (s) | {on['first_reports_s']:.1f} |")
    print(
        f"| Update latency, change to report (s): the first change | {on['latency_first_s']:.2f} |"
    )
    print(
        f"| Update latency (s), the {on['changes'] - 1} changes after it: median / max | "
        f"{on['latency_median_s']:.2f} / {on['latency_max_s']:.2f} |"
    )
    print(
        f"| Largest report: results listed, size (KiB) | {on['big_listed']} (of "
        f"{expected[big] + 1} with the notice), {on['big_report_kib']:.0f} |"
    )
    print(f"| Report writes while idle (10 s) | {on['idle_writes']:.0f} |")
    print(
        f"| Report writes during {args.churn_seconds:.0f} s of churn in one namespace "
        f"({on['churn_changes']} Pods created) | {on['churn_writes']:.0f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
