"""The SIP transaction layer over real sockets, and the config rules an installer meets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from gb_helpers import CHANNELS, file_camera, gb_config
from gb_platform import Platform

from edge.codecs import sip
from edge.config.loader import parse_config
from edge.uplinks.gb28181.transport import SipTransport, TransportClosed


def _message(branch: str) -> sip.SipMessage:
    return sip.SipMessage(
        method="MESSAGE",
        uri="sip:34020000002000000001@3402000000",
        headers=[
            ("Via", f"SIP/2.0/UDP 127.0.0.1:1;branch={branch}"),
            ("From", "<sip:a@b>;tag=1"),
            ("To", "<sip:c@d>"),
            ("Call-ID", branch),
            ("CSeq", "1 MESSAGE"),
        ],
        body=b"x",
    )


class _Peer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[tuple[bytes, tuple[str, int]]] = []
        self.transport: Any = None
        self.arrived = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append((data, addr))
        self.arrived.set()


async def _peer() -> tuple[_Peer, int]:
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(_Peer, local_addr=("127.0.0.1", 0))
    return peer, transport.get_extra_info("sockname")[1]


async def _udp_transport(port: int, handled: list[str] | None = None) -> SipTransport:
    """The device's UDP transport towards `port`, open; it answers each request 200 and notes
    its Call-ID in `handled` (None: requests are not answered)."""

    async def handle(msg: sip.SipMessage) -> sip.SipMessage | None:
        if handled is None:
            return None
        handled.append(msg.call_id)
        return sip.response_to(msg, 200)

    t = SipTransport(
        "udp", ("127.0.0.1", port), local_host="127.0.0.1", local_port=0, on_request=handle
    )
    await t.open(1)
    return t


async def _wait(pred: object, what: str) -> None:
    for _ in range(500):
        if pred():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


async def test_udp_request_is_retransmitted_until_answered() -> None:
    peer, port = await _peer()
    t = await _udp_transport(port)
    try:
        pending = asyncio.create_task(t.request(_message("z9hG4bKretx"), 5))
        await _wait(lambda: len(peer.got) >= 2, "a retransmission")  # the first is "lost"
        assert peer.got[0][0] == peer.got[1][0]  # the same transaction, byte for byte
        request = sip.parse(peer.got[1][0])
        assert peer.transport is not None
        peer.transport.sendto(sip.response_to(request, 100).encode(), peer.got[1][1])
        peer.transport.sendto(sip.response_to(request, 200).encode(), peer.got[1][1])
        answer = await asyncio.wait_for(pending, 5)
        assert answer.status == 200  # the provisional 100 is skipped
    finally:
        await t.close()


async def test_a_retransmitted_platform_request_is_handled_once() -> None:
    peer, port = await _peer()
    handled: list[str] = []
    t = await _udp_transport(port, handled)
    try:
        assert peer.transport is not None
        raw = _message("z9hG4bKdup").encode()
        peer.transport.sendto(raw, ("127.0.0.1", t.local_port))
        await _wait(lambda: len(peer.got) == 1, "the answer")
        peer.transport.sendto(raw, ("127.0.0.1", t.local_port))
        await _wait(lambda: len(peer.got) == 2, "the answer again")
        assert handled == ["z9hG4bKdup"]
        assert sip.parse(peer.got[1][0]).status == 200
    finally:
        await t.close()


async def test_tcp_close_is_noticed_and_later_requests_fail() -> None:
    p = Platform("tcp")
    await p.start()

    async def no_requests(msg: sip.SipMessage) -> None:
        return None

    t = SipTransport(
        "tcp", ("127.0.0.1", p.port), local_host="127.0.0.1", local_port=0, on_request=no_requests
    )
    await t.open(1)
    try:
        await p.stop()  # the platform goes away
        await asyncio.wait_for(t.closed.wait(), 5)
        with pytest.raises(TransportClosed):
            await t.request(_message("z9hG4bKtcp"), 1)
    finally:
        await t.close()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"local_host": "0.0.0.0"}, "wildcard"),
        ({"server_id": "34020000001320000001"}, "type code"),
        ({"device_id": "3402000000118000000"}, "20 digits"),
    ],
)
def test_config_rejects(
    tmp_path: Path, video: Path, extra: dict[str, object], message: str
) -> None:
    p = Platform("udp")
    p.port = 5060
    text = gb_config(tmp_path, p, file_camera("north", video, CHANNELS[0]), **extra)
    with pytest.raises(Exception, match=message):
        parse_config(text, "edge.yaml", {})


def test_camera_channel_ids_are_checked(tmp_path: Path, video: Path) -> None:
    p = Platform("udp")
    p.port = 5060
    wrong_type = file_camera("north", video, "34020000001180000009")
    with pytest.raises(Exception, match=r"type code \(131, 132\)"):
        parse_config(gb_config(tmp_path, p, wrong_type), "edge.yaml", {})
    twice = "\n".join([file_camera("a", video, CHANNELS[0]), file_camera("b", video, CHANNELS[0])])
    with pytest.raises(Exception, match="duplicate gb_channel_id"):
        parse_config(gb_config(tmp_path, p, twice), "edge.yaml", {})


async def test_udp_requests_from_anyone_but_the_platform_are_not_taken() -> None:
    platform_peer, port = await _peer()
    stranger, _ = await _peer()
    handled: list[str] = []
    t = await _udp_transport(port, handled)
    try:
        stranger.transport.sendto(_message("z9hG4bKstranger").encode(), ("127.0.0.1", t.local_port))
        platform_peer.transport.sendto(
            _message("z9hG4bKplatform").encode(), ("127.0.0.1", t.local_port)
        )
        await _wait(lambda: len(platform_peer.got) == 1, "the platform's answer")
        assert handled == ["z9hG4bKplatform"] and stranger.got == []
    finally:
        await t.close()
