"""TLS for mail connections: always verified, against the system store plus an optional bundle.

There is deliberately no switch to turn verification off. An office whose server has a
certificate from its own CA adds that CA with ``EKPANEL_CA_BUNDLE``.
"""

from __future__ import annotations

import functools
import os
import socket
import ssl

from cryptography import x509
from cryptography.x509.oid import NameOID


def client_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """A client context that checks the chain and the host name (TLS 1.2 or newer).

    One per bundle (and its version on disk) per process: loading the system store costs about
    20 ms, a good part of a whole check of a quiet mailbox. A context is safe to share between
    connections and threads once it is set up.
    """
    stamp = None
    if ca_bundle:
        try:
            stat = os.stat(ca_bundle)
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None  # load_verify_locations says what is wrong with it
    return _client_context(ca_bundle or None, stamp)


@functools.lru_cache(maxsize=8)
def _client_context(ca_bundle: str | None, _stamp: tuple[int, int] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def presented_names(host: str, port: int, *, starttls: bool, timeout: float) -> list[str]:
    """The names in the certificate a server presents, to explain a verification failure.

    Only called after verification has already failed, and no credentials are ever sent on this
    connection: it reads the certificate and hangs up. Returns [] when it cannot find out.
    """
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE  # diagnosis only: the certificate is read, never trusted
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            if starttls:
                stream = raw.makefile("rb")
                stream.readline()  # greeting
                raw.sendall(b"x STARTTLS\r\n")
                while not stream.readline().startswith(b"x "):
                    pass
            with probe.wrap_socket(raw, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return []
    if not der:
        return []
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        return []
    names: list[str] = []
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += san.get_values_for_type(x509.DNSName)
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    if not names:
        names += [str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return names
