"""Real worker.py processes: two cannot check one server at once, and a SIGKILLed check loses nothing."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select

from ekpanel.checks.job import check_server
from ekpanel.checks.keys import CHECK_QUEUE, server_lock_key
from ekpanel.checks.models import TRIGGER_REFRESH, TRIGGER_SCHEDULE, Check
from ekpanel.checks.progress import STATE_ALREADY_RUNNING, STATE_DONE, STATE_FAILED, job_progress
from ekpanel.checks.queue import enqueue_check, server_job
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.mail.folders import year_folder_name
from tests.factories import make_dovecot_server
from tests.support.check_jobs import (
    descendants,
    kill_pid,
    kill_worker,
    process_env,
    start_process,
    wait_for,
)
from tests.support.messages import invoice_message

WORKER = [sys.executable, "worker.py", "--burst"]
PAUSING_WORKER = [sys.executable, "-m", "tests.support.hooked_worker", "--burst"]


@pytest.fixture
def worker_app(sqlite_app, redis_url, redis_conn):
    sqlite_app.config.update(REDIS_URL=redis_url)
    return sqlite_app


@pytest.fixture
def workers():
    """Every worker process a test starts; killed (with its horse and scheduler) at the end."""
    started = []
    yield started
    for process in started:
        kill_worker(process)


@pytest.fixture
def hook_files(tmp_path):
    return {
        "EKPANEL_TEST_PAUSED_FILE": str(tmp_path / "paused"),
        "EKPANEL_TEST_RELEASE_FILE": str(tmp_path / "release"),
    }


def checks_of(server) -> list[Check]:
    db.session.expire_all()
    return list(db.session.scalars(select(Check).where(Check.server_id == server.id).order_by(Check.id)))


def documents_of(server) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Document.id)).where(Document.company_id == server.company_id))


def year_folder() -> str:
    from datetime import datetime

    return year_folder_name(datetime.now().year)


def kill_worker_between_store_and_move(worker, paused: Path) -> None:
    """Wait until the work-horse pauses before moving, then SIGKILL the worker and the horse."""
    wait_for(paused.exists, worker.output)
    horse = int(paused.read_text())
    assert horse in descendants(worker.pid)
    kill_pid(worker.pid)  # the worker first, so it cannot notice its horse die and fail the job
    kill_pid(horse)
    worker.proc.wait()


def test_two_workers_cannot_check_one_server_at_once(
    worker_app, redis_url, redis_conn, mail_user, workers, hook_files, tmp_path
):
    for n in range(3):
        mail_user.append("INBOX", invoice_message(mail_user.login, n))
    server = make_dovecot_server(mail_user)
    env = process_env(worker_app, redis_url, EKPANEL_CHECK_TIMEOUT="120", **hook_files)
    first = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)

    workers.append(start_process(PAUSING_WORKER, env))
    wait_for(lambda: (tmp_path / "paused").exists(), workers[0].output)
    # Asking again hands back the running job; a second job can still come from elsewhere (a retry of
    # an old job, an overlapping slot), so one is put on the queue directly.
    assert enqueue_check(server.id, TRIGGER_SCHEDULE, connection=redis_conn).id == first.id
    second = Queue(CHECK_QUEUE, connection=redis_conn).enqueue(
        check_server, server.id, TRIGGER_SCHEDULE, None, job_id=f"check-{server.id}-second", job_timeout=120
    )
    workers.append(start_process(WORKER, env))
    workers[1].proc.wait(60)

    progress = job_progress(second)
    assert (progress.state, progress.running_job_id) == (STATE_ALREADY_RUNNING, first.id)
    assert progress.finished is True

    (tmp_path / "release").touch()
    workers[0].proc.wait(60)
    assert job_progress(first).state == STATE_DONE
    assert [check.job_id for check in checks_of(server)] == [first.id]  # the second job checked nothing
    assert documents_of(server) == 3
    assert mail_user.list("INBOX") == []
    assert redis_conn.exists(server_lock_key(server.id)) == 0


def test_worker_killed_between_storing_and_moving_loses_and_duplicates_nothing(
    worker_app, redis_url, redis_conn, mail_user, workers, hook_files, tmp_path
):
    messages = 4
    for n in range(messages):
        mail_user.append("INBOX", invoice_message(mail_user.login, n))
    server = make_dovecot_server(mail_user)
    # A short job timeout, so the dead job's hold on the server ends in seconds (2 x timeout here).
    worker_app.config["CHECK_TIMEOUT"] = 5
    env = process_env(worker_app, redis_url, **hook_files)
    killed = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)

    workers.append(start_process(PAUSING_WORKER, env))
    kill_worker_between_store_and_move(workers[0], tmp_path / "paused")

    # Stored, not moved: the documents are there, the messages still in INBOX, the job still "started".
    assert documents_of(server) == messages
    assert len(mail_user.list("INBOX")) == messages
    assert Job.fetch(killed.id, connection=redis_conn).get_status() == JobStatus.STARTED

    # The dead job stops counting as the server's check once its time is up; then a check can be enqueued.
    wait_for(lambda: server_job(server.id, redis_conn) is None, lambda: str(job_progress(killed)))
    again = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    assert again.id != killed.id
    workers.append(start_process(WORKER, env))
    workers[1].proc.wait(60)

    assert job_progress(again).state == STATE_DONE, workers[1].output()
    assert job_progress(killed).state == STATE_FAILED
    assert documents_of(server) == messages  # every message taken exactly once
    assert mail_user.list("INBOX") == []
    assert len(mail_user.list(year_folder())) == messages
    dead, rerun = checks_of(server)
    assert (rerun.job_id, rerun.counts.duplicates, rerun.counts.documents) == (again.id, messages, 0)
    # The killed run's row is closed as interrupted, when the next check found it, not left "running".
    assert (dead.job_id, dead.outcome) == (killed.id, "interrupted")
    assert rerun.started_at >= dead.finished_at >= dead.started_at
    assert redis_conn.exists(server_lock_key(server.id)) == 0


def test_abandoned_job_requeued_by_cleanup_runs_again_and_takes_nothing_twice(
    worker_app, redis_url, redis_conn, mail_user, workers, hook_files, tmp_path
):
    messages = 3
    for n in range(messages):
        mail_user.append("INBOX", invoice_message(mail_user.login, n))
    server = make_dovecot_server(mail_user)
    worker_app.config["CHECK_RETRY_INTERVALS"] = [0]  # re-queued at once rather than in a minute
    env = process_env(worker_app, redis_url, **hook_files)
    killed = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    workers.append(start_process(PAUSING_WORKER, env))
    kill_worker_between_store_and_move(workers[0], tmp_path / "paused")

    # What a worker's maintenance does once the dead job's heartbeat has run out (60 s and more after
    # the kill): the cleanup is rq's own, only told that the time has come.
    StartedJobRegistry(queue=Queue(CHECK_QUEUE, connection=redis_conn)).cleanup(timestamp=time.time() + 3600)
    assert Job.fetch(killed.id, connection=redis_conn).get_status() == JobStatus.QUEUED
    # The same job runs again and takes over the lock its first, dead, run left behind.
    assert redis_conn.get(server_lock_key(server.id)) == killed.id.encode()
    workers.append(start_process(WORKER, env))
    workers[1].proc.wait(60)

    assert job_progress(killed).state == STATE_DONE, workers[1].output()
    assert documents_of(server) == messages
    assert mail_user.list("INBOX") == []
    assert [(check.job_id, check.outcome) for check in checks_of(server)] == [
        (killed.id, "interrupted"),
        (killed.id, "ok"),
    ]
    assert checks_of(server)[-1].duplicates == messages
    assert redis_conn.exists(server_lock_key(server.id)) == 0
