"""TLS for the webhook, with certificates re-read when their files change.

Every TLS handshake first asks ``CertReloader.current()``, which compares the files' stat
(device, inode, size, mtime) with what was loaded and loads them again on a change; the
handshake then continues with the fresh context (``sni_callback`` swapping
``SSLObject.context``; OpenSSL calls it for every ClientHello, with or without SNI). A
rotation by cert-manager or a Secret volume update (an atomic symlink swap) is picked up by
the very next connection, without a restart. A half-written pair (new cert, old key) fails
to load: the old context stays in use and the load is retried when the files change again.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_Fingerprint = tuple[tuple[int, int, int, int], ...]


def _fingerprint(*paths: Path) -> _Fingerprint:
    out = []
    for path in paths:
        st = os.stat(path)  # follows symlinks: a Secret volume swaps ..data underneath
        out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def load_server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A TLS ≥ 1.2 server context serving ``cert_file`` (chain allowed) with ``key_file``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(cert_file), keyfile=str(key_file))
    return context


class CertReloader:
    """Holds the current server context and reloads it when the files change."""

    def __init__(self, cert_file: Path | str, key_file: Path | str) -> None:
        self.cert_file, self.key_file = Path(cert_file), Path(key_file)
        self._lock = threading.Lock()
        # The first load must succeed: a webhook without a certificate is no webhook.
        self._seen = _fingerprint(self.cert_file, self.key_file)
        self._context = load_server_context(self.cert_file, self.key_file)
        self.reloads = 0
        self.failures = 0

    def current(self) -> ssl.SSLContext:
        """The context to use now, reloading first if the files changed since last time."""
        try:
            seen = _fingerprint(self.cert_file, self.key_file)
        except OSError as exc:  # mid-rotation: a file briefly missing; keep serving
            log.warning("cannot stat TLS files, keeping the current certificate: %s", exc)
            return self._context
        if seen == self._seen:
            return self._context
        with self._lock:
            if seen != self._seen:
                self._seen = seen  # also on failure: retry on the next change, not every time
                try:
                    self._context = load_server_context(self.cert_file, self.key_file)
                except (OSError, ssl.SSLError) as exc:
                    self.failures += 1
                    log.warning(
                        "TLS files changed but do not load (%s); still serving the old "
                        "certificate until they change again",
                        exc,
                    )
                else:
                    self.reloads += 1
                    log.info("reloaded TLS certificate from %s", self.cert_file)
            return self._context

    def listening_context(self) -> ssl.SSLContext:
        """The context to listen with: it hands every handshake to ``current()``."""
        base = load_server_context(self.cert_file, self.key_file)

        def pick(conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: object) -> None:
            context = self.current()
            if conn.context is not context:
                conn.context = context

        base.sni_callback = pick
        return base
