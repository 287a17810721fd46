"""Certificate rotation without restart: replace the files, the next connection gets the new
certificate; a half-written pair keeps the old one; a Secret-style symlink swap works."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import orjson
import requests
from cryptography import x509

from hardened_operator import certs
from hardened_operator.webhook import WebhookServer
from hardened_operator.webhook.tls import CertReloader
from tests.webhook.webhook_support import pod, review, running_server


def served_certificate(server: WebhookServer) -> x509.Certificate:
    """The certificate a fresh TLS connection is given (no verification: we compare it)."""
    pem = ssl.get_server_certificate(("127.0.0.1", server.port), timeout=10)
    return x509.load_pem_x509_certificate(pem.encode())


def certificate(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def validate_ok(server: WebhookServer, ca_file: Path) -> bool:
    response = requests.post(
        server.url + "/validate",
        data=orjson.dumps(review(pod())),
        headers={"Content-Type": "application/json"},
        verify=str(ca_file),
        timeout=30,
    )
    return bool(response.json()["response"]["allowed"])


def test_replacing_the_files_serves_the_new_certificate(tmp_path: Path) -> None:
    first = certs.generate(["127.0.0.1"])
    ca1, cert, key = first.write(tmp_path / "live")
    with running_server(cert_file=cert, key_file=key) as server:
        assert served_certificate(server) == certificate(first.cert_pem)
        assert validate_ok(server, ca1)

        # Rotate the way most tools do: write new files next to the old, rename over them.
        second = certs.generate(["127.0.0.1"])
        ca2, staged_cert, staged_key = second.write(tmp_path / "staged")
        os.replace(staged_key, key)
        os.replace(staged_cert, cert)

        assert served_certificate(server) == certificate(second.cert_pem)
        assert validate_ok(server, ca2)
        try:
            validate_ok(server, ca1)
        except requests.exceptions.SSLError:
            pass
        else:
            raise AssertionError("the old CA still verifies: the old certificate is still served")

        # In-place rewrite (same inode) is noticed too.
        third = certs.generate(["127.0.0.1"])
        key.write_bytes(third.key_pem)
        cert.write_bytes(third.cert_pem)
        assert served_certificate(server) == certificate(third.cert_pem)
        assert server.reloader is not None and server.reloader.reloads == 2


def test_half_written_pair_keeps_the_old_certificate(tmp_path: Path) -> None:
    first = certs.generate(["127.0.0.1"])
    ca1, cert, key = first.write(tmp_path)
    with running_server(cert_file=cert, key_file=key) as server:
        second = certs.generate(["127.0.0.1"])
        cert.write_bytes(second.cert_pem)  # the key is not there yet: mismatch
        assert served_certificate(server) == certificate(first.cert_pem)
        assert validate_ok(server, ca1)
        assert server.reloader is not None and server.reloader.failures == 1

        key.write_bytes(second.key_pem)  # now the pair matches
        assert served_certificate(server) == certificate(second.cert_pem)


def test_secret_volume_symlink_swap(tmp_path: Path) -> None:
    """Kubernetes Secret volumes: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>."""
    first, second = certs.generate(["127.0.0.1"]), certs.generate(["127.0.0.1"])
    first.write(tmp_path / "..2026_11_28_a")
    second.write(tmp_path / "..2026_11_28_b")
    (tmp_path / "..data").symlink_to("..2026_11_28_a")
    for name in ("tls.crt", "tls.key"):
        (tmp_path / name).symlink_to(f"..data/{name}")
    with running_server(cert_file=tmp_path / "tls.crt", key_file=tmp_path / "tls.key") as server:
        assert served_certificate(server) == certificate(first.cert_pem)
        (tmp_path / "..data_tmp").symlink_to("..2026_11_28_b")
        os.replace(tmp_path / "..data_tmp", tmp_path / "..data")  # atomic, like the kubelet
        assert served_certificate(server) == certificate(second.cert_pem)


def test_files_briefly_missing_keep_serving(tmp_path: Path) -> None:
    bundle = certs.generate(["127.0.0.1"])
    _ca, cert, key = bundle.write(tmp_path)
    reloader = CertReloader(cert, key)
    before = reloader.current()
    key.rename(tmp_path / "away")
    assert reloader.current() is before
    (tmp_path / "away").rename(key)
    assert reloader.current() is before  # same files back: nothing to reload
    assert reloader.reloads == 0
