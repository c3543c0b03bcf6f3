"""A wheelhouse for `scripts/install --wheelhouse`, built offline from the running venv.

The install test creates a real venv under a throw-away root and pip-installs this checkout
into it with `--no-index`, as an installer does on a gateway without internet. The wheels it
needs are the runtime dependencies of `compound-edge`, exactly the versions the suite runs
on: each installed distribution is packed back into a wheel from the files its RECORD lists
(what pip installed from the wheel in the first place). Files outside site-packages (console
scripts, which pip regenerates from entry_points.txt) and byte-code are left out; RECORD is
rewritten with the hashes of what is packed. Stored, not deflated: pip unpacks it once.

The build backend (setuptools, wheel) comes from the running venv too when it satisfies
pyproject.toml's [build-system] (the test extras install it); otherwise `pip download`
fetches it through pip's own configuration (its cache or the configured index).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata as md
import io
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]


def runtime_closure(project: str = "compound-edge") -> list[md.Distribution]:
    """The installed distributions `project` needs at run time (no extras, markers for here)."""
    seen: dict[str, md.Distribution] = {}
    todo: list[tuple[str, frozenset[str]]] = [(project, frozenset())]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        if key in seen:
            continue
        dist = md.distribution(name)
        seen[key] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            wanted = extras or frozenset({""})
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in wanted):
                continue
            todo.append((req.name, frozenset(req.extras)))
    seen.pop(canonicalize_name(project))  # the checkout itself is built by the installer
    return list(seen.values())


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _compressed(tags: list[str]) -> str:
    """`py2-none-any` + `py3-none-any` -> `py2.py3-none-any`, as the wheel's name had it."""
    parts = [list(dict.fromkeys(t.split("-")[i] for t in tags)) for i in range(3)]
    return "-".join(".".join(p) for p in parts)


def rewheel(dist: md.Distribution, dest: Path) -> Path:
    """Pack an installed distribution back into a wheel in `dest`."""
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = [
        line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")
    ]
    if not tags:
        raise RuntimeError(f"{dist.metadata['Name']}: no WHEEL tags (not installed from a wheel)")
    site = Path(str(dist.locate_file("")))
    files = [f for f in dist.files or [] if not str(f).startswith("..")]
    info_dir = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    name = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    target = dest / f"{name}-{dist.version}-{_compressed(tags)}.whl"
    skip = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as whl:
        for f in files:
            if "__pycache__" in f.parts or (f.parts[0] == info_dir and f.name in skip):
                continue
            path = site / f
            if not path.is_file():
                continue
            data = path.read_bytes()
            whl.writestr(f.as_posix(), data)
            writer.writerow([f.as_posix(), _digest(data), len(data)])
        writer.writerow([f"{info_dir}/RECORD", "", ""])
        whl.writestr(f"{info_dir}/RECORD", record.getvalue())
    return target


def build_wheelhouse(dest: Path) -> list[Path]:
    """Every wheel `pip install --no-index --find-links dest <checkout>` needs."""
    dest.mkdir(parents=True, exist_ok=True)
    wheels = [rewheel(dist, dest) for dist in runtime_closure()]
    backend = []
    for line in _build_requires():
        req = Requirement(line)
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            dist = None
        if dist is not None and req.specifier.contains(dist.version, prereleases=True):
            wheels.append(rewheel(dist, dest))
        else:
            backend.append(line)
    if not backend:
        return wheels
    got = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
         "--dest", str(dest), *backend],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if got.returncode != 0:
        raise RuntimeError(f"pip download {' '.join(backend)} failed: {got.stderr.strip()}")
    return wheels


def _build_requires() -> list[str]:
    import tomllib

    doc = tomllib.loads((REPO / "pyproject.toml").read_text())
    return list(doc["build-system"]["requires"])
