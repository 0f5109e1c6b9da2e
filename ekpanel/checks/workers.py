"""The RQ workers: every job inside the app context, the database pool never shared across fork()."""

from __future__ import annotations

import redis
from flask import Flask
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from sqlalchemy.orm import configure_mappers

from ekpanel.checks.keys import QUEUES
from ekpanel.extensions import db


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
    with app.app_context():
        # Once here, not in every forked job: the mappers are configured before the fork.
        configure_mappers()
    queues = [Queue(name, connection=connection) for name in QUEUES]
    worker_class = AppSimpleWorker if simple else AppWorker
    return worker_class(queues, connection=connection, app=app, **kwargs)
