"""The job a worker runs: one server's check under its lock, with progress; retried when transient."""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.exceptions import RedisError
from rq import get_current_job
from rq.job import Job

from ekpanel.checks import run
from ekpanel.checks.keys import job_timeout, new_job_id, redis_connection
from ekpanel.checks.lock import ServerLock
from ekpanel.checks.progress import (
    STATE_ALREADY_RUNNING,
    STATE_CHECKING,
    STATE_DONE,
    STATE_FAILED,
    STATE_QUEUED,
    RunProgress,
    update_meta,
)
from ekpanel.checks.queue import enqueue_alert_evaluation
from ekpanel.mail.vocabulary import ErrorCode, Outcome

log = logging.getLogger(__name__)


class TransientCheckFailure(Exception):
    """A failure that may pass later (connection refused, timeout, throttled): rq tries the job again."""

    def __init__(self, code: str | None, text: str | None):
        super().__init__(f"{code}: {text}")
        self.code = code


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
        update_meta(job, state=STATE_ALREADY_RUNNING, running_job_id=holder)
        return {"already_running": True, "running_job_id": holder}

    try:
        update_meta(job, state=STATE_CHECKING, progress=RunProgress().to_json())
        result = run.run_check(
            server_id,
            trigger=trigger,
            user_id=user_id,
            job_id=job_id,
            progress=_progress_writer(job),
            keep_going=lock.reassert,
            close_left_running=True,  # the lock is ours: a check still marked running is dead
        )
    except LookupError:  # the server was deleted after the job was queued: nothing to check, ever
        update_meta(job, state=STATE_FAILED, error_code=ErrorCode.SERVER_MISSING, error_note=None)
        return {"outcome": Outcome.FAILED, "error_code": ErrorCode.SERVER_MISSING}
    finally:
        lock.release()
    if not (result.outcome == Outcome.FAILED and result.transient and job is not None and job.should_retry):
        enqueue_alert_evaluation(server_id, connection)  # a check that is final: tell people if need be

    summary = {
        "check_id": result.check_id,
        "outcome": result.outcome,
        "error_code": result.error_code,
        "error_note": result.error.to_json() if result.error else None,
    }
    failure_text = result.error.polish() if result.error else None
    if result.outcome == Outcome.FAILED:
        if result.transient and job is not None and job.should_retry:
            update_meta(job, state=STATE_QUEUED, **summary)
            raise TransientCheckFailure(result.error_code, failure_text)
        update_meta(job, state=STATE_FAILED, **summary)
        if result.transient:  # no retries left: the job fails, visibly, in rq's failed registry too
            raise TransientCheckFailure(result.error_code, failure_text)
        return summary
    update_meta(job, state=STATE_DONE, **summary)
    return summary


def _progress_writer(job: Job | None) -> Callable[[RunProgress], None]:
    def write(progress: RunProgress) -> None:
        # Best effort: Redis gone for a moment must not fail a check whose mail server and database are fine.
        try:
            update_meta(job, progress=progress.to_json())
        except RedisError as error:
            log.warning("Progress of job %s not saved: %r", job.id if job else None, error)

    return write
