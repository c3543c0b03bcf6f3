"""`edge models check`: is every model present, intact, loadable, and how fast is it here?

Run after installing or swapping a model: it verifies each file's sha256, loads it with the
same session options the daemon uses, runs it on an input built from the manifest's input
spec, checks the outputs against the manifest, and prints the median latency on this
machine (the figure the status page shows). Exit 1 names every model that failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from edge.cli._common import CliError, add_json, os_reason, print_json
from edge.cli._table import table
from edge.vision.faces.cli import add_model_args, registry_from_args

if TYPE_CHECKING:
    from edge.vision.models import ModelRegistry, ModelSpec


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="check the ONNX models named in the manifest")
    ms = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    check = ms.add_parser(
        "check", help="verify, load and time every model (median of N runs on this machine)"
    )
    check.add_argument("--runs", type=int, default=10, help="timed runs per model (10)")
    check.add_argument("--only", action="append", help="check only this model (repeatable)")
    add_model_args(check)
    add_json(check)
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    """JSON: {"models_dir", "models": [{"name", "kind", "ok", "median_ms", "p95_ms", "error"}]}."""
    try:
        registry = registry_from_args(args)
    except (OSError, ValueError) as exc:
        raise CliError(
            f"cannot read the model manifest ({os_reason(exc)}); run scripts/fetch-models "
            "or give --models-dir"
        ) from None
    specs = list(registry.manifest.models)
    if args.only:
        specs = [s for s in specs if s.name in args.only or s.file in args.only]
        if not specs:
            raise CliError(f"no model named {', '.join(args.only)} in the manifest")
    if not args.json:
        print(f"models in {registry.models_dir} ({args.threads} thread(s), {args.runs} runs)")
    results = []
    for n, spec in enumerate(specs, 1):
        print(f"[{n}/{len(specs)}] {spec.name}", file=sys.stderr, flush=True)
        row = {"name": spec.name, "kind": spec.kind, "ok": True, "median_ms": None,
               "p95_ms": None, "error": None}  # fmt: skip
        try:
            median, p95 = check_model(registry, spec, max(1, args.runs))
            row.update(median_ms=round(median, 2), p95_ms=round(p95, 2))
        except Exception as exc:  # report every model, whatever broke
            row.update(ok=False, error=str(exc))
        results.append(row)
    failed = [str(r["name"]) for r in results if not r["ok"]]
    if args.json:
        print_json({"models_dir": str(registry.models_dir), "models": results})
    else:
        rows = [
            [r["name"], r["kind"], "ok" if r["ok"] else "FAILED",
             "" if r["median_ms"] is None else f"{r['median_ms']:.2f}",
             "" if r["p95_ms"] is None else f"{r['p95_ms']:.2f}"]
            for r in results
        ]  # fmt: skip
        print(table(["NAME", "KIND", "STATUS", "MEDIAN ms", "P95 ms"], rows, "<<<>>"))
        for r in results:
            if r["error"]:
                print(f"{r['name']}: {r['error']}")
    if failed:
        print(f"models check: {len(failed)} failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def check_model(registry: ModelRegistry, spec: ModelSpec, runs: int) -> tuple[float, float]:
    """Verify, load and run one model; (median, p95) latency of `session.run` in ms."""
    import numpy as np

    session = registry.session(spec.name)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (spec.input.height, spec.input.width, 3), dtype=np.uint8)
    fitted, _ = spec.input.fit(image)
    feed = {spec.input.name: spec.input.to_tensor([fitted])}
    names = spec.output_names
    outputs = session.run(names, feed)  # warm-up, and the shape check
    for out_spec, value in zip(spec.outputs, outputs, strict=True):
        got = tuple(np.shape(value))
        want = out_spec.shape
        fixed_ok = len(got) == len(want) and all(
            w is None or w == g for w, g in zip(want, got, strict=True)
        )
        if not fixed_ok:
            raise ValueError(f"output {out_spec.name} has shape {got}, manifest says {want}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"output {out_spec.name} holds NaN or infinity")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(names, feed)
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times)), float(np.percentile(times, 95))
