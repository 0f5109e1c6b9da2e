"""The clock: enqueues a check of every enabled server of every active company at EKPANEL_CHECK_TIMES.

    .venv/bin/python schedule.py

Wall-clock times in EKPANEL_TIMEZONE (default 05:00, 12:00 and 14:00 Europe/Warsaw), correct across
daylight-saving changes: the trigger is ekpanel.clock.check_trigger, the one the panel shows the next
check from. It only enqueues; worker.py runs the checks. Two clocks running at once (a deploy overlap)
enqueue each slot once, and a slot missed while the clock was down is run once if it comes back within
EKPANEL_MISFIRE_MINUTES. Once a day it also drops audit-log entries older than EKPANEL_AUDIT_DAYS, and,
with alerts on, enqueues the day's alerts at EKPANEL_DIGEST_TIME and their sweep every few minutes.
"""

from __future__ import annotations

import logging
import signal
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from ekpanel import create_app
from ekpanel.alerts.jobs import SWEEP_MINUTES
from ekpanel.alerts.settings import problems as alert_problems
from ekpanel.checks.queue import enqueue_slot_checks
from ekpanel.clock import check_trigger, next_check_time

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
log = logging.getLogger("ekpanel.clock")


def run_slot(app: Flask) -> None:
    """Enqueue the current slot (if any) and log what was enqueued."""
    from ekpanel.extensions import db

    with app.app_context():
        zone = ZoneInfo(app.config["TIMEZONE"])
        try:
            enqueued = enqueue_slot_checks(datetime.now(zone))
        except Exception:
            # Redis or the database away for a moment must not stop the clock; the slot's grace
            # window lets the catch-up at the next start (or the next slot) still run.
            log.exception("Could not enqueue the slot's checks")
            return
        finally:
            db.session.remove()
        for server_id, job, created in enqueued:
            slot = job.meta.get("slot") if job.meta else None
            if created:
                log.info("Slot %s: enqueued check of server %s as job %s", slot, server_id, job.id)
            else:
                log.info("Slot %s: server %s already has job %s, nothing added", slot, server_id, job.id)
        if not enqueued:
            log.info("No slot due now, or no enabled server of an active company")


def prune_audit_log(app: Flask) -> None:
    """Keep Dziennik zmian for EKPANEL_AUDIT_DAYS (default two years), no longer."""
    from ekpanel import audit
    from ekpanel.extensions import db

    with app.app_context():
        try:
            removed = audit.prune(app.config["AUDIT_DAYS"])
            db.session.commit()
        except Exception:
            log.exception("Could not prune the audit log; the next day tries again")
            return
        finally:
            db.session.remove()
        log.info("Audit log: removed %s entries older than %s days", removed, app.config["AUDIT_DAYS"])


def enqueue_alerts(app: Flask, *, daily: bool) -> None:
    """The alerts' clock work: the day's events at EKPANEL_DIGEST_TIME, and the sweep every few minutes."""
    from ekpanel.alerts.jobs import enqueue_daily, enqueue_sweep
    from ekpanel.extensions import db

    with app.app_context():
        try:
            if daily:
                job_id = enqueue_daily(datetime.now(ZoneInfo(app.config["TIMEZONE"])))
                if job_id:
                    log.info("Alerts: the day's events enqueued as job %s", job_id)
            else:
                enqueue_sweep()
        except Exception:
            # Redis away: the day's job is caught up within the misfire window, the sweep runs again soon.
            log.exception("Could not enqueue the alerts' work")
        finally:
            db.session.remove()


def main() -> int:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format=LOG_FORMAT)
    app = create_app()
    config = app.config
    zone = ZoneInfo(config["TIMEZONE"])
    misfire = int(config["MISFIRE_MINUTES"]) * 60
    trigger = check_trigger(config["CHECK_TIMES"], config["TIMEZONE"])

    scheduler = BackgroundScheduler(timezone=zone)
    scheduler.add_job(
        run_slot,
        trigger,
        args=[app],
        id="check-slot",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=misfire,
    )
    # At night, away from the check slots; a day missed is caught up by the next.
    scheduler.add_job(
        prune_audit_log,
        CronTrigger(hour=3, minute=30, timezone=zone),
        args=[app],
        id="audit-prune",
        coalesce=True,
        max_instances=1,
    )

    # Alerts (when EKPANEL_SMTP_URL and the rest are set): the day's events at the digest time, DST-safe
    # like the checks; a sweep every few minutes for what a lost job or a killed worker left.
    missing = alert_problems(config)
    if not missing:
        scheduler.add_job(
            enqueue_alerts,
            check_trigger(config["DIGEST_TIME"], config["TIMEZONE"]),
            args=[app],
            kwargs={"daily": True},
            id="alerts-daily",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=misfire,
        )
        scheduler.add_job(
            enqueue_alerts,
            IntervalTrigger(minutes=SWEEP_MINUTES),
            args=[app],
            kwargs={"daily": False},
            id="alerts-sweep",
            coalesce=True,
            max_instances=1,
        )
    else:
        log.info("Alerts by e-mail are off: %s not set or not valid", ", ".join(missing))

    # SIGINT and SIGTERM are taken by the main thread alone, synchronously (sigwait below). With
    # asynchronous handlers, an idle thread of the scheduler's pool may take the signal and the main
    # thread sleeps on until the next slot; blocked here, before any thread starts, every thread
    # inherits the block. A second signal (Ctrl-C, then scripts/run's SIGTERM) is simply never read.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    log.info(
        "Clock started: checks at %s %s; next at %s",
        config["CHECK_TIMES"],
        config["TIMEZONE"],
        next_check_time(config["CHECK_TIMES"], config["TIMEZONE"]).isoformat(),
    )
    run_slot(app)  # catch up a slot missed while the clock was down (the claims make this safe)
    if not missing:
        enqueue_alerts(app, daily=True)  # the same for the day's alerts (their keys make it safe)
    scheduler.start()
    received = signal.sigwait(stop_signals)
    log.info("Clock stopping (%s)", signal.Signals(received).name)
    scheduler.shutdown(wait=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
