"""Run ``hardened webhook`` locally and register it with the API server, for end-to-end tests."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardened_operator import certs
from hardened_operator.dev import manifests, plane, processes
from hardened_operator.k8s import bootstrap


@dataclass(frozen=True)
class LocalWebhook:
    """A ``hardened webhook`` process on 127.0.0.1 serving TLS from a fresh CA."""

    url: str  # https://127.0.0.1:PORT/validate
    ca_pem: bytes
    port: int
    log: Path


@contextmanager
def local_webhook(
    directory: Path, *extra_args: str, timeout: float = 30.0
) -> Iterator[LocalWebhook]:
    """Start ``hardened webhook --listen 127.0.0.1:PORT`` with generated certs; stop it after."""
    bundle = certs.generate(["127.0.0.1", "localhost"], common_name="hardened-test-webhook")
    ca, cert, key = bundle.write(directory / "webhook-tls")
    port = processes.free_port()
    log = directory / f"webhook-{port}.log"
    command = [
        sys.executable,
        "-m",
        "hardened_operator.cli",
        "webhook",
        "--listen",
        f"127.0.0.1:{port}",
        "--tls-cert-file",
        str(cert),
        "--tls-key-file",
        str(key),
        *extra_args,
    ]
    record, popen = processes.start("webhook", command, log, tie_to_parent=True)
    try:
        try:
            plane.wait_for_https(
                f"https://127.0.0.1:{port}/healthz",
                ca,
                timeout,
                still_running=lambda: popen.poll() is None,
            )
        except Exception as error:  # say why: the server's own log
            raise RuntimeError(f"{error}\n--- {log} ---\n{processes.log_tail(log)}") from error
        yield LocalWebhook(f"https://127.0.0.1:{port}/validate", bundle.ca_pem, port, log)
    finally:
        processes.stop([record], {record.pid: popen})


@contextmanager
def registered_webhook(
    api: Any,
    url: str,
    ca_pem: bytes,
    namespace: str,
    *,
    wait_for_denial: bool = True,
    timeout: float = 30.0,
) -> Iterator[dict[str, Any]]:
    """Register a ValidatingWebhookConfiguration for ``url``, confined to ``namespace``.

    Confined because the control plane is shared by the whole session: a fail-closed
    webhook left for every namespace would break other tests once its server stops. With
    ``wait_for_denial`` it returns only after the API server refused a root pod in
    ``namespace`` through it (registration is picked up asynchronously). Deleted on exit.
    """
    name = f"hardened-test-{uuid.uuid4().hex[:8]}"
    manifest = manifests.validating_webhook_configuration(
        url,
        ca_pem,
        name=name,
        namespace_selector={"matchLabels": {"kubernetes.io/metadata.name": namespace}},
    )
    bootstrap.apply_validating_webhook_configuration(api, manifest)
    try:
        if wait_for_denial:
            plane.wait_for_denial(api, namespace, timeout)
        yield manifest
    finally:
        bootstrap.delete_validating_webhook_configuration(api, name)
