"""scripts/fetch-models: copies or downloads, verifies every sha256, names what failed."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from prereqs import SHARED_MIRROR, needs

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "fetch-models"
SHARED_MODELS = REPO.parent / "shared" / "models"
# The two smallest real models keep the test quick while exercising real checksums.
SMALL = ("face_detection_yunet_2023mar.onnx", "hyperlpr3_litemodel_cls_96x_r1.onnx")

pytestmark = needs(SHARED_MODELS.is_dir(), *SHARED_MIRROR)


@pytest.fixture
def small_manifest(tmp_path: Path) -> Path:
    data = yaml.safe_load((REPO / "models" / "manifest.yaml").read_text(encoding="utf-8"))
    data["models"] = [m for m in data["models"] if m["file"] in SMALL]
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    folder = tmp_path / "mirror"
    folder.mkdir()
    for name in SMALL:
        shutil.copyfile(SHARED_MODELS / name, folder / name)
    return folder


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60
    )


def test_copies_from_mirror_and_verifies(
    tmp_path: Path, small_manifest: Path, mirror: Path
) -> None:
    dest = tmp_path / "models"
    result = run("--manifest", small_manifest, "--mirror", mirror, "--dest", dest)
    assert result.returncode == 0, result.stderr
    for name in SMALL:
        assert (dest / name).read_bytes() == (SHARED_MODELS / name).read_bytes()
    again = run("--manifest", small_manifest, "--mirror", mirror, "--dest", dest)
    assert again.returncode == 0
    assert again.stdout.count("already present") == len(SMALL)


def test_corrupted_file_is_rejected_and_named(
    tmp_path: Path, small_manifest: Path, mirror: Path
) -> None:
    bad = mirror / SMALL[1]
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    dest = tmp_path / "models"
    result = run("--manifest", small_manifest, "--mirror", mirror, "--dest", dest)
    assert result.returncode == 1
    assert SMALL[1] in result.stderr and "sha256" in result.stderr
    assert not (dest / SMALL[1]).exists(), "a file failing its checksum must not be put in place"
    assert (dest / SMALL[0]).is_file(), "the good file is still fetched"
    assert not [p for p in dest.iterdir() if p.name.startswith(".")], "no temporary left behind"


def test_corrupted_destination_file_is_replaced(
    tmp_path: Path, small_manifest: Path, mirror: Path
) -> None:
    dest = tmp_path / "models"
    dest.mkdir()
    (dest / SMALL[0]).write_bytes(b"truncated")
    result = run("--manifest", small_manifest, "--mirror", mirror, "--dest", dest)
    assert result.returncode == 0, result.stderr
    assert (dest / SMALL[0]).read_bytes() == (SHARED_MODELS / SMALL[0]).read_bytes()


def test_downloads_from_base_url(tmp_path: Path, small_manifest: Path, mirror: Path) -> None:
    served = mirror / "models"
    served.mkdir()
    for name in SMALL:
        shutil.move(mirror / name, served / name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/models/"
        dest = tmp_path / "models"
        empty_mirror = tmp_path / "empty"
        empty_mirror.mkdir()
        result = run(
            "--manifest",
            small_manifest,
            "--mirror",
            empty_mirror,
            "--base-url",
            url,
            "--dest",
            dest,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    for name in SMALL:
        assert (dest / name).read_bytes() == (SHARED_MODELS / name).read_bytes()


def test_missing_everywhere_fails_naming_the_file(tmp_path: Path, small_manifest: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("--manifest", small_manifest, "--mirror", empty, "--dest", tmp_path / "m")
    assert result.returncode == 1
    for name in SMALL:
        assert name in result.stderr


def test_runs_as_python_module_source() -> None:
    """The test fixtures run it with `sys.executable`: the shell trampoline must be inert."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and "--mirror" in result.stdout
