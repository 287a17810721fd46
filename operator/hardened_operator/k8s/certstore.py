"""The webhook's serving certificate kept in a Secret, and its CA injected into the
ValidatingWebhookConfiguration (``hardened run --certs self``).

Every replica calls :func:`ensure_certificates` at start: the first one generates a CA and a
certificate (``hardened_operator.certs``) and stores them; the others -- and later restarts --
reuse what is stored while it is valid (parses, key matches, covers the hosts, more than
``min_valid_days`` left). Writes carry the Secret's resourceVersion, so two replicas racing
on an empty Secret cannot end up serving different certificates: the loser re-reads and
takes the winner's.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization

from hardened_operator import certs
from hardened_operator.errors import ApiError, ConflictError
from hardened_operator.k8s.client import STRATEGIC_PATCH, KubeClient
from hardened_operator.k8s.resources import SECRETS, VALIDATING_WEBHOOKS

log = logging.getLogger(__name__)


def webhook_hosts(service: str, namespace: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The names the API server may use to reach the webhook Service, plus ``extra``."""
    base = [service, f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]
    return base + [h for h in extra if h not in base]


def bundle_from_secret(secret: dict[str, Any] | None) -> certs.CertBundle | None:
    data = (secret or {}).get("data") or {}
    try:
        return certs.CertBundle(
            ca_pem=base64.b64decode(data["ca.crt"]),
            cert_pem=base64.b64decode(data["tls.crt"]),
            key_pem=base64.b64decode(data["tls.key"]),
        )
    except (KeyError, ValueError):
        return None


def is_usable(
    bundle: certs.CertBundle, hosts: list[str], *, now: dt.datetime, min_valid_days: int
) -> bool:
    """Parses, is signed by its CA, matches its key, covers ``hosts``, is not about to expire."""
    try:
        ca = x509.load_pem_x509_certificate(bundle.ca_pem)
        cert = x509.load_pem_x509_certificate(bundle.cert_pem)
        key = serialization.load_pem_private_key(bundle.key_pem, password=None)
        cert.verify_directly_issued_by(ca)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.PEM
    if key.public_key().public_bytes(encoding, public) != cert.public_key().public_bytes(
        encoding, public
    ):
        return False
    names = set(san.get_values_for_type(x509.DNSName)) | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }
    margin = dt.timedelta(days=min_valid_days)
    return (
        set(hosts) <= names and cert.not_valid_after_utc - margin > now > cert.not_valid_before_utc
    )


def _secret_data(bundle: certs.CertBundle) -> dict[str, str]:
    return {
        "ca.crt": base64.b64encode(bundle.ca_pem).decode(),
        "tls.crt": base64.b64encode(bundle.cert_pem).decode(),
        "tls.key": base64.b64encode(bundle.key_pem).decode(),
    }


async def ensure_certificates(
    client: KubeClient,
    namespace: str,
    secret_name: str,
    hosts: list[str],
    *,
    min_valid_days: int = 30,
    attempts: int = 3,
) -> tuple[certs.CertBundle, bool]:
    """The bundle to serve with, and whether this call generated (and stored) it."""
    for _ in range(attempts):
        now = dt.datetime.now(dt.UTC)
        secret = await client.get(SECRETS, namespace, secret_name)
        stored = bundle_from_secret(secret)
        if stored and is_usable(stored, hosts, now=now, min_valid_days=min_valid_days):
            log.info(
                "reusing the webhook certificate stored in Secret %s/%s", namespace, secret_name
            )
            return stored, False
        bundle = certs.generate(hosts)
        try:
            if secret is None:
                await client.create(
                    SECRETS,
                    namespace,
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": secret_name, "namespace": namespace},
                        "type": "kubernetes.io/tls",
                        "data": _secret_data(bundle),
                    },
                )
            else:
                rv = secret["metadata"]["resourceVersion"]
                data = _secret_data(bundle)
                if stored is not None:  # a rotation: replicas may still serve older pairs
                    previous = replaced_cas(stored.ca_pem, secret, now=now)
                    data[PREVIOUS_CA_KEY] = base64.b64encode(previous).decode()
                patch = {"metadata": {"resourceVersion": rv}, "data": data}
                await client.patch(SECRETS, namespace, secret_name, patch)
        except ConflictError:
            log.info("another replica stored a certificate first; re-reading it")
            continue
        log.info("stored a new webhook certificate in Secret %s/%s", namespace, secret_name)
        return bundle, True
    raise ApiError(f"could not settle the certificate in Secret {namespace}/{secret_name}")


PREVIOUS_CA_KEY = "previous-ca.crt"
"""The Secret's record of the CAs rotations replaced (a PEM bundle): replicas still serving a
pair one of them signed must stay trusted until they restart."""
MAX_PREVIOUS_CAS = 3


def _load_cas(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem) if pem.strip() else []
    except ValueError:
        return []


def _secret_pem(secret: dict[str, Any] | None, key: str) -> bytes:
    data = (secret or {}).get("data") or {}
    try:
        return base64.b64decode(data.get(key) or "")
    except (ValueError, TypeError):
        return b""


def _bundle(certificates: list[x509.Certificate], now: dt.datetime, limit: int | None) -> bytes:
    """Unexpired, each once (the first ``limit`` of them as given), oldest first."""
    found: dict[bytes, x509.Certificate] = {}
    for cert in certificates:
        if cert.not_valid_after_utc > now and (limit is None or len(found) < limit):
            found.setdefault(cert.fingerprint(hashes.SHA256()), cert)
    order = sorted(found, key=lambda f: (found[f].not_valid_before_utc, f))
    return b"".join(found[f].public_bytes(serialization.Encoding.PEM) for f in order)


def replaced_cas(replaced: bytes, secret: dict[str, Any] | None, *, now: dt.datetime) -> bytes:
    """The Secret's new ``previous-ca.crt``: the CA being replaced, then those already recorded
    (the most recently replaced MAX_PREVIOUS_CAS)."""
    recorded = sorted(
        _load_cas(_secret_pem(secret, PREVIOUS_CA_KEY)),
        key=lambda cert: cert.not_valid_before_utc,
        reverse=True,  # newest first: the limit drops the oldest
    )
    return _bundle([*_load_cas(replaced), *recorded], now, MAX_PREVIOUS_CAS)


def trusted_cas(own_ca: bytes, secret: dict[str, Any] | None, *, now: dt.datetime) -> bytes:
    """The caBundle every replica agrees on: its own CA, the stored one and those rotations
    replaced -- each once, unexpired, oldest first.

    Pure. After a rotation one replica serves the new pair while others still serve older ones
    until they restart; a bundle with only the new CA would make the API server refuse every
    call routed to them. The Secret records every CA a replica may still serve, and the order
    depends only on the certificates, so replicas holding different CAs compute the same
    bundle and never undo each other's writes; a CA that is neither ours nor recorded (a
    placeholder) is dropped.
    """
    certificates = [
        *_load_cas(own_ca),
        *_load_cas(_secret_pem(secret, "ca.crt")),
        *_load_cas(_secret_pem(secret, PREVIOUS_CA_KEY)),
    ]
    return _bundle(certificates, now, None)


async def inject_ca_bundle(client: KubeClient, config_name: str, ca_pem: bytes) -> bool | None:
    """Set ``caBundle`` on every webhook of the configuration to ``ca_pem`` (one CA or a bundle,
    :func:`trusted_cas`); None when it does not exist, else whether a write was needed."""
    config = await client.get(VALIDATING_WEBHOOKS, None, config_name)
    if config is None:
        return None
    wanted = base64.b64encode(ca_pem).decode()
    stale = [
        {"name": hook["name"], "clientConfig": {"caBundle": wanted}}
        for hook in config.get("webhooks") or []
        if (hook.get("clientConfig") or {}).get("caBundle") != wanted
    ]
    if not stale:
        return False
    # Strategic merge: webhooks is a list keyed by name, so no index can point at the wrong one.
    await client.patch(
        VALIDATING_WEBHOOKS, None, config_name, {"webhooks": stale}, content_type=STRATEGIC_PATCH
    )
    log.info("injected the CA into ValidatingWebhookConfiguration %s", config_name)
    return True


async def bundle_to_trust(
    client: KubeClient, own_ca: bytes, secret_namespace: str | None, secret_name: str | None
) -> bytes:
    """:func:`trusted_cas` with the Secret as stored now (own CA alone without a Secret)."""
    secret = None
    if secret_namespace and secret_name:
        secret = await client.get(SECRETS, secret_namespace, secret_name)
    return trusted_cas(own_ca, secret, now=dt.datetime.now(dt.UTC))
