"""The clock: when checks are due (across DST, whatever the host's TZ) and each slot enqueued once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rq import Queue

from ekpanel.checks.keys import CHECK_QUEUE, slot_job_id
from ekpanel.checks.queue import enqueue_slot_checks
from ekpanel.clock import current_slot, next_check_time
from tests.factories import make_company, make_imap_server
from tests.support.check_jobs import PROJECT_DIR, process_env, start_process, stop_process, wait_for

WAW = ZoneInfo("Europe/Warsaw")
TIMES = "05:00,12:00,14:00"

# Run in a fresh interpreter under the given TZ: the host's zone must not leak into the schedule.
NEXT_FIRES = """
import json, sys
from datetime import datetime
from zoneinfo import ZoneInfo
from ekpanel.clock import next_check_time
start = datetime.fromisoformat(sys.argv[1]).replace(tzinfo=ZoneInfo("Europe/Warsaw"))
fires = []
for _ in range(4):
    start = next_check_time("05:00,12:00,14:00", "Europe/Warsaw", start)
    fires.append([start.isoformat(), start.astimezone(ZoneInfo("UTC")).isoformat()])
print(json.dumps(fires))
"""


def next_fires_under_tz(tz: str, start: str) -> list[list[str]]:
    env = {**os.environ, "TZ": tz}
    out = subprocess.run(
        [sys.executable, "-c", NEXT_FIRES, start], env=env, cwd=PROJECT_DIR, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("host_tz", ["UTC", "America/New_York", "Europe/Warsaw"])
def test_next_check_after_the_spring_change_is_5_local_summer_time(host_tz):
    fires = next_fires_under_tz(host_tz, "2026-03-28T23:00")
    assert fires == [
        ["2026-03-29T05:00:00+02:00", "2026-03-29T03:00:00+00:00"],
        ["2026-03-29T12:00:00+02:00", "2026-03-29T10:00:00+00:00"],
        ["2026-03-29T14:00:00+02:00", "2026-03-29T12:00:00+00:00"],
        ["2026-03-30T05:00:00+02:00", "2026-03-30T03:00:00+00:00"],
    ]


@pytest.mark.parametrize("host_tz", ["UTC", "America/New_York", "Europe/Warsaw"])
def test_next_check_after_the_autumn_change_is_5_local_winter_time(host_tz):
    fires = next_fires_under_tz(host_tz, "2026-10-24T23:00")
    assert fires == [
        ["2026-10-25T05:00:00+01:00", "2026-10-25T04:00:00+00:00"],
        ["2026-10-25T12:00:00+01:00", "2026-10-25T11:00:00+00:00"],
        ["2026-10-25T14:00:00+01:00", "2026-10-25T13:00:00+00:00"],
        ["2026-10-26T05:00:00+01:00", "2026-10-26T04:00:00+00:00"],
    ]


def test_next_check_reads_a_naive_time_as_utc():
    # 2026-03-29 03:30 UTC is 05:30 CEST: the 05:00 check has passed, the next is 12:00.
    assert next_check_time(TIMES, "Europe/Warsaw", datetime(2026, 3, 29, 3, 30)) == datetime(
        2026, 3, 29, 12, 0, tzinfo=WAW
    )


def test_next_check_at_a_slot_is_the_following_slot():
    at_slot = datetime(2026, 11, 24, 12, 0, tzinfo=WAW)
    assert next_check_time(TIMES, "Europe/Warsaw", at_slot) == datetime(2026, 11, 24, 14, 0, tzinfo=WAW)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 29, 5, 0, 0, tzinfo=WAW), datetime(2026, 3, 29, 5, 0, tzinfo=WAW)),
        (datetime(2026, 3, 29, 5, 59, tzinfo=WAW), datetime(2026, 3, 29, 5, 0, tzinfo=WAW)),
        (datetime(2026, 3, 29, 6, 1, tzinfo=WAW), None),  # older than the misfire window
        (datetime(2026, 3, 29, 4, 59, tzinfo=WAW), None),
    ],
)
def test_current_slot_is_the_slot_within_the_misfire_window(now, expected):
    assert current_slot(TIMES, "Europe/Warsaw", now, timedelta(minutes=60)) == expected


def test_current_slot_is_the_latest_of_several_in_the_window():
    now = datetime(2026, 11, 24, 14, 30, tzinfo=WAW)
    slot = current_slot(TIMES, "Europe/Warsaw", now, timedelta(hours=3))
    assert slot == datetime(2026, 11, 24, 14, 0, tzinfo=WAW)


# --- enqueueing a slot ----------------------------------------------------------------------------


@pytest.fixture
def clock_app(sqlite_app, redis_url, redis_conn):
    sqlite_app.config.update(REDIS_URL=redis_url, CHECK_TIMES=TIMES, TIMEZONE="Europe/Warsaw")
    return sqlite_app


def queued_ids(conn) -> list[str]:
    return Queue(CHECK_QUEUE, connection=conn).get_job_ids()


def test_slot_enqueues_enabled_servers_of_active_companies_only(app, redis_url, redis_conn):
    # `app`: the server query runs on SQLite and PostgreSQL.
    app.config.update(REDIS_URL=redis_url, CHECK_TIMES=TIMES, TIMEZONE="Europe/Warsaw")
    checked = make_imap_server()
    disabled = make_imap_server(active=False)
    of_inactive_company = make_imap_server(make_company(active=False))
    at_five = datetime(2026, 3, 29, 5, 0, 3, tzinfo=WAW)

    enqueued = enqueue_slot_checks(at_five, redis_conn)

    slot = datetime(2026, 3, 29, 5, 0, tzinfo=WAW)
    assert [(server_id, created) for server_id, _job, created in enqueued] == [(checked.id, True)]
    assert queued_ids(redis_conn) == [slot_job_id(checked.id, slot)]
    assert slot_job_id(checked.id, slot) == f"check-{checked.id}-slot-20260329T0300Z"
    assert disabled.id not in [s for s, _j, _c in enqueued]
    assert of_inactive_company.id not in [s for s, _j, _c in enqueued]


def test_two_clocks_firing_the_same_slot_enqueue_it_once(clock_app, redis_conn):
    servers = [make_imap_server() for _ in range(3)]
    at_five = datetime(2026, 3, 29, 5, 0, 1, tzinfo=WAW)
    barrier = threading.Barrier(2)
    results: list[list] = []

    def clock():
        with clock_app.app_context():
            barrier.wait()
            results.append(enqueue_slot_checks(at_five))

    threads = [threading.Thread(target=clock) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    created = sorted(server_id for run in results for server_id, _job, was_created in run if was_created)
    assert created == sorted(server.id for server in servers)
    assert len(queued_ids(redis_conn)) == 3
    # Both clocks name the same job for each server.
    assert {(s, j.id) for s, j, _c in results[0]} == {(s, j.id) for s, j, _c in results[1]}


def test_catch_up_after_the_slot_ran_adds_nothing(clock_app, redis_conn):
    server = make_imap_server()
    enqueue_slot_checks(datetime(2026, 3, 29, 5, 0, 1, tzinfo=WAW), redis_conn)
    Queue(CHECK_QUEUE, connection=redis_conn).empty()  # as if a worker had taken and finished it

    late = enqueue_slot_checks(datetime(2026, 3, 29, 5, 40, tzinfo=WAW), redis_conn)

    assert [(s, created) for s, _j, created in late] == [(server.id, False)]
    assert queued_ids(redis_conn) == []


def test_no_slot_outside_the_misfire_window(clock_app, redis_conn):
    make_imap_server()
    assert enqueue_slot_checks(datetime(2026, 3, 29, 9, 0, tzinfo=WAW), redis_conn) == []
    assert queued_ids(redis_conn) == []


def test_the_next_slot_is_enqueued_again(clock_app, redis_conn):
    server = make_imap_server()
    enqueue_slot_checks(datetime(2026, 3, 29, 5, 0, 1, tzinfo=WAW), redis_conn)
    Queue(CHECK_QUEUE, connection=redis_conn).empty()
    redis_conn.delete(f"ekpanel:check:server:{server.id}:job")  # its job ended and expired

    noon = enqueue_slot_checks(datetime(2026, 3, 29, 12, 0, 1, tzinfo=WAW), redis_conn)

    assert [(s, created) for s, _j, created in noon] == [(server.id, True)]
    assert queued_ids(redis_conn) == [slot_job_id(server.id, datetime(2026, 3, 29, 12, 0, tzinfo=WAW))]


def test_two_clock_processes_started_after_a_missed_slot_enqueue_it_once(sqlite_app, redis_url, redis_conn):
    """Real schedule.py processes: both catch up the slot at start, one job per server results."""
    servers = [make_imap_server() for _ in range(2)]
    # A slot 5 minutes ago, in the office's zone: within the misfire window.
    slot = datetime.now(WAW).replace(second=0, microsecond=0) - timedelta(minutes=5)
    env = process_env(sqlite_app, redis_url, EKPANEL_CHECK_TIMES=f"{slot:%H:%M}")
    clocks = [start_process([sys.executable, "schedule.py"], env) for _ in range(2)]
    try:
        for clock in clocks:
            wait_for(lambda clock=clock: clock.output().count("Slot ") >= len(servers), clock.output)
    finally:
        for clock in clocks:
            stop_process(clock)

    expected = sorted(slot_job_id(server.id, slot) for server in servers)
    assert sorted(queued_ids(redis_conn)) == expected
    logs = "".join(clock.output() for clock in clocks)
    assert logs.count("enqueued check of server") == len(servers)
    assert logs.count("nothing added") == len(servers)
    assert slot.astimezone(UTC).strftime("%Y%m%dT%H%MZ") in logs
