"""What the mail core tells people, kept as a code and its parameters.

A check runs in a worker that has no reader, so it cannot know the language to write in. It keeps a
:class:`Note` (a :class:`Text` code and plain parameters); the page that shows it renders the code's
Polish msgid through gettext in the reader's language (``ekpanel.templating.render_note``). The
msgids live here, beside their codes, so the catalog and the codes cannot drift apart; ``N_`` only
marks them for extraction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Union

ParamValue = Union[str, int, "Note"]


def N_(msgid: str) -> str:
    return msgid


class Text(StrEnum):
    """A message's code: stored in the database, so a value never changes."""

    UNEXPECTED = "unexpected"
    FOLDER_NOT_FOUND = "folder_not_found"
    FOLDER_IS_YEAR_FOLDER = "folder_is_year_folder"
    NOT_MOVED = "not_moved"
    NOT_READ_AGAIN = "not_read_again"
    SECRET_UNREADABLE = "secret_unreadable"
    FOLDER_LIST_UNEXPECTED = "folder_list_unexpected"
    PDFS_TOO_LARGE_SKIPPED = "pdfs_too_large_skipped"
    PDFS_TOO_LARGE = "pdfs_too_large"
    PDFS_OVER_LIMIT = "pdfs_over_limit"
    DUPLICATE_MESSAGE = "duplicate_message"
    LOCK_LOST = "lock_lost"
    # IMAP
    IMAP_STARTTLS_MISSING = "imap_starttls_missing"
    IMAP_MESSAGE_GONE = "imap_message_gone"
    IMAP_CANNOT_MOVE = "imap_cannot_move"
    IMAP_FOLDER_UNAVAILABLE = "imap_folder_unavailable"
    IMAP_STRUCTURE_UNREADABLE = "imap_structure_unreadable"
    IMAP_RESPONSE_TOO_LONG = "imap_response_too_long"
    TOO_MANY_PARTS = "too_many_parts"
    NESTED_TOO_DEEP = "nested_too_deep"
    IMAP_LOGIN_DISABLED = "imap_login_disabled"
    IMAP_AUTH_FAILED = "imap_auth_failed"
    IMAP_TLS_FAILED = "imap_tls_failed"
    IMAP_HOST_NOT_FOUND = "imap_host_not_found"
    IMAP_CONNECTION_REFUSED = "imap_connection_refused"
    IMAP_TIMEOUT = "imap_timeout"
    IMAP_CONNECTION_LOST = "imap_connection_lost"
    IMAP_PROTOCOL_ERROR = "imap_protocol_error"
    UNKNOWN_NAME = "unknown_name"
    TLS_WRONG_NAME = "tls_wrong_name"
    TLS_UNTRUSTED = "tls_untrusted"
    # HTTP to Microsoft
    HTTP_TLS_UNTRUSTED = "http_tls_untrusted"
    HTTP_TIMEOUT = "http_timeout"
    HTTP_PROXY_FAILED = "http_proxy_failed"
    HTTP_HOST_NOT_FOUND = "http_host_not_found"
    HTTP_CONNECTION_REFUSED = "http_connection_refused"
    HTTP_CONNECTION_FAILED = "http_connection_failed"
    HTTP_CONNECTION_ERROR = "http_connection_error"
    # Microsoft login
    MS_LOGIN_URL_INVALID = "ms_login_url_invalid"
    MS_TENANT_UNKNOWN = "ms_tenant_unknown"
    MS_SECRET_INVALID = "ms_secret_invalid"
    MS_SECRET_EXPIRED = "ms_secret_expired"
    MS_APP_UNKNOWN = "ms_app_unknown"
    MS_LOGIN_UNAVAILABLE = "ms_login_unavailable"
    MS_LOGIN_FAILED = "ms_login_failed"
    # Microsoft Graph
    GRAPH_MAILBOX_MISSING = "graph_mailbox_missing"
    GRAPH_DELTA_REFUSED = "graph_delta_refused"
    GRAPH_DELTA_BROKEN = "graph_delta_broken"
    GRAPH_FORWARDED_UNREADABLE = "graph_forwarded_unreadable"
    GRAPH_FORWARDED_PART_MISSING = "graph_forwarded_part_missing"
    GRAPH_FORWARDED_TOO_LARGE = "graph_forwarded_too_large"
    GRAPH_MESSAGE_GONE_DURING_CHECK = "graph_message_gone_during_check"
    GRAPH_MESSAGE_GONE_BEFORE_MOVE = "graph_message_gone_before_move"
    GRAPH_FOREIGN_LINK = "graph_foreign_link"
    GRAPH_CONSENT_MISSING = "graph_consent_missing"
    GRAPH_MAILBOX_NOT_FOUND = "graph_mailbox_not_found"
    GRAPH_TOKEN_REFUSED = "graph_token_refused"
    GRAPH_MESSAGE_REFUSED = "graph_message_refused"
    GRAPH_FOLDER_UNAVAILABLE = "graph_folder_unavailable"
    GRAPH_REQUEST_REFUSED = "graph_request_refused"
    GRAPH_UNAVAILABLE = "graph_unavailable"
    GRAPH_MESSAGE_GONE = "graph_message_gone"
    GRAPH_DELTA_EXPIRED = "graph_delta_expired"
    GRAPH_THROTTLED = "graph_throttled"
    # Sender verification: what the receiving server's verdict rests on
    SENDER_DMARC_PASS = "sender_dmarc_pass"
    SENDER_ALIGNED_DKIM_PASS = "sender_aligned_dkim_pass"
    SENDER_DMARC_FAIL = "sender_dmarc_fail"
    SENDER_DKIM_FAIL = "sender_dkim_fail"
    SENDER_NOT_VOUCHED = "sender_not_vouched"
    SENDER_NO_FIELD = "sender_no_field"
    SENDER_UNREADABLE_FIELD = "sender_unreadable_field"
    SENDER_NO_AUTHSERV_ID = "sender_no_authserv_id"


# fmt: off
MSGIDS: Mapping[Text, str] = {
    Text.UNEXPECTED: N_("Nieoczekiwany błąd: %(error)s"),
    Text.FOLDER_NOT_FOUND: N_("Folder „%(name)s” nie istnieje na serwerze; pozostałe foldery sprawdzono."),
    Text.FOLDER_IS_YEAR_FOLDER: N_("Folder „%(name)s” to folder pobranych wiadomości; nie jest sprawdzany."),
    Text.NOT_MOVED: N_("Wiadomość %(ref)s w folderze %(folder)s nie została przeniesiona: %(reason)s"),
    Text.NOT_READ_AGAIN: N_(
        "Wiadomości %(ref)s w folderze %(folder)s nie udało się tym razem pobrać; następne sprawdzanie "
        "spróbuje ponownie: %(reason)s"
    ),
    Text.SECRET_UNREADABLE: N_(
        "Zapisanego hasła nie da się odczytać (zmienił się klucz szyfrowania). Wpisz je ponownie."
    ),
    Text.FOLDER_LIST_UNEXPECTED: N_("Nie udało się pobrać listy folderów z powodu nieoczekiwanego błędu."),
    Text.PDFS_TOO_LARGE_SKIPPED: N_("Pominięto zbyt duże pliki PDF (ponad %(limit)s): %(names)s"),
    Text.PDFS_TOO_LARGE: N_("Ponad %(limit)s: %(names)s"),
    Text.PDFS_OVER_LIMIT: N_(
        "Pobrano %(limit)s plików PDF, tyle ile wolno z jednej wiadomości; pozostałych %(count)s pominięto. "
        "%(also)s"
    ),
    Text.DUPLICATE_MESSAGE: N_("Dokumenty z tej wiadomości już są; wiadomość zostanie przeniesiona."),
    Text.LOCK_LOST: N_(
        "Sprawdzanie przerwano, bo ten serwer sprawdza już inny proces; pobrane dokumenty zostały zapisane."
    ),
    Text.IMAP_STARTTLS_MISSING: N_(
        "Serwer %(host)s nie oferuje STARTTLS, więc hasło nie zostało wysłane. Wybierz szyfrowanie "
        "SSL/TLS (zwykle port 993) albo sprawdź port."
    ),
    Text.IMAP_MESSAGE_GONE: N_("Wiadomość zniknęła z folderu w trakcie sprawdzania."),
    Text.IMAP_CANNOT_MOVE: N_(
        "Serwer nie umie przenosić wiadomości (brak MOVE i UIDPLUS); wiadomość została w folderze."
    ),
    Text.IMAP_FOLDER_UNAVAILABLE: N_("Nie można otworzyć folderu %(folder)s: %(reason)s"),
    Text.IMAP_STRUCTURE_UNREADABLE: N_("Serwer zwrócił strukturę wiadomości, której nie da się odczytać."),
    Text.TOO_MANY_PARTS: N_(
        "Wiadomość ma więcej niż %(limit)s części (EKPANEL_MAX_PARTS_PER_MESSAGE); nie sprawdzono jej dalej."
    ),
    Text.NESTED_TOO_DEEP: N_(
        "Części wiadomości są zagnieżdżone głębiej niż %(limit)s poziomów (EKPANEL_MAX_MIME_DEPTH); "
        "nie sprawdzono jej dalej."
    ),
    Text.IMAP_RESPONSE_TOO_LONG: N_(
        "Opis tej wiadomości od serwera jest dłuższy niż %(limit)s (EKPANEL_IMAP_MAX_LINE_MB); "
        "wiadomości nie odczytano."
    ),
    Text.IMAP_LOGIN_DISABLED: N_(
        "Serwer nie pozwala logować się bez szyfrowania. Wybierz SSL/TLS albo STARTTLS."
    ),
    Text.IMAP_AUTH_FAILED: N_("Serwer odrzucił nazwę użytkownika lub hasło."),
    Text.IMAP_TLS_FAILED: N_(
        "Nie udało się nawiązać szyfrowanego połączenia z %(host)s:%(port)s. "
        "Sprawdź, czy port pasuje do rodzaju szyfrowania."
    ),
    Text.IMAP_HOST_NOT_FOUND: N_(
        "Nie znaleziono serwera %(host)s. Sprawdź nazwę serwera poczty przychodzącej."
    ),
    Text.IMAP_CONNECTION_REFUSED: N_(
        "Serwer %(host)s nie przyjmuje połączeń na porcie %(port)s. Sprawdź port i rodzaj szyfrowania."
    ),
    Text.IMAP_TIMEOUT: N_("Serwer %(host)s nie odpowiedział w ciągu %(seconds)s s."),
    Text.IMAP_CONNECTION_LOST: N_("Połączenie z serwerem %(host)s zostało przerwane."),
    Text.IMAP_PROTOCOL_ERROR: N_("Serwer %(host)s odpowiedział nieoczekiwanie: %(error)s"),
    Text.UNKNOWN_NAME: N_("nieznaną nazwę"),
    Text.TLS_WRONG_NAME: N_("Certyfikat serwera jest wystawiony dla %(names)s, a nie dla %(host)s."),
    Text.TLS_UNTRUSTED: N_(
        "Certyfikat serwera %(host)s (wystawiony dla %(names)s) nie jest zaufany: %(reason)s. "
        "Jeśli to certyfikat własnego urzędu, dodaj go w EKPANEL_CA_BUNDLE."
    ),
    Text.HTTP_TLS_UNTRUSTED: N_("Certyfikat serwera %(host)s nie jest zaufany (sprawdź EKPANEL_CA_BUNDLE)."),
    Text.HTTP_TIMEOUT: N_("Serwer %(host)s nie odpowiedział w wyznaczonym czasie."),
    Text.HTTP_PROXY_FAILED: N_("Nie udało się połączyć z %(host)s przez serwer proxy (HTTPS_PROXY)."),
    Text.HTTP_HOST_NOT_FOUND: N_("Nie znaleziono serwera %(host)s."),
    Text.HTTP_CONNECTION_REFUSED: N_("Serwer %(host)s odmówił połączenia."),
    Text.HTTP_CONNECTION_FAILED: N_("Nie udało się połączyć z serwerem %(host)s."),
    Text.HTTP_CONNECTION_ERROR: N_("Błąd połączenia z serwerem %(host)s."),
    Text.MS_LOGIN_URL_INVALID: N_(
        "Adres logowania Microsoft (EKPANEL_MS_LOGIN_URL) jest nieprawidłowy: %(url)s"
    ),
    Text.MS_TENANT_UNKNOWN: N_(
        "Nie znaleziono katalogu o podanym Tenant ID (%(tenant)s). Sprawdź Tenant ID w ustawieniach "
        "serwera (AADSTS%(code)s)."
    ),
    Text.MS_SECRET_INVALID: N_(
        "Nieprawidłowy klucz sekretny aplikacji (AADSTS7000215). Wpisz wartość klucza (Value), "
        "a nie jego identyfikator (Secret ID)."
    ),
    Text.MS_SECRET_EXPIRED: N_(
        "Klucz sekretny aplikacji wygasł (AADSTS7000222). Utwórz nowy klucz w rejestracji aplikacji "
        "i wpisz go w ustawieniach serwera."
    ),
    Text.MS_APP_UNKNOWN: N_(
        "Nie znaleziono aplikacji o ID %(client_id)s w katalogu %(tenant)s (AADSTS700016). "
        "Sprawdź ID aplikacji i Tenant ID."
    ),
    Text.MS_LOGIN_UNAVAILABLE: N_(
        "Usługa logowania Microsoft jest chwilowo niedostępna. Spróbujemy ponownie później."
    ),
    Text.MS_LOGIN_FAILED: N_("Logowanie aplikacji do Microsoft 365 nie powiodło się (%(code)s)."),
    Text.GRAPH_MAILBOX_MISSING: N_("Nie podano adresu skrzynki do odczytu."),
    Text.GRAPH_DELTA_REFUSED: N_("Microsoft Graph nie pozwala odczytać zmian w folderze %(folder)s."),
    Text.GRAPH_DELTA_BROKEN: N_("Microsoft Graph przerwał listę zmian folderu %(folder)s."),
    Text.GRAPH_FORWARDED_UNREADABLE: N_("Przekazanej wiadomości „%(name)s” nie da się odczytać."),
    Text.GRAPH_FORWARDED_PART_MISSING: N_("Nie ma takiej części w przekazanej wiadomości."),
    Text.GRAPH_FORWARDED_TOO_LARGE: N_(
        "Przekazana wiadomość „%(name)s” ma ponad %(limit)s, więc nie została odczytana; "
        "wiadomość została w folderze."
    ),
    Text.GRAPH_MESSAGE_GONE_DURING_CHECK: N_("Wiadomość zniknęła ze skrzynki w trakcie sprawdzania."),
    Text.GRAPH_MESSAGE_GONE_BEFORE_MOVE: N_(
        "Wiadomość zniknęła ze skrzynki przed przeniesieniem (usunięta lub przeniesiona)."
    ),
    Text.GRAPH_FOREIGN_LINK: N_("Microsoft Graph podał link do innego serwera; przerwano."),
    Text.GRAPH_CONSENT_MISSING: N_(
        "Brak dostępu do skrzynki %(mailbox)s: administrator Microsoft 365 nie udzielił zgody "
        "aplikacji (uprawnienie Mail.ReadWrite) albo zasady dostępu aplikacji nie obejmują tej "
        "skrzynki."
    ),
    Text.GRAPH_MAILBOX_NOT_FOUND: N_(
        "Skrzynka %(mailbox)s nie istnieje w tym katalogu albo nie ma poczty w Exchange Online."
    ),
    Text.GRAPH_TOKEN_REFUSED: N_("Microsoft Graph odrzucił token aplikacji (%(code)s)."),
    Text.GRAPH_MESSAGE_REFUSED: N_("Microsoft Graph odmówił: %(code)s."),
    Text.GRAPH_FOLDER_UNAVAILABLE: N_("Nie można odczytać folderu %(folder)s (%(code)s)."),
    Text.GRAPH_REQUEST_REFUSED: N_("Microsoft Graph odrzucił zapytanie (%(code)s)."),
    Text.GRAPH_UNAVAILABLE: N_("Microsoft Graph odpowiedział błędem %(code)s (HTTP %(status)s)."),
    Text.GRAPH_MESSAGE_GONE: N_("Wiadomość zniknęła ze skrzynki."),
    Text.GRAPH_DELTA_EXPIRED: N_("Link zmian folderu wygasł."),
    Text.GRAPH_THROTTLED: N_(
        "Microsoft Graph ogranicza liczbę zapytań (%(code)s); sprawdzimy skrzynkę ponownie później."
    ),
    Text.SENDER_DMARC_PASS: N_("DMARC pass dla domeny %(domain)s (%(server)s)"),
    Text.SENDER_ALIGNED_DKIM_PASS: N_("podpis DKIM domeny %(signer)s zgodnej z nadawcą (%(server)s)"),
    Text.SENDER_DMARC_FAIL: N_("DMARC fail dla domeny %(domain)s (%(server)s)"),
    Text.SENDER_DKIM_FAIL: N_("DKIM fail, podpis domeny %(signer)s (%(server)s)"),
    Text.SENDER_NOT_VOUCHED: N_(
        "serwer %(server)s nie potwierdza domeny %(domain)s (brak DMARC pass i zgodnego podpisu DKIM)"
    ),
    Text.SENDER_NO_FIELD: N_("brak nagłówka Authentication-Results serwera %(server)s"),
    Text.SENDER_UNREADABLE_FIELD: N_(
        "nagłówka Authentication-Results serwera %(server)s nie da się odczytać"
    ),
    Text.SENDER_NO_AUTHSERV_ID: N_(
        "nie ustawiono identyfikatora serwera uwierzytelniającego (authserv-id), więc żaden nagłówek "
        "nie jest wiarygodny"
    ),
}
# fmt: on


@dataclass(frozen=True)
class Note:
    """A message for people: its code and parameters (text, numbers, or other notes)."""

    code: Text
    params: Mapping[str, ParamValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": str(self.code),
            "params": {
                name: value.to_json() if isinstance(value, Note) else value
                for name, value in self.params.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Note | None:
        """The note stored as ``data``; None when its code is unknown (e.g. from a newer version)."""
        try:
            code = Text(data.get("code"))
        except ValueError:
            return None
        params: dict[str, ParamValue] = {}
        for name, value in (data.get("params") or {}).items():
            if isinstance(value, Mapping):
                inner = cls.from_json(value)
                params[name] = inner if inner is not None else ""
            else:
                params[name] = value
        return cls(code, params)

    def polish(self) -> str:
        """The note in Polish, as the msgids stand: for logs and the terminal, not for pages."""
        values = {
            name: value.polish() if isinstance(value, Note) else value for name, value in self.params.items()
        }
        return MSGIDS[self.code] % values if values else MSGIDS[self.code]


def note(text: Text, /, **params: ParamValue) -> Note:
    """A note; parameters other than numbers and notes are kept as text."""
    return Note(
        text,
        {name: value if isinstance(value, int | Note) else str(value) for name, value in params.items()},
    )
