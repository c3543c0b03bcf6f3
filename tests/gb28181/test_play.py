"""Live plays: the platform INVITEs a channel and decodes the PS it receives over RTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from gb_helpers import CHANNELS, DEVICE, DaemonFactory, file_camera
from gb_media import decode_ps, ps_codec, write_video
from gb_platform import Platform

from edge.app import Daemon
from edge.codecs import ps, sip
from edge.uplinks.gb28181.agent import Gb28181Agent


def _agent(d: Daemon) -> Gb28181Agent:
    agent = d.rt.services["uplink.police"]
    assert isinstance(agent, Gb28181Agent)
    return agent


async def _registered(p: Platform, daemon: DaemonFactory, video: Path, **kw: object) -> Daemon:
    cams = "\n".join(
        [file_camera("north", video, CHANNELS[0]), file_camera("south", video, CHANNELS[1])]
    )
    d = await daemon(p, cams, **kw)
    await p.until(lambda: p.registered(DEVICE), 10, "registration")
    return d


@pytest.mark.parametrize("media", ["udp", "tcp-passive", "tcp-active"])
async def test_play_decodes_frames_and_bye_stops_it(
    udp_platform: Platform, daemon: DaemonFactory, video: Path, media: str
) -> None:
    p = udp_platform
    d = await _registered(p, daemon, video)
    play = await p.invite(DEVICE, CHANNELS[0], media)  # type: ignore[arg-type]
    assert play.answer is not None and play.answer.status == 200
    await p.until(lambda: play.frames_marked >= 12, 15, "a dozen frames")
    # The stream starts on a keyframe: pack header, system header, PSM first.
    assert bytes(play.ps[:4]) == ps.PACK_START and bytes(play.ps[14:18]) == ps.SYSTEM_START
    frames = decode_ps(bytes(play.ps))
    assert len(frames) >= 10 and frames[0].shape == (240, 320, 3)
    # The play is one more consumer of the camera's shared session, not a second session.
    session = d.rt.cameras.session("north")
    consumers = [c["name"] for c in session.health()["packet_consumers"]]
    assert consumers == ["gb28181.north"] and session.connections == 1
    agent = _agent(d)
    [sending] = list(agent.plays.plays.values())
    answer = await p.bye(play)
    assert answer.status == 200
    await p.until(
        lambda: sending.task is not None and sending.task.done(),
        3.0,  # well under a second on an idle box; the margin is for a loaded CI machine
        "the sender to stop after BYE",
    )
    assert agent.plays.plays == {}
    await p.until(lambda: not session.health()["packet_consumers"], 2, "unsubscribed")
    assert p.violations == []


async def test_concurrent_plays_limit_and_unknown_channel(
    udp_platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    p = udp_platform
    await _registered(p, daemon, video, max_plays=2)
    one = await p.invite(DEVICE, CHANNELS[0], "udp")
    two = await p.invite(DEVICE, CHANNELS[1], "tcp-passive", ssrc="0100000002")
    three = await p.invite(DEVICE, CHANNELS[0], "udp", ssrc="0100000003")
    unknown = await p.invite(DEVICE, "34020000001310009999", "udp")
    assert [x.answer.status for x in (one, two, three, unknown) if x.answer] == [200, 200, 486, 404]
    await p.until(
        lambda: one.frames_marked >= 5 and two.frames_marked >= 5, 15, "both plays to deliver"
    )
    assert decode_ps(bytes(one.ps)) and decode_ps(bytes(two.ps))
    assert {pk.ssrc for pk in two.packets} == {100000002}
    assert p.violations == []


@pytest.mark.parametrize("media", ["udp", "tcp-passive"])
async def test_a_platform_that_vanishes_without_bye_stops_the_play(
    udp_platform: Platform, daemon: DaemonFactory, video: Path, media: str
) -> None:
    p = udp_platform
    d = await _registered(p, daemon, video)
    play = await p.invite(DEVICE, CHANNELS[0], media)  # type: ignore[arg-type]
    await p.until(lambda: play.frames_marked >= 3, 15, "the play to start")
    agent = _agent(d)
    [sending] = list(agent.plays.plays.values())
    await play.close()  # the media port is gone: ICMP unreachable / TCP closed; no BYE
    await p.until(
        lambda: sending.task is not None and sending.task.done(),
        10,
        "the sender to notice the platform is gone",
    )
    assert agent.plays.plays == {}
    assert sending.ended and "bye" not in sending.ended
    assert agent.health()["plays_ended"] == {"platform gone": 1}
    # The device closes the dialog too, so the platform does not keep a dead session.
    await p.until(lambda: play.call_id in p.byes, 5, "the device's BYE")
    assert p.violations == []


async def test_shutdown_hangs_up_plays_then_unregisters(
    platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    d = await _registered(platform, daemon, video)
    play = await platform.invite(DEVICE, CHANNELS[0], "udp")
    await platform.until(lambda: play.frames_marked >= 3, 15, "the play to start")
    await daemon.stop(d)
    assert platform.byes == [play.call_id]
    assert platform.unregistered == [DEVICE]
    assert platform.violations == []


async def test_a_lost_ack_is_recovered_by_the_retransmitted_200(
    udp_platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    p = udp_platform
    await _registered(p, daemon, video)
    p.drop_next_ack = True
    play = await p.invite(DEVICE, CHANNELS[0], "udp")
    assert play.answer is not None and play.answer.status == 200
    await p.until(lambda: play.frames_marked >= 3, 15, "frames after the ACK got through")
    assert p.ok_retransmits >= 1
    assert p.violations == []


async def test_an_h265_camera_is_played_as_h265(
    udp_platform: Platform, daemon: DaemonFactory, tmp_path: Path
) -> None:
    p = udp_platform
    clip = write_video(tmp_path / "h265.mp4", codec="libx265")
    d = await daemon(p, file_camera("north", clip, CHANNELS[0]))
    await p.until(lambda: p.registered(DEVICE), 10, "registration")
    play = await p.invite(DEVICE, CHANNELS[0], "udp")
    await p.until(lambda: play.frames_marked >= 8, 15, "frames")
    assert ps_codec(bytes(play.ps)) == "hevc"  # the PSM says 0x24: nothing was transcoded
    assert len(decode_ps(bytes(play.ps))) >= 6
    assert d.rt.cameras.session("north").stream.codec == "hevc"
    assert p.violations == []


async def test_a_cancel_after_the_answer_changes_nothing_and_an_unknown_one_is_481(
    udp_platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    """A platform whose play timed out sends CANCEL (wvp does): the INVITE was answered at
    once, so RFC 3261 §9.2 answers it 200 and the play goes on until BYE; a CANCEL with no
    INVITE is 481. It used to be 405, which a strict platform takes as a broken UA."""
    p = udp_platform
    d = await _registered(p, daemon, video)
    play = await p.invite(DEVICE, CHANNELS[0], "udp")
    assert play.answer is not None and play.answer.status == 200
    answer = await p.cancel(play)
    assert answer.status == 200
    assert sip.parse_name_addr(answer.require("To")).params.get("tag") == (
        sip.parse_name_addr(play.answer.require("To")).params.get("tag")
    )
    before = play.frames_marked
    await p.until(lambda: play.frames_marked >= before + 3, 15, "the play to go on")
    assert (await p.bye(play)).status == 200
    assert _agent(d).plays.plays == {}
    assert (await p.cancel(play)).status == 200  # a retransmission: the same answer
    fresh = await p.cancel(play, branch="z9hG4bKnoinvite1")
    assert fresh.status == 481  # a CANCEL that matches no INVITE
    assert p.violations == []
