"""PS muxer and RTP packetiser, checked by FFmpeg's PS demuxer decoding real H.264."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from gb_media import Clip, decode_ps, encode, ps_codec

from edge.codecs import ps, psnal, rtp


@pytest.fixture(scope="module")
def annexb_clip() -> Clip:
    return encode(container="h264")


@pytest.fixture(scope="module")
def mp4_clip() -> Clip:
    return encode(container="mp4")


def _mux(clip: Clip, start: int = 0) -> bytes:
    units = psnal.AccessUnits(clip.extradata)
    muxer = ps.PsMuxer()
    return b"".join(
        muxer.frame(units.annexb(p.data, p.keyframe), p.pts, p.keyframe)
        for p in clip.packets[start:]
    )


def test_ps_of_annexb_packets_decodes_every_frame(annexb_clip: Clip) -> None:
    out = _mux(annexb_clip)
    assert ps_codec(out) == "h264"
    frames = decode_ps(out)
    assert len(frames) == len(annexb_clip.packets)
    assert frames[0].shape == (annexb_clip.height, annexb_clip.width, 3)
    assert float(np.std(frames[0])) > 10  # a real picture, not a grey field


def test_length_prefixed_packets_get_parameter_sets_injected(mp4_clip: Clip) -> None:
    assert not psnal.is_annexb(mp4_clip.packets[0].data)
    units = psnal.AccessUnits(mp4_clip.extradata)
    muxer = ps.PsMuxer()
    out = b"".join(
        muxer.frame(units.annexb(p.data, p.keyframe), p.pts, p.keyframe) for p in mp4_clip.packets
    )
    assert units.injected == sum(p.keyframe for p in mp4_clip.packets) == 2
    assert len(decode_ps(out)) == len(mp4_clip.packets)


@pytest.mark.parametrize("size", [1, 255, 256, 300, 511, 512, 70000])
def test_a_length_prefixed_nal_of_any_size_is_read_by_its_length(mp4_clip: Clip, size: int) -> None:
    """A 4-byte length of 256-511 is 00 00 01 xx: read as an Annex B start code it turned
    a small P-frame (a still scene) into garbage, and FFmpeg merged it with its neighbour
    (19 frames of 20 decoded, only on x264 output whose frame sizes fell there)."""
    nal = bytes([0x41]) + bytes([0xAA]) * (size - 1)  # a non-IDR slice
    units = psnal.AccessUnits(mp4_clip.extradata)
    assert units.annexb(len(nal).to_bytes(4, "big") + nal, keyframe=False) == psnal.START + nal
    two = len(nal).to_bytes(4, "big") + nal + (3).to_bytes(4, "big") + b"\x06\x05\x01"
    assert units.annexb(two, keyframe=False) == psnal.START + nal + psnal.START + b"\x06\x05\x01"


def test_a_stream_declared_length_prefixed_that_sends_annex_b_is_read_too(
    mp4_clip: Clip, annexb_clip: Clip
) -> None:
    units = psnal.AccessUnits(mp4_clip.extradata)
    packet = annexb_clip.packets[1].data
    assert psnal.is_annexb(packet)
    assert units.annexb(packet, keyframe=False) == b"".join(
        psnal.START + n for n in psnal.split_annexb(packet)
    )
    with pytest.raises(psnal.NalError):
        units.annexb(b"\x00\x00\x00\x09\x41", keyframe=False)  # neither: refused


def test_joining_at_the_second_keyframe_decodes(mp4_clip: Clip) -> None:
    second = [i for i, p in enumerate(mp4_clip.packets) if p.keyframe][1]
    frames = decode_ps(_mux(mp4_clip, start=second))
    assert len(frames) == len(mp4_clip.packets) - second


def test_without_parameter_sets_nothing_decodes(mp4_clip: Clip) -> None:
    # The control for the injection test: the same packets without extradata.
    units = psnal.AccessUnits(b"")
    units.length_size = 4
    muxer = ps.PsMuxer()
    out = b"".join(
        muxer.frame(units.annexb(p.data, p.keyframe), p.pts, p.keyframe) for p in mp4_clip.packets
    )
    assert decode_ps(out) == []


def test_large_frame_is_split_over_pes_packets() -> None:
    payload = bytes(range(256)) * 600  # 153600 bytes > one PES
    pes = ps.pes_packets(payload, 1234)
    assert len(pes) == 3
    body = b""
    for i, packet in enumerate(pes):
        assert packet[:4] == ps.PES_VIDEO_START
        (length,) = struct.unpack(">H", packet[4:6])
        assert length == len(packet) - 6 <= 0xFFFF
        header_len = packet[8]
        assert (packet[7] & 0x80 != 0) == (i == 0)  # PTS only on the first
        body += packet[9 + header_len :]
    assert body == payload


def test_pack_and_psm_fields() -> None:
    scr = (1 << 32) + 12345
    head = ps.pack_header(scr)
    assert len(head) == 14 and head[4] >> 6 == 0b01
    b = head[4:10]
    decoded = (
        ((b[0] >> 3) & 0x7) << 30
        | ((b[0] & 0x3) << 28)
        | (b[1] << 20)
        | ((b[2] >> 3) << 15)
        | ((b[2] & 0x3) << 13)
        | (b[3] << 5)
        | (b[4] >> 3)
    )
    assert decoded == scr
    psm = ps.program_stream_map(ps.STREAM_TYPE_H265)
    assert ps.crc32_mpeg(psm) == 0  # a CRC over data plus its CRC leaves no remainder
    assert psm[12] == 0x24 and psm[13] == 0xE0
    assert ps.PsMuxer(hevc=True).frame(b"\x00\x00\x00\x01\x40\x01", 0, True).count(psm) == 1


def test_hvcc_parameter_sets() -> None:
    vps, sps, pps = b"\x40\x01\xaa", b"\x42\x01\xbb", b"\x44\x01\xcc"
    rec = bytearray(23)
    rec[0] = 1
    rec[21] = 0x03
    rec[22] = 3
    for nal in (vps, sps, pps):
        rec += bytes([(nal[0] >> 1) & 0x3F]) + struct.pack(">HH", 1, len(nal)) + nal
    units = psnal.AccessUnits(bytes(rec), hevc=True)
    assert units.params == [vps, sps, pps]
    idr = b"\x26\x01\xdd"
    au = units.annexb(struct.pack(">I", len(idr)) + idr, keyframe=True)
    assert list(psnal.split_annexb(au)) == [vps, sps, pps, idr]


def test_bad_length_prefix_is_an_error() -> None:
    with pytest.raises(psnal.NalError):
        psnal.AccessUnits(b"").annexb(b"\x00\x00\x10\x00\x65", keyframe=True)


def test_rtp_packetiser_and_reassembly_decode(annexb_clip: Clip) -> None:
    units = psnal.AccessUnits(annexb_clip.extradata)
    muxer = ps.PsMuxer()
    pack = rtp.Packetiser(ssrc=100000001, seq=65530)
    stream = bytearray()
    packets = []
    for p in annexb_clip.packets:
        frame = muxer.frame(units.annexb(p.data, p.keyframe), p.pts, p.keyframe)
        for raw in pack.packetise(frame, p.pts):
            packets.append(rtp.parse(raw))
            assert len(raw) - 12 <= rtp.MAX_PAYLOAD
    seqs = [p.seq for p in packets]
    assert seqs[:8] == [65530, 65531, 65532, 65533, 65534, 65535, 0, 1]
    assert {p.ssrc for p in packets} == {100000001} and {p.payload_type for p in packets} == {96}
    markers = [p for p in packets if p.marker]
    assert len(markers) == len(annexb_clip.packets)
    assert [m.timestamp for m in markers] == [p.pts for p in annexb_clip.packets]
    for p in packets:
        stream += p.payload
    assert len(decode_ps(bytes(stream))) == len(annexb_clip.packets)


def test_rfc4571_framing_round_trip() -> None:
    pack = rtp.Packetiser(ssrc=7, seq=0)
    packets = pack.packetise(b"x" * 3000, 90000)
    stream = b"".join(rtp.frame_tcp(p) for p in packets)
    deframer = rtp.TcpDeframer()
    got: list[bytes] = []
    for i in range(0, len(stream), 333):
        got += list(deframer.feed(stream[i : i + 333]))
    assert got == packets


@pytest.mark.parametrize("raw", [b"\x80\x60", b"\x40" + b"\x00" * 11, b"\x9f" + b"\x00" * 11])
def test_bad_rtp(raw: bytes) -> None:
    with pytest.raises(rtp.RtpError):
        rtp.parse(raw)


def test_h265_in_ps_decodes() -> None:
    clip = encode(container="mp4", codec="libx265", frames=12, gop=6)
    assert not psnal.is_annexb(clip.packets[0].data)  # hvcC: parameter sets out of band
    units = psnal.AccessUnits(clip.extradata, hevc=True)
    muxer = ps.PsMuxer(hevc=True)
    out = b"".join(
        muxer.frame(units.annexb(p.data, p.keyframe), p.pts, p.keyframe) for p in clip.packets
    )
    assert ps_codec(out) == "hevc"
    assert units.injected == sum(p.keyframe for p in clip.packets)
    assert len(decode_ps(out)) == len(clip.packets)
