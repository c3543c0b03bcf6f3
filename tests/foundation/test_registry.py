"""The plugin registry and the config schema do not depend on what was imported first."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.plugins import PluginError
from edge.registry import _submodules, build_registry, plugin_modules

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import hashlib, importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
from edge.config.schema import json_schema
from edge.registry import registry
print(json.dumps({"registry": registry().describe(),
                  "schema": hashlib.sha256(json_schema().encode()).hexdigest()}))
"""


def _probe(order: list[str]) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *order],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, f"import order {order} failed:\n{out.stderr[-2000:]}"
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_every_import_order_gives_the_same_registry_and_schema() -> None:
    mods = plugin_modules()
    plugins = [*mods["drivers"], *mods["uplinks"], *mods["cameras"]]
    assert {"drivers.dlt645", "drivers.cjt188", "drivers.modbus", "edge.uplinks.mqtt"} <= set(
        plugins
    )
    reference = _probe([])
    described = reference["registry"]
    assert isinstance(described, dict)
    assert {t for t, _ in described["drivers"]} >= {"dlt645", "cjt188", "modbus"}
    assert {t for t, _ in described["uplinks"]} >= {"mqtt"}
    # Each plugin imported first (the old bug: `drivers.dlt645` before `drivers` lost
    # `dlt645`), then all of them forwards and backwards with the config package before,
    # between and after them. Every permutation would be n! processes (40,320 for 8).
    orders = [[p, "edge.config"] for p in plugins]
    orders += [["edge.config", *plugins], [*reversed(plugins), "edge.config"]]
    orders += [[*plugins[: len(plugins) // 2], "edge.config", *plugins[len(plugins) // 2 :]]]
    for seq in orders:
        assert _probe(seq) == reference, seq


def test_the_in_process_registry_matches_a_fresh_one() -> None:
    from edge.config.schema import json_schema

    fresh = _probe(["edge.cli.main"])
    assert build_registry().describe() == fresh["registry"]
    assert hashlib.sha256(json_schema().encode()).hexdigest() == fresh["schema"]


def test_a_plugin_module_without_config_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "fakedrivers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "relay.py").write_text("DRIVER = object\n")  # forgot CONFIG
    monkeypatch.syspath_prepend(str(tmp_path))
    from edge.plugins import load_plugins

    with pytest.raises(PluginError, match=r"fakedrivers\.relay defines no CONFIG"):
        load_plugins(_submodules("fakedrivers"), "DRIVER")
