"""Domain names as DMARC compares them: one written form, and the organisational domain.

Two domains are *aligned* (DMARC's relaxed alignment, RFC 7489 section 3.1) when they have the same
organisational domain: the registrable part, one label under the public suffix. ``mail.firma.pl``
and ``firma.pl`` are aligned; ``firma.com.pl`` and ``inna.com.pl`` are not, because ``com.pl`` is
a public suffix, as are ``waw.pl`` and ``gov.pl``.

The public suffixes come from ``publicsuffixlist``, which ships the Public Suffix List inside the
package and reads it from there: nothing is downloaded at run time (its ``update`` module, which
does download, is never imported). Private suffixes such as ``github.io`` count too, as in
OpenDMARC: ``a.github.io`` and ``b.github.io`` belong to different people.
"""

from __future__ import annotations

import functools
import re

from publicsuffixlist import PublicSuffixList

_DNS_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")


def normalise_domain(text: str) -> str | None:
    """The domain in lower-case ASCII (IDNA A-labels), without a trailing dot, or None when the
    text is not a domain name. An address or ``@domain`` (DKIM's ``header.i``) gives its domain."""
    domain = text.strip().rpartition("@")[2].rstrip(".").lower()
    if not domain or len(domain) > 253:
        return None
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = domain.split(".")
    if len(labels) < 2 or labels[-1].isdigit():  # "localhost", an IP address
        return None
    if not all(len(label) <= 63 and _DNS_LABEL.fullmatch(label) for label in labels):
        return None
    return domain


def organisational_domain(domain: str) -> str | None:
    """The registrable domain (``firma.com.pl`` for ``mail.firma.com.pl``); None for a public
    suffix itself or text that is not a domain."""
    normal = normalise_domain(domain)
    if normal is None:
        return None
    return _public_suffix_list().privatesuffix(normal)


def aligned(domain: str, other: str) -> bool:
    """Whether the two domains share their organisational domain."""
    organisation = organisational_domain(domain)
    return organisation is not None and organisation == organisational_domain(other)


@functools.cache
def _public_suffix_list() -> PublicSuffixList:
    # Reading the shipped list takes about 0.2 s: once per process, when first needed.
    return PublicSuffixList()
