"""The camera kinds, in ONE table read by the daemon (`factory.open_source`), by
`edge camera probe` and by the plugin registry (`registry().cameras`) alike: adding a
kind is one entry here, one source module and its config model.

Each kind names its config model (resolved when asked, so this table imports neither
the config package nor PyAV/aiohttp: the plugin registry can list it cheaply) and two
openers: from a `cameras:` entry, and from what an installer types on the command line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from edge.camera.source import FrameSource, SourceTiming

if TYPE_CHECKING:
    from edge.config.cameras import AnyCamera


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """A camera as typed on the command line (credentials already out of the URL)."""

    url: str
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class CameraKind:
    name: str
    config: str
    """`module:Class` of the `cameras:` entry model with `kind: <name>`."""
    packets: str
    """Whether the session can share encoded packets: `always`, `video files`, `never`."""
    from_config: Callable[[Any, SourceTiming, Executor | None], FrameSource]
    for_probe: Callable[[ProbeTarget, SourceTiming], FrameSource]

    def config_model(self) -> type[BaseModel]:
        module, _, cls = self.config.partition(":")
        model: type[BaseModel] = getattr(importlib.import_module(module), cls)
        return model


def _secret(cfg: Any) -> str | None:
    return cfg.password.get_secret_value() if cfg.password is not None else None


def _rtsp(cfg: Any, timing: SourceTiming, executor: Executor | None) -> FrameSource:
    from edge.camera.rtsp import RtspSource

    return RtspSource(
        cfg.id, cfg.url, timing, username=cfg.username, password=_secret(cfg), probe_s=cfg.probe_s
    )


def _rtsp_probe(t: ProbeTarget, timing: SourceTiming) -> FrameSource:
    from edge.camera.rtsp import RtspSource

    return RtspSource("probe", t.url, timing, username=t.username, password=t.password, probe_s=1)


def _mjpeg(cfg: Any, timing: SourceTiming, executor: Executor | None) -> FrameSource:
    from edge.camera.mjpeg import MjpegSource

    return MjpegSource(
        cfg.id, cfg.url, timing, username=cfg.username, password=_secret(cfg), executor=executor
    )


def _mjpeg_probe(t: ProbeTarget, timing: SourceTiming) -> FrameSource:
    from edge.camera.mjpeg import MjpegSource

    return MjpegSource("probe", t.url, timing, username=t.username, password=t.password)


def _snapshot(cfg: Any, timing: SourceTiming, executor: Executor | None) -> FrameSource:
    from edge.camera.snapshot import SnapshotSource

    return SnapshotSource(
        cfg.id,
        cfg.url,
        timing,
        username=cfg.username,
        password=_secret(cfg),
        poll_interval_s=cfg.poll_interval_s,
        executor=executor,
    )


def _snapshot_probe(t: ProbeTarget, timing: SourceTiming) -> FrameSource:
    from edge.camera.snapshot import SnapshotSource

    return SnapshotSource(
        "probe", t.url, timing, username=t.username, password=t.password, poll_interval_s=0.0
    )


def _file(cfg: Any, timing: SourceTiming, executor: Executor | None) -> FrameSource:
    from edge.camera.files import FileSource

    return FileSource(cfg.id, cfg.path, timing, fps=cfg.fps, loop=cfg.loop, executor=executor)


def _file_probe(t: ProbeTarget, timing: SourceTiming) -> FrameSource:
    from edge.camera.files import FileSource

    return FileSource("probe", Path(t.url), timing, fps=25.0, loop=False)


CAMERA_KINDS: dict[str, CameraKind] = {
    k.name: k
    for k in (
        CameraKind("rtsp", "edge.config.cameras:RtspCamera", "always", _rtsp, _rtsp_probe),
        CameraKind("mjpeg", "edge.config.cameras:MjpegCamera", "never", _mjpeg, _mjpeg_probe),
        CameraKind(
            "snapshot", "edge.config.cameras:SnapshotCamera", "never", _snapshot, _snapshot_probe
        ),
        CameraKind("file", "edge.config.cameras:FileCamera", "video files", _file, _file_probe),
    )
}


def camera_kind(name: str) -> CameraKind:
    try:
        return CAMERA_KINDS[name]
    except KeyError:
        known = ", ".join(CAMERA_KINDS)
        raise ValueError(f"unknown camera kind {name!r} (known: {known})") from None


def open_configured(
    cfg: AnyCamera, timing: SourceTiming, executor: Executor | None = None
) -> FrameSource:
    return camera_kind(cfg.kind).from_config(cfg, timing, executor)
