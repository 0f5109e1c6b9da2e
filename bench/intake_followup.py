"""Benchmark: a check's time up to the move, with and without asking for the reading of its PDFs.

Run by hand from the project root (it starts and stops its own Dovecot and Redis):

    .venv/bin/python bench/intake_followup.py                 # 300 messages, 5 rounds
    .venv/bin/python bench/intake_followup.py -n 1000 -r 3
    .venv/bin/python bench/intake_followup.py --tree ../main  # the same check before this change

Each round fills a fresh mailbox with N messages from a whitelisted sender, each with a ~30 KB
PDF, and runs the check (``ekpanel.checks.run.run_check``) on it, alternating two ways:

- **with**: as shipped, the check asks Redis for the follow-up job after each batch's commit
  (``ekpanel.checks.queue.request_extraction``; the time spent in it is also summed);
- **without**: the same code with that call replaced by nothing.

"Up to the move" is from the start of the check to the moment its first batch's messages are
about to be moved (``before_move``): what intake costs before mail leaves the inbox. The
target: the medians differ by no more than the spread between rounds. ``--tree`` imports
ekpanel from another checkout (e.g. main before this branch) and runs its check as it is.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("-n", "--messages", type=int, default=300)
parser.add_argument("-r", "--rounds", type=int, default=5)
parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
args = parser.parse_args()
sys.path.insert(0, str(args.tree.resolve()))

from imapclient import IMAPClient  # noqa: E402

import ekpanel.checks.run as check_run  # noqa: E402
from ekpanel import create_app  # noqa: E402
from ekpanel.checks.run import run_check  # noqa: E402
from ekpanel.companies.models import Company  # noqa: E402
from ekpanel.extensions import db  # noqa: E402
from ekpanel.servers.models import MailServer  # noqa: E402
from ekpanel.servers.secrets import encrypt_secret  # noqa: E402
from tests.support import messages as m  # noqa: E402
from tests.support.dovecot import DovecotServer  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

PASSWORD = "bench-password"
APPEND_CHUNK = 50


def fill(server: DovecotServer, login: str, count: int) -> None:
    with IMAPClient("127.0.0.1", server.imap_port, ssl=False, timeout=60) as client:
        client.login(login, PASSWORD)
        for start in range(0, count, APPEND_CHUNK):
            client.multiappend(
                "INBOX",
                [
                    m.with_pdf(m.pdf_bytes(30_000), filename=f"faktura-{start + i}.pdf")
                    for i in range(min(APPEND_CHUNK, count - start))
                ],
            )


def one_check(server: DovecotServer, company_id: int, login: str, count: int) -> tuple[float, float, int]:
    """(seconds up to the first move, seconds of the whole check, documents) of a fresh mailbox."""
    server.add_user(login, PASSWORD)
    fill(server, login, count)
    mail_server = MailServer(
        company_id=company_id,
        protocol="imap",
        host="127.0.0.1",
        port=server.imap_port,
        encryption="none",
        username=login,
        secret_encrypted=encrypt_secret(PASSWORD),
        whitelist=m.WHITELISTED,
        folders="INBOX",
    )
    db.session.add(mail_server)
    db.session.commit()
    moves: list[float] = []

    def before_move(*_):
        moves.append(time.perf_counter())

    started = time.perf_counter()
    result = run_check(mail_server.id, trigger="cli", before_move=before_move)
    total = time.perf_counter() - started
    return moves[0] - started, total, result.counts.documents


def main() -> None:
    shipped = getattr(check_run, "request_extraction", None)
    enqueue_seconds: list[float] = []

    def timed(ids):
        started = time.perf_counter()
        try:
            return shipped(ids)
        finally:
            enqueue_seconds.append(time.perf_counter() - started)

    modes = ["without", "with"] if shipped is not None else ["as it was"]
    with (
        tempfile.TemporaryDirectory(prefix="ekbench-") as tmp,
        DovecotServer("fs") as dovecot,
        RedisServer() as redis,
    ):
        app = create_app(
            {
                "INSTANCE_DIR": tmp,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                "SECRET_KEY": "bench",
                "SECRETS_KEY": "",
                "STORAGE_DIR": f"{tmp}/documents",
                "REDIS_URL": redis.url,
            }
        )
        with app.app_context():
            db.create_all()
            company = Company(name="Benchmark sp. z o.o.")
            db.session.add(company)
            db.session.commit()
            one_check(dovecot, company.id, "warmup@example.test", 20)  # imports, the first connection
            figures: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
            for round_number in range(args.rounds):
                for mode in modes:
                    if mode == "with":
                        check_run.request_extraction = timed
                    elif mode == "without":
                        check_run.request_extraction = lambda ids: False
                    login = f"r{round_number}-{mode.replace(' ', '')}@example.test"
                    to_move, total, documents = one_check(dovecot, company.id, login, args.messages)
                    assert documents == args.messages, documents
                    figures[mode].append((to_move, total))
                    line = f"to the move {to_move:.3f} s, whole {total:.3f} s"
                    print(f"round {round_number + 1} {mode:>9}: {line}")

    print()
    print(f"{args.messages} messages with a PDF each, {args.rounds} rounds; medians (min-max):")
    for mode, values in figures.items():
        to_move = [value[0] for value in values]
        total = [value[1] for value in values]
        print(
            f"  {mode:>9}: up to the move {statistics.median(to_move):.3f} s "
            f"({min(to_move):.3f}-{max(to_move):.3f}), whole check {statistics.median(total):.3f} s "
            f"({min(total):.3f}-{max(total):.3f})"
        )
    if enqueue_seconds:
        print(
            f"  asking for the reading: {len(enqueue_seconds)} calls, median "
            f"{statistics.median(enqueue_seconds) * 1000:.2f} ms, max {max(enqueue_seconds) * 1000:.2f} ms"
        )
    if len(modes) == 2:
        with_median = statistics.median(value[0] for value in figures["with"])
        without_median = statistics.median(value[0] for value in figures["without"])
        spread = max(value[0] for value in figures["without"]) - min(value[0] for value in figures["without"])
        print(
            f"  difference of the medians up to the move: {(with_median - without_median) * 1000:+.1f} ms; "
            f"spread between rounds without it: {spread * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
