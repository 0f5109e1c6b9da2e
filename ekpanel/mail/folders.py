"""Which server folder a configured folder name means.

Pure over the folder list an adapter returned, so IMAP and Graph resolve alike. Order:

1. ``inbox`` (any case) is the folder flagged ``\\Inbox`` (Graph), else the one named INBOX.
2. An exact name, as given or under the personal namespace prefix (``INBOX.``).
3. ``spam`` / ``junk`` (any case) is the folder flagged ``\\Junk`` (SPECIAL-USE), else the first
   well-known spam folder that exists. This comes before case-insensitive names on purpose: a
   server may keep a plain ``Spam`` beside the ``\\Junk`` folder it really files spam into.
4. The name case-insensitively, as given or under the prefix.

An administrator who wants that plain ``Spam`` types it exactly (the available-folder list shows it).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

from ekpanel.mail.mailbox import RemoteFolder

INBOX_FLAG = "\\Inbox"
JUNK_FLAG = "\\Junk"
SPAM_KEYWORDS = frozenset({"spam", "junk"})
# Tried in this order when no folder is flagged \Junk; the last three are ours, not the issue's.
SPAM_FOLDER_NAMES = (
    "Spam",
    "Junk",
    "SPAM",
    "Junk E-mail",
    "[Gmail]/Spam",
    "Wiadomości-śmieci",
    "Junk Email",
    "[Google Mail]/Spam",
    "Bulk Mail",
)
YEAR_FOLDER_PREFIX = "eksiegowy"


def year_folder_name(year: int) -> str:
    """The folder taken messages go to: ``eksiegowy2026``."""
    return f"{YEAR_FOLDER_PREFIX}{year}"


def resolve_folder(
    configured: str, folders: Sequence[RemoteFolder], namespace_prefix: str | None = None
) -> RemoteFolder | None:
    """The folder ``configured`` names on this server, or None when there is none.

    ``namespace_prefix`` is the personal namespace prefix (``INBOX.``) when the adapter knows it
    from NAMESPACE; otherwise it is inferred from the folder list.
    """
    name = _norm(configured.strip())
    if not name or not folders:
        return None
    prefix = infer_namespace_prefix(folders) if namespace_prefix is None else namespace_prefix
    keyword = name.lower()

    if keyword == "inbox":
        return _flagged(folders, INBOX_FLAG) or _first_named(folders, ["INBOX"], _same_ignoring_case)

    found = _first_named(folders, _with_prefix(name, prefix), _same)
    if found:
        return found

    if keyword in SPAM_KEYWORDS:
        found = _flagged(folders, JUNK_FLAG)
        if found:
            return found
        for candidate in SPAM_FOLDER_NAMES:
            found = _first_named(folders, _with_prefix(candidate, prefix), _same)
            if found:
                return found
        for candidate in SPAM_FOLDER_NAMES:
            found = _first_named(folders, _with_prefix(candidate, prefix), _same_ignoring_case)
            if found:
                return found

    return _first_named(folders, _with_prefix(name, prefix), _same_ignoring_case)


def infer_namespace_prefix(folders: Sequence[RemoteFolder]) -> str:
    """``INBOX.`` (or ``INBOX/``) when every other folder lives under INBOX, as on Courier-style
    servers; otherwise no prefix."""
    others = [f for f in folders if _name(f).upper() != "INBOX"]
    if not others:
        return ""
    delimiters = {f.delimiter for f in others if f.delimiter}
    if len(delimiters) != 1:
        return ""
    prefix = "INBOX" + delimiters.pop()
    if all(_name(f).upper().startswith(prefix.upper()) for f in others):
        return prefix
    return ""


def _with_prefix(name: str, prefix: str) -> list[str]:
    names = [name]
    if prefix and not name.upper().startswith(prefix.upper()):
        names.append(prefix + name)
    return names


def _first_named(
    folders: Sequence[RemoteFolder], names: list[str], same: Callable[[str, str], bool]
) -> RemoteFolder | None:
    for wanted in names:
        for folder in folders:
            # Graph gives an opaque id as ref, so the display path comes first.
            if same(_name(folder), wanted) or same(_norm(folder.ref), wanted):
                return folder
    return None


def _flagged(folders: Sequence[RemoteFolder], flag: str) -> RemoteFolder | None:
    wanted = flag.lower()
    for folder in folders:
        if any(_flag_text(f).lower() == wanted for f in folder.flags):
            return folder
    return None


def _flag_text(flag: str | bytes) -> str:
    # imapclient hands flags over as bytes; tolerate an adapter that passes them through.
    return flag.decode("ascii", "replace") if isinstance(flag, bytes) else str(flag)


def _name(folder: RemoteFolder) -> str:
    return _norm(folder.display or folder.ref)


def _norm(text: str) -> str:
    # Servers and browsers do not agree on composed vs decomposed Polish letters.
    return unicodedata.normalize("NFC", text)


def _same(a: str, b: str) -> bool:
    return a == b


def _same_ignoring_case(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()
