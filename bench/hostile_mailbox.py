"""Benchmark: a mailbox with hostile messages in it costs about what the same mailbox costs without.

Run by hand from the project root (it starts and stops its own Dovecot):

    .venv/bin/python bench/hostile_mailbox.py             # 1000 normal messages, 20 hostile
    .venv/bin/python bench/hostile_mailbox.py -n 300 --hostile 6

Two mailboxes on one Dovecot: N normal messages (the bench/imap_check.py mix), and the same N with
``--hostile`` hostile ones spread evenly through them, all from the whitelisted sender:

- 1,800 PDF parts with 240-character names (BODYSTRUCTURE over 1 MB),
- 10,000 PDF parts (1.6 MB),
- 300 PDF parts (over the per-message PDF limit),
- a message nested 60 levels deep (message/rfc822 in message/rfc822 ...),
- a structure the server describes but the parts of which are not PDFs.

It prints the first check's time and peak Python memory (tracemalloc) for each, and the ratios.
Targets (issue 11): hostile time <= 2 x clean time; the hostile check holds no more memory than its
largest message explains.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import tracemalloc
from email.mime.message import MIMEMessage
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from imapclient import IMAPClient  # noqa: E402

from ekpanel import create_app  # noqa: E402
from ekpanel.checks.run import run_check  # noqa: E402
from ekpanel.companies.models import Company  # noqa: E402
from ekpanel.extensions import db  # noqa: E402
from ekpanel.servers.models import MailServer  # noqa: E402
from ekpanel.servers.secrets import encrypt_secret  # noqa: E402
from tests.support import messages as m  # noqa: E402
from tests.support.dovecot import DovecotServer  # noqa: E402

sys.path.insert(0, str(PROJECT_DIR / "bench"))
from imap_check import build_message  # noqa: E402

PASSWORD = "bench-password"
WHITELIST = "faktury@dostawca.pl"


def many_parts(count: int, name_length: int, index: int) -> bytes:
    boundary = f"graniczka{index}"
    head = (
        f"From: {m.WHITELISTED}\r\nTo: biuro@ksiegowa.example\r\nSubject: Wrogi {index}\r\n"
        f"Message-ID: <wrogi-{index}@dostawca.pl>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0100\r\n"
        f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
    )
    part = (
        f'--{boundary}\r\nContent-Type: application/pdf; name="{{name}}.pdf"\r\n'
        'Content-Disposition: attachment; filename="{name}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        "JVBERi0xLjQK\r\n"
    )
    body = "".join(part.format(name=f"{n:05d}" + "x" * (name_length - 5)) for n in range(count))
    return (head + body + f"--{boundary}--\r\n").encode()


def deeply_nested(depth: int, index: int) -> bytes:
    inner = m.message(subject=f"Poziom {depth}")
    m.add_pdf(inner, m.pdf_bytes())
    for level in range(depth):
        outer = m.message(subject=f"Wrogi {index} poziom {level}")
        outer.make_mixed()
        outer.attach(MIMEMessage(inner))
        inner = outer
    return m.as_bytes(inner)


def hostile(index: int) -> bytes:
    kind = index % 4
    if kind == 0:
        return many_parts(1800, 240, index)
    if kind == 1:
        return many_parts(10_000, 40, index)
    if kind == 2:
        return many_parts(300, 20, index)
    return deeply_nested(60, index)


def fill(server: DovecotServer, login: str, normal: int, hostile_count: int) -> int:
    rng = random.Random(2026)
    kinds = ["pdf" if i % 10 == 0 else rng.choice(["attachment", "plain"]) for i in range(normal)]
    every = normal // hostile_count if hostile_count else 0
    largest = 0
    with IMAPClient("127.0.0.1", server.imap_port, ssl=False, timeout=120) as client:
        client.login(login, PASSWORD)
        hostile_index = 0
        for i, kind in enumerate(kinds):
            client.append("INBOX", build_message(kind, i))
            if every and i % every == every // 2 and hostile_index < hostile_count:
                raw = hostile(hostile_index)
                largest = max(largest, len(raw))
                client.append("INBOX", raw)
                hostile_index += 1
    return largest


def measure(app, server: DovecotServer, login: str, company: Company) -> tuple[float, int, object]:
    mail_server = MailServer(
        company_id=company.id,
        protocol="imap",
        host="127.0.0.1",
        port=server.imaps_port,
        encryption="ssl",
        username=login,
        secret_encrypted=encrypt_secret(PASSWORD),
        whitelist=WHITELIST,
        folders="INBOX",
    )
    db.session.add(mail_server)
    db.session.commit()
    tracemalloc.start()
    started = time.perf_counter()
    result = run_check(mail_server.id, trigger="cli")
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=1000)
    parser.add_argument("--hostile", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ekbench-") as tmp, DovecotServer("fs") as server:
        server.add_user("czysta@example.test", PASSWORD)
        server.add_user("wroga@example.test", PASSWORD)
        fill(server, "czysta@example.test", args.messages, 0)
        largest = fill(server, "wroga@example.test", args.messages, args.hostile)
        app = create_app(
            {
                "INSTANCE_DIR": tmp,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                "SECRET_KEY": "bench",
                "STORAGE_DIR": f"{tmp}/documents",
                "CA_BUNDLE": str(server.ca_path),
            }
        )
        with app.app_context():
            db.create_all()
            company = Company(name="Benchmark sp. z o.o.")
            db.session.add(company)
            db.session.commit()
            clean_time, clean_peak, clean = measure(app, server, "czysta@example.test", company)
            hostile_time, hostile_peak, bad = measure(app, server, "wroga@example.test", company)

    print(
        f"clean mailbox:   {args.messages} messages, {clean_time:.2f} s, peak {clean_peak / 1e6:.1f} MB, "
        f"documents {clean.counts.documents}, errors {clean.counts.errors}, outcome {clean.outcome}"
    )
    print(
        f"hostile mailbox: +{args.hostile} hostile, {hostile_time:.2f} s, peak {hostile_peak / 1e6:.1f} MB, "
        f"documents {bad.counts.documents}, errors {bad.counts.errors}, outcome {bad.outcome}"
    )
    print(f"largest hostile message: {largest / 1e6:.1f} MB")
    print()
    print(f"time hostile / clean:           {hostile_time / clean_time:.2f}x   (target <= 2x)")
    print(
        f"extra peak memory / largest msg: {(hostile_peak - clean_peak) / largest:.2f}   "
        "(target: explained by one message, <= about 3)"
    )


if __name__ == "__main__":
    main()
