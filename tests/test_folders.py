"""Which server folder a configured folder name means (inbox, spam, names, namespaces)."""

from __future__ import annotations

import unicodedata

import pytest

from ekpanel.mail.folders import infer_namespace_prefix, resolve_folder, year_folder_name
from ekpanel.mail.mailbox import RemoteFolder


def imap(name: str, *flags: str, delimiter: str = "/") -> RemoteFolder:
    return RemoteFolder(ref=name, display=name, delimiter=delimiter, flags=frozenset(flags))


def courier(name: str, *flags: str) -> RemoteFolder:
    return imap(name, *flags, delimiter=".")


def resolved(configured: str, folders: list[RemoteFolder]) -> str | None:
    folder = resolve_folder(configured, folders)
    return folder.display if folder else None


def test_year_folder_is_named_after_the_year():
    assert year_folder_name(2026) == "eksiegowy2026"


def test_configured_name_matches_exactly():
    folders = [imap("INBOX"), imap("Faktury"), imap("faktury")]
    assert resolved("faktury", folders) == "faktury"
    assert resolved("Faktury", folders) == "Faktury"


def test_configured_name_matches_case_insensitively_when_nothing_matches_exactly():
    assert resolved("FAKTURY", [imap("INBOX"), imap("Faktury")]) == "Faktury"


def test_configured_name_with_polish_letters_matches_whatever_the_unicode_form():
    decomposed = unicodedata.normalize("NFD", "Wiadomości-śmieci")
    assert resolved("wiadomości-śmieci", [imap("INBOX"), imap(decomposed)]) == decomposed


def test_missing_folder_resolves_to_nothing():
    assert resolve_folder("Archiwum", [imap("INBOX"), imap("Spam")]) is None
    assert resolve_folder("", [imap("INBOX")]) is None
    assert resolve_folder("inbox", []) is None


@pytest.mark.parametrize("configured", ["inbox", "INBOX", "Inbox", " inbox "])
def test_inbox_is_the_inbox_in_any_case(configured):
    assert resolved(configured, [imap("Archive"), imap("INBOX")]) == "INBOX"


def test_inbox_is_the_folder_flagged_inbox_when_there_is_one():
    graph = [
        RemoteFolder(ref="AAMkAD-archive", display="Archiwum"),
        RemoteFolder(ref="AAMkAD-inbox", display="Skrzynka odbiorcza", flags=frozenset({"\\Inbox"})),
    ]
    assert resolve_folder("inbox", graph) == graph[1]


@pytest.mark.parametrize("configured", ["spam", "junk", "SPAM", "Junk"])
def test_spam_is_the_folder_flagged_junk(configured):
    folders = [imap("INBOX"), imap("Odpady", "\\HasNoChildren", "\\Junk"), imap("Trash", "\\Trash")]
    assert resolved(configured, folders) == "Odpady"


def test_spam_prefers_the_junk_flag_over_a_plain_folder_called_spam():
    # Dovecot trap: a plain "Spam" beside the \Junk folder the server files spam into.
    folders = [imap("INBOX"), imap("Spam"), imap("Junk", "\\Junk")]
    assert resolved("spam", folders) == "Junk"


def test_exactly_typed_name_wins_over_the_junk_flag():
    folders = [imap("INBOX"), imap("Spam"), imap("Junk", "\\Junk")]
    assert resolved("Spam", folders) == "Spam"


def test_junk_flag_given_as_bytes_is_understood():
    folders = [imap("INBOX"), RemoteFolder(ref="Junk", display="Junk", flags=frozenset({b"\\Junk"}))]
    assert resolved("spam", folders) == "Junk"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Junk", "Spam"], "Spam"),
        (["Junk"], "Junk"),
        (["SPAM"], "SPAM"),
        (["Junk E-mail"], "Junk E-mail"),
        (["[Gmail]/Spam", "[Gmail]/Trash"], "[Gmail]/Spam"),
        (["Wiadomości-śmieci"], "Wiadomości-śmieci"),
        (["Junk Email"], "Junk Email"),
        (["junk e-mail"], "junk e-mail"),
    ],
)
def test_spam_without_junk_flag_is_the_first_well_known_spam_folder(names, expected):
    folders = [imap("INBOX"), *[imap(name) for name in names]]
    assert resolved("spam", folders) == expected


def test_spam_resolves_to_nothing_when_the_server_has_no_spam_folder():
    assert resolve_folder("spam", [imap("INBOX"), imap("Sent", "\\Sent")]) is None


def test_outlook_junk_email_is_found_by_its_flag():
    graph = [
        RemoteFolder(ref="id-inbox", display="Inbox", flags=frozenset({"\\Inbox"})),
        RemoteFolder(ref="id-junk", display="Junk Email", flags=frozenset({"\\Junk"})),
    ]
    assert resolve_folder("spam", graph) == graph[1]
    assert resolve_folder("inbox", graph) == graph[0]


def test_graph_folder_is_found_by_display_name_not_id():
    graph = [RemoteFolder(ref="AAMkAD-x1", display="Faktury")]
    assert resolve_folder("faktury", graph) == graph[0]


# -- Courier-style namespaces: everything under "INBOX." -----------------------------------------

COURIER = [courier("INBOX"), courier("INBOX.Spam"), courier("INBOX.Faktury"), courier("INBOX.Sent", "\\Sent")]


def test_namespace_prefix_is_inferred_from_the_folder_list():
    assert infer_namespace_prefix(COURIER) == "INBOX."
    assert infer_namespace_prefix([imap("INBOX"), imap("Spam"), imap("INBOX/Sub")]) == ""


def test_configured_name_is_found_under_the_namespace_prefix():
    assert resolved("Faktury", COURIER) == "INBOX.Faktury"
    assert resolved("faktury", COURIER) == "INBOX.Faktury"


def test_configured_name_with_the_prefix_is_found_as_given():
    assert resolved("INBOX.Faktury", COURIER) == "INBOX.Faktury"


def test_spam_is_found_under_the_namespace_prefix():
    assert resolved("spam", COURIER) == "INBOX.Spam"


def test_explicit_namespace_prefix_is_used_when_given():
    folders = [courier("INBOX"), courier("INBOX.Spam"), courier("Shared.Spam")]
    assert resolve_folder("spam", folders, namespace_prefix="INBOX.") == folders[1]
