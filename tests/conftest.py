"""Suite-wide hooks: under CI=true a skip is a failure (see tests/prereqs.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from daemons import Daemons
from prereqs import SHARED_MIRROR, pytest_runtest_makereport, require

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

pytest_plugins = ["pytester"]

__all__ = ["pytest_runtest_makereport"]


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
