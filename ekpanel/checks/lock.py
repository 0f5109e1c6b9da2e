"""One check per mail server at a time: the per-server run lock, and telling a dead job from a running one."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import redis
from redis.exceptions import LockNotOwnedError, RedisError, WatchError
from rq import Worker
from rq.job import Job, JobStatus

from ekpanel.checks.keys import fetch_job, lock_seconds, server_lock_key

log = logging.getLogger(__name__)

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

    def reassert(self) -> bool:
        """Whether this check may go on: the lock is still ours, or was lost and could be taken again.

        Redis restarted without persistence drops the lock while a check runs. The check takes it
        back if nobody else has; if another job has it, this check stops at its next batch boundary
        (documents are unique per company, message and PDF, so even then nothing is taken twice).
        When Redis cannot be asked, the check goes on: it cannot tell, and going on is safe.
        """
        try:
            holder = self.connection.get(self.key)
            if holder is not None:
                return holder.decode() == self.job_id
            return bool(self._lock.acquire(token=self.job_id))
        except RedisError as error:
            log.warning("Lock %s could not be checked: %r", self.key, error)
            return True

    def release(self) -> None:
        try:
            self._lock.release()
        except RedisError as error:  # LockNotOwnedError too
            if not isinstance(error, LockNotOwnedError):
                log.warning("Lock %s could not be released: %r", self.key, error)
                return  # expired, and perhaps taken by another job: not ours to delete
            log.warning("Lock %s was no longer held by job %s", self.key, self.job_id)

    def _holder_alive(self, holder: str) -> bool:
        if holder.startswith(CLI_HOLDER_PREFIX):
            return True  # a foreground `flask fetch`: no job to ask; its lock expires if it dies
        job = fetch_job(holder, self.connection)
        return job is not None and job.get_status(refresh=True) == JobStatus.STARTED and not is_abandoned(job)

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


def is_abandoned(job: Job) -> bool:
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
