"""Outbox records to MQTT messages: policy, topic, JSON, images, payload cap.

Runs in a worker thread, a batch at a time (JSON encoding and image reads
would otherwise hold the event loop). The output is checked against
`wire.EventMessage` / `wire.ImageMessage` by the tests; it is built as plain
dicts here because pydantic per message would cost more than the send.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path
from typing import Any

from edge.store import OutboxItem
from edge.timefmt import rfc3339
from edge.uplinks.mqtt.config import MqttUplinkConfig
from edge.uplinks.mqtt.wire import SCHEMA
from edge.uplinks.policy import Policy

log = logging.getLogger(__name__)

_TOPIC_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def topic_part(text: str) -> str:
    """A topic level that cannot contain /, + or # (a kind or an ID from a device)."""
    return _TOPIC_UNSAFE.sub("_", text) or "_"


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str).encode()


@dataclass(frozen=True)
class Outgoing:
    """One record's messages, published in this order (images first, event last)."""

    seq: int
    messages: list[tuple[str, bytes]]


class Encoder:
    def __init__(
        self,
        cfg: MqttUplinkConfig,
        prefix: str,
        site_id: str,
        tz: timezone,
        data_dir: Path,
    ) -> None:
        self.cfg = cfg
        self.prefix = prefix
        self.site_id = site_id
        self.tz = tz
        self.data_dir = data_dir
        self.policy = Policy(cfg.policy)
        self.truncated = 0
        self.images_omitted = 0

    def topic_for(self, kind: str) -> str:
        if kind == "reading":
            return f"{self.prefix}/readings"
        return f"{self.prefix}/events/{topic_part(kind)}"

    def encode(self, item: OutboxItem) -> Outgoing:
        ev = self.policy.apply(item.event)
        ts = rfc3339(ev["ts_ms"], self.tz)
        messages: list[tuple[str, bytes]] = []
        images: list[dict[str, Any]] = []
        if self.cfg.images != "none":
            for index, im in enumerate(ev["images"]):
                info = {k: im[k] for k in ("role", "sha256", "size_bytes", "content_type")}
                if self.cfg.images == "send":
                    self._attach(ev, item.seq, ts, index, im, info, messages)
                images.append(info)
        msg: dict[str, Any] = {
            "schema": SCHEMA,
            "id": ev["id"],
            "seq": item.seq,
            "site": self.site_id,
            "ts": ts,
            "kind": ev["kind"],
            "source": ev["source"],
            "data": ev["data"],
            "images": images,
        }
        payload = dumps(msg)
        if len(payload) > self.cfg.max_payload_bytes:
            self.truncated += 1
            log.warning(
                "event %s is %d bytes, over the %d cap: its data is replaced by a marker",
                ev["id"],
                len(payload),
                self.cfg.max_payload_bytes,
            )
            msg["data"] = {"truncated_bytes": len(dumps(ev["data"]))}
            msg["truncated"] = True
            payload = dumps(msg)
        messages.append((self.topic_for(ev["kind"]), payload))
        return Outgoing(item.seq, messages)

    def _attach(
        self,
        ev: dict[str, Any],
        seq: int,
        ts: str,
        index: int,
        im: dict[str, Any],
        info: dict[str, Any],
        messages: list[tuple[str, bytes]],
    ) -> None:
        # base64 grows 4/3, plus the envelope: refuse before reading a file that cannot fit.
        if im["size_bytes"] * 4 // 3 + 1024 > self.cfg.max_payload_bytes:
            info["omitted"] = "too_large"
            self.images_omitted += 1
            return
        try:
            raw = (self.data_dir / im["path"]).read_bytes()
        except OSError:
            info["omitted"] = "missing"  # pruned by retention, or deleted by hand
            self.images_omitted += 1
            return
        topic = f"{self.prefix}/images/{topic_part(ev['id'])}"
        body = {
            "schema": SCHEMA,
            "id": ev["id"],
            "seq": seq,
            "site": self.site_id,
            "ts": ts,
            "kind": "image",
            "data": {
                "role": im["role"],
                "index": index,
                "sha256": im["sha256"],
                "content_type": im["content_type"],
                "size_bytes": len(raw),
                "b64": base64.b64encode(raw).decode("ascii"),
            },
        }
        messages.append((topic, dumps(body)))
        info["topic"] = topic

    def encode_batch(self, items: list[OutboxItem]) -> list[Outgoing]:
        return [self.encode(i) for i in items]
