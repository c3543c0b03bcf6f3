"""Annex B conversion and out-of-band parameter sets, checked against FFmpeg's own
`h264_mp4toannexb` / `hevc_mp4toannexb` bitstream filters on real encoded files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from av.bitstream import BitStreamFilterContext

from edge.camera import h26x

ENCODERS = {
    "h264": ("libx264", {"g": "5"}),
    "hevc": ("libx265", {"x265-params": "keyint=5:log-level=none"}),
}


def _encode(path: Path, codec: str, frames: int = 12) -> Path:
    name, options = ENCODERS[codec]
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(name, rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = options
        for i in range(frames):
            image = rng.integers(0, 255, (240, 320, 3), np.uint8) // (i + 1)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_mp4_samples_become_the_same_annexb_as_ffmpeg_makes(codec: str, tmp_path: Path) -> None:
    path = _encode(tmp_path / f"clip-{codec}.mp4", codec)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        extradata = bytes(stream.codec_context.extradata)
        length_size = h26x.nal_length_size(extradata, codec)
        sets = h26x.parameter_sets(extradata, codec)
        bsf = BitStreamFilterContext(f"{codec}_mp4toannexb", stream)
        keyframes = 0
        for packet in container.demux(stream):
            if not packet.size:
                continue
            key = packet.is_keyframe
            ours = h26x.length_prefixed_to_annexb(bytes(packet), length_size or 4)
            theirs = b"".join(bytes(p) for p in bsf.filter(packet))  # takes the packet
            if key:
                keyframes += 1
                assert h26x.starts_decoding(ours, codec)
                assert not h26x.has_parameter_sets(ours, codec)  # MP4: only in the avcC/hvcC box
                ours = h26x.with_parameter_sets(ours, codec, sets)
                assert h26x.has_parameter_sets(ours, codec)
            # FFmpeg places the sets before the IDR slice and uses 3-byte start codes inside
            # an access unit: the same NAL units, possibly in another order around the sets.
            # It also copies the hvcC box's SEI (x265's version string); a decoder needs none.
            mine = h26x.split_annexb(ours)
            ref = [
                u
                for u in h26x.split_annexb(theirs)
                if u in mine or h26x.nal_type(u, codec) != 39 or codec != "hevc"
            ]
            assert sorted(mine) == sorted(ref)
    assert length_size == 4
    assert keyframes >= 2
    types = {h26x.nal_type(u, codec) for u in h26x.split_annexb(sets)}
    assert types == ({7, 8} if codec == "h264" else {32, 33, 34})


def test_parameter_sets_are_not_added_twice_nor_to_p_frames() -> None:
    sps, pps = b"\x67\x42\xc0\x1e\xda", b"\x68\xce\x0f\xc8"
    sets = h26x.join_annexb([sps, pps])
    idr = h26x.join_annexb([b"\x06\x05\x01", b"\x65\x88\x84"])
    p_frame = h26x.join_annexb([b"\x41\x9a\x20"])
    with_aud = h26x.join_annexb([b"\x09\xf0", b"\x65\x88\x84"])

    assert h26x.with_parameter_sets(idr, "h264", sets) == sets + idr
    assert h26x.with_parameter_sets(sets + idr, "h264", sets) == sets + idr
    assert h26x.with_parameter_sets(p_frame, "h264", sets) == p_frame
    assert h26x.with_parameter_sets(idr, "h264", b"") == idr
    assert h26x.split_annexb(h26x.with_parameter_sets(with_aud, "h264", sets)) == [
        b"\x09\xf0",
        sps,
        pps,
        b"\x65\x88\x84",
    ]


def test_annexb_split_handles_three_and_four_byte_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67\x01\x00\x00\x01\x68\x02\x00\x00\x00\x01\x65\x03\x00"
    assert h26x.split_annexb(data) == [b"\x67\x01", b"\x68\x02", b"\x65\x03\x00"]


def test_truncated_length_prefixed_sample_is_refused() -> None:
    with pytest.raises(ValueError, match="truncated"):
        h26x.length_prefixed_to_annexb(b"\x00\x00\x00\x09\x65\x88")
