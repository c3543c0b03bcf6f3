"""RTSP cameras: interleaved TCP, credentials only in the URL handed to FFmpeg."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from edge.camera.avreader import AvJob, stream_av
from edge.camera.frame import Frame
from edge.camera.redact import inject_credentials
from edge.camera.source import FrameSource, SourceTiming

# Frames waiting between the decoder thread and the loop; more only adds latency.
_HANDOFF_FRAMES = 2


class RtspSource(FrameSource):
    kind = "rtsp"
    encoded = True

    def __init__(
        self,
        camera_id: str,
        url: str,
        timing: SourceTiming | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        probe_s: float = 0.5,
    ) -> None:
        super().__init__(camera_id, url, timing, secrets=(password, username))
        self._full_url = inject_credentials(url, username, password)
        self.probe_s = probe_s

    def _options(self) -> dict[str, str]:
        return {
            # UDP loses packets (and whole I-frames) on busy compound networks and is
            # blocked by most NATs; interleaved TCP is what NVRs use too.
            "rtsp_transport": "tcp",
            "timeout": str(int(self.read_timeout_s * 1_000_000)),
            "analyzeduration": str(int(self.probe_s * 1_000_000)),
            "probesize": "2000000",
            "fflags": "nobuffer",
        }

    async def _session(self) -> AsyncGenerator[Frame, None]:
        job = AvJob(
            url=self._full_url,
            options=self._options(),
            open_timeout_s=self.open_timeout_s,
            read_timeout_s=self.read_timeout_s,
            tracker=self.tracker,
            make_frame=self.make_frame,
            scrub=self._scrub,
            max_output_fps=self.max_output_fps,
            **self.av_job_args(),
        )
        # closed explicitly, so its decoder thread is joined now, not when the GC gets to it
        async with aclosing(
            stream_av(job, self.camera_id, _HANDOFF_FRAMES, self.tracker.dropped)
        ) as frames:
            async for frame in frames:
                yield frame
