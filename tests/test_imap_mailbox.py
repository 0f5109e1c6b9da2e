"""The IMAP adapter against a real Dovecot: folders, incremental listing, parts, moving, failures."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from imapclient.datetime_util import parse_to_datetime
from imapclient.response_parser import parse_fetch_response

from ekpanel.checks.mailboxes import mailbox_access
from ekpanel.mail import imap_listing
from ekpanel.mail.connect import list_folders
from ekpanel.mail.fetch_response import _internal_date, parse_fetch
from ekpanel.mail.folders import resolve_folder
from ekpanel.mail.imap import ImapMailbox
from ekpanel.mail.imap_listing import FETCH_ITEMS
from ekpanel.mail.imap_session import ImapSession
from ekpanel.mail.mailbox import FolderCursor, MailboxError, RemoteFolder
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import ErrorCode
from ekpanel.servers.models import ENCRYPTION_NONE, ENCRYPTION_SSL, ENCRYPTION_STARTTLS
from tests.factories import make_dovecot_server
from tests.support import messages as m
from tests.support.mail_users import Box, new_box
from tests.support.ports import free_port


def settings_for(box: Box, **changes) -> MailSettings:
    values = {"ca_bundle": str(box.server.ca_path), "imap_timeout": 5.0, "storage_dir": Path("/nonexistent")}
    values.update(changes)
    return MailSettings(**values)


def open_box(box: Box, **changes) -> ImapMailbox:
    return ImapMailbox(
        "127.0.0.1", box.port, box.encryption, box.user.login, box.user.password, settings_for(box, **changes)
    )


def folder_named(mailbox: ImapMailbox, display: str):
    return next(folder for folder in mailbox.list_folders() if folder.display == display)


def hide_capabilities(mailbox: ImapMailbox, *names: str) -> None:
    """Make the session behave like a server without these extensions."""
    original = mailbox.client.has_capability
    hidden = {name.upper() for name in names}
    mailbox.client.has_capability = lambda capability: (
        capability.upper() not in hidden and original(capability)
    )


@pytest.mark.parametrize("namespace", ["fs", "courier"])
def test_folders_are_listed_decoded_with_special_use_flags(dovecot, dovecot_courier, namespace):
    box = new_box(dovecot if namespace == "fs" else dovecot_courier)
    box.server.create_folder(box.user.login, box.user.password, box.folder("Wiadomości-śmieci"))

    with open_box(box) as mailbox:
        folders = {folder.display: folder for folder in mailbox.list_folders()}
        polish = folders[box.folder("Wiadomości-śmieci")]
        assert polish.ref != polish.display  # the ref stays modified UTF-7, as SELECT wants it
        assert list(mailbox.new_messages(polish, FolderCursor())) == [
            ([], FolderCursor(polish_validity(box), 0))
        ]
        assert "\\Junk" in folders[box.folder("Junk")].flags
        assert resolve_folder("spam", mailbox.list_folders()).display == box.folder("Junk")
        assert {f.delimiter for f in folders.values()} == {box.server.delimiter}


def polish_validity(box: Box) -> int:
    return box.server.uidvalidity(box.user.login, box.user.password, box.folder("Wiadomości-śmieci"))


def test_new_messages_come_in_batches_above_the_cursor(dovecot):
    box = new_box(dovecot)
    uids = [box.user.append("INBOX", m.with_pdf()) for _ in range(5)]

    with ImapMailbox(
        "127.0.0.1",
        box.port,
        ENCRYPTION_SSL,
        box.user.login,
        box.user.password,
        settings_for(box),
        batch_size=2,
    ) as mailbox:
        inbox = folder_named(mailbox, "INBOX")
        batches = list(mailbox.new_messages(inbox, FolderCursor()))
        later = list(mailbox.new_messages(inbox, batches[0][1]))

    assert [[s.ref for s in batch] for batch, _ in batches] == [
        [str(u) for u in uids[i : i + 2]] for i in (0, 2, 4)
    ]
    assert [cursor.last_uid for _, cursor in batches] == [uids[1], uids[3], uids[4]]
    assert [s.ref for batch, _ in later for s in batch] == [str(u) for u in uids[2:]]
    summary = batches[0][0][0]
    assert summary.sender == m.WHITELISTED and summary.message_id and summary.received_at.tzinfo is not None
    assert [(p.ref, p.filename, p.content_type) for p in summary.parts] == [
        ("2", "faktura.pdf", "application/pdf")
    ]


@pytest.mark.parametrize("second_session", [True, False], ids=["read ahead", "second session refused"])
def test_batches_after_the_first_are_read_ahead_on_a_second_session_or_else_here(
    dovecot, monkeypatch, second_session
):
    box = new_box(dovecot)
    uids = [box.user.append("INBOX", m.with_pdf()) for _ in range(5)]

    with ImapMailbox(
        "127.0.0.1",
        box.port,
        ENCRYPTION_SSL,
        box.user.login,
        box.user.password,
        settings_for(box),
        batch_size=2,
    ) as mailbox:
        if not second_session:
            refuse = MailboxError(
                ErrorCode.CONNECTION_REFUSED, note(Text.IMAP_CONNECTION_REFUSED, host="h", port=993)
            )
            monkeypatch.setattr(ImapSession, "connect", lambda self: (_ for _ in ()).throw(refuse))
        inbox = folder_named(mailbox, "INBOX")
        batches = [[s.ref for s in batch] for batch, _ in mailbox.new_messages(inbox, FolderCursor())]

    assert batches == [[str(u) for u in uids[i : i + 2]] for i in (0, 2, 4)]
    assert mailbox.stats.count("LOGIN") == (2 if second_session else 1)
    assert mailbox.stats.count("UID FETCH") == 3  # one per batch, whichever session read it


def test_a_read_ahead_session_that_fails_midway_leaves_the_reading_to_the_main_session(dovecot, monkeypatch):
    box = new_box(dovecot)
    uids = [box.user.append("INBOX", m.with_pdf()) for _ in range(5)]
    read_summaries = imap_listing.read_summaries

    def lost_on_the_helper_session(session, batch, needs_structure):
        if session is not mailbox.session:
            raise MailboxError(
                ErrorCode.CONNECTION_LOST, note(Text.IMAP_CONNECTION_LOST, host="h"), transient=True
            )
        return read_summaries(session, batch, needs_structure)

    monkeypatch.setattr(imap_listing, "read_summaries", lost_on_the_helper_session)
    with ImapMailbox(
        "127.0.0.1",
        box.port,
        ENCRYPTION_SSL,
        box.user.login,
        box.user.password,
        settings_for(box),
        batch_size=2,
    ) as mailbox:
        inbox = folder_named(mailbox, "INBOX")
        batches = [[s.ref for s in batch] for batch, _ in mailbox.new_messages(inbox, FolderCursor())]

    assert batches == [[str(u) for u in uids[i : i + 2]] for i in (0, 2, 4)]


def test_structure_is_fetched_only_for_senders_the_check_admits(dovecot):
    box = new_box(dovecot)
    admitted = box.user.append("INBOX", m.with_pdf())
    box.user.append("INBOX", m.with_pdf(sender=m.STRANGER))

    with open_box(box) as mailbox:
        sent = []
        uid = mailbox.client._imap.uid
        mailbox.client._imap.uid = lambda *args: sent.append(args) or uid(*args)
        inbox = folder_named(mailbox, "INBOX")
        [(summaries, _)] = list(mailbox.new_messages(inbox, FolderCursor(), lambda s: s == m.WHITELISTED))

    [structure_fetch] = [args for args in sent if "BODYSTRUCTURE" in args[-1]]
    assert structure_fetch[1] == str(admitted)
    assert [(s.sender, [p.filename for p in s.parts]) for s in summaries] == [
        (m.WHITELISTED, ["faktura.pdf"]),
        (m.STRANGER, []),
    ]


def test_search_above_the_last_uid_ignores_the_last_message_imap_always_returns(dovecot):
    box = new_box(dovecot)
    first = box.user.append("INBOX", m.with_pdf())
    gone = box.user.append("INBOX", m.with_pdf())
    with box.server.imap(box.user.login, box.user.password) as conn:
        conn.select("INBOX")
        conn.uid("STORE", str(gone), "+FLAGS.SILENT", "(\\Deleted)")
        conn.expunge()

    with open_box(box) as mailbox:
        inbox = folder_named(mailbox, "INBOX")
        validity = box.server.uidvalidity(box.user.login, box.user.password, "INBOX")
        # UIDNEXT is above `first`, so the adapter must ask; "UID gone:*" answers with `first`.
        batches = list(mailbox.new_messages(inbox, FolderCursor(validity, first)))
        assert mailbox.stats.count("UID SEARCH") == 1

    assert [s for batch, _ in batches for s in batch] == []


def test_changed_uidvalidity_lists_the_whole_folder_again(dovecot):
    box = new_box(dovecot)
    uids = [box.user.append("INBOX", m.with_pdf()) for _ in range(2)]
    old = box.server.uidvalidity(box.user.login, box.user.password, "INBOX")
    box.server.reset_uidvalidity(box.user.login, box.user.password, "INBOX")

    with open_box(box) as mailbox:
        batches = list(mailbox.new_messages(folder_named(mailbox, "INBOX"), FolderCursor(old, uids[-1])))

    assert [s.ref for batch, _ in batches for s in batch] == [str(u) for u in uids]
    assert batches[-1][1].uidvalidity == old + 1


@pytest.mark.parametrize("binary", [True, False], ids=["BINARY", "BODY decoded here"])
def test_fetched_part_is_the_decoded_pdf_and_the_message_stays_unread(dovecot, binary):
    box = new_box(dovecot)
    pdf = m.pdf_bytes(50_000)
    box.user.append("INBOX", m.with_pdf(pdf))

    with open_box(box) as mailbox:
        if not binary:
            hide_capabilities(mailbox, "BINARY")
        inbox = folder_named(mailbox, "INBOX")
        [([summary], _)] = list(mailbox.new_messages(inbox, FolderCursor()))
        data = mailbox.fetch_part(inbox, summary, summary.parts[0])
        assert mailbox.stats.count("UID FETCH") == 2  # the structure, then the one part

    assert data == pdf
    assert "\\Seen" not in box.user.list("INBOX")[0]["flags"]


@pytest.mark.parametrize("binary", [True, False], ids=["BINARY", "BODY decoded here"])
def test_parts_of_many_messages_come_in_one_fetch_and_a_vanished_message_is_reported_in_its_place(
    dovecot, binary
):
    box = new_box(dovecot)
    pdfs = [m.pdf_bytes(30_000) for _ in range(3)]
    uids = [box.user.append("INBOX", m.with_pdf(pdf)) for pdf in pdfs]

    with open_box(box) as mailbox:
        if not binary:
            hide_capabilities(mailbox, "BINARY")
        inbox = folder_named(mailbox, "INBOX")
        [(summaries, _)] = list(mailbox.new_messages(inbox, FolderCursor()))
        expunge(box, uids[1])
        results = mailbox.fetch_parts(inbox, [(s, s.parts[0]) for s in summaries])
        assert mailbox.stats.count("UID FETCH") == 2  # the structures, then all three parts

    assert results[0] == pdfs[0] and results[2] == pdfs[2]
    assert isinstance(results[1], MailboxError) and results[1].code == "message_missing"
    assert all("\\Seen" not in message["flags"] for message in box.user.list("INBOX"))


def test_a_part_the_server_cannot_decode_does_not_spoil_the_others_fetched_with_it(dovecot):
    box = new_box(dovecot)
    good = m.pdf_bytes(30_000)
    broken = m.pdf_bytes(30_000)
    box.user.append("INBOX", m.with_pdf(good))
    box.user.append("INBOX", truncate_base64(m.with_pdf(broken)))

    with open_box(box) as mailbox:
        inbox = folder_named(mailbox, "INBOX")
        [(summaries, _)] = list(mailbox.new_messages(inbox, FolderCursor()))
        first, second = mailbox.fetch_parts(inbox, [(s, s.parts[0]) for s in summaries])

    assert first == good
    assert second.startswith(broken[:1000]) and len(second) < len(broken)


def expunge(box: Box, uid: int) -> None:
    with box.server.imap(box.user.login, box.user.password) as conn:
        conn.select("INBOX")
        conn.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
        conn.expunge()


def truncate_base64(raw: bytes) -> bytes:
    """The last attachment's base64 cut mid-quantum, as a broken mailer leaves it."""
    closing = raw.rindex(b"\n\n--")
    start = raw.rindex(b"\n\n", 0, closing) + 2
    lines = raw[start:closing].split(b"\n")
    return raw[:start] + b"\n".join([*lines[: len(lines) // 2], b"abc"]) + raw[closing:]


@pytest.mark.parametrize("namespace", ["fs", "courier"])
def test_year_folder_goes_under_the_personal_namespace_and_may_exist_already(
    dovecot, dovecot_courier, namespace
):
    box = new_box(dovecot if namespace == "fs" else dovecot_courier)

    with open_box(box) as mailbox:
        mailbox.list_folders()  # the listing is now cached without the folder
        box.server.create_folder(box.user.login, box.user.password, box.folder("eksiegowy2031"))
        folder = mailbox.ensure_folder("eksiegowy2031")  # CREATE answers "already exists"
        created = mailbox.ensure_folder("eksiegowy2032")

    assert (folder.ref, created.ref) == (box.folder("eksiegowy2031"), box.folder("eksiegowy2032"))
    assert box.folder("eksiegowy2032") in box.server.folders(box.user.login, box.user.password)


def test_move_without_move_extension_copies_and_expunges_only_its_own_messages(dovecot):
    box = new_box(dovecot)
    box.user.append("INBOX", m.with_pdf(), flags=["\\Deleted"])  # someone else's business
    box.user.append("INBOX", m.with_pdf())

    with open_box(box) as mailbox:
        hide_capabilities(mailbox, "MOVE")
        inbox = folder_named(mailbox, "INBOX")
        [(summaries, _)] = list(mailbox.new_messages(inbox, FolderCursor()))
        outcome = mailbox.move(inbox, summaries[1:], mailbox.ensure_folder("eksiegowy2031"))
        assert mailbox.stats.count("UID MOVE") == 0 and mailbox.stats.count("EXPUNGE") == 0
        assert mailbox.stats.count("UID EXPUNGE") == 1

    assert list(outcome.moved) == [summaries[1].ref] and outcome.failed == {}
    [left] = box.user.list("INBOX")
    assert left["uid"] == int(summaries[0].ref) and "\\Deleted" in left["flags"]
    assert len(box.user.list("eksiegowy2031")) == 1


def test_move_without_move_or_uidplus_leaves_the_message_and_says_why(dovecot):
    box = new_box(dovecot)
    box.user.append("INBOX", m.with_pdf())

    with open_box(box) as mailbox:
        hide_capabilities(mailbox, "MOVE", "UIDPLUS")
        inbox = folder_named(mailbox, "INBOX")
        [(summaries, _)] = list(mailbox.new_messages(inbox, FolderCursor()))
        outcome = mailbox.move(inbox, summaries, mailbox.ensure_folder("eksiegowy2031"))

    assert outcome.moved == {} and "MOVE" in outcome.failed[summaries[0].ref].polish()
    assert len(box.user.list("INBOX")) == 1


def test_move_the_server_refuses_leaves_the_messages_and_says_why(dovecot):
    box = new_box(dovecot)
    box.user.append("INBOX", m.with_pdf())

    with open_box(box) as mailbox:
        inbox = folder_named(mailbox, "INBOX")
        [(summaries, _)] = list(mailbox.new_messages(inbox, FolderCursor()))
        gone = RemoteFolder(ref=box.folder("usuniety"), display="usuniety")  # deleted meanwhile
        outcome = mailbox.move(inbox, summaries, gone)

    [why] = outcome.failed.values()
    assert outcome.moved == {} and why.code == Text.IMAP_PROTOCOL_ERROR
    assert len(box.user.list("INBOX")) == 1


# -- failures, each classified ----------------------------------------------------------------


def failure(box: Box, **changes) -> MailboxError:
    with pytest.raises(MailboxError) as caught, open_box(box, **changes):
        pass
    return caught.value


def test_wrong_password_is_auth_failed(dovecot):
    box = new_box(dovecot)
    box = Box(type(box.user)(box.server, box.user.login, "zle-haslo"), ENCRYPTION_STARTTLS)

    error = failure(box)

    assert (error.code, error.transient) == ("auth_failed", False)
    assert "hasło" in str(error)


def test_password_with_polish_letters_logs_in(dovecot):
    box = new_box(dovecot)
    polish = Box(type(box.user)(box.server, f"pl-{box.user.login}", "zażółć-gęślą-jaźń"), ENCRYPTION_SSL)
    dovecot.add_user(polish.user.login, polish.user.password)

    with open_box(polish) as mailbox:
        assert any(folder.display == "INBOX" for folder in mailbox.list_folders())


def test_wrong_password_with_polish_letters_is_auth_failed(dovecot):
    box = new_box(dovecot)
    box = Box(type(box.user)(box.server, box.user.login, "złe hasło"), ENCRYPTION_SSL)

    error = failure(box)

    assert (error.code, error.transient) == ("auth_failed", False)


def test_closed_port_is_connection_refused(dovecot):
    box = new_box(dovecot)
    port = free_port("127.0.0.1")
    with pytest.raises(MailboxError) as caught:
        ImapMailbox("127.0.0.1", port, ENCRYPTION_SSL, "x", "y", settings_for(box)).connect()
    assert (caught.value.code, caught.value.transient) == ("connection_refused", True)
    assert str(port) in str(caught.value)


def test_unknown_host_is_host_not_found(dovecot, monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)  # no DNS traffic from tests
    box = new_box(dovecot)
    with pytest.raises(MailboxError) as caught:
        ImapMailbox("poczta.nieistnieje.invalid", 993, ENCRYPTION_SSL, "x", "y", settings_for(box)).connect()
    assert caught.value.code == "host_not_found" and "poczta.nieistnieje.invalid" in str(caught.value)


@pytest.mark.parametrize("encryption", [ENCRYPTION_SSL, ENCRYPTION_STARTTLS])
def test_certificate_from_an_unknown_authority_is_tls_untrusted_naming_the_certificate(dovecot, encryption):
    box = Box(new_box(dovecot).user, encryption)

    error = failure(box, ca_bundle=None)

    assert (error.code, error.transient) == ("tls_untrusted", False)
    assert "127.0.0.1" in str(error) and "EKPANEL_CA_BUNDLE" in str(error)


def test_ssl_on_the_plain_port_is_a_tls_failure_not_a_traceback(dovecot):
    box = new_box(dovecot)
    with pytest.raises(MailboxError) as caught:
        ImapMailbox(
            "127.0.0.1",
            dovecot.imap_port,
            ENCRYPTION_SSL,
            box.user.login,
            box.user.password,
            settings_for(box),
        ).connect()
    assert caught.value.code == "tls_failed"


def test_unresponsive_server_is_a_timeout(private_dovecot):
    box = new_box(private_dovecot)
    private_dovecot.pause()
    try:
        error = failure(box, imap_timeout=0.5)
    finally:
        private_dovecot.resume()
    assert (error.code, error.transient) == ("timeout", True)


def test_starttls_missing_refuses_to_send_the_password_in_clear_text():
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN] no TLS here\r\n")
            conn.settimeout(5)
            try:
                while data := conn.recv(4096):
                    received.append(data)
                    for line in data.splitlines():
                        tag = line.split(b" ", 1)[0]
                        conn.sendall(tag + b" OK done\r\n")
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(MailboxError) as caught:
            ImapMailbox(
                "127.0.0.1", port, ENCRYPTION_STARTTLS, "jan", "tajne-haslo", MailSettings()
            ).connect()
    finally:
        thread.join(10)
        listener.close()
    assert caught.value.code == "starttls_missing"
    assert b"tajne-haslo" not in b"".join(received) and b"LOGIN" not in b"".join(received).upper()


def test_plain_connection_works_when_chosen(dovecot):
    box = Box(new_box(dovecot).user, ENCRYPTION_NONE)
    with ImapMailbox(
        "127.0.0.1", dovecot.imap_port, ENCRYPTION_NONE, box.user.login, box.user.password, MailSettings()
    ) as mailbox:
        assert folder_named(mailbox, "INBOX")


def test_servers_page_lists_folders_or_raises_only_mailbox_error(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    settings = settings_for(box)

    folders = list_folders(mailbox_access(server), settings)
    assert [f.display for f in folders] == ["INBOX", "Junk", "Sent", "Spam", "Trash"]
    server.port = free_port("127.0.0.1")
    with pytest.raises(MailboxError):
        list_folders(mailbox_access(server), settings)


def test_fast_fetch_parser_reads_what_imapclient_reads_for_every_corpus_message(dovecot, corpus_dir):
    box = new_box(dovecot)
    for path in sorted(corpus_dir.glob("*.eml")):
        box.user.append("INBOX", path.read_bytes())
    box.user.append("INBOX", m.as_bytes(_forwarded_with_polish_names()))

    with open_box(box) as mailbox:
        mailbox.client.select_folder("INBOX", readonly=True)
        typ, data = mailbox.client._imap.uid("FETCH", "1:*", f"({' '.join(FETCH_ITEMS)})")

    assert typ == "OK"
    ours = parse_fetch(data)
    theirs = parse_fetch_response(data, normalise_times=False, uid_is_key=True)
    assert len(ours) == 42
    assert {uid: dict(fields) for uid, fields in ours.items()} == {
        uid: dict(fields) for uid, fields in theirs.items()
    }


@pytest.mark.parametrize(
    "value",
    [b"24-Nov-2026 01:30:52 +0100", b" 4-Jan-2027 23:59:59 -0930", b"04-jan-2027 00:00:00 +0000"],
)
def test_internal_date_reads_as_imapclient_reads_it(value):
    ours, theirs = _internal_date(value), parse_to_datetime(value, normalise=False)
    assert (ours, ours.utcoffset()) == (theirs, theirs.utcoffset())


def _forwarded_with_polish_names():
    msg = m.message(subject="Zażółć gęślą jaźń")
    inner = m.message(subject="Fwd: faktura")
    m.add_pdf(inner, m.pdf_bytes(), "Faktura_VAT_ąęśćż.pdf")
    m.add_forwarded(msg, inner)
    m.add_name_only_in_content_type(msg, m.pdf_bytes(), '=?utf-8?q?"dziwna"_nazwa?= (1).pdf')
    return msg
