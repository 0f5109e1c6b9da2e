"""Checks as RQ jobs: enqueueing (once per server), one check per mailbox at a time, progress for the page.

A check never runs inside a web request. The page calls ``enqueue_check`` and the clock (schedule.py)
``enqueue_slot_checks``; a worker (worker.py) runs ``check_server`` inside the app context. (``flask --app
wsgi fetch`` runs the check in the foreground, outside the queue, but takes the same per-server lock.)
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
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import redis
from flask import Flask, current_app, has_app_context
from redis.exceptions import LockNotOwnedError, WatchError
from rq import Queue, Retry, SimpleWorker, Worker, get_current_job
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import select

from ekpanel.checks.models import OUTCOME_FAILED, TRIGGER_REFRESH, TRIGGER_SCHEDULE
from ekpanel.clock import current_slot
from ekpanel.companies.models import Company
from ekpanel.extensions import db
from ekpanel.mail import check as mail_check
from ekpanel.servers.models import MailServer

log = logging.getLogger(__name__)

# The project's queues, in the order a worker serves them.
CHECK_QUEUE = "ekpanel-checks"
QUEUES = (CHECK_QUEUE,)

# What the page shows, in job.meta["state"].
STATE_QUEUED = "queued"  # waiting for a worker (also between retries)
STATE_CHECKING = "checking"
STATE_DONE = "done"  # the check ran; outcome "ok" or "partial"
STATE_FAILED = "failed"  # the check failed for good (or the job died)
STATE_ALREADY_RUNNING = "already_running"  # another job was checking this server; this one ended at once
FINAL_STATES = frozenset({STATE_DONE, STATE_FAILED, STATE_ALREADY_RUNNING})

# Transient failures are tried again after 1, 5 and 15 minutes (rq's scheduler in the worker runs them).
# Tests set app.config["CHECK_RETRY_INTERVALS"] to seconds.
RETRY_INTERVALS = (60, 300, 900)
RESULT_TTL = 24 * 3600  # the finished job (and its meta) stays readable for the page this long
SLOT_CLAIM_TTL = 3 * 24 * 3600

_ACTIVE_STATUSES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
_ENQUEUE_LOCK_SECONDS = 10


class TransientCheckFailure(Exception):
    """A failure that may pass later (connection refused, timeout, throttled): rq tries the job again."""

    def __init__(self, code: str | None, message: str | None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# --- keys and connections -------------------------------------------------------------------------


def redis_connection() -> redis.Redis:
    """The app's client for its Redis (``EKPANEL_REDIS_URL``), one connection pool per app."""
    extensions = current_app.extensions
    if "ekpanel_redis" not in extensions:
        extensions["ekpanel_redis"] = redis.Redis.from_url(current_app.config["REDIS_URL"])
    return extensions["ekpanel_redis"]


def check_queue(connection: redis.Redis | None = None) -> Queue:
    return Queue(CHECK_QUEUE, connection=connection or redis_connection())


def server_job_key(server_id: int) -> str:
    """Holds the id of the server's latest job (queued, running or ended)."""
    return f"ekpanel:check:server:{server_id}:job"


def server_lock_key(server_id: int) -> str:
    """Held (value: the job id) while a job checks the server."""
    return f"ekpanel:check:server:{server_id}:lock"


def slot_key(server_id: int, slot: datetime) -> str:
    return f"ekpanel:check:server:{server_id}:slot:{_slot_stamp(slot)}"


def slot_job_id(server_id: int, slot: datetime) -> str:
    """The same id from every clock process: ``check-7-slot-20260329T0300Z`` (the slot in UTC)."""
    return f"check-{server_id}-slot-{_slot_stamp(slot)}"


def _slot_stamp(slot: datetime) -> str:
    if slot.tzinfo is None:
        raise ValueError("a slot is an aware datetime")
    return slot.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def job_timeout() -> int:
    return int(current_app.config["CHECK_TIMEOUT"]) if has_app_context() else 1800


def lock_seconds(timeout: int) -> int:
    """How long a server's lock outlives its job's start.

    rq's work-horse is stopped at the job timeout, and the worker kills a stuck horse 60 s later; the lock
    covers both. The margin is capped at the timeout itself so a short timeout (the tests) stays short.
    """
    return int(timeout) + min(60, int(timeout))


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
    enqueued = []
    for server_id in scheduled_server_ids():
        job, created = _enqueue(server_id, TRIGGER_SCHEDULE, None, connection, slot=slot)
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
) -> tuple[Job, bool]:
    queue = check_queue(connection)
    # Jobs whose worker died are failed (or re-queued for retry) first, so they do not count as running.
    StartedJobRegistry(queue=queue).cleanup()
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
                check_server,
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


def _retry_now(job: Job, queue: Queue) -> None:
    """An operator asking for a check should not wait minutes for a retry: a job waiting for one is
    due at once, and the workers' scheduler puts it on the queue within a second or so."""
    if job.get_status(refresh=False) != JobStatus.SCHEDULED:
        return
    registry = ScheduledJobRegistry(queue=queue)
    # xx: only while it is still waiting; if the scheduler has just queued it, do not schedule it again.
    queue.connection.zadd(registry.key, {job.id: int(time.time())}, xx=True)  # rq compares whole seconds


def _fetch(job_id: str, connection: redis.Redis) -> Job | None:
    try:
        return Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None


def _fetch_or_placeholder(job_id: str, connection: redis.Redis) -> Job:
    """The job, or when its hash is gone (expired) an empty one that still has its id."""
    return _fetch(job_id, connection) or Job(job_id, connection=connection)


def new_job_id(server_id: int) -> str:
    return f"check-{server_id}-{uuid.uuid4().hex[:16]}"


# --- finding jobs ---------------------------------------------------------------------------------


def server_job(server_id: int, connection: redis.Redis | None = None) -> Job | None:
    """The job queued, waiting for a retry, or running for this server; None when there is none."""
    job = last_server_job(server_id, connection)
    return job if job is not None and _is_active(job) else None


def last_server_job(server_id: int, connection: redis.Redis | None = None) -> Job | None:
    """The server's latest job in any state, while Redis still has it (a day after it ends)."""
    connection = connection or redis_connection()
    job_id = connection.get(server_job_key(server_id))
    return _fetch(job_id.decode(), connection) if job_id else None


def _is_active(job: Job) -> bool:
    status = job.get_status(refresh=True)
    if status not in _ACTIVE_STATUSES:
        return False
    return not (status == JobStatus.STARTED and _is_abandoned(job))


def _is_abandoned(job: Job) -> bool:
    """A job still marked started that cannot be running: its worker is gone, or it started longer
    ago than any run may last. A killed worker's registration expires with its heartbeat (about 90 s
    after the kill), so the server is free again then, not only after the whole job timeout."""
    if job.worker_name and not _worker_alive(job.connection, job.worker_name):
        return True
    if job.started_at is None or job.timeout is None or job.timeout < 0:
        return False
    started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=UTC)
    return datetime.now(UTC) > started + timedelta(seconds=lock_seconds(job.timeout))


def _worker_alive(connection: redis.Redis, worker_name: str) -> bool:
    key = Worker.redis_worker_namespace_prefix + worker_name
    with connection.pipeline() as pipe:
        exists, died = pipe.exists(key).hexists(key, "death").execute()
    return bool(exists) and not died  # a worker that stopped keeps its key 60 s, marked with its death


def job_progress(job: Job | None) -> dict:
    """What the page shows about a check job; always the same keys (values None when unknown).

    ``state`` is one of queued / checking / done / failed / already_running (None once the job has
    expired); ``finished`` says the page can stop polling. ``folder``, ``examined``, ``to_examine``,
    ``documents``, ``taken``, ``skipped`` and ``errors`` are the check's progress; ``check_id``,
    ``outcome``, ``error_code`` and ``error_message`` its result; ``running_job_id`` the job that was
    already checking the server (state already_running); ``retries_left`` and ``retrying`` say a
    transient failure will be tried again. Also ``job_id``, ``server_id``, ``trigger``, ``user_id``,
    ``slot``.
    """
    progress = {key: None for key in _PROGRESS_KEYS}
    progress.update(finished=False, retrying=False)
    if job is None:
        return progress
    progress["job_id"] = job.id
    try:
        job.refresh()
    except NoSuchJobError:  # expired: a day after it ended
        progress.update(state=None, finished=True)
        return progress
    progress.update({key: job.meta.get(key) for key in _PROGRESS_KEYS if key in job.meta})
    progress["retries_left"] = job.retries_left
    status = job.get_status(refresh=False)
    if status == JobStatus.SCHEDULED:  # waiting for a retry
        progress.update(state=STATE_QUEUED, retrying=True)
    elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED) or (
        status == JobStatus.STARTED and _is_abandoned(job)
    ):
        progress["state"] = STATE_FAILED
        if not progress["error_code"]:
            progress["error_code"] = "job_failed"
    elif status == JobStatus.FINISHED and progress["state"] not in FINAL_STATES:
        progress["state"] = STATE_DONE
    elif progress["state"] is None:
        progress["state"] = STATE_CHECKING if status == JobStatus.STARTED else STATE_QUEUED
    progress["finished"] = progress["state"] in FINAL_STATES
    return progress


_PROGRESS_KEYS = (
    "job_id",
    "state",
    "server_id",
    "trigger",
    "user_id",
    "slot",
    "folder",
    "examined",
    "to_examine",
    "documents",
    "taken",
    "skipped",
    "errors",
    "check_id",
    "outcome",
    "error_code",
    "error_message",
    "running_job_id",
    "retries_left",
)


# --- the job --------------------------------------------------------------------------------------


def check_server(server_id: int, trigger: str, user_id: int | None = None) -> dict:
    """The job: check one server's mailbox (the same check as ``flask --app wsgi fetch``).

    Runs in a worker, inside the app context the worker provides. Returns a small summary; the full
    record is the check row. A transient failure raises TransientCheckFailure so rq tries again later.
    """
    job = get_current_job()
    connection = job.connection if job is not None else redis_connection()
    job_id = job.id if job is not None else None
    timeout = job.timeout if job is not None else job_timeout()
    lock = ServerLock(connection, server_id, job_id or new_job_id(server_id), timeout)

    holder = lock.acquire()
    if holder is not None:
        log.info("Server %s is being checked by job %s; job %s ends", server_id, holder, job_id)
        _update_meta(job, state=STATE_ALREADY_RUNNING, running_job_id=holder)
        return {"already_running": True, "running_job_id": holder}

    try:
        _update_meta(job, state=STATE_CHECKING, folder=None, examined=0, to_examine=None, documents=0)
        result = mail_check.run_check(
            server_id, trigger=trigger, user_id=user_id, job_id=job_id, progress=_progress_writer(job)
        )
    except LookupError:  # the server was deleted after the job was queued: nothing to check, ever
        _update_meta(job, state=STATE_FAILED, error_code="server_missing", error_message=None)
        return {"outcome": OUTCOME_FAILED, "error_code": "server_missing"}
    finally:
        lock.release()

    summary = {
        "check_id": result.check_id,
        "outcome": result.outcome,
        "error_code": result.error_code,
        "error_message": result.error_message,
    }
    if result.outcome == OUTCOME_FAILED:
        if result.transient and job is not None and job.should_retry:
            _update_meta(job, state=STATE_QUEUED, **summary)
            raise TransientCheckFailure(result.error_code, result.error_message)
        _update_meta(job, state=STATE_FAILED, **summary)
        if result.transient:  # no retries left: the job fails, visibly, in rq's failed registry too
            raise TransientCheckFailure(result.error_code, result.error_message)
        return summary
    _update_meta(job, state=STATE_DONE, **summary)
    return summary


def _progress_writer(job: Job | None) -> Callable[[dict], None]:
    def write(update: dict) -> None:
        _update_meta(job, **{key: value for key, value in update.items() if key != "state"})

    return write


def _update_meta(job: Job | None, **values) -> None:
    if job is None:
        return
    job.meta.update(values)
    job.save_meta()


# --- one check per server at a time ---------------------------------------------------------------


# Lock holders that are not RQ jobs: ``flask --app wsgi fetch`` in a terminal.
CLI_HOLDER_PREFIX = "cli-"


class ServerLock:
    """The per-server run lock: non-blocking, holding the job id, expiring shortly after the job timeout.

    A lock left by a job that can no longer be running (it ended, vanished, or is this very job tried
    again after its worker was killed) is taken over; otherwise ``acquire`` reports who holds it.
    """

    def __init__(self, connection: redis.Redis, server_id: int, job_id: str, timeout: int):
        self.connection = connection
        self.key = server_lock_key(server_id)
        self.job_id = job_id
        self._lock = connection.lock(self.key, timeout=lock_seconds(timeout), blocking=False)

    def acquire(self) -> str | None:
        """None when acquired, else the id of the job holding the lock."""
        holder = None
        for _ in range(3):
            if self._lock.acquire(token=self.job_id):
                return None
            value = self.connection.get(self.key)
            if value is None:
                continue  # released or expired just now
            holder = value.decode()
            if holder != self.job_id and self._holder_alive(holder):
                return holder
            self._break(holder)
        return holder or "unknown"

    def release(self) -> None:
        try:
            self._lock.release()
        except LockNotOwnedError:  # expired, and perhaps taken by another job: not ours to delete
            log.warning("Lock %s was no longer held by job %s", self.key, self.job_id)

    def _holder_alive(self, holder: str) -> bool:
        if holder.startswith(CLI_HOLDER_PREFIX):
            return True  # a foreground `flask fetch`: no job to ask; its lock expires if it dies
        job = _fetch(holder, self.connection)
        return (
            job is not None and job.get_status(refresh=True) == JobStatus.STARTED and not _is_abandoned(job)
        )

    def _break(self, holder: str) -> None:
        """Delete the lock only if ``holder`` still has it."""
        with self.connection.pipeline() as pipe:
            try:
                pipe.watch(self.key)
                if pipe.get(self.key) == holder.encode():
                    pipe.multi()
                    pipe.delete(self.key)
                    pipe.execute()
                    log.warning("Took over lock %s left by job %s", self.key, holder)
            except WatchError:
                pass


# --- workers --------------------------------------------------------------------------------------


class _AppContextMixin:
    """Runs every job inside the app context (the job itself never builds an app)."""

    app: Flask

    def perform_job(self, job: Job, queue: Queue) -> bool:
        with self.app.app_context():
            try:
                return super().perform_job(job, queue)
            finally:
                db.session.remove()


class AppWorker(_AppContextMixin, Worker):
    """rq's forking worker: each job in a work-horse process, killed by the worker if it overruns."""

    def __init__(self, *args, app: Flask, **kwargs):
        self.app = app
        super().__init__(*args, **kwargs)

    def main_work_horse(self, job: Job, queue: Queue):
        # Pooled database connections must not be shared with the parent across fork().
        with self.app.app_context():
            db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)


class AppSimpleWorker(_AppContextMixin, SimpleWorker):
    """The same without fork (the tests run jobs in-process with it)."""

    def __init__(self, *args, app: Flask, **kwargs):
        self.app = app
        super().__init__(*args, **kwargs)


def make_worker(app: Flask, *, simple: bool = False, connection: redis.Redis | None = None, **kwargs):
    """A worker on the project's queues for ``app`` (its EKPANEL_REDIS_URL unless ``connection``)."""
    connection = connection or redis.Redis.from_url(app.config["REDIS_URL"])
    queues = [Queue(name, connection=connection) for name in QUEUES]
    worker_class = AppSimpleWorker if simple else AppWorker
    return worker_class(queues, connection=connection, app=app, **kwargs)
