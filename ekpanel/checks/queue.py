"""Checks as RQ jobs: enqueueing (once per server), one check per mailbox at a time, progress for the page.

A check never runs inside a web request. The page calls ``enqueue_check`` and the clock (schedule.py)
``enqueue_slot_checks``; a worker (worker.py) runs ``ekpanel.checks.job.check_server`` inside the app
context. (``flask --app wsgi fetch`` runs the check in the foreground, outside the queue, but takes the
same per-server lock, ``ekpanel.checks.lock``.)
Three guards keep a mailbox from being checked twice at once by the workers:

- enqueueing is idempotent: a server's queued or running job is remembered under ``server_job_key`` and
  handed back instead of adding another (under a short per-server Redis lock, so two requests racing
  each other get the same job);
- each clock slot is claimed once per server (``slot_key``, plus a job id built from the slot and the
  server with ``unique=True``), so two clocks running at once enqueue a slot once;
- at run time a per-server lock (non-blocking, expiring shortly after the job timeout) makes a second
  job for a server being checked end at once as "already running" — this covers overlaps the ids
  cannot, such as a job retried after its worker was killed.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import redis
from flask import current_app, has_app_context
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import select

from ekpanel.checks.keys import (
    DOCUMENTS_QUEUE,
    check_queue,
    fetch_job,
    job_timeout,
    lock_seconds,
    new_job_id,
    redis_connection,
    server_job_key,
    slot_job_id,
    slot_key,
)
from ekpanel.checks.lock import is_abandoned
from ekpanel.checks.models import TRIGGER_REFRESH, TRIGGER_SCHEDULE
from ekpanel.checks.progress import STATE_QUEUED
from ekpanel.clock import current_slot
from ekpanel.companies.models import Company
from ekpanel.documents.extraction import extract_documents
from ekpanel.documents.extraction import job_timeout as extraction_job_timeout
from ekpanel.extensions import db
from ekpanel.servers.models import MailServer

log = logging.getLogger(__name__)

# The job function, by name: rq imports it in the worker (and this module need not import the run).
CHECK_JOB = "ekpanel.checks.job.check_server"
EXTRACT_RESULT_TTL = 3600
# Asking for the reading must not hold up a check when Redis hangs rather than refuses.
_BEST_EFFORT_SOCKET_SECONDS = 2.0

# Transient failures are tried again after 1, 5 and 15 minutes (rq's scheduler in the worker runs them).
# Tests set app.config["CHECK_RETRY_INTERVALS"] to seconds.
RETRY_INTERVALS = (60, 300, 900)
RESULT_TTL = 24 * 3600  # the finished job (and its meta) stays readable for the page this long
SLOT_CLAIM_TTL = 3 * 24 * 3600

_ACTIVE_STATUSES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
_ENQUEUE_LOCK_SECONDS = 10


def _retry() -> Retry:
    intervals = RETRY_INTERVALS
    if has_app_context():
        intervals = current_app.config.get("CHECK_RETRY_INTERVALS", intervals)
    return Retry(max=3, interval=list(intervals))


# --- enqueueing -----------------------------------------------------------------------------------


def enqueue_check(
    server_id: int, trigger: str, user_id: int | None = None, connection: redis.Redis | None = None
) -> Job:
    """Ask for a check of one server; returns the job checking it.

    When the server already has a job queued or running, that job is returned and nothing is added.
    """
    job, _created = _enqueue(server_id, trigger, user_id, connection or redis_connection())
    return job


def enqueue_slot_checks(now: datetime, connection: redis.Redis | None = None) -> list[tuple[int, Job, bool]]:
    """The clock's work: enqueue the current slot's check of every enabled server of every active company.

    ``now`` is aware. The slot is the latest scheduled time at or before ``now`` within
    ``EKPANEL_MISFIRE_MINUTES`` (so a clock started at 05:40 still runs 05:00); nothing when there is none.
    Each server is claimed once per slot, so running this twice, or from two clocks, enqueues once.
    Returns ``(server_id, job, created)`` for every server of the slot.
    """
    config = current_app.config
    slot = current_slot(
        config["CHECK_TIMES"], config["TIMEZONE"], now, timedelta(minutes=int(config["MISFIRE_MINUTES"]))
    )
    if slot is None:
        return []
    connection = connection or redis_connection()
    _forget_dead_jobs(connection)  # once for the whole slot, not once per server
    enqueued = []
    for server_id in scheduled_server_ids():
        job, created = _enqueue(server_id, TRIGGER_SCHEDULE, None, connection, slot=slot, cleaned=True)
        enqueued.append((server_id, job, created))
    return enqueued


def scheduled_server_ids() -> list[int]:
    """Enabled servers of active companies: the ones the clock checks."""
    query = (
        select(MailServer.id)
        .join(Company, MailServer.company_id == Company.id)
        .where(MailServer.active.is_(True), Company.active.is_(True))
        .order_by(MailServer.id)
    )
    return list(db.session.scalars(query))


def _enqueue(
    server_id: int,
    trigger: str,
    user_id: int | None,
    connection: redis.Redis,
    *,
    slot: datetime | None = None,
    cleaned: bool = False,
) -> tuple[Job, bool]:
    queue = check_queue(connection)
    if not cleaned:
        _forget_dead_jobs(connection)
    guard = connection.lock(
        f"ekpanel:check:server:{server_id}:enqueue", timeout=_ENQUEUE_LOCK_SECONDS, blocking_timeout=10
    )
    with guard:
        if slot is not None:
            claimed = connection.get(slot_key(server_id, slot))
            if claimed is not None:
                return _fetch_or_placeholder(claimed.decode(), connection), False
        current = server_job(server_id, connection)
        if current is not None:
            if slot is not None:
                connection.set(slot_key(server_id, slot), current.id, ex=SLOT_CLAIM_TTL)
            elif trigger == TRIGGER_REFRESH:
                _retry_now(current, queue)
            return current, False

        job_id = slot_job_id(server_id, slot) if slot is not None else new_job_id(server_id)
        meta = {
            "state": STATE_QUEUED,
            "server_id": server_id,
            "trigger": trigger,
            "user_id": user_id,
            "slot": slot.isoformat() if slot is not None else None,
            "enqueued_at": time.time(),
        }
        timeout = job_timeout()
        try:
            job = queue.enqueue(
                CHECK_JOB,
                server_id,
                trigger,
                user_id,
                job_id=job_id,
                unique=True,
                job_timeout=timeout,
                result_ttl=RESULT_TTL,
                retry=_retry(),
                meta=meta,
                description=f"check server {server_id} ({trigger})",
            )
            created = True
        except DuplicateJobError:  # another clock took this slot before the claim was written
            job, created = _fetch_or_placeholder(job_id, connection), False
        connection.set(server_job_key(server_id), job.id, ex=max(RESULT_TTL, lock_seconds(timeout)))
        if slot is not None:
            connection.set(slot_key(server_id, slot), job.id, ex=SLOT_CLAIM_TTL)
        return job, created


def _forget_dead_jobs(connection: redis.Redis) -> None:
    """Jobs whose worker died are failed (or re-queued for retry) first, so they do not count as running."""
    StartedJobRegistry(queue=check_queue(connection)).cleanup()


def _retry_now(job: Job, queue: Queue) -> None:
    """An operator asking for a check should not wait minutes for a retry: a job waiting for one is
    due at once, and the workers' scheduler puts it on the queue within a second or so."""
    if job.get_status(refresh=False) != JobStatus.SCHEDULED:
        return
    registry = ScheduledJobRegistry(queue=queue)
    # xx: only while it is still waiting; if the scheduler has just queued it, do not schedule it again.
    queue.connection.zadd(registry.key, {job.id: int(time.time())}, xx=True)  # rq compares whole seconds


def _fetch_or_placeholder(job_id: str, connection: redis.Redis) -> Job:
    """The job, or when its hash is gone (expired) an empty one that still has its id."""
    return fetch_job(job_id, connection) or Job(job_id, connection=connection)


def request_extraction(document_ids: list[int]) -> bool:
    """Ask a worker to read these documents' PDFs (``ekpanel.documents.extraction``).

    Best effort, for the check to call once their documents are committed: with Redis away the
    check goes on, and ``flask --app wsgi documents extract`` reads them later. True when queued.
    """
    if not document_ids:
        return False
    try:
        Queue(DOCUMENTS_QUEUE, connection=_best_effort_connection()).enqueue(
            extract_documents,
            list(document_ids),
            job_timeout=extraction_job_timeout(len(document_ids)),
            result_ttl=EXTRACT_RESULT_TTL,
            description=f"read documents {document_ids[0]}..{document_ids[-1]}",
        )
    except RedisError as error:
        log.warning("Reading of documents %s not queued (Redis: %r)", document_ids, error)
        return False
    return True


def _best_effort_connection() -> redis.Redis:
    extensions = current_app.extensions
    if "ekpanel_redis_best_effort" not in extensions:
        extensions["ekpanel_redis_best_effort"] = redis.Redis.from_url(
            current_app.config["REDIS_URL"],
            socket_timeout=_BEST_EFFORT_SOCKET_SECONDS,
            socket_connect_timeout=_BEST_EFFORT_SOCKET_SECONDS,
        )
    return extensions["ekpanel_redis_best_effort"]


# --- finding jobs ---------------------------------------------------------------------------------


def server_job(server_id: int, connection: redis.Redis | None = None) -> Job | None:
    """The job queued, waiting for a retry, or running for this server; None when there is none."""
    job = last_server_job(server_id, connection)
    return job if job is not None and _is_active(job) else None


def last_server_job(server_id: int, connection: redis.Redis | None = None) -> Job | None:
    """The server's latest job in any state, while Redis still has it (a day after it ends)."""
    connection = connection or redis_connection()
    job_id = connection.get(server_job_key(server_id))
    return fetch_job(job_id.decode(), connection) if job_id else None


def _is_active(job: Job) -> bool:
    status = job.get_status(refresh=True)
    if status not in _ACTIVE_STATUSES:
        return False
    return not (status == JobStatus.STARTED and is_abandoned(job))


# --- after a check --------------------------------------------------------------------------------

# The alerts read each finished check's rows (ekpanel.alerts.jobs); named, so the checks import none of it.
ALERTS_JOB = "ekpanel.alerts.jobs.evaluate_server_job"


def enqueue_alert_evaluation(server_id: int, connection: redis.Redis) -> None:
    """Best effort: with alerts off nothing is queued, and Redis away never fails the check (the
    clock's alert sweep evaluates recently checked servers again)."""
    if not current_app.config.get("SMTP_URL"):
        return
    try:
        check_queue(connection).enqueue(
            ALERTS_JOB, server_id, job_timeout=600, result_ttl=600, description=f"alerts, server {server_id}"
        )
    except redis.RedisError as error:
        log.warning("Alerts of server %s not evaluated now (%r); the clock's sweep will", server_id, error)
