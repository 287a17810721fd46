"""``hardened run``: the operator (kopf reconciler) and the admission webhook in one process."""

from __future__ import annotations

import asyncio
import logging
import random
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hardened_operator.cli._exemptions import (
    exempt_username_option,
    exemption_options,
    webhook_config,
)
from hardened_operator.conventions import OPERATOR_NAMESPACE_DEFAULT
from hardened_operator.policy.types import DEFAULT_PROFILE, PROFILES
from hardened_operator.reports.apis import DEFAULT_REPORT_API, REPORT_API_NAMES

if TYPE_CHECKING:
    from hardened_operator.controller.reports import Reports
    from hardened_operator.webhook.config import WebhookConfig


def _listen(value: str | None, what: str) -> tuple[str, int] | None:
    """``HOST:PORT`` read by the webhook's one parser, reported as the option ``what``."""
    from hardened_operator.errors import InputError
    from hardened_operator.webhook.server import parse_listen

    if value is None:
        return None
    try:
        return parse_listen(value)
    except InputError:
        raise click.BadParameter(f"expected HOST:PORT, got {value!r}", param_hint=what) from None


@click.command("run")
@click.option("--kubeconfig", envvar="KUBECONFIG", help="Kubeconfig (default: $KUBECONFIG, "
              "else the in-cluster service account, else ~/.kube/config).")  # fmt: skip
@click.option("-n", "--namespace", "namespaces", multiple=True,
              help="Watch only this namespace (repeatable).")  # fmt: skip
@click.option("-A", "--all-namespaces", is_flag=True,
              help="Watch every namespace (the default when no --namespace is given).")  # fmt: skip
@click.option("--webhook-listen", default="0.0.0.0:8443", show_default=True,
              help="Where the admission webhook listens (HTTPS).")  # fmt: skip
@click.option("--no-webhook", is_flag=True, help="Do not serve admission (reconciler only).")
@click.option("--workers", "webhook_workers", type=click.IntRange(1, 64), default=1,
              show_default=True, help="Admission webhook processes sharing --webhook-listen "
              "(one core each); /metrics on that port sums them.")  # fmt: skip
@click.option("--certs", "certs_mode", type=click.Choice(["self", "files"]), default=None,
              help="self: generate and keep the certificate in a Secret and inject the CA; "
              "files: serve --tls-cert-file/--tls-key-file (e.g. from cert-manager). "
              "Default: files when they are given, else self.")  # fmt: skip
@click.option("--tls-cert-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tls-key-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--operator-namespace", envvar="POD_NAMESPACE", default=OPERATOR_NAMESPACE_DEFAULT,
              show_default=True, help="Namespace of the certificate Secret.")  # fmt: skip
@click.option("--certs-secret", default="hardened-operator-webhook-tls", show_default=True)
@click.option("--certs-renew-before-days", type=click.IntRange(1, 3650), default=30,
              show_default=True, help="--certs self: a replica starting with fewer days of "
              "validity left generates a new pair (the pairs last 365 days, so 365 or more "
              "rotates at every start); replicas serving older pairs stay trusted.")  # fmt: skip
@click.option("--webhook-service", default="hardened-operator-webhook", show_default=True,
              help="The webhook's Service: its DNS names go into the certificate.")  # fmt: skip
@click.option("--webhook-host", "webhook_hosts", multiple=True,
              help="Extra certificate name or IP (repeatable); 127.0.0.1 and localhost are "
              "always included.")  # fmt: skip
@click.option("--webhook-config-name", default="hardened-operator", show_default=True,
              help="ValidatingWebhookConfiguration to inject the CA into ('' = none).")  # fmt: skip
@click.option("--profile", type=click.Choice(PROFILES), default=DEFAULT_PROFILE,
              show_default=True, help="Admission policy profile.")  # fmt: skip
@exemption_options
@exempt_username_option
@click.option("--health-listen", default="0.0.0.0:8080", show_default=True,
              help="GET /healthz (liveness), /readyz (admission serving), "
                   "/operatorz (reconciler and API), /metrics.")  # fmt: skip
@click.option("--log-format", type=click.Choice(["json", "text"]), default="text",
              show_default=True)  # fmt: skip
@click.option("--verbose", is_flag=True, help="Debug logs.")
@click.option("--peering", "peering_name", default=None,
              help="kopf peering name: replicas sharing it elect one reconciler; all serve "
              "admission. Needs kopf's peering CRDs. Without it: standalone.")  # fmt: skip
@click.option(
    "--priority",
    type=int,
    default=None,
    help="Peering priority (highest reconciles). Default: random per process.",
)
@click.option("--resync-seconds", type=float, default=0.0, show_default=True,
              help="Re-compare everything this often (standalone only; 0 = only on events "
              "and restarts).")  # fmt: skip
@click.option("--reports/--no-reports", "reports", default=False, show_default=True,
              help="Keep a report per namespace (a PolicyReport, or see --reports-api) "
              "listing the objects that fail --profile, from watch events; needs the report "
              "API's CRD (docs/reports.md).")  # fmt: skip
@click.option("--reports-api", type=click.Choice(REPORT_API_NAMES), default=None,
              help="The API --reports writes: wgpolicyk8s (a wgpolicyk8s.io/v1alpha2 "
              "PolicyReport) or openreports (an openreports.io/v1alpha1 Report); needs that "
              f"API's CRD. Default: {DEFAULT_REPORT_API}.")  # fmt: skip
@click.option("--config-rollouts/--no-config-rollouts", default=False, show_default=True,
              help="Roll a HardenedService's pods when a ConfigMap or Secret its env/envFrom "
              "reads changes; needs list/watch on ConfigMaps and Secrets "
              "(docs/hardenedservice.md#config-rollouts).")  # fmt: skip
def run(
    kubeconfig: str | None,
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    webhook_listen: str,
    no_webhook: bool,
    webhook_workers: int,
    certs_mode: str | None,
    tls_cert_file: Path | None,
    tls_key_file: Path | None,
    operator_namespace: str,
    certs_secret: str,
    certs_renew_before_days: int,
    webhook_service: str,
    webhook_hosts: tuple[str, ...],
    webhook_config_name: str,
    profile: str,
    exempt_namespaces: tuple[str, ...],
    no_default_exemptions: bool,
    exempt_usernames: tuple[str, ...],
    health_listen: str,
    log_format: str,
    verbose: bool,
    peering_name: str | None,
    priority: int | None,
    resync_seconds: float,
    config_rollouts: bool,
    reports: bool,
    reports_api: str | None,
) -> None:
    """Run the operator: reconcile HardenedServices and serve admission, in one process."""
    import kopf

    from hardened_operator.controller.handlers import OperatorState, build_registry
    from hardened_operator.controller.serving import CaInjection, ServingThread, WebhookSettings

    if namespaces and all_namespaces:
        raise click.UsageError("--namespace and --all-namespaces exclude each other")
    if reports_api is not None and not reports:
        # Ignoring it would leave the user believing reports are written.
        raise click.UsageError("--reports-api needs --reports")
    if resync_seconds and peering_name:
        raise click.UsageError("--resync-seconds works in standalone mode only (no --peering)")
    health = _listen(health_listen, "--health-listen")
    # Built before anything contacts the cluster, so that a bad exemption is refused at once.
    admission_config = webhook_config(
        profile=profile,
        operator_namespace=operator_namespace,
        namespaces=exempt_namespaces,
        no_defaults=no_default_exemptions,
        usernames=exempt_usernames,
    )
    if peering_name:
        _require_peering(kubeconfig, namespaces, peering_name)
    # --kubeconfig reaches every connection explicitly (kopf's login included, see
    # controller.handlers.connection_info): setting os.environ here would be too late for
    # `kubernetes`, which reads $KUBECONFIG once, at import.
    kopf.configure(
        verbose=verbose,
        log_format=kopf.LogFormat.JSON if log_format == "json" else kopf.LogFormat.FULL,
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if not verbose:  # "Handler 'x' succeeded" for every watch event: noise at 1000 objects
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    log = logging.getLogger("hardened_operator.run")

    webhook: WebhookSettings | None = None
    ca_injection: CaInjection | None = None
    if not no_webhook:
        host_port = _listen(webhook_listen, "--webhook-listen")
        assert host_port is not None
        mode = certs_mode or ("files" if tls_cert_file or tls_key_file else "self")
        if mode == "files":
            if not (tls_cert_file and tls_key_file):
                raise click.UsageError("--certs files needs --tls-cert-file and --tls-key-file")
            cert_file, key_file = tls_cert_file, tls_key_file
        else:
            if tls_cert_file or tls_key_file:
                raise click.UsageError("--certs self generates its own: drop --tls-*-file")
            cert_file, key_file, ca_pem = _self_certificates(
                kubeconfig,
                operator_namespace,
                certs_secret,
                webhook_service,
                webhook_hosts,
                renew_before_days=certs_renew_before_days,
            )
            if webhook_config_name:
                ca_injection = CaInjection(
                    kubeconfig,
                    webhook_config_name,
                    ca_pem,
                    secret_namespace=operator_namespace,
                    secret_name=certs_secret,
                )
        webhook = WebhookSettings(
            config=admission_config,
            host=host_port[0],
            port=host_port[1],
            cert_file=cert_file,
            key_file=key_file,
            workers=webhook_workers,
        )

    state = OperatorState(
        kubeconfig=kubeconfig,
        namespaces=namespaces,
        resync_seconds=resync_seconds,
        config_rollouts=config_rollouts,
        # The webhook's decisions: its profile, its exempt namespaces.
        reports=(
            _reports(admission_config, namespaces, reports_api or DEFAULT_REPORT_API)
            if reports
            else None
        ),
    )
    ready = threading.Event()
    serving = ServingThread(state, ready, health=health, webhook=webhook, ca_injection=ca_injection)
    serving.start()
    if peering_name and priority is None:
        priority = random.randint(1, 2**31 - 1)  # distinct per replica: equal ones all pause
    log.info(
        "starting: namespaces=%s peering=%s priority=%s webhook=%s",
        list(namespaces) or "all",
        peering_name or "standalone",
        priority,
        serving.webhook_server.url if serving.webhook_server else "off",
    )
    try:
        kopf.run(
            registry=build_registry(state),
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            standalone=peering_name is None,
            peering_name=peering_name,
            priority=priority,
            ready_flag=ready,
        )
    finally:
        serving.stop()


def _reports(config: WebhookConfig, namespaces: tuple[str, ...], api: str) -> Reports:
    from hardened_operator.controller.reports import Reports, ReportSettings
    from hardened_operator.reports import report_api

    return Reports(
        ReportSettings(
            profile=config.profile,
            api=report_api(api),
            exempt_namespaces=frozenset(config.exempt_namespaces),
            namespaces=namespaces,
        )
    )


def _require_peering(kubeconfig: str | None, namespaces: tuple[str, ...], name: str) -> None:
    """Refuse to start when the peering object (or its CRD) is missing.

    kopf would not fail: without the CRD it pauses every watch (nothing is ever reconciled),
    without the object each replica sees no peer and all of them reconcile at once.
    """
    from hardened_operator.errors import ApiError, NotFoundError
    from hardened_operator.k8s import KubeClient, load_connection
    from hardened_operator.k8s.resources import CLUSTER_KOPF_PEERINGS, KOPF_PEERINGS

    async def missing() -> list[str]:
        client = KubeClient(load_connection(kubeconfig))
        try:
            if not namespaces:
                found = await client.get(CLUSTER_KOPF_PEERINGS, None, name)
                return [] if found else [f"ClusterKopfPeering {name!r} (cluster-scoped)"]
            return [
                f"KopfPeering {name!r} in namespace {namespace!r}"
                for namespace in namespaces
                if await client.get(KOPF_PEERINGS, namespace, name) is None
            ]
        finally:
            await client.close()

    try:
        absent = asyncio.run(missing())
    except ApiError as exc:
        raise type(exc)(  # the same type (statuses.py): a 403 stays a ForbiddenError
            f"--peering {name}: cannot read the peering object: {exc}",
            status=exc.status,
            reason=exc.reason,
        ) from exc
    if absent:
        crd = (
            "manifests/01-kopf-namespaced-peering-crd.yaml (kopfpeerings.kopf.dev)"
            if namespaces
            else "manifests/01-kopf-peering-crd.yaml (clusterkopfpeerings.kopf.dev)"
        )
        raise NotFoundError(
            f"--peering {name}: not found: {', '.join(absent)}. Apply the CRD {crd} and "
            "create the object (docs/operator.md, Peering), or run without --peering.",
            status=404,
        )


def _self_certificates(
    kubeconfig: str | None,
    namespace: str,
    secret: str,
    service: str,
    extra_hosts: tuple[str, ...],
    *,
    renew_before_days: int = 30,
) -> tuple[Path, Path, bytes]:
    """Reuse or create the certificate in the Secret; write it where the server reads it."""
    from hardened_operator.k8s import KubeClient, load_connection
    from hardened_operator.k8s.certstore import ensure_certificates, webhook_hosts

    hosts = webhook_hosts(service, namespace, (*extra_hosts, "localhost", "127.0.0.1"))

    async def settle() -> tuple[bytes, bytes, bytes]:
        client = KubeClient(load_connection(kubeconfig))
        try:
            bundle, _ = await ensure_certificates(
                client, namespace, secret, hosts, min_valid_days=renew_before_days
            )
        finally:
            await client.close()
        return bundle.ca_pem, bundle.cert_pem, bundle.key_pem

    ca_pem, cert_pem, key_pem = asyncio.run(settle())
    directory = Path(tempfile.mkdtemp(prefix="hardened-webhook-"))  # mode 0700
    (directory / "tls.crt").write_bytes(cert_pem)
    key = directory / "tls.key"
    key.touch(mode=0o600)
    key.write_bytes(key_pem)
    return directory / "tls.crt", key, ca_pem
