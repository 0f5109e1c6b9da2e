"""How long a refused login takes: an existing login with a wrong password, an unknown login, an
inactive one. They should be equal within noise (the test compares them as a ratio of medians).

Run by hand (not a test; times depend on the machine):

    .venv/bin/python bench/login_timing.py             # 30 tries of each, interleaved
    .venv/bin/python bench/login_timing.py --tries 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ekpanel import create_app
from ekpanel.accounts.operations import create_user
from ekpanel.extensions import db


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tries", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "INSTANCE_DIR": tmp,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                "SECRET_KEY": "bench",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            db.create_all()
            create_user("anna", "haslo-anny-123")
            create_user("ewa", "haslo-ewy-123", active=False)
            db.session.commit()
            client = app.test_client()
            kinds = {
                "existing, wrong password": "anna",
                "unknown login": "nikt-taki",
                "inactive login": "ewa",
            }
            times: dict[str, list[float]] = {kind: [] for kind in kinds}
            for _ in range(args.tries):
                for kind, login in kinds.items():
                    start = time.perf_counter()
                    client.post("/login", data={"login": login, "password": "zle-haslo"})
                    times[kind].append(time.perf_counter() - start)
            db.engine.dispose()
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    for kind, median in medians.items():
        print(f"{kind:26} median {median * 1000:7.1f} ms over {args.tries} tries")
    print(f"largest / smallest median: {max(medians.values()) / min(medians.values()):.2f}")


if __name__ == "__main__":
    main()
