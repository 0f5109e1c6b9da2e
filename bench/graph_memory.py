"""Benchmark: the memory a Graph check holds for forwarded messages (item attachments).

Run by hand from the project root (it starts and stops its own Microsoft emulator):

    .venv/bin/python bench/graph_memory.py                        # this tree
    .venv/bin/python bench/graph_memory.py --baseline /tmp/main   # and another tree, side by side
    .venv/bin/python bench/graph_memory.py --only invoices        # one scenario

A tree is any checkout of the project (``git archive main | tar -x -C /tmp/main``); each is
measured in its own process, with its own ``ekpanel``. Scenarios:

- ``invoices``: twelve messages from a whitelisted sender, each forwarding an invoice with an
  8 MB PDF. The folder is read and every message decided, as the check does (``decide_all``;
  each verdict's PDFs let go at once, as the check hands them to its writer): once timed, once
  with tracemalloc on for the peak. Target (issue "Hostile or broken mail never stops a
  mailbox"): peak under 3 x the largest single message.
- ``large``: one message forwarding a 135 MB message (a ~100 MB PDF: over the default 50 MB
  PDF limit, so only its structure is read). Time and peak.

Peak is tracemalloc's: Python allocations of the whole process after the emulator was filled,
the emulator's answers included.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
SCENARIOS = {"invoices": (12, 8 * MB), "large": (1, 100 * MB)}


def measure(scenario: str) -> dict:
    """Run in a child process whose sys.path starts with the tree under test."""
    import gc
    import time
    import tracemalloc

    from ekpanel.mail.decide import decide_all
    from ekpanel.mail.folders import resolve_folder
    from ekpanel.mail.graph import GraphMailbox
    from ekpanel.mail.mailbox import FolderCursor
    from ekpanel.mail.settings import MailSettings
    from ekpanel.mail.whitelist import SenderWhitelist
    from tests.support import messages as m
    from tests.support.ms_emulator import MsEmulator

    tenant, client_id, secret = (
        "7d3c9a51-1b2e-4f60-9a8b-0c1d2e3f4a5b",
        "0b6f3e2a-5c4d-4e8f-9a1b-2c3d4e5f6a7b",
        "s",
    )
    address = "faktury@biuro.example"
    count, pdf_size = SCENARIOS[scenario]
    with MsEmulator() as emulator:
        emulator.add_app(client_id, secret, tenant)
        emulator.add_mailbox(address)
        largest = 0
        for number in range(count):
            inner = m.message(subject=f"Faktura {number}")
            m.add_pdf(inner, m.pdf_bytes(pdf_size), f"faktura-{number}.pdf")
            outer = m.message(subject=f"Fwd: Faktura {number}")
            m.add_forwarded(outer, inner)
            raw = m.as_bytes(outer)
            largest = max(largest, len(raw))
            emulator.add_raw_message(address, "inbox", raw)
            del inner, outer, raw
        settings = MailSettings(
            ms_login_url=emulator.login_url,
            graph_url=emulator.graph_url,
            ca_bundle=emulator.ca_path,
            imap_timeout=60.0,
        )
        whitelist = SenderWhitelist([m.WHITELISTED])

        def check() -> dict[str, int]:
            """Read the folder and decide every message, as the check does (nothing is moved)."""
            decisions: dict[str, int] = {"pdf bytes": 0}
            mailbox = GraphMailbox(
                tenant=tenant, client_id=client_id, client_secret=secret, mailbox=address, settings=settings
            )
            with mailbox:
                inbox = resolve_folder("inbox", mailbox.list_folders())
                for batch, _cursor in mailbox.new_messages(inbox, FolderCursor()):
                    for _message, verdict in decide_all(
                        mailbox, inbox, batch, whitelist, settings.max_pdf_bytes
                    ):
                        decisions[str(verdict.decision)] = decisions.get(str(verdict.decision), 0) + 1
                        decisions["pdf bytes"] += sum(len(pdf.data) for pdf in verdict.pdfs)
                        verdict.pdfs = []  # handed to the writer, as the check does
                    del batch
            return decisions

        gc.collect()
        started = time.perf_counter()
        decisions = check()  # timed without tracemalloc, which slows allocation down
        elapsed = time.perf_counter() - started
        gc.collect()
        tracemalloc.start()
        check()
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "scenario": scenario,
        "messages": count,
        "largest": largest,
        "peak": peak,
        "seconds": elapsed,
        "pdf_bytes": decisions.pop("pdf bytes"),
        "decisions": decisions,
    }


def run_in(tree: Path, scenario: str) -> dict:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]);"
        "from graph_memory import measure; print(json.dumps(measure(sys.argv[3])))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code, str(tree), str(PROJECT_DIR / "bench"), scenario],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{tree}: {scenario} failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", type=Path, help="another checkout of the project, measured alike")
    parser.add_argument("--only", choices=sorted(SCENARIOS), help="one scenario")
    args = parser.parse_args()
    trees = [("this tree", PROJECT_DIR)]
    if args.baseline:
        trees.insert(0, ("baseline", args.baseline.resolve()))
    for scenario in [args.only] if args.only else list(SCENARIOS):
        for label, tree in trees:
            result = run_in(tree, scenario)
            peak, largest = result["peak"] / MB, result["largest"] / MB
            print(
                f"{scenario:9} {label:10} {result['messages']:3} messages, largest {largest:6.1f} MB: "
                f"peak {peak:7.1f} MB ({peak / largest:4.1f} x the largest), "
                f"{result['seconds']:5.1f} s untraced, decisions {result['decisions']}, "
                f"PDF bytes {result['pdf_bytes'] / MB:.1f} MB"
            )


if __name__ == "__main__":
    main()
