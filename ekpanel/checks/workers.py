"""The RQ workers: every job inside the app context, the database pool never shared across fork()."""

from __future__ import annotations

import redis
from flask import Flask
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from sqlalchemy.orm import configure_mappers

from ekpanel.checks.keys import QUEUES
from ekpanel.checks.runner import AppContextPerformer, WarmWorker
from ekpanel.extensions import db


class AppWorker(AppContextPerformer, Worker):
    """rq's forking worker: each job in a fresh work-horse (``EKPANEL_WORKER_THREADS=0``)."""

    def __init__(self, *args, app: Flask, **kwargs):
        self.app = app
        super().__init__(*args, **kwargs)

    def main_work_horse(self, job: Job, queue: Queue):
        # Pooled database connections must not be shared with the parent across fork().
        with self.app.app_context():
            db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)


class AppSimpleWorker(AppContextPerformer, SimpleWorker):
    """The same without fork (the tests run jobs in-process with it)."""

    def __init__(self, *args, app: Flask, **kwargs):
        self.app = app
        super().__init__(*args, **kwargs)


def make_worker(
    app: Flask,
    *,
    simple: bool = False,
    connection: redis.Redis | None = None,
    threads: int | None = None,
    **kwargs,
):
    """A worker on the project's queues for ``app`` (its EKPANEL_REDIS_URL unless ``connection``).

    worker.py's: the warm worker (``ekpanel.checks.runner``), ``threads`` jobs at a time
    (EKPANEL_WORKER_THREADS unless given); with 0, rq's forking worker, one job at a time.
    """
    connection = connection or redis.Redis.from_url(app.config["REDIS_URL"])
    with app.app_context():
        # Once here, not in every job: the mappers are configured before the fork.
        configure_mappers()
    queues = [Queue(name, connection=connection) for name in QUEUES]
    threads = app.config["WORKER_THREADS"] if threads is None else threads
    if simple:
        return AppSimpleWorker(queues, connection=connection, app=app, **kwargs)
    if threads > 0:
        return WarmWorker(queues, connection=connection, app=app, threads=threads, **kwargs)
    return AppWorker(queues, connection=connection, app=app, **kwargs)
