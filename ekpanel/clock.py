"""When checks are due: the 05:00/12:00/14:00 schedule as one APScheduler trigger.

The clock process (schedule.py) fires on it, and the panel shows the next check from the same trigger,
so the two cannot disagree. Times are wall-clock times in EKPANEL_TIMEZONE, correct across DST changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger


def parse_check_times(value: str) -> list[tuple[int, int]]:
    """``"05:00,12:00,14:00"`` → ``[(5, 0), (12, 0), (14, 0)]``; raises ValueError on anything else."""
    times = []
    for item in value.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        hour, _, minute = item.partition(":")
        h, m = int(hour), int(minute or 0)
        if not (0 <= h < 24 and 0 <= m < 60):
            raise ValueError(f"not a time of day: {item!r}")
        times.append((h, m))
    if not times:
        raise ValueError("no check times given")
    return sorted(set(times))


def check_trigger(check_times: str, timezone: str) -> OrTrigger | CronTrigger:
    zone = ZoneInfo(timezone)
    triggers = [CronTrigger(hour=h, minute=m, timezone=zone) for h, m in parse_check_times(check_times)]
    return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)


def next_check_time(check_times: str, timezone: str, now: datetime | None = None) -> datetime:
    """The next scheduled check after ``now``, in the office's time zone.

    ``now`` is aware; a naive value is read as UTC (what the database columns hold), never as the
    host's local time.
    """
    zone = ZoneInfo(timezone)
    now = _aware(now) if now is not None else datetime.now(zone)
    return check_trigger(check_times, timezone).get_next_fire_time(None, now + timedelta(microseconds=1))


def current_slot(check_times: str, timezone: str, now: datetime, grace: timedelta) -> datetime | None:
    """The latest scheduled time at or before ``now`` and no older than ``grace``, else None.

    A clock that was down at 05:00 and is back by 05:40 (grace 60 min) still runs the 05:00 slot once.
    """
    now = _aware(now)
    trigger = check_trigger(check_times, timezone)
    slot = None
    fire = trigger.get_next_fire_time(None, now - grace)
    while fire is not None and fire <= now:  # several slots in the window: the latest one
        slot = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return slot


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
