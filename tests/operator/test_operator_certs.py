"""certs.generate with the long DNS names a real namespaced Service gets."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from hardened_operator.certs import generate
from hardened_operator.k8s.certstore import webhook_hosts

SERVICE = "hardened-operator-admission-webhook"
NAMESPACE = "platform-security-hardened-operator-prod"


def test_long_service_names_get_a_certificate_valid_for_every_name(tmp_path: Path) -> None:
    # The namespaced name first: generate() used hosts[0] as the CN (at most 64 characters)
    # and raised; webhook_hosts() had to order around it, any other caller did not.
    hosts = sorted(webhook_hosts(SERVICE, NAMESPACE, ("localhost", "127.0.0.1")), key=len)[::-1]
    longest = hosts[0]
    assert len(longest) >= 70, longest
    bundle = generate(list(hosts))
    cert = x509.load_pem_x509_certificate(bundle.cert_pem)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(cn, str) and 0 < len(cn) <= 64
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    named = set(sans.get_values_for_type(x509.DNSName)) | {
        str(ip) for ip in sans.get_values_for_type(x509.IPAddress)
    }
    assert named == set(hosts)
    # A real TLS client verifying the longest name against the CA accepts the certificate.
    (tmp_path / "tls.crt").write_bytes(bundle.cert_pem)
    (tmp_path / "tls.key").write_bytes(bundle.key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    client_ctx = ssl.create_default_context(cadata=bundle.ca_pem.decode())
    left, right = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(left, server_side=True) as tls:
                tls.sendall(tls.recv(5))
        except BaseException as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=serve)
    thread.start()
    with client_ctx.wrap_socket(right, server_hostname=longest) as tls:
        tls.sendall(b"hello")
        assert tls.recv(5) == b"hello"
    thread.join(10)
    assert not errors


def test_a_long_common_name_option_is_shortened_not_refused() -> None:
    bundle = generate(["localhost"], common_name="x" * 80)
    cert = x509.load_pem_x509_certificate(bundle.cert_pem)
    ca = x509.load_pem_x509_certificate(bundle.ca_pem)
    for c in (cert, ca):
        value = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert isinstance(value, str) and len(value) <= 64
