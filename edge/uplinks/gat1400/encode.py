"""Outbox records to GA/T 1400 objects: policy, IDs, code tables, images, ShotTime.

Runs in a worker thread a batch at a time (base64 of a 1080p scene and JSON
encoding would otherwise hold the event loop). Each record becomes one object,
JSON-encoded once here; the sender only concatenates objects into list POSTs.

Times: IDs use the event's own time (so they are the same on every resend);
ShotTime and the pass times are corrected by the measured offset to the
视图库's clock, because that is the clock it judges them by.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from edge.codecs import gat1400 as g
from edge.codecs.errors import ProtocolError
from edge.codecs.gat1400_ids import SemanticType, record_ids
from edge.codecs.gat1400_objects import Box, Face, MotorVehicle, SubImage, dumps_object, jpeg_size
from edge.codecs.gat1400_tables import image_type, plate_class, plate_color
from edge.codecs.gat1400_time import format_time
from edge.events import Event, ImageRef, ImageRole
from edge.payloads import FacePayload, PlatePayload
from edge.store import OutboxItem
from edge.uplinks.gat1400.config import Gat1400Config
from edge.uplinks.link import LoadImage
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
        load_image: LoadImage,
        ape_ids: dict[str, str],
    ) -> None:
        self.cfg = cfg
        self.tz = tz
        self.load_image = load_image
        self.ape_ids = ape_ids
        self.policy = Policy(cfg.policy)
        self.offset_s = 0.0
        self.images_omitted = 0

    def device_for(self, source: str) -> str:
        return self.ape_ids.get(source) or self.cfg.device_id

    def encode_batch(self, items: list[OutboxItem]) -> list[Prepared]:
        return [self.encode(i) for i in items]

    def encode(self, item: OutboxItem) -> Prepared:
        """A stored record: the data policy, then `encode_event`."""
        return self.encode_event(item.seq, self.policy.apply(item.event))

    def encode_event(self, seq: int, ev: Event) -> Prepared:
        """One policy-applied event to its list object (or why it has none)."""
        endpoint = ENDPOINTS.get(ev.kind)
        if endpoint is None:
            why = f"no GA/T 1400 object for kind {ev.kind!r}"
            return Prepared(seq, ev.id, ev.kind, None, "", b"", 0, why)
        try:
            obj = self._object(ev)
        except (ProtocolError, ValueError, KeyError, TypeError) as exc:
            return Prepared(seq, ev.id, ev.kind, endpoint, "", b"", 0, f"cannot encode: {exc}")
        return Prepared(seq, ev.id, ev.kind, endpoint, obj.id, dumps_object(obj), len(obj.images))

    def _object(self, ev: Event) -> MotorVehicle | Face:
        payload = PlatePayload.from_data(ev.data) if ev.kind == "plate" else None
        face = FacePayload.from_data(ev.data) if ev.kind == "face" else None
        seen = payload or face
        assert seen is not None
        device = self.device_for(ev.source)
        ts = ev.ts.astimezone(UTC)
        ts_ms = round(ts.timestamp() * 1000)
        shift = timedelta(seconds=self.offset_s)
        ordered = sorted(ev.images, key=lambda i: i.role != ImageRole.SCENE)
        ids = record_ids(
            device_id=device,
            event_id=ev.id,
            ts_ms=ts_ms,
            local_time=ts.astimezone(self.tz),
            semantic=SEMANTIC[ev.kind],
            n_images=len(ordered),
        )
        shot = format_time(ts + shift, self.tz)
        images = []
        # IDs by position in the event's own list, so one image pruned from disk
        # does not shift the IDs of the others on a resend.
        for image_id, im in zip(ids.image_ids, ordered, strict=True):
            loaded = self._load(ev.id, im)
            if loaded is not None:
                raw, w, h = loaded
                kind_type = image_type(ev.kind, im.role)
                images.append(SubImage(image_id, device, kind_type, shot, raw, w, h))
        appear = format_time(_wall(seen.first_seen, ts) + shift, self.tz)
        disappear = format_time(_wall(seen.last_seen, ts) + shift, self.tz)
        box = _box(seen.box)
        if payload is not None:
            return MotorVehicle(
                motor_vehicle_id=ids.object_id,
                source_id=ids.source_id,
                device_id=device,
                plate_no=payload.plate,
                plate_color=plate_color(payload.colour),
                plate_class=plate_class(payload.plate_type, payload.plate),
                pass_time=shot,
                appear_time=appear,
                disappear_time=disappear,
                box=box,
                plate_reliability=round(payload.confidence * 100),
                tollgate_id=self.cfg.tollgate_id,
                images=images,
            )
        return Face(
            face_id=ids.object_id,
            source_id=ids.source_id,
            device_id=device,
            appear_time=appear,
            disappear_time=disappear,
            box=box,
            images=images,
        )

    def _load(self, event_id: str, ref: ImageRef) -> tuple[bytes, int, int] | None:
        raw, why = self.load_image(ref, self.cfg.batch_max_bytes)
        if raw is not None:
            try:
                w, h = jpeg_size(raw)
            except ProtocolError as exc:
                why = str(exc)
            else:
                return raw, w, h
        self.images_omitted += 1
        log.debug("event %s: image %s not sent: %s", event_id, ref.path, why)
        return None


def _wall(value: Any, fallback: datetime) -> datetime:
    """A pass's first/last-seen wall-clock seconds; the event time when absent or odd."""
    if isinstance(value, int | float) and value > 1e9:
        return datetime.fromtimestamp(value, UTC)
    return fallback


def _box(value: Any) -> Box | None:
    if isinstance(value, list | tuple) and len(value) == 4:
        try:
            x1, y1, x2, y2 = (max(0, round(float(v))) for v in value)
        except (TypeError, ValueError):
            return None
        return x1, y1, x2, y2
    return None
