"""Readiness vs the operator's own health, without a cluster (the serving thread not started).

/readyz is the readinessProbe of the pods behind the webhook Service: it must not follow the
API server (admission needs no API access; with failurePolicy Fail, an API blip would
otherwise take every replica out and refuse every reviewed request). /operatorz keeps the
old, stricter meaning for whoever watches the reconciler.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from hardened_operator.controller.handlers import OperatorState
from hardened_operator.controller.serving import API_FRESH_SECONDS, ServingThread, WebhookSettings
from hardened_operator.webhook.config import WebhookConfig


def serving(*, webhook: bool) -> tuple[ServingThread, OperatorState, threading.Event]:
    state, ready = OperatorState(), threading.Event()
    settings = (
        WebhookSettings(WebhookConfig(), "127.0.0.1", 0, Path("tls.crt"), Path("tls.key"))
        if webhook
        else None
    )
    return ServingThread(state, ready, health=None, webhook=settings), state, ready


def test_readyz_follows_the_webhook_only() -> None:
    side, _, _ = serving(webhook=True)
    assert side.ready() == (False, "webhook not serving")
    side.webhook_server = object()  # type: ignore[assignment]
    # kopf not started, not logged in, the API never answered: admission is still served.
    assert side.ready()[0] is True
    assert side.operator_ready()[0] is False


def test_operatorz_needs_kopf_login_and_a_fresh_api_answer() -> None:
    side, state, ready = serving(webhook=False)
    assert side.ready()[0] is True  # nothing to serve but /metrics
    assert side.operator_ready() == (False, "operator not ready (starting, listing)")
    ready.set()
    assert side.operator_ready() == (False, "operator has not logged in to the API server")
    state.logged_in = True
    ok, why = side.operator_ready()
    assert not ok and why.startswith("API server not answering")
    side._api_ok_at = time.monotonic()
    assert side.operator_ready() == (True, "reconciler ready")
    side._api_ok_at = time.monotonic() - API_FRESH_SECONDS - 1
    assert side.operator_ready()[0] is False
    assert side.ready()[0] is True
