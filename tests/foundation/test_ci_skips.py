"""Under CI=true a missing prerequisite fails the run naming its package; locally it skips."""

from __future__ import annotations

import pytest

SUITE = """
import pytest
from prereqs import needs, require

pytestmark = needs(True, "nothing", "nothing")


def test_require() -> None:
    require(False, "openssl", "apt-get install openssl")


@needs(False, "systemd-analyze", "apt-get install systemd")
def test_marker() -> None:
    pass


def test_plain_skip() -> None:
    pytest.skip("GStreamer's RTSP server is missing (gir1.2-gst-rtsp-server-1.0)")


@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure() -> None:
    raise AssertionError


def test_passes() -> None:
    require(True, "python", "it is already here")
"""

CONFTEST = "from prereqs import pytest_runtest_makereport  # noqa: F401\n"


def suite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(SUITE)


def test_under_ci_every_skip_fails_naming_the_package(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    suite(pytester)
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, failed=2, errors=1, xfailed=1)
    out = result.stdout.str()
    assert "CI=true: missing prerequisite: openssl (install: apt-get install openssl)" in out
    assert "missing prerequisite: systemd-analyze (install: apt-get install systemd)" in out
    assert "gir1.2-gst-rtsp-server-1.0" in out
    assert "skipped" not in result.parseoutcomes()


def test_locally_a_missing_prerequisite_skips(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    suite(pytester)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert "missing prerequisite: openssl (install: apt-get install openssl)" in result.stdout.str()


@pytest.mark.parametrize(("value", "on"), [("true", True), ("1", True), ("TRUE", True),
                                           ("", False), ("false", False), ("0", False)])  # fmt: skip
def test_ci_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, on: bool
) -> None:
    from prereqs import ci

    monkeypatch.setenv("CI", value)
    assert ci() is on
