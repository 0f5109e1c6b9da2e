"""Benchmark: one clock slot of N mailboxes, run by real worker processes (issue 14, goals 1-3).

Run by hand from the project root; it starts and stops its own Dovecot and Redis, and uses the
PostgreSQL the tests use (``EKPANEL_TEST_POSTGRES_URL``, 127.0.0.1:5432, or a private one):

    .venv/bin/python bench/slot.py -n 5000                       # goal 1, SQLite
    .venv/bin/python bench/slot.py -n 5000 --db postgresql       # goal 1, PostgreSQL
    .venv/bin/python bench/slot.py -n 1000 --rtt-ms 30           # goal 2: a remote mail server
    .venv/bin/python bench/slot.py -n 300 --workers 2 --threads 4 --profile 100

What it does:

1. builds N mailboxes in a private Dovecot (written straight into their Maildirs), each with the
   folders a mailbox checked before has (its ``eksiegowy<year>``), and N companies, each with one
   IMAP server on its mailbox (folders ``INBOX`` and ``spam``, the defaults);
2. starts ``--workers`` real ``worker.py`` processes (``EKPANEL_WORKER_THREADS=--threads`` when
   given) and, with ``--rtt-ms``, puts a delay proxy (``bench/delay_proxy.py``) between them and
   Dovecot;
3. fires a first slot the way the clock does (``enqueue_slot_checks``) on the empty mailboxes, so
   each server has its cursors, as after any earlier check (``--cold`` skips it);
4. puts 3 new messages in every inbox: a whitelisted sender's with a PDF (~50 KB), one of the same
   sender without attachment, a stranger's with a PDF;
5. fires the measured slot and waits for every check job to end.

It prints the slot's time (from the clock's first enqueue to the last check's end), the workers'
CPU per check (every worker process and its children), Dovecot's, the CPU of the whole slot (with
Redis, PostgreSQL's processes serving it and the clock: what two free cores would need), the IMAP
commands and round trips of one such check (measured on one more mailbox in this process, and over
the whole slot through the proxy), the workers' peak memory (the sum of their processes' RSS, and of
PSS, which counts pages shared after fork once), and how long the reading of the new documents' PDFs,
queued behind the checks, took after them. ``--profile K`` then runs K checks in this process, plain
and under cProfile. ``-t 0`` runs rq's forking worker, one job at a time (as before issue 14).

Targets (issue 14): 5,000 mailboxes <= 300 s on both databases; 1,000 at 30 ms <= 120 s with
<= 1 GiB for the workers; <= 50 ms worker CPU per check.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import redis  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from rq import Queue, Worker  # noqa: E402
from rq.registry import (  # noqa: E402
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from sqlalchemy import func, insert, select  # noqa: E402

from bench.delay_proxy import DelayProxy  # noqa: E402
from ekpanel import create_app  # noqa: E402
from ekpanel.checks.keys import CHECK_QUEUE, DOCUMENTS_QUEUE  # noqa: E402
from ekpanel.checks.models import Check  # noqa: E402
from ekpanel.checks.queue import enqueue_slot_checks  # noqa: E402
from ekpanel.checks.run import run_check  # noqa: E402
from ekpanel.companies.models import Company  # noqa: E402
from ekpanel.documents.models import Document  # noqa: E402
from ekpanel.extensions import db  # noqa: E402
from ekpanel.mail import connect  # noqa: E402
from ekpanel.mail.folders import year_folder_name  # noqa: E402
from ekpanel.servers.models import MailServer  # noqa: E402
from ekpanel.servers.secrets import encrypt_secret  # noqa: E402
from tests.support import postgres  # noqa: E402
from tests.support.dovecot import DovecotServer  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

TIMEZONE = "Europe/Warsaw"
PASSWORD = "bench-password"
WHITELISTED = "faktury@dostawca.pl"
STRANGER = "ktos@obcy.example"
PDF_SIZE = 50_000
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- mail --------------------------------------------------------------------------------------


def _message(index: int, sender: str, subject: str, pdf: bytes | None) -> bytes:
    """A message as a mail server stores it (CRLF), built by hand: 15,000 of them in seconds."""
    boundary = f"b{secrets.token_hex(8)}"
    head = (
        f"From: {sender}\r\nTo: biuro@ksiegowa.example\r\nSubject: {subject}\r\n"
        f"Date: Mon, 16 Mar 2026 09:00:00 +0100\r\nMessage-ID: <{secrets.token_hex(12)}@bench.example>\r\n"
        "MIME-Version: 1.0\r\n"
    )
    text = f"W załączeniu faktura {index}.\r\n".encode()
    if pdf is None:
        return (
            head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode() + text
    encoded = base64.encodebytes(pdf).replace(b"\n", b"\r\n")
    return (
        (
            (head + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n--{boundary}\r\n')
            + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode()
        + text
        + (
            f"--{boundary}\r\nContent-Type: application/pdf\r\n"
            f'Content-Disposition: attachment; filename="faktura-{index}.pdf"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + encoded
        + f"--{boundary}--\r\n".encode()
    )


def _pdf(index: int) -> bytes:
    head = f"%PDF-1.4\n% bench {index} {secrets.token_hex(8)}\n1 0 obj << /Type /Catalog >> endobj\n".encode()
    return head + b"0" * (PDF_SIZE - len(head) - 7) + b"\n%%EOF\n"


def new_mail(index: int) -> list[bytes]:
    """The slot's 3 new messages of one inbox: one to take, two to skip."""
    return [
        _message(index, WHITELISTED, f"Faktura {index}", _pdf(index)),
        _message(index, WHITELISTED, f"Przypomnienie {index}", None),
        _message(index, STRANGER, f"Oferta {index}", _pdf(-index)),
    ]


class Mailboxes:
    """N users of a private Dovecot, their Maildirs written directly (as a delivery agent would)."""

    def __init__(self, dovecot: DovecotServer, count: int, year: int) -> None:
        self.dovecot = dovecot
        self.logins = [f"box{n:05d}@bench.example" for n in range(count)]
        self.year = year
        owner = (Path(dovecot.root) / "home").stat()
        self.uid, self.gid = (owner.st_uid, owner.st_gid) if os.geteuid() != 0 else _nobody()

    def create(self, login: str) -> None:
        self.dovecot.add_user(login, PASSWORD)
        maildir = self.maildir(login)
        for folder in (maildir, maildir / year_folder_name(self.year)):
            for sub in ("cur", "new", "tmp"):
                (folder / sub).mkdir(parents=True)
        for path in [maildir, *maildir.rglob("*")]:
            os.chown(path, self.uid, self.gid)

    def deliver(self, login: str, messages: list[bytes]) -> None:
        new = self.maildir(login) / "new"
        for n, raw in enumerate(messages):
            name = f"{time.time_ns()}.B{n}.bench,S={len(raw)}"
            tmp = self.maildir(login) / "tmp" / name
            tmp.write_bytes(raw)
            os.chown(tmp, self.uid, self.gid)
            tmp.rename(new / name)

    def maildir(self, login: str) -> Path:
        return Path(self.dovecot.root) / "home" / login / "Maildir"


def _nobody() -> tuple[int, int]:
    import grp
    import pwd

    return pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid


# -- processes ---------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def process_tree(roots: list[int]) -> list[int]:
    children = _children()
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(roots: list[int]) -> float:
    """CPU of ``roots`` and everything below them, the children they reaped included."""
    total = 0
    for pid in process_tree(roots):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


def memory_bytes(roots: list[int]) -> tuple[int, int]:
    """(RSS, PSS) of ``roots`` and everything below them."""
    rss = pss = 0
    for pid in process_tree(roots):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return rss, pss


class MemorySampler(threading.Thread):
    def __init__(self, roots: list[int]) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.peak_rss = self.peak_pss = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            rss, pss = memory_bytes(self.roots)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)


def start_workers(count: int, env: dict[str, str], log_dir: Path) -> list[subprocess.Popen]:
    workers = []
    for n in range(count):
        with (log_dir / f"worker-{n}.log").open("wb") as out:
            workers.append(
                subprocess.Popen(
                    [sys.executable, "worker.py"],
                    cwd=PROJECT_DIR,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    """SIGTERM (a warm shutdown), then SIGKILL to whatever of theirs is left, each by its pid."""
    tree = process_tree([worker.pid for worker in workers])
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            worker.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(max(deadline - time.monotonic(), 0.1))
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for worker in workers:
        worker.wait()


# -- the slot ----------------------------------------------------------------------------------


def fire_slot(app, connection: redis.Redis, slot: datetime, report: bool = False) -> tuple[float, int]:
    """The clock's work for ``slot``; then wait until every check job has ended. (seconds, checks)

    Ended: finished, failed, or waiting for a retry, counted from rq's registries twice a second
    (three commands, whatever the slot's size, so the waiting costs the workers nothing)."""
    queue = Queue(CHECK_QUEUE, connection=connection)
    registries = [
        FinishedJobRegistry(queue=queue),
        FailedJobRegistry(queue=queue),
        ScheduledJobRegistry(queue=queue),
    ]

    def ended() -> int:
        return sum(registry.count for registry in registries)

    before = ended()
    started = time.perf_counter()
    with app.app_context():
        enqueued = enqueue_slot_checks(slot, connection)
        db.session.remove()
    if report:
        print(f"  the clock enqueued {len(enqueued)} checks in {time.perf_counter() - started:.1f} s")
    while ended() - before < len(enqueued):
        time.sleep(0.5)
    return time.perf_counter() - started, len(enqueued)


def wait_for_documents_queue(connection: redis.Redis) -> float:
    """Seconds until the reading of the slot's new PDFs, queued after the checks, has ended."""
    started = time.perf_counter()
    queue = Queue(DOCUMENTS_QUEUE, connection=connection)
    while queue.count or StartedJobRegistry(queue=queue).count:
        time.sleep(0.2)
    return time.perf_counter() - started


def sample_check(app, dovecot_port: int, rtt_ms: float, mailboxes: Mailboxes, company_index: int) -> tuple:
    """One check of a mailbox with the slot's 3 new messages, in this process: (commands, round trips)."""
    opened = []
    original = connect.open_mailbox

    def spy(access, settings):
        mailbox = original(access, settings)
        opened.append(mailbox)
        return mailbox

    login = "sample@bench.example"
    mailboxes.create(login)
    with DelayProxy("127.0.0.1", dovecot_port, rtt_ms) as proxy, app.app_context():
        server_id = add_servers([login], proxy.port)[0]
        connect.open_mailbox = spy
        try:
            run_check(server_id, trigger="cli")  # the cursors, as after the first slot
            mailboxes.deliver(login, new_mail(company_index))
            before = proxy.stats.round_trips
            opened.clear()
            result = run_check(server_id, trigger="cli")
        finally:
            connect.open_mailbox = original
        commands = [command for mailbox in opened for command in mailbox.stats.commands]
        round_trips = proxy.stats.round_trips - before
        db.session.get(MailServer, server_id).active = False  # its proxy goes now: not in the slots
        db.session.commit()
        db.session.remove()
    assert result.counts.documents == 1, result
    return commands, round_trips


def add_servers(logins: list[str], port: int) -> list[int]:
    """One company with one IMAP server per login (inside an app context)."""
    start = db.session.scalar(select(func.count(Company.id))) or 0
    companies = [{"name": f"Firma {start + n:05d} sp. z o.o."} for n in range(len(logins))]
    company_ids = db.session.scalars(insert(Company).returning(Company.id), companies).all()
    rows = [
        {
            "company_id": company_id,
            "protocol": "imap",
            "host": "127.0.0.1",
            "port": port,
            "encryption": "ssl",
            "username": login,
            "secret_encrypted": encrypt_secret(PASSWORD),
            "whitelist": WHITELISTED,
            "folders": "INBOX\nspam",
        }
        for company_id, login in zip(company_ids, logins, strict=True)
    ]
    server_ids = db.session.scalars(insert(MailServer).returning(MailServer.id), rows).all()
    db.session.commit()
    return list(server_ids)


def outcomes(app) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(select(Check.outcome, func.count()).group_by(Check.outcome)).all()
        documents = db.session.scalar(select(func.count(Document.id)))
        db.session.remove()
    return {**{outcome: count for outcome, count in rows}, "documents": documents}


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--mailboxes", type=int, default=1000)
    parser.add_argument("-w", "--workers", type=int, default=2)
    parser.add_argument("-t", "--threads", type=int, help="EKPANEL_WORKER_THREADS for each worker")
    parser.add_argument(
        "--rtt-ms", type=float, default=0.0, help="round trip to the mail server (delay proxy)"
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--profile", type=int, default=0, metavar="K", help="then profile K checks here")
    parser.add_argument(
        "--cold", action="store_true", help="no first slot: the measured one meets no cursors"
    )
    args = parser.parse_args()
    # SIGTERM (timeout, kill) unwinds like Ctrl-C: the workers, Dovecot and Redis are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}, {os.cpu_count()} cores")
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ekslot-")))
        dovecot = stack.enter_context(DovecotServer("fs"))
        redis_server = stack.enter_context(RedisServer())
        database_url = database(args.db, tmp, stack)
        proxy = (
            stack.enter_context(DelayProxy("127.0.0.1", dovecot.imaps_port, args.rtt_ms))
            if args.rtt_ms
            else None
        )
        mail_port = proxy.port if proxy else dovecot.imaps_port
        year = datetime.now(ZoneInfo(TIMEZONE)).year
        mailboxes = Mailboxes(dovecot, args.mailboxes, year)

        started = time.perf_counter()
        for login in mailboxes.logins:
            mailboxes.create(login)
        config = {
            "INSTANCE_DIR": str(tmp),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench",
            "SECRETS_KEY": Fernet.generate_key().decode(),
            "STORAGE_DIR": str(tmp / "documents"),
            "CA_BUNDLE": str(dovecot.ca_path),
            "REDIS_URL": redis_server.url,
            "TIMEZONE": TIMEZONE,
            "CHECK_TIMES": "05:00,12:00",
        }
        app = create_app(config)
        with app.app_context():
            db.create_all()
            add_servers(mailboxes.logins, mail_port)
            db.session.remove()
        built = time.perf_counter() - started
        print(f"{args.mailboxes} mailboxes, companies and servers ({args.db}) in {built:.1f} s")

        commands, sample_trips = sample_check(app, dovecot.imaps_port, args.rtt_ms, mailboxes, args.mailboxes)
        print(f"one check of 3 new messages: {len(commands)} IMAP commands, {sample_trips} round trips")
        print(f"  {' '.join(commands)}")

        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "EKPANEL_INSTANCE_DIR": str(tmp),
            "EKPANEL_DATABASE_URL": database_url,
            "EKPANEL_SECRET_KEY": config["SECRET_KEY"],
            "EKPANEL_SECRETS_KEY": config["SECRETS_KEY"],
            "EKPANEL_STORAGE_DIR": config["STORAGE_DIR"],
            "EKPANEL_CA_BUNDLE": config["CA_BUNDLE"],
            "EKPANEL_REDIS_URL": redis_server.url,
            "EKPANEL_TIMEZONE": TIMEZONE,
        }
        if args.threads is not None:
            env["EKPANEL_WORKER_THREADS"] = str(args.threads)
        workers = start_workers(args.workers, env, tmp)
        stack.callback(stop_workers, workers)
        connection = redis.Redis.from_url(redis_server.url)
        deadline = time.monotonic() + 60
        while Worker.count(connection=connection) < args.workers:
            if time.monotonic() > deadline or any(worker.poll() is not None for worker in workers):
                sys.exit(
                    "workers did not start:\n" + "\n".join(p.read_text() for p in tmp.glob("worker-*.log"))
                )
            time.sleep(0.1)

        today = datetime.now(ZoneInfo(TIMEZONE)).replace(second=0, microsecond=0)
        if not args.cold:
            seconds, _ = fire_slot(app, connection, today.replace(hour=5, minute=0))
            print(f"first slot, no new mail: {seconds:.1f} s")
        for n, login in enumerate(mailboxes.logins):
            mailboxes.deliver(login, new_mail(n))

        roots = [worker.pid for worker in workers]
        sampler = MemorySampler(roots)
        sampler.start()
        trips_before = proxy.stats.round_trips if proxy else 0
        others = [
            dovecot.pid,
            redis_server.pid,
            *database_backends(database_url),
        ]  # and this process: the clock
        cpu_before, others_before, own_before = cpu_seconds(roots), cpu_seconds(others), time.process_time()
        dovecot_before = cpu_seconds([dovecot.pid])
        seconds, n = fire_slot(app, connection, today.replace(hour=12, minute=0), report=True)
        cpu, dovecot_cpu = cpu_seconds(roots) - cpu_before, cpu_seconds([dovecot.pid]) - dovecot_before
        everything = cpu + cpu_seconds(others) - others_before + time.process_time() - own_before
        sampler.stopped.set()
        sampler.join()
        reading = wait_for_documents_queue(connection)

        result = outcomes(app)
        threads = (
            args.threads if args.threads is not None else int(os.environ.get("EKPANEL_WORKER_THREADS", 8))
        )
        print(
            f"slot of {n} mailboxes (3 new messages each), {args.workers} workers"
            + (" (rq's forking worker)" if args.threads == 0 else f" x {threads} threads")
            + f", {args.db}, {args.rtt_ms:g} ms round trip:"
            + f" {seconds:.1f} s ({seconds / n * 1000:.1f} ms a mailbox)"
        )
        print(f"  checks: {result}")
        print(f"  worker CPU per check: {cpu / n * 1000:.1f} ms; Dovecot's: {dovecot_cpu / n * 1000:.1f} ms")
        print(
            f"  CPU of the whole slot (workers, Dovecot, Redis, database, the clock): {everything:.0f} s,"
            f" so at least {everything / (os.cpu_count() or 1):.0f} s on {os.cpu_count()} idle cores"
        )
        if proxy:
            print(f"  IMAP round trips per check (proxy): {(proxy.stats.round_trips - trips_before) / n:.1f}")
        peak_rss, peak_pss = sampler.peak_rss / 2**20, sampler.peak_pss / 2**20
        print(f"  workers' peak memory: RSS {peak_rss:.0f} MiB, PSS {peak_pss:.0f} MiB")
        print(
            f"  then the reading of the new documents' PDFs (queued behind the checks): {reading:.1f} s more"
        )
        if args.profile:
            profile_checks(app, mailboxes, args.profile)


def profile_checks(app, mailboxes: Mailboxes, count: int) -> None:
    """The check job's function in this process for ``count`` mailboxes with new mail: its CPU, then
    where it goes (cProfile, CPU time) in as many more."""
    import cProfile
    import pstats

    from ekpanel.checks.job import check_server

    with app.app_context():
        server_ids = db.session.scalars(select(MailServer.id).order_by(MailServer.id).limit(count)).all()
        db.session.remove()

    def run_all(profiler: cProfile.Profile | None, round_number: int) -> float:
        for n, login in enumerate(mailboxes.logins[:count]):
            mailboxes.deliver(login, new_mail(round_number * 100_000 + n))
        started = time.process_time()
        for server_id in server_ids:
            with app.app_context():
                if profiler is None:
                    check_server(server_id, "schedule")
                else:
                    profiler.runcall(check_server, server_id, "schedule")
                db.session.remove()
        return (time.process_time() - started) / count

    print(f"{count} checks in this process: {run_all(None, 1) * 1000:.1f} ms CPU each")
    profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
    print(f"and {count} under the profiler: {run_all(profiler, 2) * 1000:.1f} ms CPU each")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(50)


def database_backends(database_url: str) -> list[int]:
    """The PostgreSQL server processes serving the bench's database (the workers' pooled connections)."""
    if not database_url.startswith("postgresql"):
        return []
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.replace("postgresql+psycopg", "postgresql").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin) as connection:
        rows = connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
    return [pid for (pid,) in rows]


def database(kind: str, tmp: Path, stack: contextlib.ExitStack) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'ekpanel.sqlite3'}"
    admin_url = postgres.postgres_url()
    if admin_url is None:
        private = postgres.PrivatePostgres().start()
        stack.callback(private.stop)
        admin_url = private.url
    url, drop = postgres.fresh_database(admin_url)
    stack.callback(drop)
    return url


if __name__ == "__main__":
    main()
