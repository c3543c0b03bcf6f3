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
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    try:
        registry = registry_from_args(args)
    except (OSError, ValueError) as exc:
        print(f"models check: cannot read the manifest: {exc}", file=sys.stderr)
        return 2
    specs = list(registry.manifest.models)
    if args.only:
        specs = [s for s in specs if s.name in args.only or s.file in args.only]
        if not specs:
            print(f"models check: no model named {', '.join(args.only)}", file=sys.stderr)
            return 2
    print(f"models in {registry.models_dir} ({args.threads} thread(s), {args.runs} runs)")
    print(f"{'NAME':<34} {'KIND':<16} {'STATUS':<7} {'MEDIAN ms':>9} {'P95 ms':>8}")
    failed = []
    for spec in specs:
        try:
            median, p95 = check_model(registry, spec, max(1, args.runs))
        except Exception as exc:  # report every model, whatever broke
            failed.append(spec.name)
            print(f"{spec.name:<34} {spec.kind:<16} {'FAILED':<7}")
            print(f"    {exc}")
            continue
        print(f"{spec.name:<34} {spec.kind:<16} {'ok':<7} {median:>9.2f} {p95:>8.2f}")
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
