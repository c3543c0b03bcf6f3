"""`edge diag bundle`: one tar.gz a maintainer can send, holding no secret and no face.

Contents: logs of the last days (journal, else the given log file), the config redacted,
health and device state, store statistics, versions, and `edge doctor`'s findings. Every
member passes through `edge.redact.scrub` with every secret the config and the environment
hold, as a last net behind the redacted config (a secret echoed in a log line or an error
message is masked too). Images are never read: the store's image folder stays out.
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from edge import __version__
from edge.redact import redact_data, scrub
from edge.store.stats import offline_stats

LIBRARIES = ("aiohttp", "aiomqtt", "pydantic", "pymodbus", "pyserial", "onnxruntime", "numpy",
             "opencv-python-headless", "av", "prometheus-client", "PyYAML")  # fmt: skip
SECRET_ENV = re.compile(r"PASS|SECRET|TOKEN|KEY|CRED", re.IGNORECASE)


def config_secrets(value: Any) -> list[str]:
    """Every SecretStr value in a config model, wherever it sits."""
    found: list[str] = []
    if isinstance(value, SecretStr):
        found.append(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found += config_secrets(getattr(value, name))
    elif isinstance(value, dict):
        for v in value.values():
            found += config_secrets(v)
    elif isinstance(value, list | tuple):
        for v in value:
            found += config_secrets(v)
    return [s for s in found if s]


def env_secrets(env: dict[str, str]) -> list[str]:
    return [v for k, v in env.items() if v and SECRET_ENV.search(k)]


MAX_LOG_BYTES = 20 << 20  # the tail of a log file: a bundle must stay small enough to send
_STAMP = re.compile(r'^(?:\{"ts": ")?(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})')


def recent_lines(text: str, days: int, now: float | None = None) -> str:
    """From the first line stamped within the last `days` on (the human format's local time
    or the JSON format's UTC; a day's slack covers either zone). Unstamped lines (tracebacks)
    go with the line before them; a log without stamps is kept whole."""
    cutoff = (time.time() if now is None else now) - (days + 1) * 86400
    lines = text.splitlines(keepends=True)
    for n, line in enumerate(lines):
        m = _STAMP.match(line)
        if m and time.mktime(time.strptime(f"{m[1]} {m[2]}", "%Y-%m-%d %H:%M:%S")) >= cutoff:
            return "".join(lines[n:])
    if not any(_STAMP.match(line) for line in lines):
        return text
    return f"(no log line in the last {days} days)\n"


def logs(days: int, log_file: Path | None) -> str:
    if log_file is not None:
        try:
            with log_file.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - MAX_LOG_BYTES))
                text = f.read().decode("utf-8", errors="replace")
        except OSError as exc:
            return f"cannot read {log_file}: {exc.strerror}\n"
        if size > MAX_LOG_BYTES:
            text = text.split("\n", 1)[-1]  # a cut first line is noise
        return recent_lines(text, days)
    if shutil.which("journalctl"):
        try:
            done = subprocess.run(
                ["journalctl", "-u", "edge", "--since", f"-{days}d", "--no-pager", "-o",
                 "short-iso"], capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            return done.stdout or done.stderr
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"journalctl failed: {exc}\n"
    return "no journal on this system and no --log-file given\n"


def store_stats(data_dir: Path, health: dict[str, Any] | None) -> dict[str, Any]:
    """Row counts per table (read-only), the outbox per destination, and health's live view."""
    out = offline_stats(data_dir)
    if health:
        out["outbox_live"] = health.get("outbox", [])
    return out


def versions(models_dir: Path | None) -> dict[str, Any]:
    libs: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = None
    models: list[dict[str, str]] = []
    if models_dir is not None and (models_dir / "manifest.yaml").is_file():
        from edge.vision.models import load_manifest

        try:
            models = [{"name": m.name, "file": m.file, "sha256": m.sha256}
                      for m in load_manifest(models_dir / "manifest.yaml").models]  # fmt: skip
        except (OSError, ValueError) as exc:
            models = [{"error": str(exc)}]
    return {"edge": __version__, "python": platform.python_version(),
            "platform": platform.platform(), "libraries": libs, "models": models}  # fmt: skip


def build(
    output: Path,
    members: dict[str, str],
    secrets: Iterable[str],
) -> Path:
    """Write the archive; every member scrubbed of `secrets`, URL userinfo and key=... params."""
    known = sorted({s for s in secrets if s}, key=len, reverse=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    root = f"edge-diag-{stamp}"
    output.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(output, "w:gz") as tar:
        for name, text in members.items():
            raw = scrub(text, known).encode()
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(raw)
            info.mtime = int(time.time())
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(raw))
    os.chmod(output, 0o600)
    return output


def dump(doc: Any, secrets: Iterable[str]) -> str:
    return json.dumps(redact_data(doc, list(secrets)), ensure_ascii=False, indent=2, default=str)
