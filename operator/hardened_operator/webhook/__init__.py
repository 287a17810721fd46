"""The validating admission webhook (aiohttp). Rule: no cluster access, no kubernetes client.

The decision is a pure function (``admission.decide`` / ``evaluate_review``: AdmissionReview
dict in, response dict out) built on ``review.review_object``; the HTTP layer (``app``) only
guards and decodes bodies, records metrics and encodes the answer; ``server`` puts the app on
a socket with TLS certificate reload. The operator serves the same ``create_app`` in-process.

Public API (stable; the operator and ``hardened dev up`` use it)::

    WebhookConfig(profile=..., exempt_namespaces=..., exempt_usernames=..., max_body_bytes=...)
    create_app(config) -> aiohttp.web.Application   # POST /validate[?mode=warn|audit],
                                                    # GET /healthz, GET /metrics
    await serve(config, host, port, cert_file, key_file, insecure=False) -> WebhookServer
    await server.stop(); server.url; server.port
    decide(review_dict, config, mode="enforce") -> response dict
"""

from __future__ import annotations

from hardened_operator.webhook.admission import BadReview, Decision, decide, evaluate_review
from hardened_operator.webhook.app import CONFIG_KEY, METRICS_KEY, create_app
from hardened_operator.webhook.config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DEPTH,
    MODES,
    Mode,
    WebhookConfig,
    default_exempt_namespaces,
)
from hardened_operator.webhook.server import WebhookServer, is_loopback, parse_listen, serve

__all__ = [
    "CONFIG_KEY",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_DEPTH",
    "METRICS_KEY",
    "MODES",
    "BadReview",
    "Decision",
    "Mode",
    "WebhookConfig",
    "WebhookServer",
    "create_app",
    "decide",
    "default_exempt_namespaces",
    "evaluate_review",
    "is_loopback",
    "parse_listen",
    "serve",
]
