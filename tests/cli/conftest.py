"""The models the vision verbs need, filled from the shared mirror (as tests/vision does)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from prereqs import SHARED_MIRROR, require

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    require((SHARED / "models").is_dir(), *SHARED_MIRROR)
    dest = REPO / "models"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fetch-models"), "--mirror",
         str(SHARED / "models"), "--dest", str(dest)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return dest
