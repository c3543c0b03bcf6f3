"""Doctor check of each destination through the same steps as `edge uplink test`."""

from __future__ import annotations

import argparse
import contextlib
import io

from edge.ops.checks.base import FAIL, OK, WARN, Context, Finding


def check_uplinks(ctx: Context) -> list[Finding]:
    """The `edge uplink test` steps per destination (connect, authenticate, round trip)."""
    assert ctx.config is not None
    from edge.cli.uplink import run_test, steps_doc, uplink_tests

    tests = uplink_tests()  # each type's own (a plugin without one is not tested here)
    out = []
    for name, up in ctx.config.uplinks.items():
        kind = getattr(up, "type", "")
        if not getattr(up, "enabled", True) or kind not in tests:
            continue
        if kind == "mqtt" and not getattr(up, "url", ""):
            out.append(
                Finding(
                    WARN,
                    f"uplink {name}",
                    "no url: events queue, nothing is sent",
                    "set the broker url (or EDGE_MQTT_URL)",
                )
            )
            continue
        args = argparse.Namespace(
            type=kind, config=ctx.config_path, name=name, url=None, timeout=ctx.timeout_s, json=True
        )
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            try:
                code = run_test(args)
            except Exception as exc:  # a check must report, not stop doctor
                code = 1
                print(f"  FAIL  test: {exc}")
        doc = steps_doc(kind, code, buf.getvalue())
        failed = [s["text"] for s in doc["steps"] if s["status"] == "FAIL"]
        if code == 0:
            out.append(Finding(OK, f"uplink {name}", f"{kind}: {len(doc['steps'])} steps passed"))
        else:
            out.append(
                Finding(
                    FAIL,
                    f"uplink {name}",
                    f"{kind}: {failed[0] if failed else 'failed'}",
                    f"edge uplink test {kind} --config {ctx.config_path} --name {name}",
                )
            )
    return out
