"""MQTT topic prefixes with `{site_id}`/`{gateway_id}` placeholders, checked when loaded:
a typo such as `{site}` would otherwise raise KeyError in the uplink at start-up."""

from __future__ import annotations

import string

PLACEHOLDERS = ("site_id", "gateway_id")


def check_topic_prefix(prefix: str) -> str:
    try:
        fields = list(string.Formatter().parse(prefix))
    except ValueError as exc:
        raise ValueError(f"{exc}; write {{{{ and }}}} for literal braces") from None
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            raise ValueError(f"unknown placeholder {{{name}}} (known: {known})")
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} takes no format or conversion")
    sample = prefix.format(site_id="0" * 20, gateway_id="0" * 20)
    if any(c in sample for c in "+#\0"):
        raise ValueError("a topic prefix cannot contain the MQTT wildcards + or # (or NUL)")
    if not sample.strip("/"):
        raise ValueError("the topic prefix is empty")
    return prefix
