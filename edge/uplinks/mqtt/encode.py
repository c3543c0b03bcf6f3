"""Policy-applied events to MQTT messages: topic, JSON, images, payload cap.

Runs in the link's worker thread, a batch at a time (JSON encoding and image
reads would otherwise hold the event loop); the data policy has already run
(`edge.uplinks.link`). The output is checked against
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
from typing import Any

from edge.events import Event, ImageRef
from edge.uplinks.link import LoadImage
from edge.uplinks.mqtt.config import MqttUplinkConfig
from edge.uplinks.mqtt.wire import SCHEMA

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
        load_image: LoadImage,
    ) -> None:
        self.cfg = cfg
        self.prefix = prefix
        self.site_id = site_id
        self.tz = tz
        self.load_image = load_image
        self.truncated = 0

    def topic_for(self, kind: str) -> str:
        if kind == "reading":
            return f"{self.prefix}/readings"
        return f"{self.prefix}/events/{topic_part(kind)}"

    def encode(self, seq: int, ev: Event) -> Outgoing:
        ts = ev.ts.astimezone(self.tz).isoformat(timespec="milliseconds")
        messages: list[tuple[str, bytes]] = []
        images: list[dict[str, Any]] = []
        if self.cfg.images != "none":
            for index, im in enumerate(ev.images):
                info: dict[str, Any] = {
                    "role": str(im.role),
                    "sha256": im.sha256,
                    "size_bytes": im.size_bytes,
                    "content_type": im.content_type,
                }
                if self.cfg.images == "send":
                    self._attach(ev, seq, ts, index, im, info, messages)
                images.append(info)
        msg: dict[str, Any] = {
            "schema": SCHEMA,
            "id": ev.id,
            "seq": seq,
            "site": self.site_id,
            "ts": ts,
            "kind": ev.kind,
            "source": ev.source,
            "data": ev.data,
            "images": images,
        }
        payload = dumps(msg)
        if len(payload) > self.cfg.max_payload_bytes:
            self.truncated += 1
            log.warning(
                "event %s is %d bytes, over the %d cap: its data is replaced by a marker",
                ev.id,
                len(payload),
                self.cfg.max_payload_bytes,
            )
            msg["data"] = {"truncated_bytes": len(dumps(ev.data))}
            msg["truncated"] = True
            payload = dumps(msg)
        messages.append((self.topic_for(ev.kind), payload))
        return Outgoing(seq, messages)

    def _attach(
        self,
        ev: Event,
        seq: int,
        ts: str,
        index: int,
        im: ImageRef,
        info: dict[str, Any],
        messages: list[tuple[str, bytes]],
    ) -> None:
        # base64 grows 4/3, plus the envelope: refuse before reading a file that cannot fit.
        raw, omitted = self.load_image(im, (self.cfg.max_payload_bytes - 1024) * 3 // 4)
        if raw is None:
            info["omitted"] = omitted
            return
        topic = f"{self.prefix}/images/{topic_part(ev.id)}"
        body = {
            "schema": SCHEMA,
            "id": ev.id,
            "seq": seq,
            "site": self.site_id,
            "ts": ts,
            "kind": "image",
            "data": {
                "role": str(im.role),
                "index": index,
                "sha256": im.sha256,
                "content_type": im.content_type,
                "size_bytes": len(raw),
                "b64": base64.b64encode(raw).decode("ascii"),
            },
        }
        messages.append((topic, dumps(body)))
        info["topic"] = topic
