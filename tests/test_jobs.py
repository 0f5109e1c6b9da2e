"""Checks as RQ jobs against a real Redis and Dovecot: the job, progress, idempotent enqueueing, retries."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

import ekpanel.checks.run
from ekpanel.checks.keys import CHECK_QUEUE
from ekpanel.checks.models import TRIGGER_REFRESH, TRIGGER_SCHEDULE, Check
from ekpanel.checks.progress import STATE_DONE, STATE_FAILED, STATE_QUEUED, JobProgress, job_progress
from ekpanel.checks.queue import enqueue_check, server_job
from ekpanel.checks.workers import make_worker
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from tests.factories import make_dovecot_server, make_imap_server, make_user
from tests.support.messages import invoice_message
from tests.support.ports import free_port

WORKER_NAME = "worker-on-another-machine"


@pytest.fixture
def jobs_app(sqlite_app, redis_url, redis_conn):
    sqlite_app.config.update(REDIS_URL=redis_url)
    return sqlite_app


def work(app, conn) -> None:
    """Run what is queued in this process (rq's SimpleWorker in the app context), then return."""
    make_worker(app, simple=True, connection=conn).work(burst=True, with_scheduler=True)


def checks_of(server) -> list[Check]:
    db.session.expire_all()
    return list(db.session.scalars(select(Check).where(Check.server_id == server.id).order_by(Check.id)))


def documents_of(server) -> int:
    return db.session.scalar(select(func.count(Document.id)).where(Document.company_id == server.company_id))


def test_job_runs_the_check_and_records_trigger_and_user(jobs_app, redis_conn, mail_user):
    for n in range(2):
        mail_user.append("INBOX", invoice_message(mail_user.login, n))
    server = make_dovecot_server(mail_user)
    user = make_user()

    job = enqueue_check(server.id, TRIGGER_REFRESH, user.id, connection=redis_conn)
    assert job_progress(job).state == STATE_QUEUED
    work(jobs_app, redis_conn)

    [check] = checks_of(server)
    assert (check.trigger, check.user_id, check.job_id, check.outcome) == (
        TRIGGER_REFRESH,
        user.id,
        job.id,
        "ok",
    )
    assert documents_of(server) == 2
    assert mail_user.list("INBOX") == []
    progress = job_progress(job)
    assert progress.state == STATE_DONE
    assert progress.finished is True
    assert (progress.check_id, progress.run.documents, progress.run.counts.examined) == (check.id, 2, 2)
    assert (progress.trigger, progress.user_id, progress.server_id) == (
        TRIGGER_REFRESH,
        user.id,
        server.id,
    )


def test_progress_appears_in_job_meta_during_the_check(
    jobs_app, redis_conn, redis_url, mail_user, monkeypatch
):
    messages = 25
    for n in range(messages):
        mail_user.append("INBOX", invoice_message(mail_user.login, n))
    server = make_dovecot_server(mail_user)
    job = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    # What a polling page sees, read over its own connection each time the check reports progress.
    page = redis.Redis.from_url(redis_url)
    seen: list[JobProgress] = []
    real_run_check = ekpanel.checks.run.run_check

    def observed_run_check(*args, progress, **kwargs):
        def report(update):
            progress(update)
            seen.append(job_progress(Job.fetch(job.id, connection=page)))

        return real_run_check(*args, progress=report, **kwargs)

    monkeypatch.setattr(ekpanel.checks.run, "run_check", observed_run_check)
    work(jobs_app, redis_conn)
    page.close()

    during = [p for p in seen if 0 < p.run.counts.examined < messages]
    assert during, "no progress was visible before the check ended"
    assert {p.state for p in during} == {"checking"}
    assert {p.run.folder for p in during} == {"INBOX"}
    assert {p.run.to_examine for p in during} == {messages}
    examined = [p.run.counts.examined for p in seen]
    assert examined == sorted(examined)
    assert max(p.run.documents for p in during) > 0
    assert job_progress(job).run.documents == messages


def test_two_enqueue_requests_for_one_server_give_one_job(jobs_app, redis_conn):
    server = make_imap_server()
    first = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    second = enqueue_check(server.id, TRIGGER_SCHEDULE, connection=redis_conn)

    assert second.id == first.id
    assert Queue(CHECK_QUEUE, connection=redis_conn).get_job_ids() == [first.id]
    assert server_job(server.id, redis_conn).id == first.id


def test_concurrent_enqueue_requests_give_one_job(jobs_app, redis_conn, redis_url):
    server_id = make_imap_server().id
    barrier = threading.Barrier(4)
    ids: list[str] = []

    def request():
        conn = redis.Redis.from_url(redis_url)
        barrier.wait()
        ids.append(enqueue_check(server_id, TRIGGER_REFRESH, connection=conn).id)
        conn.close()

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(ids)) == 1
    assert Queue(CHECK_QUEUE, connection=redis_conn).get_job_ids() == [ids[0]]


def test_a_server_whose_check_ended_gets_a_new_job(jobs_app, redis_conn, mail_user):
    server = make_dovecot_server(mail_user)
    first = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    work(jobs_app, redis_conn)

    assert server_job(server.id, redis_conn) is None
    second = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    assert second.id != first.id
    assert Queue(CHECK_QUEUE, connection=redis_conn).get_job_ids() == [second.id]


def test_a_job_whose_worker_is_gone_no_longer_holds_the_server(jobs_app, redis_conn):
    server = make_imap_server()
    job = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    worker_key = f"rq:worker:{WORKER_NAME}"
    redis_conn.hset(worker_key, "birth", "2026-11-24T00:00:00Z")
    with redis_conn.pipeline() as pipe:  # what a worker records when it takes the job
        job.prepare_for_execution(WORKER_NAME, pipe)
        pipe.execute()
    assert server_job(server.id, redis_conn).id == job.id
    assert enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn).id == job.id

    redis_conn.delete(worker_key)  # a killed worker's registration expires with its heartbeat
    assert server_job(server.id, redis_conn) is None
    assert job_progress(job).state == STATE_FAILED
    assert enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn).id != job.id


def test_a_job_whose_worker_stopped_no_longer_holds_the_server(jobs_app, redis_conn):
    server = make_imap_server()
    job = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    with redis_conn.pipeline() as pipe:
        job.prepare_for_execution(WORKER_NAME, pipe)
        pipe.execute()
    redis_conn.hset(f"rq:worker:{WORKER_NAME}", "death", "2026-11-24T00:00:00Z")  # as rq marks it
    assert server_job(server.id, redis_conn) is None


def test_transient_failure_is_retried_with_growing_intervals(jobs_app, redis_conn):
    server = make_imap_server(host="127.0.0.1", port=free_port(), encryption="none", username="x")  # refused
    job = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    work(jobs_app, redis_conn)

    job.refresh()
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == 2
    assert job.retry_intervals == [60, 300, 900]
    progress = job_progress(job)
    assert (progress.state, progress.retrying, progress.finished) == (STATE_QUEUED, True, False)
    assert progress.error_code == "connection_refused"
    assert server_job(server.id, redis_conn).id == job.id  # still this server's job: no second one


def test_refresh_brings_a_waiting_retry_forward_and_the_clock_does_not(jobs_app, redis_conn):
    server = make_imap_server(host="127.0.0.1", port=free_port(), encryption="none", username="x")  # refused
    job = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    work(jobs_app, redis_conn)
    assert job.get_status(refresh=True) == JobStatus.SCHEDULED  # the retry waits a minute
    waiting = ScheduledJobRegistry(queue=Queue(CHECK_QUEUE, connection=redis_conn))

    assert enqueue_check(server.id, TRIGGER_SCHEDULE, connection=redis_conn).id == job.id
    assert waiting.get_jobs_to_schedule(time.time()) == []  # the clock leaves the retry where it is

    assert enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn).id == job.id
    assert waiting.get_jobs_to_schedule(time.time()) == [job.id]  # an operator's refresh: due now
    work(jobs_app, redis_conn)
    assert len(checks_of(server)) == 2
    job.refresh()
    assert (job.get_status(), job.retries_left) == (JobStatus.SCHEDULED, 1)  # one retry used, not more


def test_transient_failure_gives_up_after_three_retries(jobs_app, redis_conn):
    jobs_app.config["CHECK_RETRY_INTERVALS"] = [0]  # retried at once, so one burst runs every attempt
    server = make_imap_server(host="127.0.0.1", port=free_port(), encryption="none", username="x")
    job = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    work(jobs_app, redis_conn)

    assert [c.error_code for c in checks_of(server)] == ["connection_refused"] * 4
    assert job.get_status() == JobStatus.FAILED
    progress = job_progress(job)
    assert (progress.state, progress.finished, progress.error_code) == (
        STATE_FAILED,
        True,
        "connection_refused",
    )


def test_permanent_failure_is_not_retried(jobs_app, redis_conn, mail_user):
    server = make_dovecot_server(mail_user, password="not-the-password")
    job = enqueue_check(server.id, TRIGGER_REFRESH, connection=redis_conn)
    work(jobs_app, redis_conn)

    [check] = checks_of(server)
    assert check.error_code == "auth_failed"
    assert job.get_status() == JobStatus.FINISHED
    progress = job_progress(job)
    assert (progress.state, progress.finished, progress.error_code) == (
        STATE_FAILED,
        True,
        "auth_failed",
    )


def test_job_for_a_deleted_server_fails_without_retrying(jobs_app, redis_conn):
    job = enqueue_check(987654, TRIGGER_REFRESH, connection=redis_conn)
    work(jobs_app, redis_conn)

    assert job.get_status() == JobStatus.FINISHED
    progress = job_progress(job)
    assert (progress.state, progress.error_code) == (STATE_FAILED, "server_missing")
