"""What a check survives: a killed predecessor, leftover temporary PDFs, Redis going away, a lost lock."""

from __future__ import annotations

import os
import threading
import time

import redis
from sqlalchemy import func, select

from ekpanel.checks.job import _progress_writer
from ekpanel.checks.keys import server_lock_key
from ekpanel.checks.lock import ServerLock
from ekpanel.checks.models import Check
from ekpanel.checks.progress import RunProgress
from ekpanel.checks.recovery import close_dead_jobs_checks, close_server_checks_left_running
from ekpanel.checks.run import run_check
from ekpanel.documents.models import Document
from ekpanel.documents.storage import pdf_path, store_pdf, sweep_temporary_files
from ekpanel.extensions import db
from ekpanel.mail.texts import Text, note
from tests.factories import make_check, make_dovecot_server, make_user
from tests.support import messages as m
from tests.support.mail_users import new_box


def test_the_next_check_of_a_server_closes_its_dead_predecessor_as_interrupted(sqlite_app, dovecot):
    server = make_dovecot_server(new_box(dovecot))
    dead = make_check(server, outcome="running", finished_at=None)
    other_server = make_dovecot_server(new_box(dovecot))
    elsewhere = make_check(other_server, outcome="running", finished_at=None)

    assert close_server_checks_left_running(server.id) == 1

    db.session.expire_all()
    assert (dead.outcome, dead.finished_at is not None) == ("interrupted", True)
    assert elsewhere.outcome == "running"  # another server's check may well be running


def test_a_starting_worker_closes_checks_whose_jobs_are_gone(sqlite_app, redis_conn, dovecot):
    server = make_dovecot_server(new_box(dovecot))
    gone = make_check(server, outcome="running", finished_at=None, job_id="check-1-nieistniejacy")
    by_hand = make_check(server, outcome="running", finished_at=None, job_id=None)  # `flask fetch`

    assert close_dead_jobs_checks(redis_conn) == 1

    db.session.expire_all()
    assert (gone.outcome, by_hand.outcome) == ("interrupted", "running")


def test_the_history_says_a_check_was_interrupted(client, auth, app, dovecot):
    server = make_dovecot_server(new_box(dovecot))
    check = make_check(server, outcome="interrupted")
    make_user("szef", admin=True)
    auth.login("szef")
    html = client.get(f"/servers/{server.id}/checks").get_data(as_text=True)
    assert f'<tr data-check-id="{check.id}">' in html and "przerwane" in html


def test_temporary_pdfs_older_than_a_check_are_swept_and_younger_ones_kept(tmp_path):
    sha = store_pdf(m.pdf_bytes(), tmp_path)
    folder = pdf_path(sha, tmp_path).parent
    old, young = folder / ".tmp-stary.pdf", folder / ".tmp-mlody.pdf"
    old.write_bytes(b"%PDF-")
    young.write_bytes(b"%PDF-")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))

    assert sweep_temporary_files(tmp_path, older_than_seconds=600) == 1

    assert (old.exists(), young.exists(), pdf_path(sha, tmp_path).exists()) == (False, True, True)


def test_progress_lost_to_a_redis_outage_does_not_fail_the_check(sqlite_app, redis_server):
    from rq.job import Job

    job = Job.create(print, connection=redis.Redis(port=9, socket_connect_timeout=0.2))  # nothing listens
    write = _progress_writer(job)
    write(RunProgress(folder="INBOX"))  # logged, not raised


def test_a_lost_lock_is_taken_back_and_one_taken_by_another_job_is_not(redis_conn):
    mine = ServerLock(redis_conn, 7, "job-a", timeout=60)
    assert mine.acquire() is None
    redis_conn.delete(server_lock_key(7))  # Redis restarted without persistence
    assert mine.reassert() is True
    assert redis_conn.get(server_lock_key(7)) == b"job-a"
    redis_conn.set(server_lock_key(7), "job-b")  # meanwhile another job took the server
    assert mine.reassert() is False


def test_a_check_that_lost_its_server_stops_at_the_batch_boundary_keeping_its_work(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    box.user.append("INBOX", m.with_pdf())

    result = run_check(server.id, trigger="cli", keep_going=lambda: False)

    assert result.outcome == "partial"
    assert result.warnings == [note(Text.LOCK_LOST)]
    assert result.counts.documents == 1 and box.user.list("INBOX") == []


def test_two_checks_of_one_server_at_once_never_take_a_message_twice(sqlite_app, dovecot):
    box = new_box(dovecot)
    server = make_dovecot_server(box)
    messages = 12
    for n in range(messages):
        box.user.append("INBOX", m.with_pdf(m.pdf_bytes(), subject=f"Faktura {n}"))
    sent = {message["message_id"] for message in box.user.list("INBOX")}
    server_id, failures = server.id, []

    def check() -> None:
        with sqlite_app.app_context():
            try:
                run_check(server_id, trigger="cli")
            except Exception as error:  # pragma: no cover - reported below
                failures.append(error)

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert failures == []
    assert db.session.scalar(select(func.count()).select_from(Document)) == messages
    # Every message moved. Dovecot's MOVE is a copy and an expunge, so two sessions moving the same
    # message at once may both copy it: the server's lock keeps two checks apart (this test goes
    # around it), and what holds even without it is that no document is taken twice.
    assert box.user.list("INBOX") == []
    assert {message["message_id"] for message in box.user.list(box.year_folder())} == sent
    assert {check.outcome for check in db.session.scalars(select(Check))} <= {"ok", "partial"}
