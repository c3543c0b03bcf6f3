"""Suite-wide hooks: under CI=true a skip is a failure (see tests/prereqs.py)."""

from __future__ import annotations

from prereqs import pytest_runtest_makereport

pytest_plugins = ["pytester"]

__all__ = ["pytest_runtest_makereport"]
