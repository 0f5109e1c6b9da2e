"""The digest's time: wall-clock EKPANEL_DIGEST_TIME across DST (whatever the host's TZ), each day once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rq import Queue

from ekpanel.alerts.jobs import daily_job, enqueue_daily
from ekpanel.checks.keys import CHECK_QUEUE
from tests.factories import make_company, make_document, make_user
from tests.support.alerts import alert_config, send_due
from tests.support.check_jobs import PROJECT_DIR

WAW = ZoneInfo("Europe/Warsaw")

NEXT_DIGESTS = """
import json, sys
from datetime import datetime
from zoneinfo import ZoneInfo
from ekpanel.clock import next_check_time
start = datetime.fromisoformat(sys.argv[1]).replace(tzinfo=ZoneInfo("Europe/Warsaw"))
fires = []
for _ in range(3):
    start = next_check_time("07:00", "Europe/Warsaw", start)
    fires.append(start.astimezone(ZoneInfo("UTC")).isoformat())
print(json.dumps(fires))
"""


def next_digests_under_tz(tz: str, start: str) -> list[str]:
    env = {**os.environ, "TZ": tz}
    out = subprocess.run(
        [sys.executable, "-c", NEXT_DIGESTS, start], env=env, cwd=PROJECT_DIR, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("host_tz", ["UTC", "America/New_York", "Europe/Warsaw"])
def test_the_digest_is_at_7_local_time_on_both_sides_of_each_change(host_tz):
    assert next_digests_under_tz(host_tz, "2026-03-28T08:00") == [
        "2026-03-29T05:00:00+00:00",  # the spring change's day: 07:00 CEST
        "2026-03-30T05:00:00+00:00",
        "2026-03-31T05:00:00+00:00",
    ]
    assert next_digests_under_tz(host_tz, "2026-10-24T08:00") == [
        "2026-10-25T06:00:00+00:00",  # the autumn change's day: 07:00 CET
        "2026-10-26T06:00:00+00:00",
        "2026-10-27T06:00:00+00:00",
    ]


@pytest.fixture
def clock_app(sqlite_app, redis_url, redis_conn, smtp_server):
    sqlite_app.config.update(alert_config(smtp_server), REDIS_URL=redis_url, MISFIRE_MINUTES=60)
    return sqlite_app


def queued(conn) -> list[str]:
    return Queue(CHECK_QUEUE, connection=conn).get_job_ids()


@pytest.mark.parametrize(
    ("now", "job_id"),
    [
        (datetime(2026, 3, 29, 7, 0, 2, tzinfo=WAW), "alerts-daily-20260329T0500Z"),
        (datetime(2026, 3, 29, 7, 59, tzinfo=WAW), "alerts-daily-20260329T0500Z"),  # a clock back late
        (datetime(2026, 10, 25, 7, 0, 2, tzinfo=WAW), "alerts-daily-20261025T0600Z"),
        (datetime(2026, 3, 29, 6, 59, tzinfo=WAW), None),
        (datetime(2026, 3, 29, 8, 1, tzinfo=WAW), None),  # past the misfire window: tomorrow's then
    ],
)
def test_the_days_alerts_are_enqueued_at_the_digest_time_within_the_misfire_window(
    clock_app, redis_conn, now, job_id
):
    assert enqueue_daily(now, redis_conn) == job_id
    assert queued(redis_conn) == ([job_id] if job_id else [])


def test_two_clocks_enqueue_the_days_alerts_once(clock_app, redis_conn):
    at_seven = datetime(2026, 3, 29, 7, 0, 1, tzinfo=WAW)
    barrier = threading.Barrier(2)

    def clock():
        with clock_app.app_context():
            barrier.wait()
            enqueue_daily(at_seven)

    threads = [threading.Thread(target=clock) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert queued(redis_conn) == ["alerts-daily-20260329T0500Z"]


def test_the_digest_of_the_spring_change_day_is_sent_once_with_that_days_documents(clock_app, smtp_server):
    company = make_company("Alfa")
    make_user("operator", email="op@biuro.example", companies=[company])
    make_document(company, created_at=datetime(2026, 3, 28, 20, 0))  # 21:00 on the 28th in Warsaw
    slot = datetime(2026, 3, 29, 7, 0, tzinfo=WAW).isoformat()

    # The job twice (a retried job, or one from each of two clocks): the message once.
    assert daily_job(slot) == 1
    assert daily_job(slot) == 0
    send_due()

    assert [m.message["Subject"] for m in smtp_server.received] == ["[ekpanel] Alfa: nowe dokumenty: 1"]
    # A day of 23 hours: 07:00 CET on the 28th to 07:00 CEST on the 29th.
    assert "Nowe dokumenty od 2026-03-28 07:00 do 2026-03-29 07:00: 1." in smtp_server.received[0].text()
