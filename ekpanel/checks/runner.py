"""The warm worker: an RQ worker whose work-horse is forked once and runs several jobs at a time.

rq's own worker forks a fresh work-horse for every job. A check of a quiet mailbox then costs more
in the fork and in a cold database layer (statements compiled again, a new connection) than in the
check itself, and while it waits for a remote mail server the worker does nothing else. Here:

    worker (the process worker.py runs)          work-horse (forked once, lives on)
    - registered in Redis, heartbeats,      -->  ``EKPANEL_WORKER_THREADS`` threads, each running one
      rq's scheduler and maintenance             job at a time with rq's own ``perform_job`` (status,
    - takes a job while a thread is free,        result, retries; the job timeout raised in its
      sends its id down a pipe                   thread), in an app context of its own, on a warm
    - keeps each running job's heartbeat    <--  database pool; answers "done" per job
    - a job past its timeout by a minute: kills the horse (as rq does), fails or retries its jobs,
      forks another; so does a horse that dies

What rq's worker promises still holds: a worker killed with SIGKILL leaves its jobs "started" until
its registration, renewed every 30 s with a 90 s lifetime while jobs run, expires (``lock.is_abandoned``);
a horse killed alone has its jobs failed or retried at once. The first SIGTERM or SIGINT takes no
more jobs and ends once the running ones have; a second one kills the horse, which is safe
(``ekpanel.checks.run``: every message is taken exactly once on the next run). A horse whose
worker is gone finishes what it runs and exits.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection

import redis
from flask import Flask
from rq import Queue
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import DequeueTimeout, InvalidJobOperation, StopRequested
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.suspension import is_suspended
from rq.timeouts import TimerDeathPenalty
from rq.utils import now
from rq.worker import BaseWorker, WorkerStatus

from ekpanel.checks.keys import SCHEDULED_QUEUES
from ekpanel.extensions import db

log = logging.getLogger(__name__)

# rq kills a work-horse this long after its job's timeout (the job's own timeout came first).
OVERRUN_GRACE_SECONDS = 60
# While jobs run, the loop looks at the horse at least this often.
TEND_SECONDS = 1.0


@dataclass
class _Running:
    job: Job
    queue: Queue
    execution: Execution
    started: float  # time.monotonic()


class AppContextPerformer:
    """Runs every job inside an app context of its own (the job itself never builds an app)."""

    app: Flask

    def perform_job(self, job: Job, queue: Queue) -> bool:
        with self.app.app_context():
            try:
                return super().perform_job(job, queue)  # type: ignore[misc]
            finally:
                db.session.remove()


class WarmWorker(BaseWorker):
    """The worker process: takes jobs for its horse's threads, keeps them alive, replaces a dead horse."""

    def __init__(self, *args, app: Flask, threads: int, **kwargs):
        self.app = app
        self.threads = max(1, threads)
        self.running: dict[str, _Running] = {}
        self._horse: _Horse | None = None
        self._last_job_heartbeat = 0.0
        super().__init__(*args, **kwargs)

    # -- rq's hooks ----------------------------------------------------------------------------

    @property
    def horse_pid(self) -> int:
        return self._horse.pid if self._horse is not None else 0

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self._horse is not None:
            self._horse.kill(sig)

    def wait_for_horse(self):
        if self._horse is not None:
            return self._horse.reap(block=True)
        return None, None, None

    def _start_scheduler(self, burst: bool = False, logging_level: str | None = "INFO", *args) -> None:
        """rq's scheduler, for the queues that have jobs waiting for their time (retries, delayed
        alerts): the checks' queue. The reading of documents is never delayed."""
        queues = self.queues
        self.queues = [queue for queue in queues if queue.name in SCHEDULED_QUEUES]
        try:
            super()._start_scheduler(burst, logging_level, *args)
        finally:
            self.queues = queues

    def _shutdown(self) -> None:
        """The first SIGTERM/SIGINT: no more jobs; when none runs, stop now (even mid-dequeue)."""
        self._stop_requested = True
        if self.scheduler:
            self.stop_scheduler()
        if not self.running:
            raise StopRequested()
        self.log.info("Worker %s: %d job(s) running; stopping once they end", self.name, len(self.running))

    # -- the loop ------------------------------------------------------------------------------

    def work(
        self, burst: bool = False, logging_level: str | None = "INFO", with_scheduler: bool = False, **_
    ):
        """Take and run jobs until stopped (``burst``: until the queues are empty and nothing runs)."""
        self._horse = _Horse.fork(self)  # before bootstrap starts a thread: a clean fork
        self.bootstrap(logging_level, DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT)
        if with_scheduler:
            self._start_scheduler(burst, logging_level)
        self._install_signal_handlers()
        worked = False
        try:
            while not self._stop_requested:
                if not self.running:
                    self.check_for_suspension(burst)
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()
                self._tend()
                if self._stop_requested:
                    break
                if len(self.running) >= self.threads or is_suspended(self.connection, self):
                    self._horse.wait(TEND_SECONDS)
                    continue
                taken = self._dequeue(
                    None if burst else TEND_SECONDS if self.running else self.dequeue_timeout
                )
                if taken is not None:
                    self._start(*taken)
                    worked = True
                elif burst:
                    if not self.running:
                        break
                    self._horse.wait(TEND_SECONDS)  # a running job may still queue another
        except StopRequested:
            pass
        finally:
            self._end_running()
            self._horse.close()
            self._horse.wait_for_exit(5.0)
            self.teardown()
        return worked

    def _dequeue(self, timeout: int | float | None) -> tuple[Job, Queue] | None:
        if not self.running:
            self.set_state(WorkerStatus.IDLE)
            self.heartbeat()
        try:
            return self.queue_class.dequeue_any(
                self._ordered_queues,
                None if timeout is None else max(1, round(timeout)),
                connection=self.connection,
                job_class=self.job_class,
                serializer=self.serializer,
                death_penalty_class=self.death_penalty_class,
            )
        except DequeueTimeout:
            return None
        except redis.exceptions.ConnectionError as error:
            self.log.error("Worker %s: Redis unreachable (%s), trying again in a second", self.name, error)
            time.sleep(1)
            return None

    def _start(self, job: Job, queue: Queue) -> None:
        self.log.info("Worker %s: %s: %s (%s)", self.name, queue.name, job.description, job.id)
        execution = self.prepare_execution(job)  # rq's: the started registry, the worker busy
        self.running[job.id] = _Running(job, queue, execution, time.monotonic())
        self._horse.send(job.id, queue.name, execution.id)

    def _tend(self) -> None:
        """Jobs ended, a horse dead or overrunning, heartbeats due."""
        for job_id in self._horse.ended():
            self.running.pop(job_id, None)
        if not self._horse.alive():
            self._replace_horse("the work-horse died")
            return
        moment = time.monotonic()
        overrun = [
            running.job.id
            for running in self.running.values()
            if running.job.timeout not in (None, -1)
            and moment - running.started > running.job.timeout + OVERRUN_GRACE_SECONDS
        ]
        if overrun:
            self.log.warning(
                "Worker %s: job(s) %s overran their timeout; killing the horse", self.name, overrun
            )
            self._horse.kill(signal.SIGKILL)
            self._horse.reap(block=True)
            self._replace_horse(f"job(s) {', '.join(overrun)} overran the timeout; work-horse killed")
            return
        if self.running and moment - self._last_job_heartbeat >= self.job_monitoring_interval:
            self._heartbeat_running()
        if not self.running and self.get_state() == WorkerStatus.BUSY:
            self.set_state(WorkerStatus.IDLE)

    def _heartbeat_running(self) -> None:
        """What rq's worker does every 30 s for its one job, for each running job."""
        self._last_job_heartbeat = time.monotonic()
        ttl = self.job_monitoring_interval + 60
        with self.connection.pipeline() as pipeline:
            self.heartbeat(ttl, pipeline=pipeline)
            for running in self.running.values():
                running.execution.heartbeat(running.job.started_job_registry, ttl, pipeline=pipeline)
                running.job.heartbeat(now(), ttl, pipeline=pipeline, xx=True)
            pipeline.execute()

    def _replace_horse(self, reason: str) -> None:
        """Fail (or retry) the jobs of a horse that is gone, and fork another unless stopping."""
        _pid, status, _usage = self._horse.reap(block=True)
        for running in list(self.running.values()):
            self._fail_lost(running, f"Work-horse terminated unexpectedly ({reason}); wait status {status}")
        self.running.clear()
        self.execution = None
        self._horse.close()
        self._horse = _Horse.fork(self)

    def _fail_lost(self, running: _Running, exc_string: str) -> None:
        job = running.job
        try:
            if job.get_status() in (JobStatus.FINISHED, JobStatus.FAILED):
                return  # it ended just before the horse did
        except InvalidJobOperation:
            return
        job.ended_at = now()
        self.log.warning("Worker %s: job %s failed (%s)", self.name, job.id, exc_string)
        self.execution = running.execution  # rq's failure handling cleans up "the" execution
        self.handle_job_failure(job, queue=running.queue, exc_string=exc_string)

    def _end_running(self) -> None:
        """A warm stop: wait for the running jobs (their heartbeats kept). After a cold one, nothing."""
        while self.running and self._horse.alive():
            self._horse.wait(TEND_SECONDS)
            self._tend()


class _Horse:
    """The worker's side of its work-horse: the pid and the pipe."""

    def __init__(self, pid: int, pipe: Connection) -> None:
        self.pid = pid
        self.pipe = pipe
        self._ended: list[str] = []
        self._status: tuple | None = None

    @classmethod
    def fork(cls, worker: WarmWorker) -> _Horse:
        ours, theirs = Pipe()
        gc.freeze()  # what exists now stays shared with the horse instead of copied on first touch
        pid = os.fork()
        if pid == 0:
            ours.close()
            try:
                _serve(worker, theirs)
            finally:
                os._exit(0)
        theirs.close()
        worker.log.info(
            "Worker %s: work-horse %d runs up to %d jobs at a time", worker.name, pid, worker.threads
        )
        return cls(pid, ours)

    def send(self, job_id: str, queue_name: str, execution_id: str) -> None:
        with contextlib.suppress(OSError):  # a dead horse is noticed by alive()
            self.pipe.send((job_id, queue_name, execution_id))

    def wait(self, seconds: float) -> None:
        """Until the horse says something (a job ended) or ``seconds`` pass."""
        with contextlib.suppress(OSError):
            if self.pipe.poll(seconds):
                self._read()

    def ended(self) -> list[str]:
        self._read()
        ended, self._ended = self._ended, []
        return ended

    def _read(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            while self.pipe.poll(0):
                self._ended.append(self.pipe.recv())

    def alive(self) -> bool:
        return self.reap(block=False)[0] is None

    def reap(self, *, block: bool) -> tuple:
        """(None, None, None) while it runs; else (pid, wait status, rusage), once known."""
        if self._status is None:
            try:
                pid, status, usage = os.wait4(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                pid, status, usage = self.pid, None, None
            if pid == 0:
                return None, None, None
            self._status = (pid, status, usage)
        return self._status

    def wait_for_exit(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.02)

    def kill(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def close(self) -> None:
        """Let the horse go: it finishes what it runs, then exits."""
        self.pipe.close()


class _Performer(AppContextPerformer, BaseWorker):
    """rq's job execution, one per thread of the horse, under the worker's name.

    The timeout is raised in the job's own thread (TimerDeathPenalty: SIGALRM reaches only the main
    thread); a job stuck where no exception can reach it is the worker's to kill with the horse.
    """

    death_penalty_class = TimerDeathPenalty

    def __init__(self, worker: WarmWorker) -> None:
        self.app = worker.app
        super().__init__(
            worker.queues,
            name=worker.name,
            connection=worker.connection,
            default_result_ttl=worker.default_result_ttl,
            job_class=worker.job_class,
            queue_class=worker.queue_class,
            serializer=worker.serializer,
            exception_handlers=list(worker._exc_handlers),
            job_monitoring_interval=worker.job_monitoring_interval,
            prepare_for_work=False,
        )
        self._is_horse = True

    def perform(self, job_id: str, queue_name: str, execution_id: str) -> None:
        job = self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
        queue = next(queue for queue in self.queues if queue.name == queue_name)
        self.execution = Execution(execution_id, job_id, self.connection, worker_name=self.name)
        self.perform_job(job, queue)


def _serve(worker: WarmWorker, pipe: Connection) -> None:
    """The horse: run each job the worker sends on a thread, say when it ended; stop when the pipe closes."""
    os.setpgrp()  # a Ctrl-C in the terminal is the worker's to handle, not ours
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with worker.app.app_context():
        db.engine.dispose(close=False)  # the worker's pooled connections are not ours
    answering = threading.Lock()
    local = threading.local()

    def run(job_id: str, queue_name: str, execution_id: str) -> None:
        try:
            if not hasattr(local, "performer"):
                local.performer = _Performer(worker)
            local.performer.perform(job_id, queue_name, execution_id)
        except BaseException:  # rq's perform_job has handled the job's own failures; this is ours
            log.exception("Job %s could not be run", job_id)
        finally:
            with answering, contextlib.suppress(OSError):
                pipe.send(job_id)

    with ThreadPoolExecutor(worker.threads, thread_name_prefix="job") as pool:
        while True:
            try:
                job_id, queue_name, execution_id = pipe.recv()
            except (EOFError, OSError):
                break  # the worker stopped, or died: finish what runs, then exit
            pool.submit(run, job_id, queue_name, execution_id)
