"""Large reviews are decided in another process, so they cannot stall the small ones.

The cost of a review grows with its size: a 3.3 MiB Pod with 40,000 containers takes
seconds to evaluate, and on the event loop every request queued behind it would wait that
long (past the API server's timeout, so other users' pod creations would fail). Bodies over
``WebhookConfig.large_body_bytes`` are therefore decoded and evaluated by a small pool of
worker processes (``large_workers``, spawned on first use, at a lower CPU priority), while the
event loop keeps answering the small ones.

The work is bounded: at most ``large_in_flight`` large reviews are queued or running per
server (more are refused before their body is read), and one without an answer after
``large_timeout`` seconds is refused. Refusals are HTTP errors (429, 503): with
``failurePolicy: Fail`` the API server denies the request - never an admission.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Final, Literal

from hardened_operator.webhook.admission import BadReview, Decision, evaluate_review
from hardened_operator.webhook.config import WebhookConfig
from hardened_operator.webhook.jsonbody import BodyError, parse_json

log = logging.getLogger(__name__)

WORKER_NICENESS: Final = 10  # the small reviews of the event loop go first
ORPHAN_CHECK_SECONDS: Final = 1.0

# What a worker sends back: a Decision, or an HTTP refusal (status, metric reason, message).
# Exceptions are not pickled across: a custom exception's constructor may not survive it.
Refusal = tuple[int, str, str]
Outcome = tuple[Literal["decision"], Decision] | tuple[Literal["refuse"], Refusal]

_worker_config: WebhookConfig | None = None


def _init_worker(config: WebhookConfig, server_pid: int) -> None:
    global _worker_config
    _worker_config = config
    with contextlib.suppress(OSError):  # not permitted: still correct, only less polite
        os.nice(WORKER_NICENESS)
    # A server killed outright (SIGKILL, out of memory) cannot stop its workers: they notice
    # that they were orphaned and leave, instead of chewing on reviews nobody waits for.
    threading.Thread(target=_exit_with, args=(server_pid,), daemon=True).start()


def _exit_with(server_pid: int) -> None:
    while os.getppid() == server_pid:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(0)


def decide_body(body: bytes, mode: str, config: WebhookConfig | None = None) -> Outcome:
    """Decode and decide one review body (in a worker, or inline in tests)."""
    config = config or _worker_config
    if config is None:  # pragma: no cover - the pool initializer always sets it
        return ("refuse", (400, "internal", "large-review worker has no configuration"))
    try:
        review = parse_json(body, max_depth=config.max_depth)
        # No memo: objects this large are never memoised (webhook.cache.MAX_KEY_BYTES).
        return ("decision", evaluate_review(review, config, mode))
    except BodyError as exc:
        return ("refuse", (400, exc.reason, str(exc)))
    except BadReview as exc:
        return ("refuse", (400, "not_admission_review", str(exc)))
    except Exception:  # a bug must not admit anything
        log.exception("unexpected error while deciding a large admission request")
        return ("refuse", (400, "internal", "the request could not be processed"))


class LargeReviews:
    """The worker pool for large reviews of one app, with its in-flight bound."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.in_flight = 0
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def try_reserve(self) -> bool:
        """Take one of the ``large_in_flight`` slots; False when all are taken."""
        if self.in_flight >= self.config.large_in_flight:
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        self.in_flight -= 1

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the server may run threads (the operator does), and a forked
            # child of a threaded process can inherit a held lock.
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.config.large_workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.config, os.getpid()),
            )
        return self._executor

    async def decide(self, body: bytes, mode: str) -> Outcome:
        """Decide ``body`` in a worker; the caller holds a slot, released when the work ends.

        The slot is given back when the worker is done with the body, not when we stop
        waiting: an abandoned evaluation still occupies a worker.
        """
        loop = asyncio.get_running_loop()
        try:
            future = self._pool().submit(decide_body, body, mode)
        except (BrokenProcessPool, RuntimeError) as exc:
            self.release()
            self._discard_pool()
            log.error("large-review workers unavailable: %s", exc)
            return ("refuse", (503, "internal", "large-review workers unavailable"))

        def done(_: concurrent.futures.Future[Outcome]) -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nothing left to count
                loop.call_soon_threadsafe(self.release)

        future.add_done_callback(done)
        try:
            async with asyncio.timeout(self.config.large_timeout):
                return await asyncio.wrap_future(future)
        except TimeoutError:
            future.cancel()  # frees the slot at once if it had not started
            limit = self.config.large_timeout
            return ("refuse", (503, "timeout", f"large review not decided within {limit} s"))
        except BrokenProcessPool as exc:  # a worker died (killed, out of memory)
            self._discard_pool()
            log.error("large-review worker died: %s", exc)
            return ("refuse", (503, "internal", "large-review worker died"))
        except Exception:  # e.g. an answer that could not be passed back: never an admission
            log.exception("unexpected error from a large-review worker")
            return ("refuse", (400, "internal", "the request could not be processed"))

    def _discard_pool(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers now, abandoning what they were doing."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list((executor._processes or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # a multi-second evaluation must not delay shutdown
            if process.is_alive():
                process.terminate()
