"""Benchmark: the check against the whole-message approach, on one Dovecot folder.

Run by hand from the project root (it starts and stops its own Dovecot):

    .venv/bin/python bench/imap_check.py            # N = 5000
    .venv/bin/python bench/imap_check.py -n 1000

It fills INBOX with N messages: ~10 % from a whitelisted sender carrying a ~200 KB PDF, ~45 %
from other senders with a non-PDF attachment of similar size, ~45 % plain. Every message carries
the receiving server's Authentication-Results on top, as delivered mail does; the server is
configured with that authserv-id, so the first check also reads them and judges each sender
(sender verification "Oznaczaj", the default). Then, on the same mailbox:

1. the whole-message approach (paperless-ngx, Odoo): ``BODY.PEEK[]`` of every new message,
   parsed with the ``email`` package, PDFs picked out (read-only: nothing is moved);
2. our first check (structure, then only the PDF parts; documents stored; messages moved);
3. our second check with no new mail.

Before them, in the same run, the floor: Dovecot handing over exactly the PDF parts of the
PDF messages (``BINARY.PEEK``) on a session already open, nothing else.

Targets (issue 4): bytes read / PDF bytes <= 1.10; first check >= 10x faster than whole-message;
idle re-check <= 5 IMAP commands per folder. Issue 14: first check <= 2x the PDF parts alone.
"""

from __future__ import annotations

import argparse
import cProfile
import email
import os
import pstats
import random
import sys
import tempfile
import time
from email.policy import default as default_policy
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from imapclient import IMAPClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from ekpanel import create_app  # noqa: E402
from ekpanel.checks.run import run_check  # noqa: E402
from ekpanel.companies.models import Company  # noqa: E402
from ekpanel.documents.models import Document  # noqa: E402
from ekpanel.extensions import db  # noqa: E402
from ekpanel.mail import connect  # noqa: E402
from ekpanel.mail.imap import ImapMailbox  # noqa: E402
from ekpanel.mail.pdf import looks_like_pdf  # noqa: E402
from ekpanel.mail.settings import MailSettings  # noqa: E402
from ekpanel.mail.whitelist import SenderWhitelist  # noqa: E402
from ekpanel.servers.models import MailServer  # noqa: E402
from ekpanel.servers.secrets import encrypt_secret  # noqa: E402
from tests.support import messages as m  # noqa: E402
from tests.support.dovecot import DovecotServer  # noqa: E402

LOGIN, PASSWORD = "bench@example.test", "bench-password"
WHITELIST = "faktury@dostawca.pl"
AUTHSERV_ID = "mx.biuro.example"
# What a receiving MX writes on top of each message (Gmail's shape, ~500 bytes).
AUTHRES = (
    f"Authentication-Results: {AUTHSERV_ID};\n"
    "       dkim=pass header.i=@dostawca.pl header.s=20230601 header.b=Xy1+ab/Q;\n"
    "       arc=pass (i=1 spf=pass spfdomain=dostawca.pl dkim=pass dkdomain=dostawca.pl dmarc=pass\n"
    " fromdomain=dostawca.pl);\n"
    "       spf=pass (mx.biuro.example: domain of faktury@dostawca.pl designates 192.0.2.10 as\n"
    " permitted sender) smtp.mailfrom=faktury@dostawca.pl;\n"
    "       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=dostawca.pl\n"
).encode()
ATTACHMENT_SIZE = 200_000
APPEND_CHUNK = 25


def build_message(kind: str, index: int) -> bytes:
    if kind == "pdf":
        msg = m.message(sender=m.WHITELISTED, subject=f"Faktura {index}")
        m.add_pdf(msg, m.pdf_bytes(ATTACHMENT_SIZE), f"faktura-{index}.pdf")
    elif kind == "attachment":
        msg = m.message(sender=f"nadawca{index}@inny.example", subject=f"Zdjęcia {index}")
        m.add_file(msg, os.urandom(ATTACHMENT_SIZE), "image", "jpeg", f"zdjecie-{index}.jpg")
    else:
        msg = m.message(sender=f"nadawca{index}@inny.example", subject=f"Wiadomość {index}")
    return AUTHRES + m.as_bytes(msg)


def fill(server: DovecotServer, count: int) -> list[str]:
    """INBOX filled with ``count`` messages; each one's kind, in UID order (UID = index + 1)."""
    rng = random.Random(2026)
    kinds = ["pdf" if i % 10 == 0 else rng.choice(["attachment", "plain"]) for i in range(count)]
    with IMAPClient("127.0.0.1", server.imap_port, ssl=False, timeout=60) as client:
        client.login(LOGIN, PASSWORD)
        for start in range(0, count, APPEND_CHUNK):
            client.multiappend(
                "INBOX",
                [
                    build_message(kind, start + i)
                    for i, kind in enumerate(kinds[start : start + APPEND_CHUNK])
                ],
            )
    return kinds


def raw_part_handover(server: DovecotServer, uids: list[int]) -> tuple[float, int]:
    """(seconds, bytes read) for Dovecot to hand over exactly the PDF parts and nothing else:
    ``BINARY.PEEK[2]`` of the PDF messages, 50 to a command, on a session already logged in and in
    the folder. The floor under any check that takes those PDFs (issue 14, goal 4)."""
    settings = MailSettings(ca_bundle=str(server.ca_path))
    with ImapMailbox("127.0.0.1", server.imaps_port, "ssl", LOGIN, PASSWORD, settings) as mailbox:
        client = mailbox.client
        client.select_folder("INBOX", readonly=True)
        before = mailbox.stats.bytes_read
        started = time.perf_counter()
        for start in range(0, len(uids), 50):
            client.fetch(uids[start : start + 50], ["BINARY.PEEK[2]"])
        return time.perf_counter() - started, mailbox.stats.bytes_read - before


def whole_message_approach(server: DovecotServer) -> tuple[float, int, int, int]:
    """(seconds, bytes read, PDFs found, PDF bytes) for the download-everything approach."""
    settings = MailSettings(ca_bundle=str(server.ca_path))
    whitelist = SenderWhitelist([WHITELIST])
    started = time.perf_counter()
    found = pdf_bytes = 0
    with ImapMailbox("127.0.0.1", server.imaps_port, "ssl", LOGIN, PASSWORD, settings) as mailbox:
        client = mailbox.client
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        for start in range(0, len(uids), 50):
            response = client.fetch(uids[start : start + 50], ["BODY.PEEK[]"])
            for data in response.values():
                message = email.message_from_bytes(data[b"BODY[]"], policy=default_policy)
                if not whitelist.admits(str(message.get("From", ""))):
                    continue
                for part in message.iter_attachments():
                    payload = part.get_payload(decode=True) or b""
                    if looks_like_pdf(payload):
                        found += 1
                        pdf_bytes += len(payload)
        bytes_read = mailbox.stats.bytes_read
    return time.perf_counter() - started, bytes_read, found, pdf_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="print where the first check spends its time")
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-message approach")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ekbench-") as tmp, DovecotServer("fs") as server:
        server.add_user(LOGIN, PASSWORD)
        started = time.perf_counter()
        kinds = fill(server, args.messages)
        counts = {kind: kinds.count(kind) for kind in ("pdf", "attachment", "plain")}
        print(f"filled INBOX with {args.messages} messages {counts} in {time.perf_counter() - started:.1f} s")
        pdf_uids = [uid for uid, kind in enumerate(kinds, start=1) if kind == "pdf"]
        handover_time, handover_bytes = raw_part_handover(server, pdf_uids)

        if args.no_whole:
            whole_time, whole_bytes, whole_found, whole_pdf_bytes = float("nan"), 0, 0, 0
        else:
            whole_time, whole_bytes, whole_found, whole_pdf_bytes = whole_message_approach(server)

        app = create_app(
            {
                "INSTANCE_DIR": tmp,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                "SECRET_KEY": "bench",
                "SECRETS_KEY": "",
                "STORAGE_DIR": f"{tmp}/documents",
                "CA_BUNDLE": str(server.ca_path),
            }
        )
        with app.app_context():
            db.create_all()
            company = Company(name="Benchmark sp. z o.o.")
            db.session.add(company)
            db.session.flush()
            mail_server = MailServer(
                company_id=company.id,
                protocol="imap",
                host="127.0.0.1",
                port=server.imaps_port,
                encryption="ssl",
                username=LOGIN,
                secret_encrypted=encrypt_secret(PASSWORD),
                whitelist=WHITELIST,
                folders="INBOX\nspam",
                authserv_id=AUTHSERV_ID,
            )
            db.session.add(mail_server)
            db.session.commit()

            sessions: list[ImapMailbox] = []
            original = connect.open_mailbox

            def spy(server_row, settings):
                mailbox = original(server_row, settings)
                sessions.append(mailbox)
                return mailbox

            connect.open_mailbox = spy
            try:
                profiler = cProfile.Profile() if args.profile else None
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                first = run_check(mail_server.id, trigger="cli")
                first_time = time.perf_counter() - started
                if profiler:
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
                first_bytes = sessions[-1].stats.bytes_read
                pdf_bytes = db.session.scalar(select(func.sum(Document.size))) or 0
                verified = db.session.scalar(
                    select(func.count()).where(Document.sender_verdict == "confirmed")
                )

                started = time.perf_counter()
                second = run_check(mail_server.id, trigger="cli")
                second_time = time.perf_counter() - started
                second_commands = sessions[-1].stats.commands
            finally:
                connect.open_mailbox = original
            folders_checked = second_commands.count("EXAMINE")

        print()
        print(
            f"whole-message approach: {whole_time:.2f} s, {whole_bytes / 1e6:.1f} MB read, {whole_found} PDFs"
        )
        print(
            f"first check:            {first_time:.2f} s, {first_bytes / 1e6:.1f} MB read, "
            f"{first.counts.documents} documents ({pdf_bytes / 1e6:.1f} MB of PDF), "
            f"taken {first.counts.taken}, skipped {first.counts.skipped}, errors {first.counts.errors}, "
            f"outcome {first.outcome}; senders judged {first.counts.senders_judged}, "
            f"confirmed {verified}"
        )
        print(
            f"second check (no mail): {second_time:.3f} s, {len(second_commands)} IMAP commands "
            f"for {folders_checked} folders: {' '.join(second_commands)}; examined {second.counts.examined}"
        )
        print()
        print(f"bytes read / PDF bytes:          {first_bytes / max(pdf_bytes, 1):.3f}   (target <= 1.10)")
        print(f"whole-message time / our time:   {whole_time / first_time:.1f}x   (target >= 10x)")
        print(
            f"first check / PDF parts alone:   {first_time / handover_time:.2f}x   (target <= 2x; Dovecot"
            f" hands over the {len(pdf_uids)} parts, {handover_bytes / 1e6:.1f} MB, in {handover_time:.2f} s)"
        )
        per_folder = len(second_commands) / max(folders_checked, 1)
        print(f"idle re-check commands / folder: {per_folder:.1f}   (target <= 5)")
        if (not args.no_whole and whole_found != first.counts.documents) or whole_pdf_bytes != pdf_bytes:
            print(
                f"NOTE: whole-message found {whole_found} PDFs / {whole_pdf_bytes} bytes; the check differs"
            )


if __name__ == "__main__":
    main()
