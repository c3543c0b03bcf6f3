"""`edge logs`: the daemon's log wherever it goes: the journal (unit edge) or a file.

The daemon logs to stderr, so under systemd the journal holds it; on a box run by hand or by
another supervisor stderr is often a file. Unless told (`--file`, or EDGE_LOG_FILE), the verb
asks the running daemon for its pid (`/api/health`) and looks where its stderr points
(/proc/PID/fd/2): a file is read, anything else (the journal's socket) means the journal.
`-f` follows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from edge.cli._common import CliError, add_api_args, add_json, api_url, get_json, print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("logs", help="the daemon's log (journal or file)")
    p.add_argument("--file", type=Path, help="log file (default: EDGE_LOG_FILE, else journal)")
    p.add_argument("-n", "--lines", type=int, default=100, help="last N lines (100)")
    p.add_argument("--since", help="journal only: e.g. '-2h', 'today', '2026-12-06 08:00'")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("--unit", default="edge", help="systemd unit (edge)")
    add_api_args(p)
    add_json(p)
    p.set_defaults(handler=_logs)


def _logs(args: argparse.Namespace) -> int:
    """JSON: {"source": "journal"|"file", "path", "lines": [str]} (not with --follow)."""
    if args.lines < 1:
        raise CliError("--lines must be at least 1")
    if args.json and args.follow:
        raise CliError("--json prints one document: leave out --follow")
    path = args.file or (
        Path(os.environ["EDGE_LOG_FILE"]) if os.environ.get("EDGE_LOG_FILE") else None
    )
    if path is None:
        path = daemon_log_file(args)
    if path is not None:
        return _file(args, path)
    if not shutil.which("journalctl"):
        raise CliError("no journal here; give the log file with --file (or EDGE_LOG_FILE)")
    cmd = ["journalctl", "-u", args.unit, "--no-pager", "-o", "short-iso", "-n", str(args.lines)]
    if args.since:
        cmd += ["--since", args.since]
    if args.follow:
        return subprocess.call([*cmd, "-f"])
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CliError(f"journalctl failed: {done.stderr.strip()}; try --file", 1)
    lines = done.stdout.splitlines()
    if args.json:
        print_json({"source": "journal", "path": None, "lines": lines})
    else:
        print("\n".join(lines))
    return 0


def _file(args: argparse.Namespace, path: Path) -> int:
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()[-args.lines :]
            if args.json:
                print_json({"source": "file", "path": str(path), "lines": lines})
                return 0
            print("\n".join(lines), flush=True)
            while args.follow:
                line = f.readline()
                if line:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                else:
                    time.sleep(0.5)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}; give the right --file") from None
    return 0


def daemon_log_file(args: argparse.Namespace) -> Path | None:
    """The file the running daemon's stderr goes to, or None (journal, not running, or
    not ours to look at: /proc/PID/fd needs root or the service user)."""
    try:
        _code, doc = get_json(api_url(args) + "/api/health", 2)
    except (OSError, ValueError, CliError):
        return None
    pid = doc.get("pid") if isinstance(doc, dict) else None
    if not isinstance(pid, int):
        return None
    try:
        target = os.readlink(f"/proc/{pid}/fd/2")
    except OSError:
        return None
    path = Path(target)
    return path if path.is_absolute() and path.is_file() else None
