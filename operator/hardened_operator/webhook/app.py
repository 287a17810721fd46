"""The aiohttp application: HTTP in, ``admission.evaluate_review`` out.

Everything that can go wrong with a request is answered with a 4xx or a denial, never with
``allowed: true`` and never with a 5xx: the body is size-capped before it is read, its JSON
nesting is bounded before it is parsed (``jsonbody``), and the decision is a pure function.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

import orjson
from aiohttp import web
from aiohttp.hdrs import CONTENT_TYPE
from aiohttp.http_exceptions import HttpProcessingError

from hardened_operator.webhook.admission import (
    BadReview,
    Decision,
    evaluate_review,
)
from hardened_operator.webhook.cache import ReviewCache
from hardened_operator.webhook.config import MODES, WebhookConfig
from hardened_operator.webhook.jsonbody import BodyError, parse_json
from hardened_operator.webhook.metrics import METRICS_CONTENT_TYPE, WebhookMetrics
from hardened_operator.webhook.offload import LargeReviews

log = logging.getLogger(__name__)

CONFIG_KEY: Final = web.AppKey("hardened_webhook_config", WebhookConfig)
METRICS_KEY: Final = web.AppKey("hardened_webhook_metrics", WebhookMetrics)

VALIDATE_PATH: Final = "/validate"
HEALTHZ_PATH: Final = "/healthz"
METRICS_PATH: Final = "/metrics"
_JSON: Final = "application/json"


def _reject(metrics: WebhookMetrics, status: int, reason: str, message: str) -> web.Response:
    """An HTTP error instead of an AdmissionReview: the API server applies failurePolicy."""
    metrics.reject(reason)
    message = message[:500]  # parts of it come from the client: keep logs and answers short
    log.warning("rejected admission request (%s): %s", reason, message)
    return web.Response(status=status, text=message + "\n")


class _Validate:
    """POST /validate[/MODE] or /validate?mode=MODE, MODE one of enforce (default), warn, audit."""

    def __init__(self, config: WebhookConfig, metrics: WebhookMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self.cache = ReviewCache(config.cache_entries)
        self.large = LargeReviews(config)
        metrics.watch_cache(self.cache)

    async def handle(self, request: web.Request) -> web.Response:
        """POST /validate: the mode is in the query, or enforce."""
        return await self._answer(request, [])

    async def handle_mode(self, request: web.Request) -> web.Response:
        """POST /validate/{mode}: what a ValidatingWebhookConfiguration can express."""
        return await self._answer(request, [request.match_info["mode"]])

    async def _answer(self, request: web.Request, modes: list[str]) -> web.Response:
        started = time.perf_counter()
        metrics, config = self.metrics, self.config
        # The mode comes from the path (/validate/warn) or the query (?mode=warn); both at
        # once must agree.
        if request.query_string:
            modes += request.query.getall("mode", ())
        if len(modes) > 1 and len(set(modes)) > 1:
            return _reject(metrics, 400, "bad_mode", f"conflicting modes {modes}")
        mode = modes[0] if modes else "enforce"
        # The raw header first: what the API server sends needs no parsing.
        if request.headers.get(CONTENT_TYPE) != _JSON and request.content_type != _JSON:
            return _reject(
                metrics,
                415,
                "content_type",
                f"Content-Type must be {_JSON}, not {request.content_type}",
            )
        encoding = request.headers.get("Content-Encoding")
        if encoding is not None and encoding.strip().lower() not in ("identity", ""):
            # The API server never compresses; refusing spares us decompression bombs.
            encoding = encoding.strip().lower()
            return _reject(metrics, 415, "content_encoding", f"Content-Encoding {encoding} refused")
        length = request.content_length
        if length is not None and length > config.max_body_bytes:
            return _too_large(metrics, config)
        large = self.large
        # A large body announced by Content-Length takes its slot before it is read: when
        # all are taken it is refused without buffering megabytes.
        reserved = length is not None and length > config.large_body_bytes
        if reserved and not large.try_reserve():
            return _busy(metrics, config)
        try:
            body = await self._read(request)
        except _Refused as refused:
            if reserved:
                large.release()
            return refused.response
        if len(body) > config.large_body_bytes:
            if not reserved and not large.try_reserve():  # chunked: known only now
                return _busy(metrics, config)
            outcome = await large.decide(body, mode)  # gives the slot back when done
            if outcome[0] == "refuse":
                status, reason, message = outcome[1]
                return _reject(metrics, status, reason, message)
            decision = outcome[1]
        else:
            if reserved:  # Content-Length promised more than came: not reachable by aiohttp
                large.release()
            try:
                review = parse_json(body, max_depth=config.max_depth)
                decision = evaluate_review(review, config, mode, reviewer=self.cache.violations)
            except BodyError as exc:
                return _reject(metrics, 400, exc.reason, str(exc))
            except BadReview as exc:
                return _reject(metrics, 400, "not_admission_review", str(exc))
            except Exception:  # a bug must not admit anything, nor look like a server crash
                log.exception("unexpected error while deciding an admission request")
                return _reject(metrics, 400, "internal", "the request could not be processed")
        label = mode if mode in MODES else "invalid"
        metrics.record(decision, label)
        _log(decision, label)
        payload = orjson.dumps(decision.response)
        metrics.observe(time.perf_counter() - started)
        return web.Response(body=payload, content_type=_JSON)

    async def _read(self, request: web.Request) -> bytes:
        """The body, within ``body_timeout`` and ``max_body_bytes``, or ``_Refused``."""
        metrics, config = self.metrics, self.config
        try:
            if request.content.is_eof():  # it all came with the head: no timer to set
                return await request.read()
            async with asyncio.timeout(config.body_timeout):
                return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _Refused(_too_large(metrics, config)) from None
        except TimeoutError:
            # A client trickling its body (slowloris) must not hold the connection: answer
            # and close it, instead of lingering to read the rest.
            response = _reject(
                metrics,
                408,
                "body_timeout",
                f"request body not received in {config.body_timeout} s",
            )
            response.force_close()
            raise _Refused(response) from None
        except (ConnectionError, HttpProcessingError) as exc:  # client gone or body cut short
            message = f"request body could not be read: {exc!r}"
            raise _Refused(_reject(metrics, 400, "truncated", message)) from None


class _Refused(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def _busy(metrics: WebhookMetrics, config: WebhookConfig) -> web.Response:
    limit = config.large_in_flight
    response = _reject(
        metrics,
        429,
        "busy",
        f"{limit} large reviews (over {config.large_body_bytes} bytes) are already being "
        "decided; try again later",
    )
    response.force_close()  # do not read the body it came with
    return response


def _too_large(metrics: WebhookMetrics, config: WebhookConfig) -> web.Response:
    limit = config.max_body_bytes
    return _reject(metrics, 400, "too_large", f"request body is larger than {limit} bytes")


def _log(decision: Decision, mode: str) -> None:
    if decision.verdict in ("deny", "invalid", "error"):
        status = decision.response["response"].get("status", {})
        log.info(
            "%s %s (mode %s, uid %s): %s",
            decision.verdict,
            decision.kind,
            mode,
            decision.response["response"]["uid"],
            status.get("message", ""),
        )
    elif log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s (mode %s) %s", decision.verdict, decision.kind, mode, decision.note)


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS_KEY].exposition()
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})


def create_app(config: WebhookConfig | None = None) -> web.Application:
    """The webhook as an aiohttp app: ``POST /validate``, ``GET /healthz``, ``GET /metrics``.

    ``POST /validate/warn`` and ``/validate/audit`` (or ``?mode=warn|audit``) select the other
    modes. Prefer the path form in a ValidatingWebhookConfiguration: the API server refuses
    query strings in ``clientConfig.url`` and anything but DNS-1123 segments in
    ``service.path``.

    Safe to serve next to other apps in one process (the operator does): the metrics live in
    the app's own registry, reachable as ``app[METRICS_KEY].registry``.
    """
    config = config or WebhookConfig()
    metrics = WebhookMetrics()
    # aiohttp refuses bodies of client_max_size bytes or more; the limit itself is allowed.
    app = web.Application(client_max_size=config.max_body_bytes + 1)
    app[CONFIG_KEY] = config
    app[METRICS_KEY] = metrics
    validate = _Validate(config, metrics)

    async def stop_workers(app: web.Application) -> None:
        validate.large.close()

    app.on_cleanup.append(stop_workers)
    app.router.add_post(VALIDATE_PATH, validate.handle)
    app.router.add_post(VALIDATE_PATH + "/{mode}", validate.handle_mode)
    app.router.add_get(HEALTHZ_PATH, _healthz)
    app.router.add_get(METRICS_PATH, _metrics)
    return app
