"""scripts/install, staged under a tmp root (`--prefix`), and the systemd unit it installs.

The venv/pip and apt steps need the network and a real root, so they are skipped here
(`--no-venv`; a prefix implies no apt); everything an installer relies on afterwards is
checked: where files land, their modes, that a re-run never overwrites the site's config,
that a dry run changes nothing, and that systemd accepts the unit.
"""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from prereqs import needs

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "scripts" / "install"
UNIT = REPO / "systemd" / "edge.service"


def _install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INSTALL), "--no-venv", "--no-models", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_staged_install_lays_out_config_state_and_unit(tmp_path: Path) -> None:
    root = tmp_path / "root"
    got = _install("--prefix", str(root))
    assert got.returncode == 0, got.stderr + got.stdout

    config = root / "etc/edge/edge.yaml"
    assert config.read_text() == (REPO / "config/example.yaml").read_text()
    assert _mode(config) == 0o640, "the config holds uplink secrets: not world-readable"
    assert _mode(root / "etc/edge") == 0o750
    assert _mode(root / "var/lib/edge") == 0o750
    assert (root / "var/lib/edge/models/manifest.yaml").is_file()
    assert (root / "opt/edge/docs/operations.md").is_file()
    assert (root / "etc/systemd/system/edge.service").read_bytes() == UNIT.read_bytes()
    assert "not calling systemctl" in got.stdout

    # The config it installed is one the daemon accepts as shipped.
    check = subprocess.run(
        [sys.executable, "-m", "edge", "config", "check", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
        env={**os.environ, "EDGE_DATA_DIR": str(root / "var/lib/edge")},
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_rerun_keeps_the_sites_config_and_refreshes_the_unit(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert _install("--prefix", str(root)).returncode == 0
    config = root / "etc/edge/edge.yaml"
    edited = config.read_text().replace("梅园小区", "Edited Compound")
    config.write_text(edited)
    unit = root / "etc/systemd/system/edge.service"
    unit.write_text("stale\n")

    again = _install("--prefix", str(root))
    assert again.returncode == 0, again.stderr
    assert config.read_text() == edited
    assert "keeping existing" in again.stdout
    assert unit.read_bytes() == UNIT.read_bytes()


def test_dry_run_lists_the_actions_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    got = _install("--prefix", str(root), "--dry-run")
    assert got.returncode == 0, got.stderr
    assert not root.exists()
    assert f"would run: install -m 0640 {REPO}/config/example.yaml {root}/etc/edge/edge.yaml" in (
        got.stdout
    )
    assert "edge.service" in got.stdout and "dry run, nothing changed" in got.stdout


def test_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    got = _install("--prefix", str(tmp_path), "--frobnicate")
    assert got.returncode == 2 and "unknown option" in got.stderr


def test_an_old_python_is_refused_before_anything_is_installed(tmp_path: Path) -> None:
    """Debian 11 ships Python 3.9: the installer must say so, not leave a broken venv."""
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\nexit 1\n")  # what the version check gets from 3.9
    old.chmod(0o755)
    root = tmp_path / "root"
    got = subprocess.run(
        ["bash", str(INSTALL), "--prefix", str(root), "--no-models", "--python", str(old)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert got.returncode == 1
    assert "older than Python 3.11" in got.stderr
    assert not (root / "opt/edge/venv").exists()
    assert not (root / "etc/edge/edge.yaml").exists()


def test_unit_has_the_promised_settings() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    svc = parser["Service"]
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "Restart": "on-failure",
        "TimeoutStopSec": "15s",
        "User": "edge",
        "SupplementaryGroups": "dialout",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/edge",
        "StateDirectory": "edge",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "DevicePolicy": "closed",
        "ExecStart": "/opt/edge/venv/bin/edge run --config /etc/edge/edge.yaml",
    }
    assert {k: svc.get(k) for k in expected} == expected
    assert svc["WatchdogSec"]


@needs(
    shutil.which("systemd-analyze") is not None
    and Path("/usr/lib/systemd/system/sysinit.target").exists(),
    "systemd-analyze and the distro's units",
    "apt-get install systemd",
)
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` on a root holding the staged install and the distro's units
    (verify needs sysinit.target and friends, and an executable ExecStart)."""
    root = tmp_path / "root"
    assert _install("--prefix", str(root)).returncode == 0
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    exe = root / "opt/edge/venv/bin/edge"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")  # --no-venv left no entry point to point at
    exe.chmod(0o755)
    got = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "edge.service"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    complaints = [line for line in got.stderr.splitlines() if "edge.service" in line]
    assert got.returncode == 0 and not complaints, got.stderr


SITE = """\
config_version: 1
site: {name: 安装测试小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}
storage: {data_dir: "${EDGE_DATA_DIR:-/var/lib/edge}"}
web: {listen: "127.0.0.1:0"}
"""


def _unit_command(root: Path) -> tuple[list[str], dict[str, str]]:
    """The installed unit's ExecStart and Environment, with paths moved into the staged root
    (the venv's entry point is this interpreter: `--no-venv` installed none)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    text = (root / "etc/systemd/system/edge.service").read_text()
    parser.read_string(text)
    argv = parser["Service"]["ExecStart"].split()
    assert argv[0] == "/opt/edge/venv/bin/edge"
    argv = [sys.executable, "-m", "edge", *(a.replace("/etc/", f"{root}/etc/") for a in argv[1:])]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for line in text.splitlines():
        if line.startswith("Environment="):
            key, _, value = line.removeprefix("Environment=").partition("=")
            env[key] = value.replace("/var/lib/", f"{root}/var/lib/")
    env.pop("NOTIFY_SOCKET", None)
    env.pop("EDGE_WEB_PORT", None)
    return argv, env


def test_the_daemon_starts_from_the_installed_unit_and_uninstall_keeps_the_data(
    tmp_path: Path,
) -> None:
    import json
    import re
    import signal
    import time
    import urllib.request

    root = tmp_path / "root"
    assert _install("--prefix", str(root)).returncode == 0
    (root / "etc/edge/edge.yaml").write_text(SITE, encoding="utf-8")  # the site's own config
    argv, env = _unit_command(root)
    proc = subprocess.Popen(argv, env=env, cwd=root, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "the daemon exited at start"
            m = re.search(r"local API on http://127\.0\.0\.1:(\d+)", line)
            port = int(m.group(1)) if m else None
        assert port, "the daemon never said where its API listens"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as r:
            doc = json.loads(r.read())
        from edge import __version__

        assert doc["version"] == __version__ and doc["site"]["name"] == "安装测试小区"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert (root / "var/lib/edge/edge.db").is_file()  # the data went where the unit says

    uninstall = REPO / "scripts" / "uninstall"
    dry = subprocess.run(["bash", str(uninstall), "--prefix", str(root), "--dry-run"],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert dry.returncode == 0 and (root / "etc/systemd/system/edge.service").exists()
    got = subprocess.run(["bash", str(uninstall), "--prefix", str(root)],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert not (root / "etc/systemd/system/edge.service").exists()
    assert not (root / "opt/edge").exists()
    assert (root / "var/lib/edge/edge.db").is_file() and (root / "etc/edge/edge.yaml").is_file()
    assert "kept" in got.stdout and "--purge" in got.stdout
    purged = subprocess.run(["bash", str(uninstall), "--prefix", str(root), "--purge"],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert purged.returncode == 0 and not (root / "var/lib/edge").exists()
    assert not (root / "etc/edge").exists()
