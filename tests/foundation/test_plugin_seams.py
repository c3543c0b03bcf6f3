"""A new driver, uplink or CLI group is one file in its plugin folder, with no edits elsewhere.

The package is copied as it is into a temporary tree and one file per kind is dropped in,
exactly as a maintainer adding a capability would: nothing else in the tree is touched. The
daemon, `edge config check|schema`, `edge --help`, `edge uplink test` and `edge doctor` must
then all know the new types. The new driver emits an event and the new uplink, built on the
link kit, delivers it to a file: a whole new destination works end to end.
A camera kind is, by design, one entry in `edge/camera/kinds.py`'s table beside its own
module (source and config model): the config's `cameras:` union is built from that table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DRIVER = '''
"""`type: thermo_probe`: a throwaway driver that emits one event when it starts."""

from typing import Literal

from pydantic import Field

from edge.config.devices import DeviceBase
from edge.events import Event


class ThermoProbeConfig(DeviceBase):
    type: Literal["thermo_probe"] = Field(title="Type", description="This driver.")
    label: str = Field(default="probe", title="Label", description="Put in the event.")


class ThermoProbe:
    def __init__(self, config, runtime):
        self.config, self.rt = config, runtime

    async def run(self) -> None:
        await self.rt.flow.emit(Event("alarm", self.config.id, {"label": self.config.label}))
        import asyncio

        await asyncio.Event().wait()


CONFIG = ThermoProbeConfig
DRIVER = ThermoProbe
'''

UPLINK = '''
"""`type: pigeon`: a throwaway destination on the link kit that writes JSON lines."""

import asyncio
import json
from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.uplinks.link import Link, LinkConfig


class PigeonConfig(LinkConfig):
    type: Literal["pigeon"] = Field(title="Type", description="This destination.")
    path: Path = Field(title="Loft", description="The file records are appended to.")


class Pigeon(Link):
    async def session(self) -> None:
        self.connected()
        await self.deliver(self._issue)

    def encode(self, seq, event):
        return json.dumps({"seq": seq, "id": event.id, "data": event.data})

    def _issue(self, line):
        with self.cfg.path.open("a") as f:
            f.write(line + "\\n")
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def _test(args) -> int:
    print("pigeon uplink test")
    print("  ok    loft is writable (0 ms)")
    return 0


CONFIG = PigeonConfig
UPLINK = Pigeon
CLI_TEST = _test
'''

CLI = '''
"""`edge hello`: a throwaway command group."""

from edge.cli._common import add_json, print_json


def register(sub):
    p = sub.add_parser("hello", help="say hello")
    add_json(p)
    p.set_defaults(handler=_run)


def _run(args) -> int:
    if args.json:
        print_json({"hello": "world"})
    else:
        print("hello world")
    return 0
'''

CAMERA = '''
"""`kind: thermal`: a throwaway camera kind (its config model and its openers)."""

from typing import Literal

from pydantic import Field

from edge.config.cameras import NetworkCamera


class ThermalCamera(NetworkCamera):
    kind: Literal["thermal"] = Field(title="Source kind", description="A thermal imager.")
    palette: str = Field(default="iron", title="Palette", description="False colours.")


def from_config(cfg, timing, executor):
    raise NotImplementedError("never opened in this test")


def for_probe(target, timing):
    raise NotImplementedError("never opened in this test")
'''

CAMERA_ENTRY = """
CAMERA_KINDS["thermal"] = CameraKind(
    "thermal",
    "edge.camera.thermal:ThermalCamera",
    "never",
    lambda c, t, e: importlib.import_module("edge.camera.thermal").from_config(c, t, e),
    lambda p, t: importlib.import_module("edge.camera.thermal").for_probe(p, t),
)
"""


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package as it is, plus one new file per plugin kind (and the camera kind's
    entry in its table) and nothing else changed."""
    root = tmp_path_factory.mktemp("tree")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in ("edge", "drivers"):
        shutil.copytree(ROOT / pkg, root / pkg, ignore=skip)
    (root / "drivers" / "thermo_probe.py").write_text(DRIVER)
    (root / "edge" / "uplinks" / "pigeon").mkdir()
    (root / "edge" / "uplinks" / "pigeon" / "__init__.py").write_text(UPLINK)
    (root / "edge" / "cli" / "hello.py").write_text(CLI)
    (root / "edge" / "camera" / "thermal.py").write_text(CAMERA)
    kinds = root / "edge" / "camera" / "kinds.py"  # the one table: one entry
    kinds.write_text(kinds.read_text() + CAMERA_ENTRY)
    return root


def _config(tree: Path, tmp_path: Path) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            config_version: 1
            site:
              name: Plugin Test
              site_id: "32010600002160000001"
              gateway_id: "32010600001180000001"
            storage:
              data_dir: {tmp_path / "data"}
            web:
              listen: "127.0.0.1:0"
            devices:
              - id: probe-1
                type: thermo_probe
                label: 3号楼
            cameras:
              - id: thermal-1
                kind: thermal
                url: http://127.0.0.1:9/thermal
                palette: rainbow
                enabled: false  # the daemon test runs the driver and uplink, not a camera
            uplinks:
              loft:
                type: pigeon
                path: {tmp_path / "loft.jsonl"}
            """
        )
    )
    return path


def _edge(tree: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [sys.executable, "-m", "edge", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        check=False,
        timeout=120,
    )


def test_the_new_types_are_in_the_registry_schema_and_help(tree: Path, tmp_path: Path) -> None:
    cfg = _config(tree, tmp_path)
    checked = _edge(tree, "config", "check", str(cfg))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 devices, 1 cameras, 1 uplinks" in checked.stdout, checked.stdout
    schema = _edge(tree, "config", "schema")
    assert schema.returncode == 0, schema.stderr
    for new in ('"thermo_probe"', '"pigeon"', '"thermal"'):
        assert new in schema.stdout, new
    helped = _edge(tree, "--help")
    assert "hello" in helped.stdout, helped.stdout
    hello = _edge(tree, "hello", "--json")
    assert (hello.returncode, json.loads(hello.stdout)) == (0, {"hello": "world"}), hello.stderr


def test_the_new_uplink_is_tested_by_edge_uplink_test_and_doctor(
    tree: Path, tmp_path: Path
) -> None:
    cfg = _config(tree, tmp_path)
    tested = _edge(tree, "uplink", "test", "pigeon", "--config", str(cfg), "--json")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    doc = json.loads(tested.stdout)
    assert doc["steps"] == [{"status": "ok", "text": "loft is writable (0 ms)"}], doc
    doctor = _edge(tree, "doctor", "--config", str(cfg), "--json")
    found = {f["check"]: f for f in json.loads(doctor.stdout)["findings"]}
    assert found["uplink loft"]["status"] == "OK", found.get("uplink loft", doctor.stdout)
    assert found["uplink loft"]["message"] == "pigeon: 1 steps passed"


def test_the_daemon_runs_the_new_driver_and_delivers_through_the_new_uplink(
    tree: Path, tmp_path: Path
) -> None:
    cfg = _config(tree, tmp_path)
    loft = tmp_path / "loft.jsonl"
    log = (tmp_path / "daemon.log").open("wb")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(cfg)],
        cwd=tree,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not (loft.exists() and loft.read_text().endswith("\n")):
            assert proc.poll() is None, (tmp_path / "daemon.log").read_text()
            assert time.monotonic() < deadline, "no record reached the new uplink in 60 s"
            time.sleep(0.05)
        (record,) = [json.loads(line) for line in loft.read_text().splitlines()]
        assert (record["seq"], record["data"]) == (1, {"label": "3号楼"})
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
