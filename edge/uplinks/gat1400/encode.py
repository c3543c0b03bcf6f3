"""Outbox records to GA/T 1400 objects: policy, IDs, code tables, images, ShotTime.

Runs in a worker thread a batch at a time (base64 of a 1080p scene and JSON
encoding would otherwise hold the event loop). Each record becomes one object,
JSON-encoded once here; the sender only concatenates objects into list POSTs.

Times: IDs use the event's own time (so they are the same on every resend);
ShotTime and the pass times are corrected by the measured offset to the
视图库's clock, because that is the clock it judges them by.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from edge.codecs import gat1400 as g
from edge.codecs.errors import ProtocolError
from edge.codecs.gat1400_ids import SemanticType, record_ids
from edge.events import Event
from edge.store import OutboxItem
from edge.uplinks.gat1400.config import Gat1400Config
from edge.uplinks.policy import Policy

log = logging.getLogger(__name__)

ENDPOINTS = {"plate": g.MOTOR_VEHICLES, "face": g.FACES}
SEMANTIC: dict[str, SemanticType] = {"plate": "02", "face": "06"}


@dataclass(frozen=True)
class Prepared:
    """One record as it goes on the wire (or why it cannot)."""

    seq: int
    event_id: str
    kind: str
    endpoint: str | None
    object_id: str
    body: bytes
    images: int = 0
    refused: str | None = None  # set when the record cannot be expressed in GA/T 1400


class Encoder:
    def __init__(
        self,
        cfg: Gat1400Config,
        tz: timezone,
        data_dir: Path,
        ape_ids: dict[str, str],
    ) -> None:
        self.cfg = cfg
        self.tz = tz
        self.data_dir = data_dir
        self.ape_ids = ape_ids
        self.policy = Policy(cfg.policy)
        self.offset_s = 0.0
        self.images_missing = 0

    def device_for(self, source: str) -> str:
        return self.ape_ids.get(source) or self.cfg.device_id

    def encode_batch(self, items: list[OutboxItem]) -> list[Prepared]:
        return [self.encode(i) for i in items]

    def encode(self, item: OutboxItem) -> Prepared:
        ev = _record(self.policy.apply(item.event))
        kind = ev["kind"]
        endpoint = ENDPOINTS.get(kind)
        if endpoint is None:
            return Prepared(
                item.seq, ev["id"], kind, None, "", b"", 0, f"no GA/T 1400 object for kind {kind!r}"
            )
        try:
            obj = self._object(ev, endpoint)
        except (ProtocolError, ValueError, KeyError, TypeError) as exc:
            return Prepared(item.seq, ev["id"], kind, endpoint, "", b"", 0, f"cannot encode: {exc}")
        body = json.dumps(obj.to_json(), ensure_ascii=False, separators=(",", ":")).encode()
        return Prepared(item.seq, ev["id"], kind, endpoint, obj.id, body, len(obj.images))

    def _object(self, ev: dict[str, Any], endpoint: str) -> g.MotorVehicle | g.Face:
        kind, data = ev["kind"], ev["data"]
        device = self.device_for(ev["source"])
        ts = datetime.fromtimestamp(ev["ts_ms"] / 1000, UTC)
        shift = timedelta(seconds=self.offset_s)
        loaded = self._images(ev)
        ids = record_ids(
            device_id=device,
            event_id=ev["id"],
            ts_ms=ev["ts_ms"],
            local_time=ts.astimezone(self.tz),
            semantic=SEMANTIC[kind],
            n_images=len(loaded),
        )
        shot = g.format_time(ts + shift, self.tz)
        images = [
            g.SubImage(
                image_id=image_id,
                device_id=device,
                type=g.image_type(kind, role),
                shot_time=shot,
                data=raw,
                width=w,
                height=h,
            )
            for image_id, (role, raw, w, h) in zip(ids.image_ids, loaded, strict=True)
        ]
        appear = g.format_time(_wall(data.get("first_seen"), ts) + shift, self.tz)
        disappear = g.format_time(_wall(data.get("last_seen"), ts) + shift, self.tz)
        box = _box(data.get("box"))
        if endpoint == g.MOTOR_VEHICLES:
            plate = str(data.get("plate") or "")
            conf = data.get("confidence")
            return g.MotorVehicle(
                motor_vehicle_id=ids.object_id,
                source_id=ids.source_id,
                device_id=device,
                plate_no=plate,
                plate_color=g.plate_color(data.get("colour")),
                plate_class=g.plate_class(data.get("plate_type"), plate),
                pass_time=shot,
                appear_time=appear,
                disappear_time=disappear,
                box=box,
                plate_reliability=round(float(conf) * 100)
                if isinstance(conf, int | float)
                else None,
                tollgate_id=self.cfg.tollgate_id,
                images=images,
            )
        return g.Face(
            face_id=ids.object_id,
            source_id=ids.source_id,
            device_id=device,
            appear_time=appear,
            disappear_time=disappear,
            box=box,
            images=images,
        )

    def _images(self, ev: dict[str, Any]) -> list[tuple[str, bytes, int, int]]:
        """(role, bytes, width, height), the scene first: its ImageID is the SourceID."""
        out = []
        for im in sorted(ev["images"], key=lambda i: i["role"] != "scene"):
            try:
                raw = (self.data_dir / im["path"]).read_bytes()
                w, h = g.jpeg_size(raw)
            except (OSError, ProtocolError) as exc:
                self.images_missing += 1
                log.debug("event %s: image %s not sent: %s", ev["id"], im["path"], exc)
                continue
            out.append((im["role"], raw, w, h))
        return out


def _wall(value: Any, fallback: datetime) -> datetime:
    """A pass's first/last-seen wall-clock seconds; the event time when absent or odd."""
    if isinstance(value, int | float) and value > 1e9:
        return datetime.fromtimestamp(value, UTC)
    return fallback


def _box(value: Any) -> g.Box | None:
    if isinstance(value, list | tuple) and len(value) == 4:
        try:
            x1, y1, x2, y2 = (max(0, round(float(v))) for v in value)
        except (TypeError, ValueError):
            return None
        return x1, y1, x2, y2
    return None


def _record(event: Event) -> dict[str, Any]:
    """The event as the object builders read it (ids, epoch milliseconds, image dicts)."""
    return {
        "id": event.id,
        "kind": event.kind,
        "source": event.source,
        "ts_ms": int(event.ts.timestamp() * 1000),
        "data": event.data,
        "images": [im.as_dict() for im in event.images],
    }
