"""Issue 13's transport experiment: does serving the webhook over HTTP/2 remove its end-to-end cost?

Usage::

    .venv/bin/pip install --target /tmp/h2lib granian==2.8.7 hypercorn==0.18.0 uvloop==0.23.0
    .venv/bin/python bench/bench_e2e_transport.py [--lib /tmp/h2lib] [--clients 1,100]

The servers under test are not dependencies of the project: they are loaded from ``--lib`` (a
``pip install --target`` folder) into the server processes only. Each serves the same policy
(``bench/asgi_webhook.py``: the webhook's decision, memo and metrics behind an ASGI app) with
the same certificate:

* ``aiohttp h1``: ``hardened webhook`` as shipped (HTTP/1.1 only, Python TLS): the baseline;
* ``granian h2`` / ``granian h1``: granian (Rust HTTP and TLS, one worker process), ALPN ``h2``
  or HTTP/1.1 only - the pair separates what HTTP/2 does from what a Rust server does;
* ``hypercorn h2``: hypercorn (asyncio, the ``h2`` library, Python TLS), ALPN ``h2``;
* ``aiohttp+uvloop h1``: ``hardened webhook`` unchanged on uvloop's event loop (compiled TLS
  and I/O): what the shipped server would cost with that one more dependency.

Two measurements, in one run:

1. *direct*: ``h2load`` (Debian package ``nghttp2-client``) posts the 6.5 KB Deployment
   review of ``bench_webhook.py`` over TLS with keep-alive (HTTP/1.1: 16 connections; HTTP/2:
   2 connections x 16 streams); server CPU per request from /proc, 2xx answers counted.
2. *through kube-apiserver*: ``hardened dev up --admission webhook`` (kube-apiserver, etcd,
   ``hardened webhook``) plus one ValidatingWebhookConfiguration per other server, each
   confined to a namespace by a label; clients create compliant pods (server-side dry run) in
   each namespace in turn, and a namespace no webhook reviews is the baseline. Recorded per
   server: TCP connections the API server opened to it during the run (distinct client ports
   seen by ``ss`` every 0.1 s), its CPU per review, and the latency and throughput the clients
   saw against the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_e2e  # noqa: E402  (the plane's client, the compliant pod, the load loop)
import bench_webhook  # noqa: E402  (the 6.5 KB review)

MARKER = "<!-- bench:section -->"
LABEL = "bench.ai-system.io/transport"
ASGI_APP = "asgi_webhook:app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for child in children:
        pids += process_tree(int(child))
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live descendants (granian's worker)."""
    total = 0.0
    for one in process_tree(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def listener_pid(port: int) -> int:
    out = subprocess.run(
        ["ss", "-tlnpH", f"sport = :{port}"], capture_output=True, text=True, check=False
    ).stdout
    pids = sorted({int(p) for p in re.findall(r"pid=(\d+)", out)})
    if not pids:
        raise RuntimeError(f"nothing listens on port {port}")
    return pids[0]


class ConnectionCounter(threading.Thread):
    """Distinct client ports of established connections to ``port``, sampled every 0.1 s."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.seen: set[str] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        query = ["ss", "-tnH", "state", "established", f"( sport = :{self.port} )"]
        while not self.stopping.is_set():
            out = subprocess.run(query, capture_output=True, text=True, check=False).stdout
            self.seen.update(line.split()[-1] for line in out.splitlines() if line.strip())
            self.stopping.wait(0.1)

    def stop(self) -> int:
        self.stopping.set()
        self.join()
        return len(self.seen)


def server_commands(cert: Path, key: Path) -> dict[str, list[str]]:
    """The experimental servers (``PORT`` is replaced); ``aiohttp h1`` is added by callers."""
    py = sys.executable
    granian = [py, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1"]
    granian += ["--port", "PORT", "--workers", "1", "--no-ws", "--log-level", "warning"]
    granian += ["--ssl-certificate", str(cert), "--ssl-keyfile", str(key)]
    granian += ["--ssl-protocol-min", "tls1.2", "--factory", ASGI_APP]
    return {
        "granian h2": [*granian, "--http", "2"],
        "granian h1": [*granian, "--http", "1"],
        "hypercorn h2": [py, str(HERE / "asgi_webhook.py"), "PORT", str(cert), str(key)],
        "aiohttp+uvloop h1": uvloop_command(cert, key),
    }


UVLOOP_CLI = (
    "import asyncio, uvloop; asyncio.set_event_loop_policy(uvloop.EventLoopPolicy()); "
    "from hardened_operator.cli import main; main()"
)


def uvloop_command(cert: Path, key: Path) -> list[str]:
    """``hardened webhook`` unchanged, on uvloop's event loop (its TLS is compiled code)."""
    return [sys.executable, "-c", UVLOOP_CLI, *aiohttp_command(cert, key)[3:]]


def aiohttp_command(cert: Path, key: Path) -> list[str]:
    tls = ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    return [
        *bench_e2e.HARDENED,
        "webhook",
        "--listen",
        "127.0.0.1:PORT",
        *tls,
        "--log-level",
        "warning",
    ]


def start(
    command: list[str], env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [part.replace("PORT", str(port)) for part in command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                message = f"{command[:4]} did not start: {log.read_text()[-2000:]}"
                raise RuntimeError(message) from exc
            time.sleep(0.2)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- 1. direct ----------------------------------------------------------------------------


def direct(
    env: dict[str, str], tmp: Path, cert: Path, key: Path, requests: int, rounds: int
) -> dict[str, list[dict[str, Any]]]:
    body = tmp / "review.json"
    body.write_bytes(json.dumps(bench_webhook.deployment_review()).encode())
    commands = {"aiohttp h1": aiohttp_command(cert, key), **server_commands(cert, key)}
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        for name, command in commands.items():
            servers[name] = start(command, env, tmp / f"direct-{name.replace(' ', '-')}.log")
        for _ in range(rounds):
            for name, (proc, port) in servers.items():
                h1 = name.endswith("h1")
                load = ["h2load", "-n", str(requests), "-t", "1", "-d", str(body)]
                load += ["-H", "content-type: application/json"]
                load += ["--h1", "-c", "16"] if h1 else ["-c", "2", "-m", "16"]
                before = cpu_seconds(proc.pid)
                out = subprocess.run(
                    [*load, f"https://127.0.0.1:{port}/validate"],
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=300,
                ).stdout
                spent = cpu_seconds(proc.pid) - before
                rps = re.search(r"finished in .*?, ([\d.]+) req/s", out)
                ok = re.search(r"status codes: (\d+) 2xx", out)
                protocol = re.search(r"Application protocol: (\S+)", out)
                result = {
                    "rps": float(rps.group(1)) if rps else 0.0,
                    "ok": int(ok.group(1)) if ok else 0,
                    "us": spent * 1e6 / requests,
                    "protocol": protocol.group(1) if protocol else "none",
                }
                results.setdefault(name, []).append(result)
                print("direct", name, result, file=sys.stderr, flush=True)
    finally:
        stop_all([proc for proc, _ in servers.values()])
    return results


# -- 2. through kube-apiserver ------------------------------------------------------------


def namespace_name(server: str) -> str:
    return "bench-" + re.sub(r"[^a-z0-9]+", "-", server)


def through_apiserver(
    env: dict[str, str], tmp: Path, clients: list[int], seconds: float, rounds: int
) -> tuple[dict[tuple[str, int], list[dict[str, float]]], list[tuple[float, float, float]]]:
    from hardened_operator.dev import manifests
    from hardened_operator.k8s import bootstrap

    plane = tmp / "plane"
    up = subprocess.run(
        [
            *bench_e2e.HARDENED,
            "dev",
            "up",
            "--dir",
            str(plane),
            "--admission",
            "webhook",
            "--no-build",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if up.returncode != 0:
        raise RuntimeError(f"dev up failed:\n{up.stdout}\n{up.stderr}")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        pki = plane / "pki" / "webhook"
        api = bootstrap.api_client(plane / "kubeconfig")
        ports: dict[str, int] = {}
        from kubernetes import client as k8s

        registered = k8s.AdmissionregistrationV1Api(api).list_validating_webhook_configuration()
        for configuration in registered.items:
            for hook in configuration.webhooks or []:
                found = re.search(r":(\d+)/", hook.client_config.url or "")
                if found:
                    ports["aiohttp h1"] = int(found.group(1))
        ca = (pki / "ca.crt").read_bytes()
        for name, command in server_commands(pki / "tls.crt", pki / "tls.key").items():
            proc, port = start(command, env, tmp / f"e2e-{name.replace(' ', '-')}.log")
            procs.append(proc)
            ports[name] = port
            selector = {"matchLabels": {LABEL: namespace_name(name)}}
            bootstrap.apply_validating_webhook_configuration(
                api,
                manifests.validating_webhook_configuration(
                    f"https://127.0.0.1:{port}/validate",
                    ca,
                    name=namespace_name(name),
                    namespace_selector=selector,
                ),
            )
        labels: dict[str, dict[str, str]] = {"none": {"ai-system.io/enforce": "disabled"}}
        labels["aiohttp h1"] = {}
        for name in server_commands(pki / "tls.crt", pki / "tls.key"):
            labels[name] = {"ai-system.io/enforce": "disabled", LABEL: namespace_name(name)}
        bapi = bench_e2e.Api(plane / "kubeconfig", tmp)
        asyncio.run(_setup(bapi, labels))
        load_avg = [os.getloadavg()]
        results: dict[tuple[str, int], list[dict[str, float]]] = {}
        for _ in range(rounds):
            for count in clients:
                for name in labels:
                    pid = listener_pid(ports[name]) if name in ports else None
                    counter = ConnectionCounter(ports[name]) if name in ports else None
                    if counter is not None:
                        counter.start()
                    before = cpu_seconds(pid) if pid else 0.0
                    ns = namespace_name(name).removeprefix("bench-")
                    r = asyncio.run(bench_e2e.load(bapi, ns, count, seconds, True))
                    if pid is not None and counter is not None:
                        r["cpu_ms"] = (cpu_seconds(pid) - before) * 1e3 / max(1, r["count"])
                        r["connections"] = counter.stop()
                    results.setdefault((name, count), []).append(r)
                    print("e2e", name, count, r, file=sys.stderr, flush=True)
        load_avg.append(os.getloadavg())
        return results, load_avg
    finally:
        stop_all(procs)
        subprocess.run(
            [*bench_e2e.HARDENED, "dev", "down", "--dir", str(plane)],
            env=env,
            timeout=120,
            check=False,
        )


async def _setup(api: bench_e2e.Api, labels: dict[str, dict[str, str]]) -> None:
    async with api.session(4) as session:
        for name, namespace_labels in labels.items():
            ns = namespace_name(name)
            namespace = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": namespace_labels},
            }
            await api.call(session, "POST", "/api/v1/namespaces", namespace)
            account = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default"},
            }
            await api.call(session, "POST", f"/api/v1/namespaces/{ns}/serviceaccounts", account)
        # Every server must refuse a root pod before anything is timed (the API server picks
        # up new configurations asynchronously), and the baseline must admit it.
        for name in labels:
            ns = namespace_name(name)
            root = bench_e2e.pod(ns)
            root["spec"]["securityContext"] = {"runAsUser": 0}
            refused = False
            for _ in range(100):
                try:
                    await api.call(
                        session, "POST", f"/api/v1/namespaces/{ns}/pods?dryRun=All", root
                    )
                    refused = False
                except RuntimeError:
                    refused = True
                if refused == (name != "none"):
                    break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"{name}: a root pod was {'refused' if refused else 'admitted'}")


# -- report -------------------------------------------------------------------------------


def report(
    direct_results: dict[str, list[dict[str, Any]]],
    e2e: dict[tuple[str, int], list[dict[str, float]]],
    load_avg: list[tuple[float, float, float]],
    args: argparse.Namespace,
) -> None:
    def med(rows: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(float(r.get(key, 0.0)) for r in rows))

    print(MARKER)
    loads = ", ".join("/".join(f"{x:.2f}" for x in avg) for avg in load_avg)
    print(
        f"*Direct* (`h2load`, TLS, keep-alive; HTTP/1.1 16 connections, HTTP/2 2 connections x 16 "
        f"streams; {args.requests} requests of the 6.5 KB Deployment review per run, "
        f"{args.rounds} alternating runs, medians):\n"
    )
    print("| server | protocol | req/s | server CPU µs/request | 2xx answers |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, rows in direct_results.items():
        ok = sum(int(r["ok"]) for r in rows)
        print(
            f"| {name} | {rows[0]['protocol']} | {med(rows, 'rps'):.0f} | {med(rows, 'us'):.0f} "
            f"| {ok}/{args.requests * len(rows)} |"
        )
    print(
        f"\n*Through kube-apiserver* (pod creations, server-side dry run, {args.seconds:.0f} s "
        f"per run, {args.rounds} alternating rounds, medians; load average 1/5/15 min before "
        f"and after: {loads}):\n"
    )
    print(
        "| clients | admission | pods/s | p50 (ms) | p99 (ms) | added p50 / p99 (ms) | "
        "throughput / none | connections opened | webhook CPU ms/review | errors |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for count in args.client_counts:
        base = e2e[("none", count)]
        for (name, clients), rows in e2e.items():
            if clients != count:
                continue
            added = (
                "-"
                if name == "none"
                else f"{med(rows, 'p50') - med(base, 'p50'):+.1f} / "
                f"{med(rows, 'p99') - med(base, 'p99'):+.1f}"
            )
            label = "none (baseline)" if name == "none" else name
            conns = "-" if name == "none" else f"{med(rows, 'connections'):.0f}"
            cpu = "-" if name == "none" else f"{med(rows, 'cpu_ms'):.2f}"
            print(
                f"| {count} | {label} | {med(rows, 'rps'):.0f} | {med(rows, 'p50'):.1f} | "
                f"{med(rows, 'p99'):.1f} | {added} | {med(rows, 'rps') / med(base, 'rps'):.2f} | "
                f"{conns} | {cpu} | {sum(r['errors'] for r in rows):.0f} |"
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", default="/tmp/h2lib", help="pip --target folder with the servers")
    parser.add_argument("--clients", default="1,100", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=5.0, help="per e2e run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per setting")
    parser.add_argument("--requests", type=int, default=20000, help="per direct run")
    args = parser.parse_args(argv)
    args.client_counts = [int(c) for c in args.clients.split(",")]
    lib = Path(args.lib)
    missing = [m for m in ("granian", "hypercorn", "uvloop") if not (lib / m).is_dir()]
    if missing or shutil.which("h2load") is None:
        print(
            f"bench_e2e_transport needs {', '.join(missing) or 'h2load'}: "
            f"`.venv/bin/pip install --target {lib} granian==2.8.7 hypercorn==0.18.0` and "
            "`apt-get install -y nghttp2-client`",
            file=sys.stderr,
        )
        return 2
    # The servers' extra packages only in the server processes; the bench's own modules too.
    path = os.pathsep.join([str(HERE), str(lib), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": path.rstrip(os.pathsep)}
    tmp = Path(tempfile.mkdtemp(prefix="bench-transport-"))
    from hardened_operator import certs

    _, cert, key = certs.generate(["127.0.0.1", "localhost"], common_name="bench").write(tmp)
    direct_results = direct(env, tmp, cert, key, args.requests, args.rounds)
    e2e, load_avg = through_apiserver(env, tmp, args.client_counts, args.seconds, args.rounds)
    report(direct_results, e2e, load_avg, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
