"""scripts/install into a throw-away root (`--prefix`), and the daemon started from the unit
files it installed, out of the real virtual environment it made there.

The install is the one an installer runs on a Debian 12 gateway without internet: Debian's
/usr/bin/python3 makes the venv, pip builds this checkout and installs it and its
dependencies from a wheelhouse (`--wheelhouse`: `pip --no-index --find-links`). The
wheelhouse is packed from the running venv's own distributions (tests/system/wheelhouse.py),
so the test needs no network. Only apt, the `edge` user and systemctl are not exercised: a
prefix implies them away, as it does for an image build.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prereqs import SHARED_MIRROR, needs, require
from wheelhouse import build_wheelhouse

from edge import __version__

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "scripts" / "install"
UNINSTALL = REPO / "scripts" / "uninstall"
UNIT = REPO / "systemd" / "edge.service"
MODELS_MIRROR = REPO.parent / "shared" / "models"  # the installer's USB stick
DEBIAN_PYTHON = Path("/usr/bin/python3")  # the installer's default interpreter
# What systemd gives a service (plus the unit's Environment=): nothing from this shell, so no
# PYTHONPATH or VIRTUAL_ENV can make the installed venv borrow this checkout or the test venv.
SYSTEMD_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}


def _venv_capable() -> bool:
    if not DEBIAN_PYTHON.exists():
        return False
    got = subprocess.run([str(DEBIAN_PYTHON), "-c", "import ensurepip, venv"],
                         capture_output=True, timeout=60, check=False)  # fmt: skip
    return got.returncode == 0


def _install(*args: str) -> subprocess.CompletedProcess[str]:
    """The installer without the venv (for what does not need one: usage, dry runs)."""
    return subprocess.run(
        ["bash", str(INSTALL), "--no-venv", "--no-models", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _real_install(root: Path, wheels: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installer as on a gateway: a venv, pip from the wheelhouse, the models from the
    mirror; the machine's own pip configuration (indexes, find-links) is kept out so only the
    wheelhouse can serve."""
    env = {**SYSTEMD_ENV, "HOME": str(root.parent), "PIP_CONFIG_FILE": os.devnull,
           "PIP_NO_CACHE_DIR": "1"}  # fmt: skip
    return subprocess.run(
        [
            "bash",
            str(INSTALL),
            "--prefix",
            str(root),
            "--wheelhouse",
            str(wheels),
            "--models-mirror",
            str(MODELS_MIRROR),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
        cwd="/",
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under root with its mode, size and modification time."""
    out = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


@dataclass(frozen=True)
class Installed:
    root: Path
    wheels: Path
    first: subprocess.CompletedProcess[str]
    config_as_installed: str

    @property
    def venv(self) -> Path:
        return self.root / "opt/edge/venv"

    def run_venv(
        self, *argv: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / argv[0]), *argv[1:]], capture_output=True,
                              text=True, timeout=120, check=False, cwd="/",
                              env={**SYSTEMD_ENV, **(env or {})})  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    require(
        _venv_capable(), "Debian's python3 with venv and ensurepip", "apt-get install python3-venv"
    )
    require(MODELS_MIRROR.is_dir(), *SHARED_MIRROR)
    base = tmp_path_factory.mktemp("install")
    wheels = base / "wheels"
    try:
        build_wheelhouse(wheels)
    except RuntimeError as e:
        require(
            False,
            f"the build backend's wheels for the wheelhouse ({e})",
            "pip download setuptools wheel",
        )
    root = base / "root"
    first = _real_install(root, wheels)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    yield Installed(root, wheels, first, (root / "etc/edge/edge.yaml").read_text())


@pytest.mark.slow
def test_install_makes_a_self_contained_venv_and_lays_out_config_state_and_unit(
    installed: Installed,
) -> None:
    root = installed.root
    cfg = (installed.venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg and "home = /usr/bin" in cfg
    got = installed.run_venv("edge", "--version")
    assert got.returncode == 0 and got.stdout.strip() == f"edge {__version__}", got.stderr
    where = installed.run_venv(
        "python", "-c", "import edge, numpy; print(edge.__file__, numpy.__file__)"
    )
    site = installed.venv / "lib"
    assert all(Path(p).is_relative_to(site) for p in where.stdout.split()), (
        where.stdout + where.stderr
    )

    # Exactly this checkout's modules: nothing stale from an earlier build of the tree.
    (pkg,) = installed.venv.glob("lib/python3*/site-packages/edge")
    shipped = {p.relative_to(pkg.parent) for p in pkg.rglob("*.py")}
    assert shipped == {p.relative_to(REPO) for p in (REPO / "edge").rglob("*.py")}

    assert installed.config_as_installed == (REPO / "config/example.yaml").read_text()
    config = root / "etc/edge/edge.yaml"
    assert _mode(config) == 0o640, "the config holds uplink secrets: not world-readable"
    assert _mode(root / "etc/edge") == 0o750
    assert _mode(root / "var/lib/edge") == 0o750
    assert (root / "opt/edge/docs/operations.md").is_file()
    assert (root / "etc/systemd/system/edge.service").read_bytes() == UNIT.read_bytes()
    assert "not calling systemctl" in installed.first.stdout

    # Models fetched from the mirror and checked against the manifest's sha256 (by the venv's
    # own Python: fetch-models needs PyYAML, which only the venv has on a bare box).
    import yaml

    models = root / "var/lib/edge/models"
    manifest = yaml.safe_load((models / "manifest.yaml").read_text())
    for entry in manifest["models"]:
        got = hashlib.sha256((models / entry["file"]).read_bytes()).hexdigest()
        assert got == entry["sha256"], entry["file"]
    assert "models not (all) fetched" not in installed.first.stdout

    # The installer's own smoke test on a box: the venv's entry point accepts the shipped config.
    check = installed.run_venv("edge", "config", "check", str(config),
                               env={"EDGE_DATA_DIR": str(root / "var/lib/edge")})  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


SITE = """\
config_version: 1
site: {name: 安装测试小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}
storage: {data_dir: "${EDGE_DATA_DIR:-/var/lib/edge}"}
web: {listen: "127.0.0.1:0"}
"""


def _unit_command(root: Path) -> tuple[list[str], dict[str, str], Path]:
    """The installed unit's ExecStart, Environment and WorkingDirectory, with the paths moved
    into the staged root; the environment is systemd's, not this shell's."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    text = (root / "etc/systemd/system/edge.service").read_text()
    parser.read_string(text)
    svc = parser["Service"]

    def rooted(value: str) -> str:
        return re.sub(r"(?<![\w/])/(opt|etc|var)/", f"{root}/\\1/", value)

    argv = [rooted(a) for a in svc["ExecStart"].split()]
    assert argv[0] == f"{root}/opt/edge/venv/bin/edge"
    env = dict(SYSTEMD_ENV)
    for line in text.splitlines():
        if line.startswith("Environment="):
            key, _, value = line.removeprefix("Environment=").partition("=")
            env[key] = rooted(value)
    return argv, env, Path(rooted(svc["WorkingDirectory"]))


@pytest.mark.slow
def test_the_daemon_starts_from_the_installed_unit_out_of_the_installed_venv(
    installed: Installed,
) -> None:
    root = installed.root
    (root / "etc/edge/edge.yaml").write_text(SITE, encoding="utf-8")  # the site's own config
    argv, env, cwd = _unit_command(root)
    sockdir = Path(tempfile.mkdtemp(prefix="edge-notify-"))  # AF_UNIX paths are short
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(sockdir / "notify"))
    notify.settimeout(60)
    env["NOTIFY_SOCKET"] = str(sockdir / "notify")
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stderr=subprocess.PIPE, text=True)
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
        # Type=notify: systemd counts the unit started once READY=1 arrives.
        while b"READY=1" not in notify.recv(4096):
            pass
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as r:
            doc = json.loads(r.read())
        assert doc["version"] == __version__ and doc["site"]["name"] == "安装测试小区"
        # The code running is the installed venv's, not this checkout's nor the test venv's.
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert str(installed.venv / "lib") in maps
        assert str(REPO) not in maps and "/.venv/" not in maps
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        notify.close()
        shutil.rmtree(sockdir)
    assert (root / "var/lib/edge/edge.db").is_file()  # the data went where the unit says


@pytest.mark.slow
def test_a_second_run_upgrades_in_place_and_a_dry_run_changes_nothing(installed: Installed) -> None:
    root = installed.root
    before = _snapshot(root)
    dry = _real_install(root, installed.wheels, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would run:" in dry.stdout and "dry run, nothing changed" in dry.stdout
    assert _snapshot(root) == before

    config = root / "etc/edge/edge.yaml"
    edited = config.read_text().replace("\n", "\n# the installer's note\n", 1)
    config.write_text(edited)
    unit = root / "etc/systemd/system/edge.service"
    unit.write_text("stale\n")
    python = (installed.venv / "bin/python").resolve()

    again = _real_install(root, installed.wheels)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert config.read_text() == edited and "keeping existing" in again.stdout
    assert unit.read_bytes() == UNIT.read_bytes()
    assert "venv" in again.stdout and "exists" in again.stdout
    assert (installed.venv / "bin/python").resolve() == python
    # Only the package itself is reinstalled; its dependencies are already there.
    done = next(
        line for line in again.stdout.splitlines() if line.startswith("Successfully installed")
    )
    assert done.split()[2:] == [f"compound-edge-{__version__}"]
    assert installed.run_venv("edge", "--version").stdout.strip() == f"edge {__version__}"


@needs(
    shutil.which("systemd-analyze") is not None
    and Path("/usr/lib/systemd/system/sysinit.target").exists(),
    "systemd-analyze and the distro's units",
    "apt-get install systemd",
)
@pytest.mark.slow
def test_systemd_accepts_the_installed_unit(installed: Installed, tmp_path: Path) -> None:
    """`systemd-analyze verify` on the installed root plus the distro's units (verify needs
    sysinit.target and friends, and an executable ExecStart: the venv's entry point)."""
    root = installed.root
    units = root / "usr/lib/systemd/system"
    if not units.exists():
        shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    got = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "edge.service"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    complaints = [line for line in got.stderr.splitlines() if "edge.service" in line]
    assert got.returncode == 0 and not complaints, got.stderr


def test_uninstall_keeps_the_data_unless_purged(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert _install("--prefix", str(root)).returncode == 0
    (root / "opt/edge/venv/bin").mkdir(parents=True)
    sqlite3.connect(root / "var/lib/edge/edge.db").close()  # the site's events

    dry = subprocess.run(["bash", str(UNINSTALL), "--prefix", str(root), "--dry-run"],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert dry.returncode == 0 and (root / "etc/systemd/system/edge.service").exists()
    assert (root / "opt/edge/venv").is_dir()
    got = subprocess.run(["bash", str(UNINSTALL), "--prefix", str(root)],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert not (root / "etc/systemd/system/edge.service").exists()
    assert not (root / "opt/edge").exists()
    assert (root / "var/lib/edge/edge.db").is_file() and (root / "etc/edge/edge.yaml").is_file()
    assert "kept" in got.stdout and "--purge" in got.stdout
    purged = subprocess.run(["bash", str(UNINSTALL), "--prefix", str(root), "--purge"],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert purged.returncode == 0 and not (root / "var/lib/edge").exists()
    assert not (root / "etc/edge").exists()


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


@pytest.mark.slow
def test_doctor_from_the_installed_venv_finds_the_installed_models_and_unit(
    installed: Installed, tmp_path: Path
) -> None:
    """What a maintainer runs first on the box: the venv's `edge doctor` over what the
    installer laid out (the daemon is not running here, so that line fails)."""
    root = installed.root
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    models = root / "var/lib/edge/models"
    config = tmp_path / "edge.yaml"
    config.write_text(
        SITE.replace("127.0.0.1:0", f"127.0.0.1:{closed}")
        + f"vision: {{models_dir: {models}, manifest: {models / 'manifest.yaml'}}}\n",
        encoding="utf-8",
    )
    unit = root / "etc/systemd/system/edge.service"
    got = installed.run_venv(
        "edge", "doctor", "--config", str(config), "--unit", str(unit), "--json",
        env={"EDGE_DATA_DIR": str(root / "var/lib/edge")},
    )  # fmt: skip
    assert got.returncode == 1, got.stdout + got.stderr  # only the daemon is missing
    by = {f["check"]: f for f in json.loads(got.stdout)["findings"]}
    assert by["config"]["status"] == "OK" and by["data dir"]["status"] == "OK"
    assert by["models"]["status"] == "OK" and "checksums match" in by["models"]["message"]
    assert by["watchdog"]["status"] == "OK" and "WatchdogSec=30s" in by["watchdog"]["message"]
    assert by["daemon"]["status"] == "FAIL" and "systemctl start edge" in by["daemon"]["fix"]
    assert [f["check"] for f in by.values() if f["status"] == "FAIL"] == ["daemon"]
