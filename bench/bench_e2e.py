"""End-to-end admission benchmark: pod creations through a real kube-apiserver (issues 13, 16).

Usage: ``.venv/bin/python bench/bench_e2e.py [--seconds S] [--rounds N] [--clients 1,100]``

``hardened dev up --admission webhook`` starts kube-apiserver v1.37.2, etcd and our webhook
(TLS, registered by a ValidatingWebhookConfiguration with ``failurePolicy: Fail``, exactly as
``dev up`` always does), and the bench adds the in-process policy (``hardened policies``:
the ValidatingAdmissionPolicy, its Deny binding confined to one namespace by a label). Four
namespaces of that one plane are the four configurations, measured in the same run,
alternating:

* ``none``: labelled ``ai-system.io/enforce=disabled`` - no admission webhook is called (the
  built-in admission plugins still run): the baseline;
* ``ours``: no label - our webhook reviews every pod (enforce);
* ``policy``: ``disabled`` for the webhook, labelled for the in-process policy - the API
  server evaluates the nonroot profile's CEL itself;
* ``psa``: ``disabled`` for us, ``pod-security.kubernetes.io/enforce=restricted`` - Pod
  Security Admission in the API server's own process: the floor of any pod policy.

N concurrent clients (keep-alive HTTPS, admin client certificate, so API Priority and
Fairness does not queue them) create a compliant pod over and over for S seconds, as a
server-side dry run (``?dryRun=All``) and as real creates (``generateName``; a few thousand
pods, deleted with the plane). Reported per configuration: throughput and median/p99
latency, and what our webhook (and PSA) adds to the baseline's median and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARKER = "<!-- bench:section -->"
HARDENED = [sys.executable, "-m", "hardened_operator.cli"]
CONFIGS = {
    "none": ("no admission webhook (baseline)", {"ai-system.io/enforce": "disabled"}),
    "ours": ("hardened webhook (TLS)", {}),
    "policy": (
        "hardened in-process policy (ValidatingAdmissionPolicy)",
        {"ai-system.io/enforce": "disabled", "bench.ai-system.io/enforcer": "policy"},
    ),
    "psa": (
        "Pod Security Admission restricted (in-process)",
        {"ai-system.io/enforce": "disabled", "pod-security.kubernetes.io/enforce": "restricted"},
    ),
}
TARGET_ADDED_P50_MS = 1.0  # at 100 clients
TARGET_ADDED_P99_MS = 5.0


def pod(namespace: str) -> dict[str, Any]:
    """Compliant with our nonroot profile and with PSA restricted."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "bench-", "namespace": namespace, "labels": {"app": "b"}},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "runAsGroup": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example.com/shop/app:2.4.1",
                    "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "10m"}},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "readOnlyRootFilesystem": True,
                    },
                }
            ],
        },
    }


class Api:
    """Just enough of a Kubernetes client: the admin kubeconfig's TLS, raw JSON requests."""

    def __init__(self, kubeconfig: Path, tmp: Path) -> None:
        import yaml

        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self.server = cluster["server"].rstrip("/")
        files = {}
        for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            files[key] = tmp / key
            files[key].write_bytes(base64.b64decode(user.get(key) or cluster[key]))
        self.ssl = ssl.create_default_context(cafile=str(files["certificate-authority-data"]))
        self.ssl.load_cert_chain(
            str(files["client-certificate-data"]), str(files["client-key-data"])
        )

    def session(self, connections: int) -> Any:
        import aiohttp

        connector = aiohttp.TCPConnector(ssl=self.ssl, limit=connections)
        return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))

    async def call(self, session: Any, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        async with session.request(method, self.server + path, data=data, headers=headers) as r:
            answer = await r.json(content_type=None)
            if r.status >= 300:
                raise RuntimeError(f"{method} {path}: HTTP {r.status}: {answer}")
            return answer


def policy_documents() -> list[dict[str, Any]]:
    """The generated policy with one binding, Deny, for the namespace labelled ``policy``."""
    from hardened_operator.inprocess import policy_documents as generated

    policy, enforce, *_ = generated("nonroot", name="bench-policy")
    enforce["spec"]["matchResources"] = {
        "namespaceSelector": {"matchLabels": {"bench.ai-system.io/enforcer": "policy"}}
    }
    return [policy, enforce]


async def setup(api: Api) -> None:
    async with api.session(4) as session:
        policy, binding = policy_documents()
        base = "/apis/admissionregistration.k8s.io/v1"
        await api.call(session, "POST", f"{base}/validatingadmissionpolicies", policy)
        await api.call(session, "POST", f"{base}/validatingadmissionpolicybindings", binding)
        for name, (_, labels) in CONFIGS.items():
            namespace = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": f"bench-{name}", "labels": labels},
            }
            await api.call(session, "POST", "/api/v1/namespaces", namespace)
            account = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": f"bench-{name}"},
            }
            await api.call(
                session, "POST", f"/api/v1/namespaces/bench-{name}/serviceaccounts", account
            )
        # Each configuration does what it should before anything is timed: a root pod is
        # refused by ours, the policy and PSA, admitted where nothing reviews it (the policy
        # and its binding are picked up asynchronously: give them a few seconds).
        for name in CONFIGS:
            root = pod(f"bench-{name}")
            root["spec"]["securityContext"] = {"runAsUser": 0}
            path = f"/api/v1/namespaces/bench-{name}/pods?dryRun=All"
            for _ in range(60):
                try:
                    await api.call(session, "POST", path, root)
                    refused = False
                except RuntimeError:
                    refused = True
                if refused == (name != "none"):
                    break
                await asyncio.sleep(0.5)
            else:
                raise SystemExit(
                    f"bench-{name}: a root pod was {'refused' if refused else 'admitted'}"
                )


async def load(
    api: Api, config: str, clients: int, seconds: float, dry_run: bool
) -> dict[str, float]:
    namespace = f"bench-{config}"
    path = f"/api/v1/namespaces/{namespace}/pods" + ("?dryRun=All" if dry_run else "")
    body = pod(namespace)
    latencies: list[float] = []
    errors = 0
    async with api.session(clients) as session:
        await asyncio.gather(*(api.call(session, "GET", "/version") for _ in range(clients)))
        end = time.monotonic() + seconds

        async def client() -> None:
            nonlocal errors
            while time.monotonic() < end:
                started = time.perf_counter()
                try:
                    await api.call(session, "POST", path, body)
                except (RuntimeError, TimeoutError, OSError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / elapsed,
        "p50": ordered[len(ordered) // 2] * 1e3,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
        "errors": errors,
        "count": len(ordered),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per setting")
    parser.add_argument("--clients", default="1,100", help="comma-separated client counts")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    plane = tmp / "plane"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    up = subprocess.run(
        [*HARDENED, "dev", "up", "--dir", str(plane), "--admission", "webhook", "--no-build"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if up.returncode != 0:
        print(up.stdout, up.stderr, file=sys.stderr)
        return 1
    load_avg = [os.getloadavg()]
    results: dict[tuple[str, bool, int], list[dict[str, float]]] = {}
    try:
        api = Api(plane / "kubeconfig", tmp)
        asyncio.run(setup(api))
        for _ in range(args.rounds):
            for dry_run in (True, False):
                for clients in counts:
                    for config in CONFIGS:
                        r = asyncio.run(load(api, config, clients, args.seconds, dry_run))
                        results.setdefault((config, dry_run, clients), []).append(r)
                        print(
                            config, "dry-run" if dry_run else "create", clients, r, file=sys.stderr
                        )
        load_avg.append(os.getloadavg())
    finally:
        subprocess.run([*HARDENED, "dev", "down", "--dir", str(plane)], env=env, timeout=120)

    def med(key: tuple[str, bool, int], metric: str) -> float:
        return statistics.median(r[metric] for r in results[key])

    loads = ", ".join("/".join(f"{x:.2f}" for x in t) for t in load_avg)
    print(MARKER)
    print(
        "Pod creations through kube-apiserver v1.37.2 (`hardened dev up --admission webhook`: "
        "etcd, the API server and our webhook on this machine; the webhook single-process, "
        "TLS, `failurePolicy: Fail`). Clients: keep-alive HTTPS with the admin certificate, "
        f"each creating a compliant pod over and over for {args.seconds:.0f} s; "
        f"{args.rounds} alternating rounds per setting, medians. Configurations in the same "
        "plane and run: *none* (a namespace nothing of ours reviews: the baseline), *webhook* "
        "(our webhook reviews every pod), *policy* (our in-process ValidatingAdmissionPolicy, "
        "`hardened policies`, nonroot: the API server evaluates its CEL) and *PSA* (Pod "
        "Security Admission restricted, in the API server's process). Client errors are "
        f"counted (none expected). Load average (1/5/15 min) before and after: {loads}."
    )
    print()
    print("| request | clients | admission | pods/s | p50 (ms) | p99 (ms) | errors |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for dry_run in (True, False):
        for clients in counts:
            for config, (label, _) in CONFIGS.items():
                key = (config, dry_run, clients)
                errors = sum(int(r["errors"]) for r in results[key])
                print(
                    f"| {'dry run' if dry_run else 'create'} | {clients} | {label} "
                    f"| {med(key, 'rps'):.0f} | {med(key, 'p50'):.1f} | {med(key, 'p99'):.1f} "
                    f"| {errors} |"
                )
    print()
    print(
        "Against *none*, same run: added median / added p99 (ms), and throughput as a ratio "
        f"(targets for the webhook at 100 clients: added p50 ≤ {TARGET_ADDED_P50_MS:.0f} ms, "
        f"p99 ≤ {TARGET_ADDED_P99_MS:.0f} ms)."
    )
    print()
    print(
        "| request | clients | webhook: added p50 / p99 | webhook: throughput "
        "| policy: added p50 / p99 | policy: throughput | PSA: added p50 / p99 "
        "| PSA: throughput |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for dry_run in (True, False):
        for clients in counts:
            none = ("none", dry_run, clients)
            cells = []
            for config in ("ours", "policy", "psa"):
                key = (config, dry_run, clients)
                add50 = med(key, "p50") - med(none, "p50")
                add99 = med(key, "p99") - med(none, "p99")
                cells.append(f"{add50:+.1f} / {add99:+.1f}")
                cells.append(f"{med(key, 'rps') / med(none, 'rps'):.2f}×")
            print(
                f"| {'dry run' if dry_run else 'create'} | {clients} | " + " | ".join(cells) + " |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
