"""After a crash: close the check rows a killed worker left "running", and its half-written PDFs.

A check commits its row as running first (ekpanel.checks.run); only the process running it closes
it. When that process is killed, whoever next finds the check dead closes the row as interrupted,
with the time it was found: the next check of the same server (it holds the server's lock, so no
other check of that server can be running), and every worker as it starts (for servers not checked
again soon). The work the dead check committed stays; the next check finishes the rest. A worker
starting also removes the temporary files of PDFs a killed check was writing.
"""

from __future__ import annotations

import logging

import redis
from rq.job import JobStatus
from sqlalchemy import bindparam, select, update

from ekpanel.checks.keys import fetch_job, lock_seconds
from ekpanel.checks.lock import is_abandoned
from ekpanel.checks.models import Check
from ekpanel.documents.storage import sweep_temporary_files
from ekpanel.extensions import db
from ekpanel.mail.vocabulary import Outcome
from ekpanel.timeutil import utcnow

log = logging.getLogger(__name__)

_CHECKS = Check.__table__
# Built once: every check starts with it.
_CLOSE_LEFT_RUNNING = (
    _CHECKS.update()
    .where(_CHECKS.c.server_id == bindparam("server"), _CHECKS.c.outcome == Outcome.RUNNING)
    .values(outcome=Outcome.INTERRUPTED)
)
_ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def close_server_checks_left_running(server_id: int) -> int:
    """Mark the server's running checks interrupted; call it only while holding the server's lock."""
    closed = mark_server_checks_left_running(server_id)
    db.session.commit()
    return closed


def mark_server_checks_left_running(server_id: int) -> int:
    """The same without the commit: the next check commits it with its own row (``run_check``)."""
    result = db.session.execute(_CLOSE_LEFT_RUNNING, {"server": server_id, "finished_at": utcnow()})
    if result.rowcount:
        log.warning(
            "Server %s: %s check(s) left running by a dead worker closed as interrupted",
            server_id,
            result.rowcount,
        )
    return result.rowcount


def recover_after_crash(connection: redis.Redis, storage_dir: str, check_timeout: int) -> None:
    """What a worker does as it starts, inside the app context."""
    close_dead_jobs_checks(connection)
    removed = sweep_temporary_files(storage_dir, older_than_seconds=lock_seconds(check_timeout))
    if removed:
        log.warning("Removed %s half-written PDF(s) left by killed checks", removed)


def close_dead_jobs_checks(connection: redis.Redis) -> int:
    """Mark interrupted every running check whose RQ job is gone, ended or abandoned (a worker starting)."""
    running = db.session.execute(
        select(Check.id, Check.job_id).where(Check.outcome == Outcome.RUNNING, Check.job_id.is_not(None))
    ).all()
    dead = []
    for check_id, job_id in running:
        job = fetch_job(job_id, connection)
        status = job.get_status(refresh=False) if job is not None else None
        if status not in _ALIVE or (status == JobStatus.STARTED and is_abandoned(job)):
            dead.append(check_id)
    if dead:
        db.session.execute(
            update(Check)
            .where(Check.id.in_(dead), Check.outcome == Outcome.RUNNING)
            .values(outcome=Outcome.INTERRUPTED, finished_at=utcnow())
        )
        db.session.commit()
        log.warning("Closed %s check(s) of dead jobs as interrupted: %s", len(dead), dead)
    return len(dead)
