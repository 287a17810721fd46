"""``--workers N``: N server processes sharing one port, metrics summed across them.

One Python process uses one core. The supervisor (the process that was started) runs N
copies of the same command as workers; each listens on the same address with
``SO_REUSEPORT``, so the kernel spreads connections over them. The supervisor serves
nothing itself: it starts the workers, restarts one that dies, and stops them all on SIGTERM
or SIGINT.

Metrics: every worker counts in memory-mapped files of one private directory
(``prometheus_client``'s multiprocess mode, switched on by ``PROMETHEUS_MULTIPROC_DIR`` in
the workers' environment), and whichever worker answers ``GET /metrics`` reports the sums
over all of them, counts of workers that died included - so a scrape is right whichever
worker the kernel hands it to.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Final

log = logging.getLogger(__name__)

WORKER_ENV: Final = "HARDENED_WEBHOOK_WORKER"  # set in workers: serve with SO_REUSEPORT
METRICS_DIR_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
EARLY_EXIT_SECONDS: Final = 5.0  # a worker dying this soon is a configuration error
RESTART_PAUSE_SECONDS: Final = 1.0


def is_worker() -> bool:
    return os.environ.get(WORKER_ENV) == "1"


def _reserve_port(host: str) -> tuple[socket.socket, int]:
    """Bind (without listening) a SO_REUSEPORT socket to a free port the workers then share.

    A bound socket that does not listen receives no connections; it only keeps the port for
    the group while the workers start.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock, int(sock.getsockname()[1])


def supervise(args: Sequence[str], host: str, port: int, workers: int) -> int:
    """Run ``hardened <args>`` ``workers`` times on ``host:port``; return the exit code.

    ``args`` is the command line of this process (``webhook --listen ... --workers N``); the
    workers get it unchanged, plus ``--listen host:PORT`` when ``port`` was 0.
    """
    reservation = None
    worker_args = list(args)
    if port == 0:
        reservation, port = _reserve_port(host)
        shown = f"[{host}]" if ":" in host else host
        worker_args += ["--listen", f"{shown}:{port}"]
    metrics_dir = tempfile.mkdtemp(prefix="hardened-webhook-metrics-")
    env = {**os.environ, WORKER_ENV: "1", METRICS_DIR_ENV: metrics_dir}
    command = [sys.executable, "-m", "hardened_operator.cli", *worker_args]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    procs: list[tuple[subprocess.Popen[bytes], float]] = []
    code = 0
    try:
        procs = [(subprocess.Popen(command, env=env), time.monotonic()) for _ in range(workers)]
        log.info("%d webhook workers on port %d: pids %s", workers, port, [p.pid for p, _ in procs])
        while not stopping:
            time.sleep(0.2)
            for index, (proc, started) in enumerate(procs):
                status = proc.poll()
                if status is None or stopping:
                    continue
                if time.monotonic() - started < EARLY_EXIT_SECONDS:
                    log.error(
                        "webhook worker %d exited with %d at start; stopping", proc.pid, status
                    )
                    code = status or 1
                    stopping = True
                    break
                log.error("webhook worker %d exited with %d; starting another", proc.pid, status)
                time.sleep(RESTART_PAUSE_SECONDS)
                procs[index] = (subprocess.Popen(command, env=env), time.monotonic())
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if reservation is not None:
            reservation.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return code
