"""The webhook's decision behind an ASGI app: issue 13's transport experiment, bench only.

``bench/bench_e2e_transport.py`` serves this with granian and hypercorn to compare HTTP/2
servers with the shipped aiohttp one. It does the same work per review as
``webhook.app.create_app`` (body cap, ``parse_json`` with the nesting bound, ``evaluate_review``
with the policy memo, metrics, ``orjson`` answer; large bodies to ``offload.LargeReviews``), but
it is not the product: the slow-client limits, certificate reload and the tests of
``tests/webhook/`` apply to the aiohttp server only.

``python bench/asgi_webhook.py PORT CERT KEY`` serves it with hypercorn on 127.0.0.1, TLS from
``webhook.tls.CertReloader`` with ALPN ``h2``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson

from hardened_operator.webhook.admission import BadReview, evaluate_review
from hardened_operator.webhook.cache import ReviewCache
from hardened_operator.webhook.config import MODES, WebhookConfig
from hardened_operator.webhook.jsonbody import BodyError, parse_json
from hardened_operator.webhook.metrics import METRICS_CONTENT_TYPE, WebhookMetrics
from hardened_operator.webhook.offload import LargeReviews

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
_TEXT_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]


class _Refused(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status, self.reason, self.message = status, reason, message


class AdmissionASGI:
    def __init__(self, config: WebhookConfig | None = None) -> None:
        self.config = config = config or WebhookConfig()
        self.metrics = WebhookMetrics()
        self.cache = ReviewCache(config.cache_entries)
        self.large = LargeReviews(config)
        self.metrics.watch_cache(self.cache)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.large.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/validate" or path.startswith("/validate/"):
            if method != "POST":
                await _respond(send, 405, b"method not allowed\n", _TEXT_HEADERS)
                return
            modes = [path[len("/validate/") :]] if path.startswith("/validate/") else []
            await self._validate(scope, receive, send, modes)
        elif path == "/healthz" and method in ("GET", "HEAD"):
            await _respond(send, 200, b"ok\n", _TEXT_HEADERS)
        elif path == "/metrics" and method in ("GET", "HEAD"):
            headers = [(b"content-type", METRICS_CONTENT_TYPE.encode())]
            await _respond(send, 200, self.metrics.exposition(), headers)
        else:
            await _respond(send, 404, b"not found\n", _TEXT_HEADERS)

    async def _validate(self, scope: Scope, receive: Receive, send: Send, modes: list[str]) -> None:
        started = time.perf_counter()
        metrics, config = self.metrics, self.config
        try:
            if scope["query_string"]:
                modes += parse_qs(scope["query_string"].decode("latin-1")).get("mode", [])
            if len(set(modes)) > 1:
                raise _Refused(400, "bad_mode", f"conflicting modes {modes}")
            mode = modes[0] if modes else "enforce"
            headers = dict(scope["headers"])  # lower-case names; a repeated one: the last
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if content_type != b"application/json":
                raise _Refused(415, "content_type", "Content-Type must be application/json")
            encoding = headers.get(b"content-encoding", b"").strip().lower()
            if encoding not in (b"", b"identity"):
                raise _Refused(415, "content_encoding", f"Content-Encoding {encoding!r} refused")
            length_text = headers.get(b"content-length")
            length = int(length_text) if length_text and length_text.isdigit() else None
            if length is not None and length > config.max_body_bytes:
                raise _Refused(400, "too_large", "request body is too large")
            reserved = length is not None and length > config.large_body_bytes
            if reserved and not self.large.try_reserve():
                raise _Refused(429, "busy", "too many large reviews in flight")
            try:
                body = await self._read(receive)
            except BaseException:
                if reserved:
                    self.large.release()
                raise
            if len(body) > config.large_body_bytes:
                if not reserved and not self.large.try_reserve():
                    raise _Refused(429, "busy", "too many large reviews in flight")
                outcome = await self.large.decide(body, mode)
                if outcome[0] == "refuse":
                    raise _Refused(*outcome[1])
                decision = outcome[1]
            else:
                if reserved:
                    self.large.release()
                try:
                    review = parse_json(body, max_depth=config.max_depth)
                    decision = evaluate_review(review, config, mode, reviewer=self.cache.violations)
                except BodyError as exc:
                    raise _Refused(400, exc.reason, str(exc)) from None
                except BadReview as exc:
                    raise _Refused(400, "not_admission_review", str(exc)) from None
                except Exception:
                    log.exception("unexpected error while deciding an admission request")
                    raise _Refused(400, "internal", "the request could not be processed") from None
        except _Refused as refused:
            metrics.reject(refused.reason)
            message = refused.message[:500]
            log.warning("rejected admission request (%s): %s", refused.reason, message)
            await _respond(send, refused.status, message.encode() + b"\n", _TEXT_HEADERS)
            return
        metrics.record(decision, mode if mode in MODES else "invalid")
        payload = orjson.dumps(decision.response)
        metrics.observe(time.perf_counter() - started)
        await _respond(send, 200, payload, _JSON_HEADERS)

    async def _read(self, receive: Receive) -> bytes:
        limit = self.config.max_body_bytes
        parts: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.config.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise _Refused(400, "truncated", "client went away")
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        raise _Refused(400, "too_large", "request body is too large")
                    parts.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(parts)
        except TimeoutError:
            raise _Refused(408, "body_timeout", "request body not received in time") from None


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


app = AdmissionASGI  # granian --factory asgi_webhook:app


def _serve_hypercorn(port: int, cert: str, key: str) -> None:
    import signal
    import ssl

    from hypercorn.asyncio import serve  # type: ignore[import-not-found,unused-ignore]
    from hypercorn.config import Config  # type: ignore[import-not-found,unused-ignore]

    from hardened_operator.webhook import tls

    loaded = tls.load_server_context

    def with_alpn(cert_file: Any, key_file: Any) -> ssl.SSLContext:
        context = loaded(cert_file, key_file)
        context.set_alpn_protocols(["h2", "http/1.1"])  # also on every reloaded context
        return context

    tls.load_server_context = with_alpn
    reloader = tls.CertReloader(cert, key)

    class _Config(Config):  # type: ignore[misc,unused-ignore]
        @property
        def ssl_enabled(self) -> bool:
            return True

        def create_ssl_context(self) -> ssl.SSLContext:
            return reloader.listening_context()

    config = _Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.keep_alive_timeout = 120
    config.ssl_handshake_timeout = 10
    # Its default closes a connection after 1000 requests: under load the API server then
    # sees requests fail in the GOAWAY race (with failurePolicy Fail, refused pods).
    config.keep_alive_max_requests = 2**31

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        await serve(AdmissionASGI(), config, shutdown_trigger=stop.wait)

    asyncio.run(main())


if __name__ == "__main__":
    import sys

    _serve_hypercorn(int(sys.argv[1]), sys.argv[2], sys.argv[3])
