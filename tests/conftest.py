"""Suite-wide hooks: under CI=true a skip is a failure (see tests/prereqs.py)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from daemons import Daemons
from prereqs import SHARED_MIRROR, pytest_runtest_makereport, require

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

pytest_plugins = ["pytester"]

__all__ = ["pytest_runtest_makereport"]

# The variables that point the CLI and the daemon at a daemon, a config or a data folder: left
# over in an engineer's shell (after running the demo, say) they steered tests at it
# (EDGE_WEB_PORT=1 failed test_doctor and test_contract). Tests that want one set their own.
for _name in ("EDGE_WEB_PORT", "EDGE_CONFIG", "EDGE_TOKEN_FILE", "EDGE_DATA_DIR", "EDGE_LOG_FILE"):
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """`edge run` in-process (test_upgrade) sets the root logger up with one handler on the
    test's captured stderr, which is closed after the test: every later log line then printed
    an 'I/O operation on closed file' traceback into another test's stderr (test_contract
    failed when run after it). Each test gets the root logger back as it found it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The repo's models/ filled by scripts/fetch-models from the shared mirror."""
    require((SHARED / "models").is_dir(), *SHARED_MIRROR)
    dest = REPO / "models"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "fetch-models"),
            "--mirror",
            str(SHARED / "models"),
            "--dest",
            str(dest),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return dest


@pytest.fixture
async def daemons() -> AsyncIterator[Daemons]:
    """Start daemons in process with `await daemons.start(config)`; stopped at teardown."""
    started = Daemons()
    yield started
    await started.stop_all()
