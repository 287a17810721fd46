"""TLS material for the admission webhook, generated with ``cryptography``.

kopf's own self-signed path needs certbuilder/oscrypto, which cannot parse OpenSSL 3 version
strings; we generate a small CA and a serving certificate ourselves. Pure: returns PEM bytes,
the caller decides where they go (files, a Secret, a caBundle).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertBundle:
    """A CA certificate and a serving certificate/key signed by it, all PEM."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def write(self, directory: Path) -> tuple[Path, Path, Path]:
        """Write ``ca.crt``, ``tls.crt``, ``tls.key`` (key mode 0600); return their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        ca, cert, key = directory / "ca.crt", directory / "tls.crt", directory / "tls.key"
        ca.write_bytes(self.ca_pem)
        cert.write_bytes(self.cert_pem)
        key.touch(mode=0o600)
        key.write_bytes(self.key_pem)
        return ca, cert, key


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


_CN_MAX = 64  # ub-common-name (RFC 5280)


def _signed_pair(
    ca_common_name: str,
    subject: list[x509.NameAttribute[str]],
    usage: x509.ObjectIdentifier,
    days: int,
    san: x509.SubjectAlternativeName | None = None,
) -> CertBundle:
    """A fresh CA (EC P-256) and one leaf certificate for ``usage``, signed by it."""
    now = dt.datetime.now(dt.UTC)
    # Back-dated a little so a peer whose clock runs slightly behind still accepts it.
    not_before, not_after = now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_common_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    cert = (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return CertBundle(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=_pem(key),
    )


def generate(
    hosts: list[str], *, days: int = 365, common_name: str = "hardened-operator"
) -> CertBundle:
    """A fresh CA and a serving certificate valid for ``hosts`` (DNS names or IP addresses)."""
    if not hosts:
        raise ValueError("at least one host name or address is needed for the certificate")
    # X.509 caps a CN at 64 characters and clients match names against the SANs only (RFC
    # 6125), so the CN is a short label, never a host: `<service>.<namespace>.svc` of long
    # names overflows 64 and `cryptography` would refuse to build the certificate.
    common_name = common_name[: _CN_MAX - len("-ca")]
    return _signed_pair(
        f"{common_name}-ca",
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name)],
        ExtendedKeyUsageOID.SERVER_AUTH,
        days,
        san=_san(hosts),
    )


def generate_client(common_name: str, groups: list[str], *, days: int = 365) -> CertBundle:
    """A fresh client CA and a client certificate for ``common_name`` in ``groups``.

    The API server maps a client certificate's CN to the user name and each O to a group
    (``system:masters`` is the built-in superuser group); give it the CA with
    ``--client-ca-file``.
    """
    if not common_name:
        raise ValueError("a client certificate needs a common name (the user name)")
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return _signed_pair(f"{common_name}-client-ca", subject, ExtendedKeyUsageOID.CLIENT_AUTH, days)


def generate_signing_key() -> bytes:
    """A fresh RSA private key (PEM) for signing service-account tokens.

    RSA rather than EC because RS256 is what every token consumer accepts; the API server
    derives the verification key from this same file (``--service-account-key-file``).
    """
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
