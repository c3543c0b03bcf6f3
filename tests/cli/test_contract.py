"""The CLI contract (issue 14): every verb answers `--json` with one parseable document.

A daemon runs in this process against real simulators (meters on a socket line, Modbus
TCP sensors); each verb is run as an installer would, with `--json`, and its stdout is
parsed. `test_every_verb_is_covered` walks the parser the registry builds, so a new verb
without `--json`, or one this test does not run, fails here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prereqs import SHARED_MIRROR, require
from webauth import daemon_headers

from edge import __version__
from edge.app import Daemon
from edge.cli.main import build_parser, main
from edge.config import parse_config
from edge.sim.meters import MeterSimulator, MeterSpec, Protocol, SimConfig
from edge.sim.modbus import ModbusSimulator, SensorSpec

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SCENES = SHARED / "images" / "plates" / "scenes"

CONFIG = """\
config_version: 1
site: {{name: 测试小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001",
        utc_offset: "+08:00"}}
storage: {{data_dir: {data}}}
web: {{listen: "127.0.0.1:0"}}
buses:
  - {{id: line1, type: serial, port: "socket://{host}:{port}", timeout_s: 300ms, retries: 0,
      inter_frame_gap_s: 0s}}
devices:
  - {{id: meter-ok, type: dlt645, bus: line1, address: "000000000161", poll_interval_s: 1s}}
uplinks:
  hub: {{type: mqtt, url: ""}}
"""

# Verbs that run until stopped and print no document: the daemon itself.
NO_JSON = {"run"}
# Groups another helper owns and tests (their --json is still required below).
OTHERS = {"access"}


def leaf_verbs(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """'group action' -> its parser, for every leaf command."""
    out: dict[str, Any] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.update(leaf_verbs(sub, (*prefix, name)))
            return out
    out[" ".join(prefix)] = parser
    return out


def has_json(parser: argparse.ArgumentParser) -> bool:
    return any("--json" in a.option_strings for a in parser._actions)


@pytest.fixture
async def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    meters = [MeterSpec("000000000161"), MeterSpec("00201809230001", Protocol.CJT188)]
    sensors = [SensorSpec(1, "smoke_detector")]
    async with (
        MeterSimulator(SimConfig(meters=meters)) as sim,
        ModbusSimulator(sensors) as modbus,
    ):
        host, port = await sim.start_tcp()
        mhost, mport = await modbus.start_tcp()
        text = CONFIG.format(data=tmp_path / "data", host=host, port=port)
        config = tmp_path / "edge.yaml"
        config.write_text(text, encoding="utf-8")
        d = Daemon(parse_config(text, str(config), {}))
        await d.start()
        url = f"http://127.0.0.1:{d.web.port}"
        # The CLI on the box reads the daemon's local token (as root or the service user would).
        monkeypatch.setenv("EDGE_TOKEN_FILE", str(d.web.token_file))
        try:
            yield {
                "url": url,
                "port": d.web.port,
                "line": f"socket://{host}:{port}",
                "modbus": f"tcp://{mhost}:{mport}",
                "config": str(config),
                "text": text,
                "daemon": d,
                "headers": daemon_headers(d),
            }
        finally:
            await d.stop()


async def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    capsys.readouterr()
    rc = await asyncio.to_thread(main, [*argv, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    try:
        doc = json.loads(out)
    except json.JSONDecodeError:
        pytest.fail(f"`edge {' '.join(argv)} --json` printed no JSON document:\n{out}\n{err}")
    return rc, doc, err


def test_every_verb_takes_json_and_is_run_here() -> None:
    verbs = leaf_verbs(build_parser())
    missing = sorted(v for v, p in verbs.items() if v not in NO_JSON and not has_json(p))
    assert missing == [], f"verbs without --json: {missing}"
    ours = {v for v in verbs if v.split()[0] not in OTHERS} - NO_JSON
    assert ours <= COVERED, f"verbs the contract test does not run: {sorted(ours - COVERED)}"


COVERED = {
    "status", "events", "queue", "alarm ack", "alarm close", "gate open",
    "config check", "config show", "config schema", "bus scan", "meter read", "modbus read",
    "models check", "face enroll", "face list", "face remove", "camera probe",
    "vision detect", "vision eval-plates", "vision eval-faces", "uplink test", "sim field",
    "doctor", "diag bundle", "logs", "config migrate",
    "user add", "user list", "user passwd", "user remove",
}  # fmt: skip


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"edge {__version__}"


async def test_daemon_verbs(site: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    url = site["url"]
    rc, doc, _ = await run_json(capsys, "status", "--url", url)
    assert doc["version"] == __version__ and rc == (0 if doc["status"] == "ok" else 1)
    assert doc["site"]["utc_offset"] == "+08:00"  # what text output converts times with
    # found from the config's web.listen, and from EDGE_WEB_PORT
    fixed = Path(site["config"]).with_name("fixed.yaml")
    text = site["text"].replace("127.0.0.1:0", f"0.0.0.0:{site['port']}")
    await asyncio.to_thread(fixed.write_text, text, encoding="utf-8")
    rc, doc, _ = await run_json(capsys, "status", "--config", str(fixed))
    assert doc["site"]["name"] == "测试小区"
    os.environ["EDGE_WEB_PORT"] = str(site["port"])
    try:
        rc, doc, _ = await run_json(capsys, "queue")
    finally:
        del os.environ["EDGE_WEB_PORT"]
    assert [r["dest"] for r in doc] == ["hub"] and doc[0]["backlog"] >= 0

    async with aiohttp.ClientSession(headers=site["headers"]) as http:
        body = {"kind": "plate", "source": "gate1", "data": {"camera": "gate1",
                "plate": "京A12345", "x": "y" * 300, "confidence": 0.30000000000000004}}  # fmt: skip
        async with http.post(f"{url}/api/events", json=body) as r:
            assert r.status == 201, await r.text()
    rc, events, _ = await run_json(capsys, "events", "--url", url, "--kind", "plate")
    assert rc == 0 and len(events) == 1
    ev = events[0]
    assert ev["data"]["x"] == "y" * 300  # not cut
    assert ev["data"]["confidence"] == 0.3  # no float noise
    assert ev["ts"].endswith("+08:00")  # the site's zone

    # events tail: follows live; --json is one document per line
    tail = asyncio.create_task(asyncio.to_thread(
        main, ["events", "tail", "--url", url, "--kind", "plate", "--count", "1", "--json"]))  # fmt: skip
    for _ in range(200):
        if "api.events.stream" in site["daemon"].rt.hub.stats():
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("events tail never subscribed")
    async with aiohttp.ClientSession(headers=site["headers"]) as http:
        accessbody = {"kind": "access", "source": "door1", "data": {"card": "1"}}
        async with http.post(f"{url}/api/events", json=accessbody) as r:
            assert r.status == 201
        body["data"]["plate"] = "苏E99999"
        async with http.post(f"{url}/api/events", json=body) as r:
            assert r.status == 201
    assert await asyncio.wait_for(tail, 20) == 0
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    live = json.loads(line)
    assert live["kind"] == "plate" and live["data"]["plate"] == "苏E99999"
    assert live["data"]["confidence"] == 0.3 and live["ts"].endswith("+08:00")

    rc, doc, _ = await run_json(capsys, "alarm", "ack", "no-such-alarm", "--url", url)
    assert rc == 1 and doc["ok"] is False and doc["message"]
    rc, doc, _ = await run_json(capsys, "alarm", "close", "no-such-alarm", "--url", url)
    assert rc == 1 and doc["ok"] is False
    rc, doc, _ = await run_json(capsys, "gate", "open", "no-gate", "--url", url, "--reason", "t")
    assert rc == 1 and doc["ok"] is False and doc["message"]

    rc, doc, _ = await run_json(capsys, "config", "check", site["config"])
    assert rc == 0 and doc["ok"] and doc["devices"] == 1
    rc, doc, _ = await run_json(capsys, "config", "show", site["config"])
    assert rc == 0 and doc["site"]["site_id"] == "32010600002160000001"
    rc, doc, _ = await run_json(capsys, "config", "schema")
    assert rc == 0 and "properties" in doc


async def test_unreachable_daemon_is_exit_2_with_a_sentence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for verb in (["status"], ["events"], ["queue"]):
        rc = await asyncio.to_thread(main, [*verb, "--url", f"http://127.0.0.1:{port}", "--json"])
        err = capsys.readouterr().err
        assert rc == 2 and "does not answer" in err and "Traceback" not in err


async def test_field_verbs(site: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    line = site["line"]
    rc, doc, _ = await run_json(
        capsys, "bus", "scan", "--port", line, "--timeout", "0.05", "--protocols", "cjt188"
    )
    assert rc == 0 and doc["meters"] == [{"protocol": "cjt188", "address": "00201809230001"}]
    rc, doc, _ = await run_json(capsys, "meter", "read", "--port", line, "--addr", "000000000161")
    assert rc == 0 and doc["values"][0]["point"] and doc["address"] == "000000000161"
    rc, doc, _ = await run_json(
        capsys, "meter", "read", "--port", line, "--addr", "00201809230001", "--protocol", "cjt188"
    )
    assert rc == 0 and doc["family"] == "water"
    rc, doc, _ = await run_json(capsys, "modbus", "read", "--url", site["modbus"],
                                "--register", "0", "--count", "2",
                                "--function", "input_registers")  # fmt: skip
    assert rc == 0 and len(doc["raw"]) == 2
    rc, doc, _ = await run_json(capsys, "modbus", "read", "--url", site["modbus"],
                                "--register", "900")  # fmt: skip
    assert rc == 1 and doc["ok"] is False and "illegal data address" in doc["error"]
    rc, doc, _ = await run_json(capsys, "uplink", "test", "mqtt", "--url", "http://127.0.0.1:1/")
    assert rc == 2 and doc["steps"][0]["status"] == "FAIL" and "mqtt://" in doc["steps"][0]["text"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, doc, _ = await run_json(
        capsys, "uplink", "test", "mqtt", "--url", f"mqtt://127.0.0.1:{port}", "--timeout", "2"
    )
    assert rc == 1 and doc["steps"][-1]["status"] == "FAIL"


def test_logs_reads_the_log_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "edge.log"
    log.write_text("".join(f"line {n} 北门\n" for n in range(150)), encoding="utf-8")
    rc = main(["logs", "--file", str(log), "-n", "3", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["lines"] == ["line 147 北门", "line 148 北门", "line 149 北门"]
    rc = main(["logs", "--file", str(tmp_path / "none.log"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 2 and "give the right --file" in doc["error"]


def test_sim_field_prints_its_addresses_as_json() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge", "sim", "field", "--meters-port", "0",
         "--modbus-port", "0", "--json"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        doc = json.loads(proc.stdout.readline())
        assert doc["meters"].startswith("127.0.0.1:") and doc["meter_addresses"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_model_and_vision_verbs(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(SCENES.is_dir(), *SHARED_MIRROR)

    def run(*argv: str) -> tuple[int, Any]:
        capsys.readouterr()
        rc = main([*argv, "--json"])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return rc, json.loads(out)

    md = ["--models-dir", str(models_dir)]
    rc, doc = run("models", "check", *md, "--runs", "1", "--only", "lprnet_sirius_ccpd_94x24")
    assert rc == 0 and doc["models"][0]["ok"] and doc["models"][0]["median_ms"] > 0
    db = ["--db", str(tmp_path / "faces.db")]
    scene = SCENES / "hyperlpr_2.jpg"
    rc, doc = run("face", "enroll", *md, *db, "--name", "张三", str(scene))
    assert rc == 1 and doc["enrolled"] is False and "no face found" in doc["rejected"][0]
    rc, doc = run("face", "list", *md, *db)
    assert rc == 0 and doc == []
    rc, doc = run("face", "remove", *md, *db, "--name", "张三")
    assert rc == 1 and doc["ok"] is False and "张三" in doc["error"]
    rc, doc = run("vision", "detect", str(scene), "--no-faces", *md)
    assert rc == 0 and "藏DT5022" in json.dumps(doc, ensure_ascii=False)
    folder = tmp_path / "scenes"
    folder.mkdir()
    shutil.copy(scene, folder / scene.name)
    (folder / "labels.csv").write_text("file,plate\nhyperlpr_2.jpg,藏DT5022\n", encoding="utf-8")
    rc, doc = run("vision", "eval-plates", str(folder), *md)
    assert rc == 0 and doc["images"] == 1 and doc["hits"] == 1
    stills = tmp_path / "stills"
    stills.mkdir()
    shutil.copy(scene, stills / "a.jpg")
    rc, doc = run("camera", "probe", str(stills), "--frames", "1")
    assert rc == 0 and doc["frames"] == 1 and doc["resolution"]


def test_eval_faces_json(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faces = SHARED / "images" / "faces" / "deepface"
    require(faces.is_dir(), *SHARED_MIRROR)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        f"file_x,file_y,Decision\n{faces / 'img1.jpg'},{faces / 'img2.jpg'},Yes\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    rc = main(["vision", "eval-faces", "--models-dir", str(models_dir),
               "--pairs", str(pairs), "--json"])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["pairs"] == 1 and 0.0 <= doc["accuracy"] <= 1.0


def test_user_verbs(tmp_path: Path) -> None:
    """Console logins: each verb answers one JSON document; the password comes on stdin."""
    config = tmp_path / "edge.yaml"
    config.write_text(
        CONFIG.format(data=tmp_path / "data", host="127.0.0.1", port=1), encoding="utf-8"
    )

    def edge(*argv: str, stdin: str = "") -> tuple[int, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "edge", "user", *argv, "-c", str(config), "--json"],
            input=stdin, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, json.loads(done.stdout)

    rc, doc = edge("add", "门岗张", "--role", "guard", "--password-stdin", stdin="值班-2026-pass\n")
    assert rc == 0 and doc == {"ok": True, "user": "门岗张", "role": "guard", "file": doc["file"]}
    rc, doc = edge("list")
    assert rc == 0 and doc == [{"user": "门岗张", "role": "guard", "display_name": ""}]
    assert "argon2" not in json.dumps(doc)
    rc, doc = edge("passwd", "门岗张", "--password-stdin", stdin="另一个-2026-pass\n")
    assert rc == 0 and doc["ok"] is True
    rc, doc = edge("remove", "门岗张")
    assert rc == 0 and doc == {"ok": True, "removed": "门岗张"}
    rc, doc = edge("list")
    assert doc == []


# One failing call of each verb that can fail before it reaches a daemon or a device.
FAILING = [
    ["camera", "probe", "{missing}/still.jpg"],
    ["camera", "probe", "rtsp://127.0.0.1:{closed}/x", "--timeout", "2"],
    ["vision", "eval-plates", "{missing}"],
    ["vision", "detect", "{missing}/gate.jpg", "--models-dir", "{missing}"],
    ["models", "check", "--models-dir", "{missing}"],
    ["face", "list", "--models-dir", "{missing}", "--db", "{missing}/faces.db"],
    ["config", "check", "{missing}/edge.yaml"],
    ["config", "show", "{missing}/edge.yaml"],
    ["config", "migrate", "{missing}/edge.yaml"],
    ["user", "list", "-c", "{missing}/edge.yaml"],
    ["status", "--config", "{missing}/edge.yaml"],
    ["doctor", "--config", "{missing}/edge.yaml"],
    ["diag", "bundle", "--config", "{missing}/edge.yaml"],
    ["meter", "read", "--port", "{missing}/ttyUSB9", "--addr", "000000000161"],
    ["bus", "scan", "--port", "{missing}/ttyUSB9"],
    ["bus", "scan", "--port", "socket://127.0.0.1:{closed}", "--timeout", "0.05"],
    ["meter", "read", "--port", "socket://127.0.0.1:{closed}", "--addr", "000000000161"],
    ["events", "--since", "15x", "--url", "http://127.0.0.1:{closed}"],
    ["events", "--kind", "nonsense", "--url", "http://127.0.0.1:{closed}"],
    ["logs", "--file", "{missing}/edge.log"],
]


@pytest.mark.parametrize("argv", FAILING, ids=[" ".join(a[:3]) for a in FAILING])
def test_a_failing_verb_still_answers_json_with_a_sentence(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--json` gets one document even when the verb fails, and the error is a sentence:
    no traceback, no Python `[Errno N]` text."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    args = [a.format(missing=tmp_path / "missing", closed=closed) for a in argv]
    capsys.readouterr()
    rc = main([*args, "--json"])
    out, err = capsys.readouterr()
    assert rc in (1, 2), (out, err)
    doc = json.loads(out)
    if isinstance(doc, dict) and "ok" in doc:
        assert doc["ok"] is False
    assert "Traceback" not in err and "[Errno" not in out + err, out + err
    said = err.strip() or (isinstance(doc, dict) and doc.get("problems"))
    assert said, "a failure says why (on stderr, or config check's problems)"


def test_status_gives_uplink_times_in_the_site_zone_whatever_the_machines() -> None:
    """A box on UTC, or a maintainer's laptop elsewhere, still reads the compound's clock."""
    from edge.cli.status import uplink_line

    since = 1_700_000_000  # 2023-11-14 22:13:20 UTC
    outbox = {"dest": "hub", "backlog": 3, "acked_seq": 7}
    live = {"state": "disconnected", "since": since, "last_error": "refused"}
    assert " since 06:13:20 (" in uplink_line(outbox, live, "+08:00")
    assert " since 17:13:20 (" in uplink_line(outbox, live, "-05:00")


def test_logs_finds_the_file_a_supervisor_sends_the_daemons_stderr_to(tmp_path: Path) -> None:
    """No --file: `edge logs` asks the daemon for its pid and reads where its stderr goes."""
    import time
    import urllib.request

    config = tmp_path / "edge.yaml"
    config.write_text(
        CONFIG.format(data=tmp_path / "data", host="127.0.0.1", port=1), encoding="utf-8"
    )
    log = tmp_path / "daemon.log"
    env = {k: v for k, v in os.environ.items() if k not in ("EDGE_LOG_FILE", "EDGE_WEB_PORT")}
    env["PYTHONPATH"] = str(REPO)
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(config)],
                                stdout=out, stderr=out, env=env)  # fmt: skip
    try:
        url, deadline = None, time.monotonic() + 60
        while url is None:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            found = [w for w in log.read_text().split() if w.startswith("http://127.0.0.1:")]
            url = found[0].rstrip(",") if found else None
            time.sleep(0.1)
        with urllib.request.urlopen(url + "/api/health", timeout=10):
            pass
        done = subprocess.run([sys.executable, "-m", "edge", "logs", "--url", url, "-n", "500",
                               "--json"], capture_output=True, text=True, timeout=60, env=env,
                              check=False)  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["source"] == "file" and doc["path"] == str(log)
    assert any("local API on" in line for line in doc["lines"])
