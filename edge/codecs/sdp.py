"""SDP offer/answer for a GB/T 28181 play (RFC 4566 plus the standard's `y=`/`f=`).

A platform's INVITE offers where it wants the stream:
`c=IN IP4 <media server>`, `m=video <port> RTP/AVP 96 …` (UDP) or
`TCP/RTP/AVP` with `a=setup:passive` (the platform listens, the device
connects) or `a=setup:active` (the device listens), `a=recvonly`, and
`y=<10-digit SSRC>` that the RTP stream must carry. `s=Play` is live video
(`Playback`/`Download` are recordings, which a gateway without storage refuses).

The answer says what the device sends: `a=sendonly`, `a=rtpmap:96 PS/90000`,
the same `y=`, and for TCP the opposite setup role.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.codecs.errors import ProtocolError


class SdpError(ProtocolError):
    """An offer we cannot play."""


@dataclass
class SdpOffer:
    owner_user: str
    session: str
    address: str
    port: int
    proto: str
    payloads: list[str]
    rtpmap: dict[str, str] = field(default_factory=dict)
    setup: str | None = None
    direction: str | None = None
    ssrc: str | None = None
    f_line: str | None = None
    start_time: int = 0
    stop_time: int = 0

    @property
    def tcp(self) -> bool:
        return self.proto.upper().startswith("TCP/")

    @property
    def ssrc_int(self) -> int:
        """The `y=` as the RTP SSRC (decimal, per GB/T 28181 Appendix F)."""
        if self.ssrc is None:
            return 0
        return int(self.ssrc) & 0xFFFFFFFF


def parse_offer(body: bytes) -> SdpOffer:
    text = body.decode("utf-8", errors="replace")
    owner_user = session = address = ""
    media: list[str] | None = None
    rtpmap: dict[str, str] = {}
    attrs: dict[str, str] = {}
    ssrc = f_line = None
    times = (0, 0)
    session_c = media_c = ""
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        key, value = line[0], line[2:].strip()
        if key == "o":
            owner_user = value.split(" ", 1)[0]
        elif key == "s":
            session = value
        elif key == "c":
            parts = value.split()
            if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
                raise SdpError(f"bad c= line {value!r}")
            if media is None:
                session_c = parts[2]
            else:
                media_c = parts[2]
        elif key == "t":
            bits = value.split()
            if len(bits) == 2 and all(_digits(b) for b in bits):
                times = (int(bits[0]), int(bits[1]))
        elif key == "m":
            if media is not None:
                continue  # only the first (video) media line matters
            media = value.split()
            if len(media) < 4 or media[0] != "video":
                raise SdpError(f"first m= line is not video: {value!r}")
        elif key == "a" and media is not None:
            name, _, arg = value.partition(":")
            if name == "rtpmap":
                pt, _, enc = arg.partition(" ")
                rtpmap[pt] = enc
            else:
                attrs[name] = arg
        elif key == "y":
            ssrc = value
        elif key == "f":
            f_line = value
    if media is None:
        raise SdpError("no m=video line")
    try:
        port = int(media[1].split("/")[0])
    except ValueError:
        raise SdpError(f"bad media port {media[1]!r}") from None
    if not 0 < port < 65536:
        raise SdpError(f"media port {port} out of range")
    address = media_c or session_c
    if not address:
        raise SdpError("no c= connection address")
    if ssrc is not None and (not _digits(ssrc) or len(ssrc) > 10 or int(ssrc) >= 2**32):
        raise SdpError(f"bad y= SSRC {ssrc!r}")
    direction = next(
        (d for d in ("recvonly", "sendrecv", "sendonly", "inactive") if d in attrs), None
    )
    setup = attrs.get("setup")
    if setup is not None and setup not in ("active", "passive", "actpass"):
        raise SdpError(f"bad a=setup:{setup}")
    return SdpOffer(
        owner_user=owner_user,
        session=session,
        address=address,
        port=port,
        proto=media[2],
        payloads=media[3:],
        rtpmap=rtpmap,
        setup=setup,
        direction=direction,
        ssrc=ssrc,
        f_line=f_line,
        start_time=times[0],
        stop_time=times[1],
    )


def build_answer(
    offer: SdpOffer,
    *,
    device_id: str,
    address: str,
    port: int,
    session_id: int = 0,
) -> bytes:
    """The device's answer: where it sends from, PS on PT 96, sendonly, the offer's `y=`.

    `port` is our RTP source port (UDP), the listening port (TCP active offer,
    we are passive), or the local port of our outgoing connection (TCP passive
    offer, we are active: the platform ignores it but the line must be valid).
    """
    lines = [
        "v=0",
        f"o={device_id} {session_id} {session_id} IN IP4 {address}",
        f"s={offer.session or 'Play'}",
        f"c=IN IP4 {address}",
        f"t={offer.start_time} {offer.stop_time}",
        f"m=video {port} {'TCP/RTP/AVP' if offer.tcp else 'RTP/AVP'} 96",
        "a=sendonly",
        "a=rtpmap:96 PS/90000",
    ]
    if offer.tcp:
        lines.append(f"a=setup:{'active' if offer.setup in (None, 'passive') else 'passive'}")
        lines.append("a=connection:new")
    if offer.ssrc is not None:
        lines.append(f"y={offer.ssrc}")
    if offer.f_line is not None:
        lines.append(f"f={offer.f_line}")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def build_offer(
    *,
    user: str,
    address: str,
    port: int,
    tcp: bool = False,
    setup: str = "passive",
    ssrc: str = "0100000001",
    session: str = "Play",
) -> bytes:
    """An offer as a platform writes it (for the test platform and `edge uplink test`)."""
    lines = [
        "v=0",
        f"o={user} 0 0 IN IP4 {address}",
        f"s={session}",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=video {port} {'TCP/RTP/AVP' if tcp else 'RTP/AVP'} 96 98 97",
        "a=recvonly",
        "a=rtpmap:96 PS/90000",
        "a=rtpmap:98 H264/90000",
        "a=rtpmap:97 MPEG4/90000",
    ]
    if tcp:
        lines += [f"a=setup:{setup}", "a=connection:new"]
    lines.append(f"y={ssrc}")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _digits(text: str) -> bool:
    """ASCII digits only (`str.isdigit` accepts "²", which `int` refuses)."""
    return text.isascii() and text.isdigit()
