"""What people can be told, who is told by default, and who may choose what.

A *topic* is what a person chooses on Moje konto; an *event kind* is one thing that happened. A
server's failure, its daily reminder and its "works again" are one topic: whoever hears of the
failure hears of the end.
"""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class Topic(StrEnum):
    SERVER_FAILING = "server_failing"
    SECRET_EXPIRY = "secret_expiry"
    CONSENT = "consent"
    HELD_MESSAGES = "held_messages"
    FORGED_SENDERS = "forged_senders"
    DIGEST = "digest"


class EventKind(StrEnum):
    SERVER_FAILING = "server_failing"
    CONSENT_MISSING = "consent_missing"  # a failure whose cause is Microsoft 365 consent
    SERVER_REMINDER = "server_reminder"
    SERVER_RECOVERED = "server_recovered"
    SECRET_EXPIRING = "secret_expiring"
    HELD_MESSAGES = "held_messages"
    FORGED_SENDERS = "forged_senders"
    DIGEST = "digest"
    TEST = "test"


TOPIC_LABELS = {
    Topic.SERVER_FAILING: _l("Skrzynka przestała działać (raz, potem raz dziennie, i gdy znów działa)"),
    Topic.SECRET_EXPIRY: _l("Klucz sekretny aplikacji Outlook 365 wygasa (30, 7 i 1 dzień przed)"),
    Topic.CONSENT: _l("Brak lub wycofanie zgody administratora Microsoft 365"),
    Topic.HELD_MESSAGES: _l("Wiadomość do wyjaśnienia"),
    Topic.FORGED_SENDERS: _l("Odrzucona wiadomość od podszywającego się nadawcy"),
    Topic.DIGEST: _l("Codzienne podsumowanie nowych dokumentów"),
}

KIND_LABELS = {
    EventKind.SERVER_FAILING: _l("Skrzynka nie działa"),
    EventKind.CONSENT_MISSING: _l("Brak zgody Microsoft 365"),
    EventKind.SERVER_REMINDER: _l("Skrzynka nadal nie działa"),
    EventKind.SERVER_RECOVERED: _l("Skrzynka znów działa"),
    EventKind.SECRET_EXPIRING: _l("Klucz sekretny wygasa"),
    EventKind.HELD_MESSAGES: _l("Wiadomości do wyjaśnienia"),
    EventKind.FORGED_SENDERS: _l("Podszyty nadawca odrzucony"),
    EventKind.DIGEST: _l("Podsumowanie dnia"),
    EventKind.TEST: _l("Wiadomość testowa"),
}

# Administrators fix servers, so they hear of every problem; operators read documents.
ADMIN_TOPICS = tuple(Topic)
OPERATOR_TOPICS = (Topic.DIGEST, Topic.SERVER_FAILING)
ADMIN_DEFAULTS = frozenset(ADMIN_TOPICS) - {Topic.DIGEST}
OPERATOR_DEFAULTS = frozenset({Topic.DIGEST})


def available_topics(is_admin: bool) -> tuple[Topic, ...]:
    return ADMIN_TOPICS if is_admin else OPERATOR_TOPICS


def default_topics(is_admin: bool) -> frozenset[Topic]:
    return ADMIN_DEFAULTS if is_admin else OPERATOR_DEFAULTS


def kind_label(kind: str) -> str:
    try:
        return str(KIND_LABELS[EventKind(kind)])
    except ValueError:
        return kind
