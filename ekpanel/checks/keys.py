"""Where checks live in Redis: the connection, the queue, and the keys of a server's job, lock and slots."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import redis
from flask import current_app, has_app_context
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

# The project's queues, in the order a worker serves them: a check waiting goes before the reading
# of documents taken earlier, so a slot's intake is not held up by the PDFs its first checks took.
CHECK_QUEUE = "ekpanel-checks"
DOCUMENTS_QUEUE = "ekpanel-documents"
QUEUES = (CHECK_QUEUE, DOCUMENTS_QUEUE)
# The queues whose jobs may wait for a time (the checks' retries, the alerts' delays), which rq's
# scheduler in a worker puts on them when it comes.
SCHEDULED_QUEUES = (CHECK_QUEUE,)


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


def new_job_id(server_id: int) -> str:
    return f"check-{server_id}-{uuid.uuid4().hex[:16]}"


def fetch_job(job_id: str, connection: redis.Redis) -> Job | None:
    try:
        return Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None
