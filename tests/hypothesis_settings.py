"""Hypothesis settings for the property tests of the parsers of untrusted input.

One profile, loaded for every run (tests/conftest.py imports this module), because the same
limits suit a laptop and CI: a fixed number of examples keeps a run's cost known on a machine
whose two cores several workers share; no example database, so a run depends on nothing left
behind by an earlier one — every input that once found a bug is kept in the tests as an
explicit ``@example`` instead; and a one-second deadline per example, because a parser that
takes longer on one message would stall a check of thousands.
"""

from hypothesis import settings

settings.register_profile("ci", max_examples=200, database=None, deadline=1000, print_blob=True)
settings.load_profile("ci")
