"""The add/edit-server dialog: one form, two protocols, the common fields shared.

The protocol's own fields are checked only when that protocol is chosen; the other protocol's
fields are not on the page at all (the dialog swaps them in place).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import Length, NumberRange, Optional, StopValidation

from ekpanel.mail.connect import DEFAULT_PORTS
from ekpanel.mail.vocabulary import SenderPolicy
from ekpanel.mail.whitelist import invalid_entry_has_spaces, parse_entries
from ekpanel.servers.models import (
    ENCRYPTION_NONE,
    ENCRYPTION_SSL,
    ENCRYPTION_STARTTLS,
    PROTOCOL_GRAPH,
    PROTOCOL_IMAP,
)

DEFAULT_FOLDERS = "INBOX\nspam"

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_TENANT_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", re.IGNORECASE)
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]+")
_HOST = re.compile(r"[a-z0-9.:\[\]-]+", re.IGNORECASE)
# An authserv-id as servers write it: a host name, or any one word without separators.
_AUTHSERV_ID = re.compile(r'[^\s;()"\\=]+')

REQUIRED = _l("To pole jest wymagane.")


class PortField(IntegerField):
    """An integer field whose parse error speaks Polish."""

    def process_formdata(self, valuelist):
        if valuelist and valuelist[0].strip():
            try:
                self.data = int(valuelist[0])
            except ValueError as error:
                self.data = None
                raise ValueError(_l("Port to liczba od 1 do 65535.")) from error
        else:
            self.data = None


class IsoDateField(DateField):
    """``<input type=date>``; a value the browser did not normalise gets a Polish message."""

    def process_formdata(self, valuelist):
        text = valuelist[0].strip() if valuelist else ""
        if not text:
            self.data = None
            return
        try:
            self.data = date.fromisoformat(text)
        except ValueError as error:
            self.data = None
            raise ValueError(_l("Podaj datę w postaci RRRR-MM-DD.")) from error


def is_guid(value: str) -> bool:
    return bool(_GUID.fullmatch(value.strip()))


def is_tenant(value: str) -> bool:
    """A directory id (GUID) or one of its domains (``contoso.onmicrosoft.com``)."""
    value = value.strip()
    return is_guid(value) or bool(_TENANT_DOMAIN.fullmatch(value))


def parse_folders(text: str | None) -> list[str]:
    """One folder per line, trimmed, duplicates dropped (order kept)."""
    folders: list[str] = []
    for line in (text or "").splitlines():
        name = unicodedata.normalize("NFC", line.strip())
        if name and name not in folders:
            folders.append(name)
    return folders


def _required_for(protocol: str):
    """Required when ``protocol`` is chosen; otherwise the field is skipped."""

    def check(form, field):
        if form.protocol.data != protocol:
            field.errors[:] = []
            raise StopValidation()
        if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
            raise StopValidation(REQUIRED)

    return check


def _only_for(protocol: str):
    def check(form, field):
        if form.protocol.data != protocol:
            field.errors[:] = []
            raise StopValidation()

    return check


class ServerForm(FlaskForm):
    protocol = SelectField(
        _l("Protokół"),
        choices=[(PROTOCOL_IMAP, "IMAP"), (PROTOCOL_GRAPH, "API Outlook 365")],
        default=PROTOCOL_IMAP,
    )

    # IMAP
    host = StringField(
        _l("Serwer poczty przychodzącej"), validators=[_required_for(PROTOCOL_IMAP), Length(max=255)]
    )
    encryption = SelectField(
        _l("Rodzaj szyfrowania"),
        choices=[
            (ENCRYPTION_SSL, "SSL/TLS"),
            (ENCRYPTION_STARTTLS, "STARTTLS"),
            (ENCRYPTION_NONE, _l("Brak")),
        ],
        default=ENCRYPTION_SSL,
        validate_choice=False,  # checked below, only for IMAP
    )
    port = PortField(
        _l("Port"),
        default=DEFAULT_PORTS[ENCRYPTION_SSL],
        validators=[
            _only_for(PROTOCOL_IMAP),
            Optional(),
            NumberRange(1, 65535, message=_l("Port to liczba od 1 do 65535.")),
        ],
    )
    username = StringField(
        _l("Nazwa użytkownika"), validators=[_required_for(PROTOCOL_IMAP), Length(max=255)]
    )
    password = PasswordField(_l("Hasło"), validators=[_only_for(PROTOCOL_IMAP)])
    authserv_id = StringField(
        _l("Identyfikator serwera uwierzytelniającego (authserv-id)"),
        validators=[_only_for(PROTOCOL_IMAP), Optional(), Length(max=255)],
    )

    # Outlook 365
    name = StringField(_l("Nazwa serwera"), validators=[_required_for(PROTOCOL_GRAPH), Length(max=200)])
    client_id = StringField(_l("ID aplikacji"), validators=[_required_for(PROTOCOL_GRAPH)])
    client_secret = PasswordField(_l("Klucz sekretny aplikacji"), validators=[_only_for(PROTOCOL_GRAPH)])
    tenant = StringField(_l("Tenant ID"), validators=[_required_for(PROTOCOL_GRAPH), Length(max=255)])
    mailbox_address = StringField(
        _l("Adres skrzynki"), validators=[_required_for(PROTOCOL_GRAPH), Length(max=320)]
    )
    secret_expires_on = IsoDateField(_l("Klucz ważny do"), validators=[_only_for(PROTOCOL_GRAPH), Optional()])

    # Both
    whitelist = TextAreaField(_l("Adresy e-mail mogących wysyłać dokumenty"))
    folders = TextAreaField(_l("Foldery IMAP"), default=DEFAULT_FOLDERS)
    sender_policy = SelectField(
        _l("Weryfikacja nadawcy"),
        choices=[
            (SenderPolicy.OFF, _l("Wyłączona")),
            (SenderPolicy.MARK, _l("Oznaczaj")),
            (SenderPolicy.REQUIRE, _l("Wymagaj")),
        ],
        default=SenderPolicy.MARK,
    )
    active = BooleanField(_l("Aktywny"), default=True)

    def __init__(self, *args, stored_protocol: str | None = None, **kwargs):
        """``stored_protocol``: the saved server's protocol; its stored secret may be kept."""
        super().__init__(*args, **kwargs)
        self.stored_protocol = stored_protocol
        self.whitelist_entries: list[str] = []
        self.folder_names: list[str] = []

    @property
    def keeps_secret(self) -> bool:
        """Whether an empty secret field keeps the stored one (editing, same protocol)."""
        return self.stored_protocol is not None and self.stored_protocol == self.protocol.data

    @property
    def secret(self) -> str:
        field = self.password if self.protocol.data == PROTOCOL_IMAP else self.client_secret
        return field.data or ""

    @property
    def secret_to_retype(self) -> bool:
        """A secret was typed, but the form comes back with errors: a secret never goes back to the
        browser, so its field comes back empty and must be typed again."""
        return bool(self.secret) and bool(self.errors)

    @property
    def port_is_custom(self) -> bool:
        """Whether the port was chosen by hand, so changing the encryption leaves it alone."""
        return self.port.data is not None and self.port.data != DEFAULT_PORTS.get(self.encryption.data)

    @property
    def effective_port(self) -> int:
        """The typed port, or the encryption's usual one when none was typed."""
        return self.port.data or DEFAULT_PORTS.get(self.encryption.data, 993)

    def validate_host(self, field):
        if not _HOST.fullmatch(field.data.strip()):
            raise ValidationError(_l("Podaj nazwę hosta lub adres IP, np. imap.firma.pl."))

    def validate_encryption(self, field):
        if self.protocol.data == PROTOCOL_IMAP and field.data not in DEFAULT_PORTS:
            raise ValidationError(_l("Wybierz rodzaj szyfrowania."))

    def validate_password(self, field):
        if not field.data and not self.keeps_secret:
            raise ValidationError(REQUIRED)

    def validate_client_secret(self, field):
        if not field.data and not self.keeps_secret:
            raise ValidationError(REQUIRED)

    def validate_client_id(self, field):
        if not is_guid(field.data):
            raise ValidationError(
                _l("ID aplikacji to identyfikator GUID, np. 00000000-0000-0000-0000-000000000000.")
            )

    def validate_tenant(self, field):
        if not is_tenant(field.data):
            raise ValidationError(
                _l("Tenant ID to identyfikator GUID albo domena katalogu, np. contoso.onmicrosoft.com.")
            )

    def validate_mailbox_address(self, field):
        if not _ADDRESS.fullmatch(field.data.strip()):
            raise ValidationError(_l("Podaj adres skrzynki, np. faktury@firma.pl."))

    def validate_authserv_id(self, field):
        if not _AUTHSERV_ID.fullmatch(field.data.strip()):
            raise ValidationError(
                _l("Identyfikator to jedna nazwa, bez spacji i średników, np. mx.google.com.")
            )

    def validate_sender_policy(self, field):
        needs_id = self.protocol.data == PROTOCOL_IMAP and field.data == SenderPolicy.REQUIRE
        if needs_id and not (self.authserv_id.data or "").strip():
            raise ValidationError(
                _l(
                    "Aby wymagać potwierdzonego nadawcy, podaj identyfikator serwera "
                    "uwierzytelniającego (authserv-id); bez niego żaden nadawca nie zostanie potwierdzony."
                )
            )

    def validate_whitelist(self, field):
        entries, invalid = parse_entries(field.data or "")
        if invalid:
            message = _l("To nie jest adres e-mail ani wzorzec z *: %(entries)s", entries=", ".join(invalid))
            if invalid_entry_has_spaces(field.data or "", invalid):
                hint = _l("(spacja, przecinek i średnik rozdzielają wpisy)")
                message = f"{message} {hint}"
            raise ValidationError(message)
        self.whitelist_entries = entries

    def validate_folders(self, field):
        names = parse_folders(field.data)
        if not names:
            raise ValidationError(_l("Podaj co najmniej jeden folder."))
        too_long = [name for name in names if len(name) > 500]
        if too_long:
            raise ValidationError(_l("Nazwa folderu jest za długa: %(name)s", name=too_long[0][:60]))
        self.folder_names = names
