"""Hypothesis settings for the property tests of the parsers of untrusted input.

Loaded for every run (tests/conftest.py imports this module). CI (``CI`` set) gets the same
examples on every run (``derandomize``), a fixed number of them, so a run's cost is known on a
machine whose two cores several workers share; elsewhere fresh ones. No example database in the
tree: every input that once found a bug is kept in the tests as an explicit ``@example``. No
deadline: time is measured by the bench/ scripts (bench/parsers.py, bench/authres_parse.py), never
asserted by a test.
"""

import os

from hypothesis import settings

settings.register_profile(
    "ci", max_examples=100, derandomize=True, database=None, deadline=None, print_blob=True
)
settings.register_profile("dev", max_examples=100, database=None, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
