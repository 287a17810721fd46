"""Benchmark: microseconds per policy evaluation of a 3-container pod template.

Usage: ``.venv/bin/python bench/bench_policy.py [--seconds S]``

Measures, in the same run and on the same pod template (three containers, compliant):

* ``evaluate(metadata, spec, "nonroot")`` and ``evaluate(..., "restricted")``;
* the same two on a non-compliant variant (every container root: the denial path builds
  findings);
* ``review_object`` of a Deployment wrapping the template (what the webhook and audit call);
* the baseline: ``copy.deepcopy`` of the same pod spec, i.e. one full walk of the structure.

Target: <= 50 µs per evaluation for both profiles. Each figure is the median of 7 timing
rounds of process CPU time (the machine is shared; wall time would measure the neighbours).
Prints a markdown section after ``<!-- bench:section -->`` (see bench/run.py).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "operator"))

from hardened_operator.policy import evaluate  # noqa: E402
from hardened_operator.workloads import review_object  # noqa: E402

TARGET_US = 50.0
ROUNDS = 7
MARKER = "<!-- bench:section -->"


def container(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": f"registry.example/{name}:1.0",
        "ports": [{"containerPort": 8080}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def template() -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"}, "annotations": {"example.com/owner": "team"}},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "runAsGroup": 1000,
                "fsGroup": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container(n) for n in ("app", "sidecar", "metrics")],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def root_template() -> dict[str, Any]:
    bad = template()
    for item in bad["spec"]["containers"]:
        item["securityContext"] = {"runAsUser": 0, "privileged": True}
    del bad["spec"]["securityContext"]
    return bad


def per_call_us(func: Callable[[], object], seconds: float) -> float:
    # CPU time of this process, not wall time: the machine is shared, and a benchmark of a
    # pure function should not measure the neighbours.
    timer = timeit.Timer(func, timer=time.process_time)
    calibration = 200
    elapsed = timer.timeit(number=calibration)
    # Scale so that each round lasts about seconds / ROUNDS of CPU time.
    number = max(1, int(calibration * (seconds / ROUNDS) / max(elapsed, 1e-9)))
    rounds = timer.repeat(repeat=ROUNDS, number=number)
    return statistics.median(rounds) / number * 1e6


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.15, help="CPU seconds per measurement")
    args = parser.parse_args(argv)

    good, bad = template(), root_template()
    meta, spec = good["metadata"], good["spec"]
    bad_meta, bad_spec = bad["metadata"], bad["spec"]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": good},
    }
    # Sanity: the measured calls do what the table says.
    assert all(r.allowed for r in evaluate(meta, spec, "restricted"))
    assert not all(r.allowed for r in evaluate(bad_meta, bad_spec, "nonroot"))
    assert review_object(deployment, "restricted") == []

    s = args.seconds
    baseline = per_call_us(lambda: copy.deepcopy(spec), s)
    rows = [
        ("evaluate, nonroot, compliant", per_call_us(lambda: evaluate(meta, spec, "nonroot"), s)),
        (
            "evaluate, restricted, compliant",
            per_call_us(lambda: evaluate(meta, spec, "restricted"), s),
        ),
        (
            "evaluate, nonroot, all containers root",
            per_call_us(lambda: evaluate(bad_meta, bad_spec, "nonroot"), s),
        ),
        (
            "evaluate, restricted, all containers root",
            per_call_us(lambda: evaluate(bad_meta, bad_spec, "restricted"), s),
        ),
        (
            "review_object(Deployment), restricted",
            per_call_us(lambda: review_object(deployment, "restricted"), s),
        ),
    ]
    verdicts = {name: us for name, us in rows}
    compliant = [
        verdicts["evaluate, nonroot, compliant"],
        verdicts["evaluate, restricted, compliant"],
    ]
    met = all(us <= TARGET_US for us in compliant)

    for name, us in rows:
        print(f"{name:45} {us:8.1f} µs  ({us / baseline:4.2f}x deepcopy)")
    print(f"{'baseline: copy.deepcopy(pod spec)':45} {baseline:8.1f} µs")
    print(
        f"target <= {TARGET_US:.0f} µs per evaluation (both profiles): {'met' if met else 'MISSED'}"
    )

    print(MARKER)
    print(
        "Policy engine: one evaluation of a three-container pod template (median of "
        f"{ROUNDS} rounds of process CPU time), against `copy.deepcopy` of the same pod spec "
        "measured in the same run."
    )
    print()
    print("| measurement | µs per call | × deepcopy baseline |")
    print("|---|---:|---:|")
    for name, us in rows:
        print(f"| {name} | {us:.1f} | {us / baseline:.2f} |")
    print(f"| baseline: `copy.deepcopy(pod spec)` | {baseline:.1f} | 1.00 |")
    print()
    worst = max(compliant)
    print(
        f"Target ≤ {TARGET_US:.0f} µs per evaluation for both profiles: "
        f"**{'met' if met else 'missed'}** (slowest profile {worst:.1f} µs)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
