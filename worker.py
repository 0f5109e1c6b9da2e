"""The RQ worker: runs the checks (ekpanel.checks.job.check_server) inside the app context.

    .venv/bin/python worker.py           # until SIGTERM or Ctrl-C
    .venv/bin/python worker.py --burst   # run what is queued, then exit

EKPANEL_WORKER_THREADS checks at a time, in a work-horse forked once (ekpanel.checks.runner; the
README's "How many workers"). The scheduler component is on, so transient failures are retried after
their intervals. The first SIGTERM/SIGINT is a warm shutdown (no more jobs; the running checks end
first), a second one kills the work-horse (safe: the check takes every message exactly once on the
next run).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from ekpanel import create_app
from ekpanel.checks.recovery import recover_after_crash
from ekpanel.checks.workers import make_worker

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ekpanel's RQ worker (the checks).")
    parser.add_argument("--burst", action="store_true", help="run the queued jobs, then exit")
    args = parser.parse_args(argv)

    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format=LOG_FORMAT)
    app = create_app()
    worker = make_worker(app)
    with app.app_context():
        recover_after_crash(worker.connection, app.config["STORAGE_DIR"], int(app.config["CHECK_TIMEOUT"]))
    _stop_signals_to_the_main_thread(worker)
    worker.work(burst=args.burst, with_scheduler=True, logging_level="INFO")
    return 0


def _stop_signals_to_the_main_thread(worker) -> None:
    """Keep SIGINT and SIGTERM away from rq's pub/sub thread.

    Python runs signal handlers in the main thread only, while the kernel lets any thread of the
    process take a signal. When the pub/sub thread takes it, the main thread stays blocked in its long
    wait for a job and Ctrl-C goes unheard for minutes. A thread starts with the signal mask of the
    thread that starts it: the pub/sub thread is started with the two blocked.
    """
    subscribe = worker.subscribe
    stop_signals = {signal.SIGINT, signal.SIGTERM}

    def subscribe_with_stop_signals_blocked() -> None:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        try:
            subscribe()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    worker.subscribe = subscribe_with_stop_signals_blocked


if __name__ == "__main__":
    sys.exit(main())
