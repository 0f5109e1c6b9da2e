"""The mail core: plain modules, no Flask request imports.

A job, a CLI command and a test all run the same check through these modules.
"""
