"""Certificate rotation (``--certs self``): every replica trusts what any replica may serve.

The caBundle is computed from the replica's own CA and the Secret (its CA and the CAs that
rotations replaced), so replicas holding different CAs compute the same bundle.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hardened_operator import certs
from hardened_operator.k8s.certstore import PREVIOUS_CA_KEY, replaced_cas, trusted_cas

NOW = dt.datetime.now(dt.UTC)


def _ca(days: int = 365) -> bytes:
    return certs.generate(["svc.ns.svc"], days=days).ca_pem


def _secret(ca: bytes, previous: bytes = b"") -> dict[str, Any]:
    data = {"ca.crt": base64.b64encode(ca).decode()}
    if previous:
        data[PREVIOUS_CA_KEY] = base64.b64encode(previous).decode()
    return {"data": data}


def _subjects(bundle: bytes) -> list[bytes]:
    return [c.fingerprint(hashes.SHA256()) for c in x509.load_pem_x509_certificates(bundle)]


def test_before_any_rotation_the_bundle_is_the_one_stored_ca() -> None:
    a = _ca()
    assert _subjects(trusted_cas(a, _secret(a), now=NOW)) == _subjects(a)


def test_after_a_rotation_old_and_new_replicas_compute_the_same_bundle_with_both_cas() -> None:
    a = _ca()
    c = _ca()
    secret = _secret(c, replaced_cas(a, _secret(a), now=NOW))
    old_replica = trusted_cas(a, secret, now=NOW)
    new_replica = trusted_cas(c, secret, now=NOW)
    assert old_replica == new_replica  # byte for byte: no replica undoes the other's write
    assert set(_subjects(old_replica)) == set(_subjects(a) + _subjects(c))


def test_two_rotations_in_a_rolling_update_keep_every_served_ca() -> None:
    a, c, d = _ca(), _ca(), _ca()
    after_first = _secret(c, replaced_cas(a, _secret(a), now=NOW))
    after_second = _secret(d, replaced_cas(c, after_first, now=NOW))
    bundles = {trusted_cas(own, after_second, now=NOW) for own in (a, c, d)}
    assert len(bundles) == 1
    assert set(_subjects(bundles.pop())) == set(_subjects(a) + _subjects(c) + _subjects(d))


def _ca_from(days_ago: int, days: int = 365) -> bytes:
    """A self-signed CA valid from ``days_ago`` days before NOW (rotations are days apart)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ca-{days_ago}")])
    start = NOW - dt.timedelta(days=days_ago)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_expired_cas_leave_and_the_record_keeps_the_newest_three() -> None:
    recorded = b""
    cas = [_ca_from(days_ago) for days_ago in (50, 40, 30, 20, 10)]  # rotated in this order
    for ca in cas:
        recorded = replaced_cas(ca, _secret(cas[0], recorded), now=NOW)
    assert set(_subjects(recorded)) == set(b"".join(_subjects(ca)) for ca in cas[-3:])
    later = NOW + dt.timedelta(days=400)
    assert trusted_cas(_ca(days=800), _secret(cas[0], recorded), now=later).count(b"BEGIN") == 1


def test_a_placeholder_ca_in_the_configuration_is_not_kept() -> None:
    # The bundle comes from the Secret and the replica, never from what the configuration
    # held: a CA put there by someone else is dropped at the first injection.
    a = _ca()
    assert trusted_cas(a, None, now=NOW) == trusted_cas(a, _secret(a), now=NOW)
    assert trusted_cas(a, {"data": {"ca.crt": "not base64!"}}, now=NOW).count(b"BEGIN") == 1
