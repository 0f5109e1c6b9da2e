"""The alerts' jobs, on the checks' queue: sending happens here, never in a request or in a check.

- ``evaluate_server_job``: enqueued by each check job as it ends (ekpanel.checks.queue);
- ``send_delivery_job``: one message; a failure is recorded and the job enqueued again after the
  backoff (rq's scheduler in the worker runs it);
- ``daily_job``: at EKPANEL_DIGEST_TIME, enqueued by the clock once per day (its job id is the slot);
- ``sweep_job``: every few minutes, from the clock: evaluations lost with Redis, deliveries whose
  job was lost, deliveries abandoned by a killed worker.

Enqueueing is best effort everywhere: Redis away for a moment delays an alert, the sweep sends it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import redis
from flask import current_app
from rq.exceptions import DuplicateJobError

from ekpanel.alerts import daily_events, delivery, detect
from ekpanel.alerts.models import PENDING, AlertDelivery
from ekpanel.alerts.settings import alert_settings
from ekpanel.checks.keys import check_queue, redis_connection
from ekpanel.clock import current_slot
from ekpanel.extensions import db
from ekpanel.timeutil import utcnow

log = logging.getLogger(__name__)

SEND_JOB = "ekpanel.alerts.jobs.send_delivery_job"
DAILY_JOB = "ekpanel.alerts.jobs.daily_job"
SWEEP_JOB = "ekpanel.alerts.jobs.sweep_job"
JOB_TIMEOUT = 600
RESULT_TTL = 3600
SWEEP_MINUTES = 5
# Evaluations the sweep repeats: servers checked this recently (each job normally did it already).
SWEEP_LOOKBACK = timedelta(minutes=15)
SWEEP_GRACE = timedelta(minutes=1)  # a delivery due this long without being sent lost its job


def evaluate_server_job(server_id: int) -> int:
    """Raise what the server's latest check means and send it; how many messages were queued."""
    settings = alert_settings(current_app.config)
    if settings is None:
        return 0
    ids = detect.evaluate_server(settings, server_id)
    enqueue_deliveries(ids)
    return len(ids)


def send_delivery_job(delivery_id: int) -> str | None:
    state = delivery.deliver(delivery_id)
    if state == PENDING and alert_settings(current_app.config) is not None:  # again, after its backoff
        row = db.session.get(AlertDelivery, delivery_id)
        wait = max((row.next_attempt_at - utcnow()).total_seconds(), 1)
        _enqueue_send(delivery_id, in_seconds=wait)
    return state


def daily_job(slot_iso: str) -> int:
    settings = alert_settings(current_app.config)
    if settings is None:
        return 0
    ids = daily_events.daily(settings, datetime.fromisoformat(slot_iso))
    enqueue_deliveries(ids)
    return len(ids)


def sweep_job() -> int:
    """Catch up what a lost job, a Redis restart or a killed worker left behind."""
    settings = alert_settings(current_app.config)
    if settings is None:
        return 0
    now = utcnow()
    settled = delivery.settle_abandoned(now)
    if settled:
        log.warning("Alerts: %s deliveries may or may not have been delivered (their worker died)", settled)
    due = []
    for server_id in detect.recently_checked_servers(now - SWEEP_LOOKBACK):
        due += detect.evaluate_server(settings, server_id, now)
    due += delivery.due_deliveries(utcnow(), grace=SWEEP_GRACE)
    enqueue_deliveries(sorted(set(due)))
    return len(due)


# --- enqueueing ---------------------------------------------------------------------------------


def enqueue_deliveries(ids: Iterable[int], connection: redis.Redis | None = None) -> None:
    for delivery_id in ids:
        _enqueue_send(delivery_id, connection=connection)


def _enqueue_send(delivery_id: int, *, in_seconds: float = 0, connection: redis.Redis | None = None) -> None:
    try:
        queue = check_queue(connection or redis_connection())
        options = {
            "job_timeout": JOB_TIMEOUT,
            "result_ttl": RESULT_TTL,
            "description": f"alert {delivery_id}",
        }
        if in_seconds > 0:
            queue.enqueue_in(timedelta(seconds=in_seconds), SEND_JOB, delivery_id, **options)
        else:
            queue.enqueue(SEND_JOB, delivery_id, **options)
    except redis.RedisError as error:
        log.warning("Alert delivery %s not queued (%r); the clock's sweep sends it", delivery_id, error)


def enqueue_daily(now: datetime, connection: redis.Redis | None = None) -> str | None:
    """The clock's daily work for the digest slot due now (within the misfire window); its job id."""
    config = current_app.config
    if alert_settings(config) is None:
        return None
    grace = timedelta(minutes=int(config["MISFIRE_MINUTES"]))
    slot = current_slot(config["DIGEST_TIME"], config["TIMEZONE"], now, grace)
    if slot is None:
        return None
    job_id = "alerts-daily-" + slot.astimezone(UTC).strftime("%Y%m%dT%H%MZ")  # the same from every clock
    queue = check_queue(connection or redis_connection())
    # Another clock may have enqueued this day's work already; its keys would make a second run harmless.
    with contextlib.suppress(DuplicateJobError):
        queue.enqueue(
            DAILY_JOB,
            slot.isoformat(),
            job_id=job_id,
            unique=True,
            job_timeout=JOB_TIMEOUT,
            result_ttl=RESULT_TTL,
        )
    return job_id


def enqueue_sweep(connection: redis.Redis | None = None) -> None:
    if alert_settings(current_app.config) is None:
        return
    check_queue(connection or redis_connection()).enqueue(
        SWEEP_JOB, job_timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL
    )
