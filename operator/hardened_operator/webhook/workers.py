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
import threading
import time
from collections.abc import Sequence
from typing import Final

log = logging.getLogger(__name__)

WORKER_ENV: Final = "HARDENED_WEBHOOK_WORKER"  # set in workers: serve with SO_REUSEPORT
METRICS_DIR_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
# The supervisor's pid, for the worker to compare its parent with: a worker still starting when
# its supervisor is killed would otherwise take its new parent (init) for the supervisor.
SUPERVISOR_ENV: Final = "HARDENED_WEBHOOK_SUPERVISOR"
EARLY_EXIT_SECONDS: Final = 5.0  # a worker dying this soon is a configuration error
RESTART_PAUSE_SECONDS: Final = 1.0


def is_worker() -> bool:
    return os.environ.get(WORKER_ENV) == "1"


def supervisor_pid() -> int:
    """The pid of the supervisor that started this worker (the parent if not told)."""
    told = os.environ.get(SUPERVISOR_ENV, "")
    return int(told) if told.isdigit() else os.getppid()


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


class WorkerGroup:
    """``workers`` processes running ``python -m hardened_operator.cli <args>`` on one port.

    A monitor thread starts a worker again when one dies; one that dies within
    ``EARLY_EXIT_SECONDS`` of its start is a configuration error: the group stops and
    ``failed`` says with which exit code.
    """

    def __init__(self, args: Sequence[str], workers: int) -> None:
        self.metrics_dir = tempfile.mkdtemp(prefix="hardened-webhook-metrics-")
        self.env = {
            **os.environ,
            WORKER_ENV: "1",
            METRICS_DIR_ENV: self.metrics_dir,
            SUPERVISOR_ENV: str(os.getpid()),
        }
        self.command = [sys.executable, "-m", "hardened_operator.cli", *args]
        self.count = workers
        self.failed: int | None = None
        self._procs: list[tuple[subprocess.Popen[bytes], float]] = []
        self._stopping = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="webhook-workers", daemon=True)

    def start(self) -> None:
        self._procs = [self._start_one() for _ in range(self.count)]
        log.info("%d webhook workers: pids %s", self.count, self.pids)
        self._monitor.start()

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc, _ in self._procs]

    def _start_one(self) -> tuple[subprocess.Popen[bytes], float]:
        return subprocess.Popen(self.command, env=self.env), time.monotonic()

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            for index, (proc, started) in enumerate(self._procs):
                status = proc.poll()
                if status is None or self._stopping.is_set():
                    continue
                if time.monotonic() - started < EARLY_EXIT_SECONDS:
                    log.error(
                        "webhook worker %d exited with %d at start; stopping", proc.pid, status
                    )
                    self.failed = status or 1
                    self._stopping.set()
                    break
                log.error("webhook worker %d exited with %d; starting another", proc.pid, status)
                time.sleep(RESTART_PAUSE_SECONDS)
                self._procs[index] = self._start_one()

    def wait(self, timeout: float | None = None) -> bool:
        """Until the group stops by itself (a worker failed at start); True if it did."""
        return self._stopping.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        if self._monitor.is_alive():
            self._monitor.join(timeout=5)
        for proc, _ in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in self._procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.metrics_dir, ignore_errors=True)


def listen_args(host: str, port: int) -> tuple[socket.socket | None, int, list[str]]:
    """A reserved port when ``port`` is 0, the port, and ``--listen`` for the workers."""
    reservation = None
    if port == 0:
        reservation, port = _reserve_port(host)
    shown = f"[{host}]" if ":" in host else host
    return reservation, port, ["--listen", f"{shown}:{port}"]


def supervise(args: Sequence[str], host: str, port: int, workers: int) -> int:
    """Run ``hardened <args>`` ``workers`` times on ``host:port`` until SIGTERM/SIGINT; return
    the exit code.

    ``args`` is the command line of this process (``webhook --listen ... --workers N``); the
    workers get it unchanged, plus ``--listen host:PORT`` when ``port`` was 0.
    """
    reservation, port, listen = listen_args(host, port)
    group = WorkerGroup([*args, *listen] if reservation else list(args), workers)
    stopped = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopped.set()
        group._stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        group.start()
        while not group.wait(0.5):
            pass
    finally:
        group.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if reservation is not None:
            reservation.close()
    return 0 if stopped.is_set() else (group.failed or 0)
