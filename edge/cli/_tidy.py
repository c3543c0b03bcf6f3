"""Float noise out of what the CLI prints: 21.300000000000001 is shown as 21.3.

Readings are scaled in floating point (raw × 0.01), so a value the meter sent as
2130 arrives as 21.300000000000001; ten significant digits is more than any meter
or sensor resolves and drops the artefacts without hiding a real digit.
"""

from __future__ import annotations

from typing import Any


def tidy(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tidy(v) for v in value]
    return value
