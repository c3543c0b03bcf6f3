"""Daemon start-up benchmark: time until /api/health answers, idle RSS, and stop time.

    .venv/bin/python scripts/bench/startup.py [--runs 5] [--edge /opt/edge/venv/bin/edge]

Each run starts the real `edge run` process on a minimal config (no devices, cameras or
models; web on an ephemeral port), polls `/api/health` until it answers, lets it idle,
reads its resident memory from /proc, then sends SIGTERM and times the exit. The first run
creates and migrates a fresh database; the others reuse it, as every restart on a gateway
does. Targets: ready <= 3 s and idle RSS <= 120 MB before any model is loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET_READY_S = 3.0
TARGET_RSS_MB = 120.0
API_LINE = re.compile(rb"local API on http://([^\s:\"]+):(\d+)")
CONFIG = """\
config_version: 1
site: {{name: Bench, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data}}}
web: {{listen: "127.0.0.1:0"}}
logging: {{format: json, level: INFO}}
"""


@dataclass
class Run:
    ready_s: float
    rss_mb: float
    peak_mb: float
    stop_s: float
    code: int


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB: resident now, and the peak so far."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def health_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/health", timeout=1) as resp:
            json.loads(resp.read())
        return True
    except urllib.error.HTTPError:
        return True  # 503 (degraded) is still an answer
    except (OSError, ValueError):
        return False


def one_run(cmd: list[str], log: Path, idle_s: float, timeout_s: float) -> Run:
    with open(log, "wb") as out:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = ""
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"daemon exited with {proc.returncode}:\n{log.read_text()}")
                if time.perf_counter() - began > timeout_s:
                    raise SystemExit(f"not ready after {timeout_s}s:\n{log.read_text()}")
                if not url and (m := API_LINE.search(log.read_bytes())):
                    url = f"http://{m.group(1).decode()}:{m.group(2).decode()}"
                if url and health_answers(url):
                    break
                time.sleep(0.01)
            ready = time.perf_counter() - began
            time.sleep(idle_s)  # idle on purpose: RSS after the start-up transients settle
            rss, peak = rss_mb(proc.pid)
            proc.send_signal(signal.SIGTERM)
            stop_began = time.perf_counter()
            code = proc.wait(timeout=30)
            return Run(ready, rss, peak, time.perf_counter() - stop_began, code)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", type=float, default=3.0, help="seconds idle before reading RSS")
    ap.add_argument("--config", type=Path, help="config to start (default: a minimal one)")
    ap.add_argument(
        "--edge", help="an installed `edge` entry point (default: this checkout's python -m edge)"
    )
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="edge-startup-") as tmp:
        config = args.config
        if config is None:
            config = Path(tmp) / "edge.yaml"
            config.write_text(CONFIG.format(data=Path(tmp) / "data"))
        base = [args.edge] if args.edge else [sys.executable, "-m", "edge"]
        cmd = [*base, "run", "--config", str(config)]
        runs = [
            one_run(cmd, Path(tmp) / f"run{i}.log", args.idle, args.timeout)
            for i in range(args.runs)
        ]

    print(f"daemon start-up: {' '.join(base)} run, {args.runs} runs, idle {args.idle:g}s")
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'run':>4} {'ready s':>8} {'idle RSS MB':>12} {'peak MB':>8} {'stop s':>7} {'exit':>5}")
    for i, r in enumerate(runs):
        note = "  (fresh database)" if i == 0 and args.config is None else ""
        print(
            f"{i + 1:4d} {r.ready_s:8.2f} {r.rss_mb:12.1f} {r.peak_mb:8.1f} {r.stop_s:7.2f}"
            f" {r.code:5d}{note}"
        )
    ready = statistics.median(r.ready_s for r in runs)
    rss = max(r.rss_mb for r in runs)
    print(
        f"median ready {ready:.2f}s (target <= {TARGET_READY_S:g}s), "
        f"max idle RSS {rss:.1f} MB (target <= {TARGET_RSS_MB:g} MB): "
        + ("MET" if ready <= TARGET_READY_S and rss <= TARGET_RSS_MB else "MISSED")
    )
    return 0 if ready <= TARGET_READY_S and rss <= TARGET_RSS_MB else 1


if __name__ == "__main__":
    sys.exit(main())
