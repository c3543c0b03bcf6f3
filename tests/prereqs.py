"""Missing prerequisites: a skip on a developer's box, a failure under CI=true.

Tests that need a Debian package, the shared image and model mirror (../shared) or fetched
models say so through `require` (inside a test or fixture) or `needs` (a marker), with the
package that provides it. Under CI=true every skip, however it was raised, fails instead
(`pytest_runtest_makereport`, installed by tests/conftest.py): a gap in CI must be red, not a
line in the summary nobody reads. scripts/test runs with CI=true.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest


def ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def message(what: str, install: str) -> str:
    return f"missing prerequisite: {what} (install: {install})"


def require(ok: bool, what: str, install: str) -> None:
    """Go on if `ok`; otherwise skip, or under CI=true fail, naming the package."""
    if ok:
        return
    if ci():
        pytest.fail(f"CI=true: {message(what, install)}", pytrace=False)
    pytest.skip(message(what, install))


def needs(ok: bool, what: str, install: str) -> pytest.MarkDecorator:
    """`require` as a marker, for a module or a test (a failure under CI=true, see below)."""
    return pytest.mark.skipif(not ok, reason=message(what, install))


# What the suite needs beyond the venv, by name, and where it comes from.
SHARED_MIRROR = "../shared (images and the model mirror)", "check out ../shared beside the repo"
MODELS = "models/ (ONNX models)", "scripts/fetch-models --dest models"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Under CI=true a skipped test is reported failed, with the skip's own reason."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and ci()) or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = f"CI=true: skipping is a failure here. {reason}"
