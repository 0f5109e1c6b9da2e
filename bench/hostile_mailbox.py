"""Benchmark: a mailbox with hostile messages in it costs about what the same mailbox costs without.

Run by hand from the project root (it starts and stops its own Dovecot):

    .venv/bin/python bench/hostile_mailbox.py                        # 1000 normal messages, 20 hostile
    .venv/bin/python bench/hostile_mailbox.py --baseline /tmp/main   # and another tree, side by side
    .venv/bin/python bench/hostile_mailbox.py -n 300 --hostile 6 --rounds 3

A tree is any checkout of the project (``git archive main | tar -x -C /tmp/main``); each is
measured in its own process, with its own ``ekpanel``, on the same messages. Two kinds of
mailbox on one Dovecot: N normal messages (the bench/imap_check.py mix), and the same N with
``--hostile`` hostile ones spread evenly through them, all from the whitelisted sender, in turn:

- 1,800 PDF parts with 240-character names (BODYSTRUCTURE over 1 MB),
- 10,000 PDF parts with 40-character names (2.4 MB; BODYSTRUCTURE 1.8 MB),
- 300 PDF parts (over the per-message PDF limit, within the parts bound),
- a message nested 60 levels deep (message/rfc822 in message/rfc822 ...).

It prints the first check's time of each kind and their ratio, the CPU time behind it (this
process's, and Dovecot's: its processes' and their reaped children's, from /proc), then the peak Python memory
(tracemalloc) of a first check of a second, identical pair of mailboxes (a check moves what it
takes, so each mailbox has one first check). The time is measured without tracemalloc: it slows
every allocation, and the hostile check allocates more, so a ratio timed under it measures
tracemalloc as much as the check; the traced checks' times are printed beside for comparison.
With ``--rounds``, the timed pair is repeated on fresh mailboxes and the median ratio printed.
On a shared machine the wall-clock ratio moves with the load; the CPU ratio much less.

Targets (issue 11): hostile time <= 2 x clean time; the hostile check holds no more memory than
its largest message explains (extra peak <= about 3 x the largest message).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"
WHITELIST = "faktury@dostawca.pl"


def many_parts(count: int, name_length: int, index: int) -> bytes:
    from tests.support import messages as m

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
    from email.mime.message import MIMEMessage

    from tests.support import messages as m

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


def mailbox_messages(normal: int, hostile_count: int) -> tuple[list[bytes], list[bytes], int]:
    """The clean mailbox's messages, the same with the hostile ones spread evenly through, and
    the size of the largest hostile one."""
    import random

    from imap_check import build_message

    rng = random.Random(2026)
    kinds = ["pdf" if i % 10 == 0 else rng.choice(["attachment", "plain"]) for i in range(normal)]
    clean = [build_message(kind, i) for i, kind in enumerate(kinds)]
    every = normal // hostile_count if hostile_count else 0
    with_hostile: list[bytes] = []
    added: list[bytes] = []
    for i, raw in enumerate(clean):
        with_hostile.append(raw)
        if every and i % every == every // 2 and len(added) < hostile_count:
            added.append(hostile(len(added)))
            with_hostile.append(added[-1])
    return clean, with_hostile, max(map(len, added), default=0)


def cpu_seconds(pids: list[int], reaper: int | None) -> float:
    """CPU time of these processes so far, and of the children ``reaper`` has waited for."""
    import os

    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile, or no /proc
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
        if pid == reaper:
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(normal: int, hostile_count: int, rounds: int) -> dict:
    """Run in a child process whose sys.path starts with the tree under test."""
    import tempfile
    import time
    import tracemalloc

    from imapclient import IMAPClient

    from ekpanel import create_app
    from ekpanel.checks.run import run_check
    from ekpanel.companies.models import Company
    from ekpanel.extensions import db
    from ekpanel.servers.models import MailServer
    from ekpanel.servers.secrets import encrypt_secret
    from tests.support.dovecot import DovecotServer

    clean, with_hostile, largest = mailbox_messages(normal, hostile_count)

    with tempfile.TemporaryDirectory(prefix="ekbench-") as tmp, DovecotServer("fs") as server:
        for label in [f"czas{n}" for n in range(rounds)] + ["pamiec"]:
            for kind, messages in (("czysta", clean), ("wroga", with_hostile)):
                login = f"{kind}-{label}@example.test"
                server.add_user(login, PASSWORD)
                with IMAPClient("127.0.0.1", server.imap_port, ssl=False, timeout=120) as client:
                    client.login(login, PASSWORD)
                    for raw in messages:
                        client.append("INBOX", raw)
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

            def first_check(login: str, traced: bool) -> dict:
                # A company of its own: the same messages in another mailbox are not duplicates.
                company = Company(name=f"Benchmark {login}")
                db.session.add(company)
                db.session.commit()
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
                if traced:
                    tracemalloc.start()
                dovecot_before = cpu_seconds(server.processes(), server.pid)
                cpu_before = time.process_time()
                started = time.perf_counter()
                result = run_check(mail_server.id, trigger="cli")
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_before
                peak = tracemalloc.get_traced_memory()[1] if traced else 0
                tracemalloc.stop()
                time.sleep(0.5)  # the check's IMAP processes end and are reaped
                dovecot = cpu_seconds(server.processes(), server.pid) - dovecot_before
                counts = result.counts
                summary = f"documents {counts.documents}, errors {counts.errors}, outcome {result.outcome}"
                return {"seconds": elapsed, "cpu": cpu, "dovecot": dovecot, "peak": peak, "summary": summary}

            timed = []
            for n in range(rounds):  # every other round the hostile mailbox first: load drifts
                order = ["czysta", "wroga"] if n % 2 == 0 else ["wroga", "czysta"]
                checks = {kind: first_check(f"{kind}-czas{n}@example.test", False) for kind in order}
                timed.append((checks["czysta"], checks["wroga"]))
            traced = [first_check(f"{kind}-pamiec@example.test", True) for kind in ("czysta", "wroga")]
    return {"timed": timed, "traced": traced, "largest": largest}


def run_in(tree: Path, args: argparse.Namespace) -> dict:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]);"
        "from hostile_mailbox import measure;"
        "print(json.dumps(measure(int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))"
    )
    sizes = [str(args.messages), str(args.hostile), str(args.rounds)]
    completed = subprocess.run(
        [sys.executable, "-c", code, str(tree), str(PROJECT_DIR / "bench"), *sizes],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{tree}: failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def report(label: str, result: dict, args: argparse.Namespace) -> None:
    ratios = [bad["seconds"] / clean["seconds"] for clean, bad in result["timed"]]
    cpu_ratios = [
        (bad["cpu"] + bad["dovecot"]) / (clean["cpu"] + clean["dovecot"]) for clean, bad in result["timed"]
    ]
    clean, bad = result["timed"][ratios.index(statistics.median_low(ratios))]
    traced_clean, traced_bad = result["traced"]
    largest = result["largest"]
    print(f"== {label}")
    for name, check in (("clean mailbox:  ", clean), ("hostile mailbox:", bad)):
        print(
            f"{name} {args.messages} messages{f' + {args.hostile} hostile' if check is bad else ''}, "
            f"{check['seconds']:.2f} s (CPU {check['cpu']:.2f} s ours, {check['dovecot']:.2f} s Dovecot's), "
            f"{check['summary']}"
        )
    if len(ratios) > 1:
        print(f"time ratios of {len(ratios)} rounds: {' '.join(f'{ratio:.2f}' for ratio in ratios)}")
        print(f"CPU ratios of {len(ratios)} rounds:  {' '.join(f'{ratio:.2f}' for ratio in cpu_ratios)}")
    print(f"time hostile / clean:            {statistics.median(ratios):.2f}x   (target <= 2x)")
    print(f"CPU (ours + Dovecot's) h / c:    {statistics.median(cpu_ratios):.2f}x")
    print(
        f"peak memory:                     clean {traced_clean['peak'] / 1e6:.1f} MB, hostile "
        f"{traced_bad['peak'] / 1e6:.1f} MB, largest hostile message {largest / 1e6:.1f} MB"
    )
    print(
        f"extra peak memory / largest msg: {(traced_bad['peak'] - traced_clean['peak']) / largest:.2f}   "
        "(target: explained by one message, <= about 3)"
    )
    print(
        f"under tracemalloc:               clean {traced_clean['seconds']:.2f} s, hostile "
        f"{traced_bad['seconds']:.2f} s, {traced_bad['seconds'] / traced_clean['seconds']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--messages", type=int, default=1000)
    parser.add_argument("--hostile", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1, help="timed pairs of mailboxes (median ratio)")
    parser.add_argument("--baseline", type=Path, help="another checkout of the project, measured alike")
    args = parser.parse_args()
    trees = [("this tree", PROJECT_DIR)]
    if args.baseline:
        trees.insert(0, ("baseline", args.baseline.resolve()))
    for label, tree in trees:
        report(label, run_in(tree, args), args)


if __name__ == "__main__":
    main()
