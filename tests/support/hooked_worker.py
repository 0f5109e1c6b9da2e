"""worker.py with a pause between storing a batch's documents and moving its messages. Tests only.

    python -m tests.support.hooked_worker [--burst]

When a check is about to move a batch's messages (its documents committed), the work-horse writes
its pid to ``$EKPANEL_TEST_PAUSED_FILE`` and waits until ``$EKPANEL_TEST_RELEASE_FILE`` exists, so a
test can kill it exactly there, or start a second worker while it holds the server. Production code
knows nothing of this: the hook is put around the mailbox a check opens (tests/support/move_hook.py),
here, before the real worker.py runs as ``__main__``.
"""

from __future__ import annotations

import os
import runpy
import time
from pathlib import Path

from ekpanel.mail import connect
from tests.support.move_hook import calling_before_move

PROJECT_DIR = Path(__file__).resolve().parents[2]
PAUSED_FILE = Path(os.environ["EKPANEL_TEST_PAUSED_FILE"])
RELEASE_FILE = Path(os.environ["EKPANEL_TEST_RELEASE_FILE"])


def pause_before_move(folder, messages) -> None:
    partial = PAUSED_FILE.with_suffix(".part")
    partial.write_text(str(os.getpid()))
    partial.rename(PAUSED_FILE)  # appears whole, never half-written
    while not RELEASE_FILE.exists():
        time.sleep(0.05)


connect.open_mailbox = calling_before_move(connect.open_mailbox, pause_before_move)
runpy.run_path(str(PROJECT_DIR / "worker.py"), run_name="__main__")
