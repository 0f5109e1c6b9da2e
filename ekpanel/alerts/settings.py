"""Whether alerts are on, and where they go out: EKPANEL_SMTP_URL, EKPANEL_MAIL_FROM, EKPANEL_BASE_URL.

Alerts are off until all three are set and readable; Panel administratora says which one is missing
or wrong (``problems``). Nothing is detected or queued while they are off, so turning them on later
does not send a backlog of old events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

from ekpanel.clock import parse_check_times

SMTP_SCHEMES = {"smtp": (587, False), "smtps": (465, True)}  # scheme -> (default port, implicit TLS)
SMTP_TIMEOUT = 30.0  # seconds for every SMTP socket operation


@dataclass(frozen=True)
class SmtpTarget:
    """Where to hand messages over: ``smtp://`` always upgrades with STARTTLS, ``smtps://`` is TLS at once."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        """``smtp://user:password@host:587`` (user and password URL-encoded); ValueError when unreadable."""
        parts = urlsplit(url.strip())
        if parts.scheme not in SMTP_SCHEMES:
            raise ValueError("scheme")
        default_port, implicit_tls = SMTP_SCHEMES[parts.scheme]
        try:
            port = parts.port or default_port
        except ValueError as error:
            raise ValueError("port") from error
        if not parts.hostname:
            raise ValueError("host")
        return cls(
            host=parts.hostname,
            port=port,
            implicit_tls=implicit_tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def describe(self) -> str:
        """For people: host, port and encryption (never the password)."""
        return f"{self.host}:{self.port} ({'TLS' if self.implicit_tls else 'STARTTLS'})"


@dataclass(frozen=True)
class AlertSettings:
    smtp: SmtpTarget
    mail_from: str  # as configured, e.g. "ekpanel <panel@biuro.pl>"
    sender_address: str  # the bare address, for MAIL FROM
    base_url: str  # no trailing slash
    timezone: str
    digest_time: str
    ca_bundle: str | None
    timeout: float


def problems(config: Mapping) -> list[str]:
    """What keeps alerts off: the names of the settings that are missing or unreadable; [] when on."""
    found = []
    try:
        SmtpTarget.from_url(config.get("SMTP_URL") or "")
    except ValueError:
        found.append("EKPANEL_SMTP_URL")
    if not _bare_address(config.get("MAIL_FROM") or ""):
        found.append("EKPANEL_MAIL_FROM")
    base = urlsplit((config.get("BASE_URL") or "").strip())
    if base.scheme not in ("http", "https") or not base.netloc:
        found.append("EKPANEL_BASE_URL")
    try:
        times = parse_check_times(config.get("DIGEST_TIME") or "")
    except ValueError:
        times = []
    if len(times) != 1:
        found.append("EKPANEL_DIGEST_TIME")
    return found


def alert_settings(config: Mapping) -> AlertSettings | None:
    """The settings when alerts are on, None when they are off."""
    if problems(config):
        return None
    mail_from = config["MAIL_FROM"].strip()
    return AlertSettings(
        smtp=SmtpTarget.from_url(config["SMTP_URL"]),
        mail_from=mail_from,
        sender_address=_bare_address(mail_from),
        base_url=config["BASE_URL"].strip().rstrip("/"),
        timezone=config["TIMEZONE"],
        digest_time=config["DIGEST_TIME"],
        ca_bundle=config.get("CA_BUNDLE") or None,
        timeout=float(config.get("SMTP_TIMEOUT") or SMTP_TIMEOUT),
    )


def alerts_on(config: Mapping) -> bool:
    return not problems(config)


def _bare_address(value: str) -> str:
    _name, address = parseaddr(value)
    if "@" not in address:
        return ""
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError):
        return ""
    return address
