"""The clock: enqueues a check of every enabled server of every active company at EKPANEL_CHECK_TIMES.

    .venv/bin/python schedule.py

Wall-clock times in EKPANEL_TIMEZONE (default 05:00, 12:00 and 14:00 Europe/Warsaw), correct across
daylight-saving changes: the trigger is ekpanel.clock.check_trigger, the one the panel shows the next
check from. It only enqueues; worker.py runs the checks. Two clocks running at once (a deploy overlap)
enqueue each slot once, and a slot missed while the clock was down is run once if it comes back within
EKPANEL_MISFIRE_MINUTES.
"""

from __future__ import annotations

import logging
import signal
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from ekpanel import create_app
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


def main() -> int:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format=LOG_FORMAT)
    app = create_app()
    config = app.config
    zone = ZoneInfo(config["TIMEZONE"])
    misfire = int(config["MISFIRE_MINUTES"]) * 60
    trigger = check_trigger(config["CHECK_TIMES"], config["TIMEZONE"])

    scheduler = BlockingScheduler(timezone=zone)
    scheduler.add_job(
        run_slot,
        trigger,
        args=[app],
        id="check-slot",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=misfire,
    )

    def stop(signum, frame):
        log.info("Clock stopping (signal %s)", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    log.info(
        "Clock started: checks at %s %s; next at %s",
        config["CHECK_TIMES"],
        config["TIMEZONE"],
        next_check_time(config["CHECK_TIMES"], config["TIMEZONE"]).isoformat(),
    )
    run_slot(app)  # catch up a slot missed while the clock was down (the claims make this safe)
    scheduler.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
