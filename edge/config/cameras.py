"""The `cameras:` section: one entry per camera, its source chosen by `kind`.

Each camera has one source (RTSP, HTTP MJPEG, HTTP snapshot, or a file/folder for
the demo and tests), the rate the recognisers look at it (`analysis_fps`, far below
the stream's own rate: a car at a barrier needs a few looks a second, not 25), a
motion gate so a static scene costs nothing, and ROI polygons so a recogniser only
sees the lane or the doorway it is responsible for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from edge.config.police_ids import ApeId, CameraChannelId
from edge.config.scene import SceneRule, check_scene
from edge.config.types import AtKey, FractionPolygon, PositiveSeconds, Section

CameraRole = Literal["vehicle_gate", "pedestrian_gate", "general"]
Pipeline = Literal["plates", "faces", "objects"]


class MotionGateConfig(Section):
    """Skip analysis of frames where nothing moved."""

    enabled: bool = Field(
        default=True,
        title="Motion gate on",
        description="Only analyse frames that differ from the previous one (plus `hold_s`).",
    )
    threshold: int = Field(
        default=25,
        ge=1,
        le=255,
        title="Pixel threshold (grey levels)",
        description="A pixel counts as changed when its grey level moved by more than this.",
    )
    min_area_pct: float = Field(
        default=0.5,
        gt=0,
        le=100,
        title="Minimum changed area (%)",
        description="Percent of the (ROI) area that must change for the frame to pass.",
    )
    downscale_width_px: int = Field(
        default=160,
        ge=32,
        le=1920,
        title="Comparison width (px)",
        description="Frames are shrunk to this width before comparing; small is cheap and "
        "ignores sensor noise.",
    )
    hold_s: float = Field(
        default=2.0,
        ge=0,
        title="Hold after motion (s)",
        description="Keep passing frames this long after the last motion, so a vehicle that "
        "stops at the barrier is still read.",
    )
    keepalive_s: float = Field(
        default=0.0,
        ge=0,
        title="Keep-alive frame interval (s)",
        description="Pass one frame at least this often even when static (0 = never).",
    )


class RoiPolygon(Section):
    """A region of interest, in fractions of the frame so it survives a resolution change."""

    name: str = Field(default="roi", title="Name", description="Shown on the page and in logs.")
    points: FractionPolygon = Field(
        title="Polygon points (x, y fractions)",
        description="Vertices as [x, y] with 0..1 of the frame width and height, top-left origin.",
    )


class CameraBase(Section):
    """What every camera kind's model has (a new kind's model subclasses this, or
    `NetworkCamera`, and adds `kind: Literal["<name>"]`)."""

    id: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        title="Camera ID",
        description="Stable identifier used in events, topics and the page.",
    )
    name: str = Field(default="", title="Name", description="Human name, e.g. 'North gate in'.")
    enabled: bool = Field(default=True, title="Enabled", description="Off keeps the entry idle.")
    ape_id: ApeId | None = Field(
        default=None,
        title="GA/T 1400 APE ID",
        description="20-digit 采集设备 code the police network assigned to this camera "
        "(type code 119/121/131/132 ... at digits 11-13); prefixes the IDs of its passes "
        "sent to a 视图库. Without it the uplink's device_id is used.",
    )
    role: CameraRole = Field(
        default="general",
        title="Role",
        description="What the camera watches: a vehicle gate, a pedestrian gate, or general.",
    )
    pipelines: list[Pipeline] = Field(
        default_factory=list,
        title="Recognisers",
        description="Which recognisers look at this camera's frames: plates, faces, objects.",
    )
    object_classes: list[str] = Field(
        default_factory=lambda: ["person", "bicycle", "car", "motorcycle", "bus", "truck"],
        title="Object classes",
        description="COCO classes the objects pipeline keeps on this camera (others ignored).",
    )
    rules: list[SceneRule] = Field(
        default_factory=list,
        title="Scene rules",
        description="ebike_in_lift, fire_lane, loitering (need the objects pipeline) and "
        "falling_object (runs on every frame in its zone); see docs/scene-rules.md.",
    )
    analysis_fps: float = Field(
        default=4.0,
        gt=0,
        le=60,
        title="Analysis rate (frames/s)",
        description="How many frames per second are handed to the recognisers.",
    )
    motion_gate: MotionGateConfig = Field(
        default_factory=MotionGateConfig,
        title="Motion gate",
        description="Skip analysis while the picture is static.",
    )
    roi: list[RoiPolygon] = Field(
        default_factory=list,
        title="Regions of interest",
        description="Polygons; when given, motion is measured and recognisers look only there.",
    )
    roi_mask_outside: bool = Field(
        default=True,
        title="Black out outside the ROI",
        description="Blank pixels outside the polygons inside the ROI crop.",
    )
    queue_frames: int = Field(
        default=2,
        ge=1,
        le=64,
        title="Analysis queue length (frames)",
        description="Frames waiting for the recognisers; when full the oldest is dropped.",
    )
    reconnect_min_s: PositiveSeconds = Field(
        default=1.0,
        title="First reconnect delay (s)",
        description="Delay before the first reconnect; doubles each failure, with jitter.",
    )
    reconnect_max_s: PositiveSeconds = Field(
        default=30.0,
        title="Longest reconnect delay (s)",
        description="Cap of the exponential reconnect backoff.",
    )
    open_timeout_s: PositiveSeconds = Field(
        default=10.0,
        title="Open timeout (s)",
        description="Give up connecting after this long.",
    )
    read_timeout_s: PositiveSeconds = Field(
        default=5.0,
        title="Frame timeout (s)",
        description="No frame for this long marks the camera offline and reconnects.",
    )
    gb_channel_id: CameraChannelId | None = Field(
        default=None,
        title="GB/T 28181 channel ID",
        description="20-digit channel ID the GB/T 28181 platform lists and plays this camera "
        "by; type code (digits 11-13) 131 camera or 132 IPC. Omitted: not offered.",
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> CameraBase:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise AtKey("reconnect_max_s", "must be >= reconnect_min_s")
        gate = self.motion_gate
        check_scene(
            self.pipelines,
            self.object_classes,
            self.rules,
            gate.keepalive_s if gate.enabled else None,
        )
        return self


class NetworkCamera(CameraBase):
    url: str = Field(
        title="URL",
        description="Stream address without credentials (give them in username/password).",
    )
    username: str | None = Field(default=None, title="User name", description="Camera login.")
    password: SecretStr | None = Field(
        default=None,
        title="Password",
        description="Camera password (or `password_file`); never logged.",
    )


class RtspCamera(NetworkCamera):
    """An IP camera's RTSP stream, pulled over TCP (interleaved) and decoded with PyAV."""

    kind: Literal["rtsp"] = Field(title="Source kind", description="RTSP over TCP.")
    probe_s: PositiveSeconds = Field(
        default=0.5,
        title="Stream probe time (s)",
        description="How long FFmpeg analyses the stream before the first frame.",
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        if not url.lower().startswith(("rtsp://", "rtsps://")):
            raise ValueError("an rtsp camera url must start with rtsp:// or rtsps://")
        return url


class MjpegCamera(NetworkCamera):
    """An HTTP multipart/x-mixed-replace stream of JPEGs (cheap cameras, encoders)."""

    kind: Literal["mjpeg"] = Field(title="Source kind", description="HTTP MJPEG stream.")

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        return _http_url(url)


class SnapshotCamera(NetworkCamera):
    """A camera polled for single JPEG snapshots over HTTP (basic or digest auth)."""

    kind: Literal["snapshot"] = Field(title="Source kind", description="HTTP JPEG polling.")
    poll_interval_s: PositiveSeconds = Field(
        default=1.0,
        title="Poll interval (s)",
        description="Time between the end of one snapshot and the next request.",
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        return _http_url(url)


class FileCamera(CameraBase):
    """Images from a folder, one image, or a video file, looped: for the demo and tests."""

    kind: Literal["file"] = Field(title="Source kind", description="File or folder.")
    path: Path = Field(
        title="Path",
        description="A folder of JPEG/PNG images (sorted by name), one image, or a video file.",
    )
    fps: float = Field(
        default=5.0,
        gt=0,
        le=120,
        title="Playback rate (frames/s)",
        description="Frames per second the file is played at.",
    )
    loop: bool = Field(default=True, title="Loop", description="Start over at the end.")


def _http_url(url: str) -> str:
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("the url must start with http:// or https://")
    return url


CameraConfig = Annotated[
    RtspCamera | MjpegCamera | SnapshotCamera | FileCamera,
    Field(discriminator="kind"),
]
"""One `cameras:` entry; `kind` selects the source."""

AnyCamera = RtspCamera | MjpegCamera | SnapshotCamera | FileCamera
