"""``hardened webhook``: serve the validating admission webhook on its own (no cluster access)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import click

from hardened_operator.cli._exemptions import (
    exempt_username_option,
    exemption_options,
    webhook_config,
)
from hardened_operator.conventions import OPERATOR_NAMESPACE_DEFAULT
from hardened_operator.policy.types import DEFAULT_PROFILE, PROFILES
from hardened_operator.webhook import (
    WebhookConfig,
    is_loopback,
    parse_listen,
    serve,
)
from hardened_operator.webhook.workers import is_worker, supervise, supervisor_pid


async def _serve_until_signalled(
    listen: str,
    cert_file: Path | None,
    key_file: Path | None,
    insecure: bool,
    config: WebhookConfig,
) -> None:
    host, port = parse_listen(listen)
    server = await serve(
        config, host, port, cert_file, key_file, insecure=insecure, reuse_port=is_worker()
    )
    click.echo(f"hardened webhook: serving {server.url}/validate", err=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_stop_when_orphaned(stop)) if is_worker() else None
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await server.stop()


async def _stop_when_orphaned(stop: asyncio.Event) -> None:
    """A worker whose supervisor (or operator) was killed outright stops serving -- also one
    whose supervisor died while it was still starting (its parent is then already init)."""
    parent = supervisor_pid()
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    stop.set()


@click.command("webhook")
@click.option(
    "--listen",
    default="0.0.0.0:8443",
    show_default=True,
    metavar="HOST:PORT",
    help="Address to serve on; port 0 picks a free port.",
)
@click.option(
    "--tls-cert-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serving certificate (PEM, chain allowed); re-read when the file changes.",
)
@click.option(
    "--tls-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Private key of the serving certificate (PEM); re-read when the file changes.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Serve plain HTTP (no certificates). Refused unless --listen is a loopback address.",
)
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default=DEFAULT_PROFILE,
    show_default=True,
    help="Policy profile to enforce.",
)
@exemption_options
@exempt_username_option
@click.option(
    "--operator-namespace",
    default=OPERATOR_NAMESPACE_DEFAULT,
    show_default=True,
    help="The operator's namespace, exempt by default.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1024),
    default=None,
    help="Largest request body accepted (default 6 MiB: an UPDATE carries two objects of "
    "up to 3 MiB).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Server processes sharing the port (SO_REUSEPORT), one core each; /metrics reports "
    "the sums over all of them.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def webhook(
    listen: str,
    tls_cert_file: Path | None,
    tls_key_file: Path | None,
    insecure: bool,
    profile: str,
    exempt_namespaces: tuple[str, ...],
    no_default_exemptions: bool,
    exempt_usernames: tuple[str, ...],
    operator_namespace: str,
    max_body_bytes: int | None,
    workers: int,
    log_level: str,
) -> None:
    """Serve the validating admission webhook: POST /validate[?mode=warn|audit], GET /healthz,
    GET /metrics.

    \b
    Local try-out (plain HTTP on loopback):
      hardened webhook --listen 127.0.0.1:8443 --insecure
      curl -sS -H 'Content-Type: application/json' \\
        --data @docs/examples/admission-review-root-pod.json \\
        http://127.0.0.1:8443/validate
    """
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = webhook_config(
            profile=profile,
            operator_namespace=operator_namespace,
            namespaces=exempt_namespaces,
            no_defaults=no_default_exemptions,
            usernames=exempt_usernames,
            max_body_bytes=max_body_bytes,
        )
        if workers > 1 and not is_worker():
            host, port = parse_listen(listen)
            if insecure and not is_loopback(host):
                raise click.UsageError(f"--insecure refuses to listen on {host!r} (loopback only)")
            if not insecure and not (tls_cert_file and tls_key_file):
                raise click.UsageError("HTTPS needs --tls-cert-file and --tls-key-file")
            raise SystemExit(supervise(sys.argv[1:], host, port, workers))
        asyncio.run(_serve_until_signalled(listen, tls_cert_file, tls_key_file, insecure, config))
    except OSError as exc:  # port in use, unreadable certificate, ...
        raise click.ClickException(str(exc)) from exc
