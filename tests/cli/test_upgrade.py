"""Upgrades: config_version migrations chain (the original kept beside), and a downgrade,
of the config or of the database, is refused with what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from edge.cli.main import main
from edge.config.migrate import CURRENT, ConfigVersionError, migrate_file

OLD = """\
# the site's own comments
config_version: 1
site: {name: 梅园小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}
storage: {data_dir: /var/lib/edge}
web: {port: 8080}
"""


def test_migrations_chain_and_keep_the_original(tmp_path: Path) -> None:
    def v1_to_v2(d: dict[str, Any]) -> dict[str, Any]:  # a renamed key
        d["web"] = {"listen": f"127.0.0.1:{d['web'].pop('port')}"}
        return d

    def v2_to_v3(d: dict[str, Any]) -> dict[str, Any]:  # a new section with a default
        d.setdefault("logging", {"format": "json"})
        return d

    path = tmp_path / "edge.yaml"
    path.write_text(OLD, encoding="utf-8")
    path.chmod(0o640)
    done = migrate_file(path, steps={1: v1_to_v2, 2: v2_to_v3}, current=3)
    assert (done.from_version, done.to_version) == (1, 3)
    assert done.backup == tmp_path / "edge.yaml.v1.bak"
    assert done.backup.read_text(encoding="utf-8") == OLD
    import yaml

    new = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert new["config_version"] == 3 and new["web"] == {"listen": "127.0.0.1:8080"}
    assert new["logging"] == {"format": "json"} and new["site"]["name"] == "梅园小区"
    assert path.stat().st_mode & 0o777 == 0o640  # still not world-readable
    again = migrate_file(path, steps={1: v1_to_v2, 2: v2_to_v3}, current=3)
    assert again.backup is None  # nothing left to do
    with pytest.raises(ConfigVersionError, match="no migration from config_version 1"):
        migrate_file(done.backup, steps={2: v2_to_v3}, current=3, dry_run=True)


def test_a_newer_config_is_refused_by_migrate_and_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(OLD.replace("config_version: 1", f"config_version: {CURRENT + 1}"))
    assert main(["config", "migrate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "written for a newer compound-edge" in err and "install the newer version" in err
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "written for a newer compound-edge" in err and "Traceback" not in err
    assert path.read_text().startswith("# the site's own comments")  # untouched


def test_the_current_version_needs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(OLD)
    assert main(["config", "migrate", str(path), "--json"]) == 0
    assert '"backup": null' in capsys.readouterr().out
    assert not list(tmp_path.glob("*.bak"))


def test_a_newer_database_is_refused_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / "edge.db")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    path = tmp_path / "edge.yaml"
    path.write_text(
        OLD.replace("/var/lib/edge", str(data)).replace(
            "web: {port: 8080}", "web: {listen: '127.0.0.1:0'}"
        ),
        encoding="utf-8",
    )
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "newer than this build" in err and "install the newer compound-edge" in err
    assert "Traceback" not in err
