"""What a check job is doing, for the page that polls it: kept in the job's ``meta`` in Redis.

A running check reports a :class:`RunProgress` (its counts so far); the job adds its state and, at
the end, its result. :func:`job_progress` reads both back as one :class:`JobProgress`. Progress is
best effort: the check's record of truth is its Check row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from ekpanel.checks.counts import CheckCounts
from ekpanel.checks.lock import is_abandoned
from ekpanel.mail.vocabulary import ErrorCode

# What the page shows, in job.meta["state"].
STATE_QUEUED = "queued"  # waiting for a worker (also between retries)
STATE_CHECKING = "checking"
STATE_DONE = "done"  # the check ran; outcome "ok" or "partial"
STATE_FAILED = "failed"  # the check failed for good (or the job died)
STATE_ALREADY_RUNNING = "already_running"  # another job was checking this server; this one ended at once
FINAL_STATES = frozenset({STATE_DONE, STATE_FAILED, STATE_ALREADY_RUNNING})


@dataclass
class RunProgress:
    """A running check's progress: the folder it reads, how many messages it has to examine, its counts."""

    folder: str | None = None
    to_examine: int | None = None
    stored: int = 0  # PDFs of the current batch on disk, their documents not yet committed
    counts: CheckCounts = field(default_factory=CheckCounts)

    @property
    def documents(self) -> int:
        """Documents so far: stored PDFs count at once; their commit (or duplicate) settles at batch end."""
        return self.counts.documents + self.stored

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "to_examine": self.to_examine,
            "stored": self.stored,
            "counts": self.counts.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RunProgress:
        data = data or {}
        return cls(
            folder=data.get("folder"),
            to_examine=data.get("to_examine"),
            stored=int(data.get("stored") or 0),
            counts=CheckCounts.from_json(data.get("counts")),
        )


@dataclass
class JobProgress:
    """What the page shows about one check job. ``state`` is None once the job has expired."""

    job_id: str | None = None
    state: str | None = None
    finished: bool = False  # the page can stop polling
    retrying: bool = False  # a transient failure waits to be tried again
    retries_left: int | None = None
    server_id: int | None = None
    trigger: str | None = None
    user_id: int | None = None
    slot: str | None = None
    run: RunProgress = field(default_factory=RunProgress)
    # the result, once the check ended
    check_id: int | None = None
    outcome: str | None = None
    error_code: str | None = None
    error_note: dict[str, Any] | None = None
    running_job_id: str | None = None  # state already_running: the job that was checking the server


# job.meta keys that JobProgress takes as they stand.
_META_FIELDS = (
    "state",
    "server_id",
    "trigger",
    "user_id",
    "slot",
    "check_id",
    "outcome",
    "error_code",
    "error_note",
    "running_job_id",
)


def job_progress(job: Job | None) -> JobProgress:
    """Read a check job's progress and result back from Redis."""
    progress = JobProgress()
    if job is None:
        return progress
    progress.job_id = job.id
    try:
        job.refresh()
    except NoSuchJobError:  # expired: a day after it ended
        progress.finished = True
        return progress
    for name in _META_FIELDS:
        setattr(progress, name, job.meta.get(name))
    progress.run = RunProgress.from_json(job.meta.get("progress"))
    progress.retries_left = job.retries_left
    status = job.get_status(refresh=False)
    if status == JobStatus.SCHEDULED:  # waiting for a retry
        progress.state, progress.retrying = STATE_QUEUED, True
    elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED) or (
        status == JobStatus.STARTED and is_abandoned(job)
    ):
        progress.state = STATE_FAILED
        progress.error_code = progress.error_code or ErrorCode.JOB_FAILED
    elif status == JobStatus.FINISHED and progress.state not in FINAL_STATES:
        progress.state = STATE_DONE
    elif progress.state is None:
        progress.state = STATE_CHECKING if status == JobStatus.STARTED else STATE_QUEUED
    progress.finished = progress.state in FINAL_STATES
    return progress


def update_meta(job: Job | None, **values: Any) -> None:
    """Write into the job's meta; nothing without a job (a check run from the CLI or a test)."""
    if job is None:
        return
    job.meta.update(values)
    job.save_meta()
