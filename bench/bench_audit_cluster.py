"""Benchmark: ``hardened audit --cluster -A`` on 5,000 mixed pod-bearing objects (issue 11 §4).

Usage: ``.venv/bin/python bench/bench_audit_cluster.py [--objects N] [--namespaces N]
[--repeat N]``

* ``hardened dev up --no-operator`` starts etcd + kube-apiserver (the API-only plane, no
  admission webhook: creation is not what is measured) in a temp dir, stopped at the end.
* N (default 5000) objects are created over N namespaces (default 20, labelled with every
  enforce mode), in parallel (16 threads, one connection each), within a time bound: every
  pod-bearing kind (HardenedService included), a fixed-seed mix of compliant and violating
  pod specs (about half compliant).
* Measured, each a whole process, median of --repeat (default 3), alternating:
  - ``hardened audit --cluster -A --format json``: wall time and peak RSS (``wait4``);
  - baseline: ``kubectl get <every pod-bearing kind> -A -o json`` into a file (the listing
    alone), then ``hardened audit FILE --format json`` on it (what a user did before
    ``--cluster``). Ratios: --cluster against the listing alone, and against listing plus
    offline audit.
* Checked, not assumed: --cluster judged N objects and its findings equal the offline
  audit's of the kubectl export (file and line aside).

Prints the figures, then a markdown section after ``<!-- bench:section -->`` (bench/run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The objects are the test suite's (tests/audit/audit_manifests.py, pure builders): the ones
# the API server accepts, as the --cluster tests create them. tests/ is a package rooted at
# the repository, which a script in bench/ does not have on its path.
sys.path.insert(0, str(ROOT))

from tests.audit.audit_manifests import (  # noqa: E402
    compliant_spec,
    container,
    hardened_service,
    valid_object,
)

HARDENED = ROOT / ".venv" / "bin" / "hardened"
MARKER = "<!-- bench:section -->"
SEED = 20261206
CREATE_THREADS = 16
CREATE_BOUND_SECONDS = 900.0
LABEL = "ai-system.io/enforce"
LABELS = (None, "enforce", "warn", "audit", "disabled")

Obj = dict[str, Any]


# ---------------------------------------------------------------------------- objects


def variants(rng: random.Random) -> Obj:
    """A pod spec: compliant about half the time, else broken in one of several ways."""
    spec = compliant_spec()
    choice = rng.randrange(8)
    app = spec["containers"][0]["securityContext"]
    if choice == 1:
        spec["securityContext"]["runAsUser"] = 0
    elif choice == 2:
        del spec["securityContext"]["runAsNonRoot"]
    elif choice == 3:
        spec["initContainers"] = [container("init", runAsUser=0)]
    elif choice == 4:
        del app["allowPrivilegeEscalation"]
        app["privileged"] = True
    elif choice == 5:
        app["runAsNonRoot"] = False
    # 0, 6, 7: compliant
    return spec


def objects(count: int, namespaces: list[str]) -> Iterator[Obj]:
    from hardened_operator.workloads import POD_BEARING

    rng = random.Random(SEED)
    kinds = [k.kind for k in POD_BEARING]
    for index in range(count):
        kind = kinds[index % len(kinds)]
        namespace = namespaces[index % len(namespaces)]
        name = f"{kind.lower()}-{index}"
        if kind == "HardenedService":
            yield hardened_service(name, namespace)
        else:
            yield valid_object(kind, variants(rng), name, namespace)


# ---------------------------------------------------------------------------- the plane


def post(api: Any, path: str, body: Obj) -> None:
    method, url, headers, data, _ = api.param_serialize(
        "POST",
        path,
        body=body,
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method, url, header_params=headers, body=data)
    answer = response.read()
    if not 200 <= response.status < 300:
        raise RuntimeError(f"POST {path}: HTTP {response.status}: {answer[:300]!r}")


def populate(kubeconfig: Path, count: int, namespace_count: int) -> tuple[float, list[str]]:
    """Create the namespaces and ``count`` objects; seconds taken."""
    from hardened_operator.k8s import bootstrap, inventory
    from hardened_operator.workloads import POD_BEARING

    by_kind = {k.kind: k for k in POD_BEARING}
    admin = bootstrap.api_client(kubeconfig)
    names = [f"bench-{i:02d}" for i in range(namespace_count)]
    for index, name in enumerate(names):
        label = LABELS[index % len(LABELS)]
        bootstrap.create_namespace(admin, name, {LABEL: label} if label else None)
    admin.close()
    started = time.monotonic()
    clients = [bootstrap.api_client(kubeconfig) for _ in range(CREATE_THREADS)]

    def create_share(share: int) -> int:
        api = clients[share]
        made = 0
        for index, obj in enumerate(objects(count, names)):
            if index % CREATE_THREADS != share:
                continue
            if time.monotonic() - started > CREATE_BOUND_SECONDS:
                raise RuntimeError(f"creating {count} objects took over {CREATE_BOUND_SECONDS} s")
            kind = by_kind[obj["kind"]]
            post(api, inventory.list_path(kind, obj["metadata"]["namespace"]), obj)
            made += 1
        return made

    with ThreadPoolExecutor(CREATE_THREADS) as pool:
        made = sum(pool.map(create_share, range(CREATE_THREADS)))
    for api in clients:
        api.close()
    if made != count:
        raise RuntimeError(f"created {made} objects, not {count}")
    return time.monotonic() - started, names


# ---------------------------------------------------------------------------- measuring


# Peak RSS of a child comes from wait4, but Linux carries the RSS high-water mark of the
# process image an exec replaces into the new program's figure: forked straight from this
# benchmark (~90 MiB), every command would read at least that. So a minimal interpreter
# (python -I -S, ~9 MiB: the floor of every figure) forks and waits for the command.
_LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    code = os.waitstatus_to_exitcode(status)
    out.write(f"{time.perf_counter() - started} {usage.ru_maxrss} {code}")
"""


def measure(command: list[str], stdout: Any, env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one whole process."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as result:
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, result.name, *command],
            stdout=stdout, stderr=subprocess.DEVNULL, env=env, check=True, timeout=1800,
        )  # fmt: skip
        wall, rss_kib, code = result.read().split()
    return float(wall), int(rss_kib) / 1024, int(code)


def comparable(entries: list[Obj]) -> list[tuple[Any, ...]]:
    keys = ("type", "kind", "namespace", "name", "container", "containerType", "check", "field")
    return sorted((*(e[k] for k in keys), e["message"], e["fix"]) for e in entries)


def row(command: str, seconds: float, mib: float) -> str:
    return f"| {command} | {seconds:.2f} s | {mib:.0f} MiB |"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("kubectl is needed for the baseline", file=sys.stderr)
        return 1
    from hardened_operator.k8s import inventory
    from hardened_operator.workloads import POD_BEARING

    resources = ",".join(inventory.resource_name(k) for k in POD_BEARING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-audit-cluster-"))
    plane = tmp / "plane"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    up = subprocess.run(
        [str(HARDENED), "dev", "up", "--dir", str(plane), "--no-operator", "--no-build",
         "--no-service-account-admission"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if up.returncode != 0:
        print(up.stdout, up.stderr, file=sys.stderr)
        return 1
    kubeconfig = plane / "kubeconfig"
    env["KUBECONFIG"] = str(kubeconfig)
    env.pop("NO_COLOR", None)
    results: dict[str, list[tuple[float, float, int]]] = {"cluster": [], "get": [], "offline": []}
    load = [os.getloadavg()[0]]
    try:
        create_seconds, _ = populate(kubeconfig, args.objects, args.namespaces)
        print(f"created {args.objects} objects in {create_seconds:.1f} s", file=sys.stderr)
        cluster_out, export, offline_out = tmp / "cluster.json", tmp / "export.json", tmp / "o.json"
        for _ in range(args.repeat):
            with cluster_out.open("w") as out:
                results["cluster"].append(
                    measure(
                        [str(HARDENED), "audit", "--cluster", "-A", "--format", "json"], out, env
                    )
                )
            with export.open("w") as out:
                results["get"].append(measure([kubectl, "get", resources, "-A", "-o", "json"],
                                              out, env))  # fmt: skip
            with offline_out.open("w") as out:
                results["offline"].append(
                    measure([str(HARDENED), "audit", str(export), "--format", "json"], out, env)
                )
            print({k: v[-1] for k, v in results.items()}, file=sys.stderr)
        load.append(os.getloadavg()[0])
        cluster_entries = json.loads(cluster_out.read_text())
        offline_entries = json.loads(offline_out.read_text())
        same = comparable(cluster_entries) == comparable(offline_entries)
        summary = subprocess.run(
            [str(HARDENED), "audit", "--cluster", "-A", "--format", "sarif"],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        rows = json.loads(summary.stdout)["runs"][0]["properties"]["namespaces"]
        judged = sum(row["objects"] for row in rows if row["namespace"].startswith("bench-"))
    finally:
        subprocess.run(
            [str(HARDENED), "dev", "down", "--dir", str(plane)],
            env=env, capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)
    codes = {name: {r[2] for r in runs} for name, runs in results.items()}
    if not same or judged != args.objects or codes["get"] != {0}:
        print(
            f"CHECK FAILED: same findings={same}, judged={judged}, codes={codes}", file=sys.stderr
        )
        return 1

    def median(name: str, index: int) -> float:
        return statistics.median(run[index] for run in results[name])

    cluster_s, get_s, offline_s = median("cluster", 0), median("get", 0), median("offline", 0)
    cluster_mib, get_mib, offline_mib = median("cluster", 1), median("get", 1), median("offline", 1)
    violating = len({(e["namespace"], e["kind"], e["name"]) for e in cluster_entries})
    lines = [
        "`.venv/bin/python bench/bench_audit_cluster.py` (issue 11 §4): "
        f"{args.objects} pod-bearing objects (every kind, HardenedService included; seed {SEED}; "
        f"{violating} with findings, {len(cluster_entries)} findings) in {args.namespaces} "
        "namespaces of the API-only plane (`hardened dev up --no-operator`), created in "
        f"{create_seconds:.0f} s by {CREATE_THREADS} threads. Whole processes, median of "
        f"{args.repeat}, alternating; peak RSS from `wait4` (each started by a bare "
        "interpreter, so ~9 MiB is the floor of every figure).",
        "",
        "| command | wall time | peak RSS |",
        "| --- | --- | --- |",
        row("`hardened audit --cluster -A --format json`", cluster_s, cluster_mib),
        row("baseline: `kubectl get <10 kinds> -A -o json > FILE`", get_s, get_mib),
        row("baseline: `hardened audit FILE --format json`", offline_s, offline_mib),
        "",
        f"**--cluster: {cluster_s / get_s:.2f}x the time of kubectl's listing alone, "
        f"{cluster_s / (get_s + offline_s):.2f}x the time of listing then auditing the export**; "
        f"peak memory {cluster_mib / max(get_mib, offline_mib):.2f}x the larger of the two "
        "baseline processes. Findings identical to the offline audit of the export (checked "
        f"in this run); all {args.objects} objects judged. Load average "
        f"{load[0]:.1f} at the start, {load[-1]:.1f} at the end, on {os.cpu_count()} cores.",
    ]
    print(MARKER)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
