"""One GB/T 28181 registration on one transport: REGISTER, keepalives, and every request
the device sends under it (MANSCDP MESSAGEs, our BYE).

- REGISTER with digest, always with the same Call-ID and From tag for the
  life of the process and CSeq increasing (wvp and others treat a new Call-ID
  as a new device registration), refreshed at 80 % of the granted Expires;
  `Expires: 0` on shutdown.
- A Keepalive MESSAGE every `keepalive_s`; `keepalive_max_missed` unanswered,
  or a 404/403 answer (a platform that forgot us, e.g. after its restart), or
  an answer after unanswered ones (the platform may have marked us offline and
  ignore keepalives until we register): `ReRegister`, and the agent registers
  again at once on the same transport.
  A refused registration is `RegisterRefused` and ends the session.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from datetime import UTC, datetime, tzinfo

from edge import __version__
from edge.codecs import manscdp, sip, sipdigest
from edge.uplinks.gb28181.config import Gb28181UplinkConfig
from edge.uplinks.gb28181.media import Play
from edge.uplinks.gb28181.transport import SipTimeout, SipTransport, TransportClosed

log = logging.getLogger(__name__)

USER_AGENT = f"compound-edge/{__version__}"
REFRESH_AT = 0.8  # of the granted Expires


class ReRegister(Exception):
    """The platform forgot us, or may have (404 to a keepalive, keepalives unanswered)."""


class RegisterRefused(Exception):
    """The platform refused the registration (wrong password, unknown device)."""


def new_branch() -> str:
    return "z9hG4bK" + uuid.uuid4().hex[:16]


def new_tag() -> str:
    return uuid.uuid4().hex[:10]


class Registration:
    """The device's identity on the platform: Call-ID, From tag, CSeqs and the MANSCDP SN,
    kept for the life of the process whatever transport carries them."""

    def __init__(self, name: str, cfg: Gb28181UplinkConfig, tz: tzinfo) -> None:
        self.name = name
        self.cfg = cfg
        self.tz = tz
        self.transport: SipTransport | None = None
        self.call_id_part = uuid.uuid4().hex
        self.from_tag = new_tag()
        self.reg_cseq = 0
        self.msg_cseq = 0
        self.sn = random.randrange(1, 100000)
        self.granted_expires_s: int | None = None
        self.registrations = 0
        self.reregistrations = 0
        self.clock_offset_s: float | None = None
        """Platform clock minus ours, from the Date of the REGISTER answer (GB/T 28181
        §9.10 校时); shown, not applied: the gateway's clock is NTP's business."""
        self.keepalives_ok = 0
        self.keepalives_missed = 0

    # --- building requests ---------------------------------------------------------

    @property
    def _host(self) -> str:
        assert self.transport is not None
        return self.transport.local_host

    @property
    def _port(self) -> int:
        assert self.transport is not None
        return self.transport.local_port

    @property
    def contact(self) -> str:
        return f"<sip:{self.cfg.device_id}@{self._host}:{self._port}>"

    def _request(
        self, method: str, cseq: int, call_id: str, from_tag: str, uri: str | None = None
    ) -> sip.SipMessage:
        assert self.transport is not None
        realm = self.cfg.realm
        via = sip.Via(
            self.transport.via_transport,
            self._host,
            self._port,
            {"rport": "", "branch": new_branch()},
        )
        return sip.SipMessage(
            method=method,
            uri=uri or f"sip:{self.cfg.server_id}@{realm}",
            headers=[
                ("Via", via.encode()),
                ("From", f"<sip:{self.cfg.device_id}@{realm}>;tag={from_tag}"),
                ("To", f"<sip:{self.cfg.server_id}@{realm}>"),
                ("Call-ID", call_id),
                ("CSeq", f"{cseq} {method}"),
                ("Max-Forwards", "70"),
                ("User-Agent", USER_AGENT),
            ],
        )

    def _register_msg(self, expires: int) -> sip.SipMessage:
        self.reg_cseq += 1
        msg = self._request(
            "REGISTER", self.reg_cseq, f"{self.call_id_part}@{self._host}", self.from_tag
        )
        msg.set("To", f"<sip:{self.cfg.device_id}@{self.cfg.realm}>")
        msg.add("Contact", self.contact)
        msg.add("Expires", str(expires))
        return msg

    # --- requests ------------------------------------------------------------------

    async def register(self, expires: int) -> int:
        """Register (or unregister with 0); returns the Expires the platform granted."""
        assert self.transport is not None
        timeout = self.cfg.connect_timeout_s
        msg = self._register_msg(expires)
        answer = await self.transport.request(msg, timeout)
        if answer.status in (401, 407):
            header = answer.get("WWW-Authenticate") or answer.get("Proxy-Authenticate") or ""
            challenge = sipdigest.Challenge.parse(header)
            msg = self._register_msg(expires)
            msg.add(
                "Authorization" if answer.status == 401 else "Proxy-Authorization",
                sipdigest.authorization(
                    challenge,
                    method="REGISTER",
                    uri=msg.uri or "",
                    username=self.cfg.device_id,
                    password=self.cfg.password.get_secret_value(),
                    cnonce=uuid.uuid4().hex[:16],
                ),
            )
            answer = await self.transport.request(msg, timeout)
        if answer.status != 200:
            hint = (
                " (wrong password or device not configured?)" if answer.status in (401, 403) else ""
            )
            raise RegisterRefused(f"REGISTER answered {answer.status} {answer.reason}{hint}")
        if expires == 0:
            return 0
        self.registrations += 1
        self.clock_offset_s = _clock_offset(answer, self.tz)
        granted = _granted(answer, expires)
        self.granted_expires_s = granted
        return granted

    async def message(self, body: bytes, timeout_s: float | None = None) -> sip.SipMessage:
        """One out-of-dialog MESSAGE with a MANSCDP body; the platform's final answer."""
        assert self.transport is not None
        self.msg_cseq += 1
        msg = self._request("MESSAGE", self.msg_cseq, f"{uuid.uuid4().hex}@{self._host}", new_tag())
        msg.add("Content-Type", manscdp.CONTENT_TYPE)
        msg.body = body
        return await self.transport.request(msg, timeout_s or self.cfg.connect_timeout_s)

    async def hangup(self, play: Play) -> None:
        """Our BYE for a play that ended on our side; the platform's answer is not awaited
        for long (it may be the reason the play ended)."""
        if self.transport is None:
            return
        via = sip.Via(
            self.transport.via_transport,
            self._host,
            self._port,
            {"rport": "", "branch": new_branch()},
        )
        to_ours = (
            play.remote_to
            if "tag=" in play.remote_to
            else (f"{play.remote_to};tag={play.local_tag}")
        )
        msg = sip.SipMessage(
            method="BYE",
            uri=play.remote_target,
            headers=[
                ("Via", via.encode()),
                ("From", to_ours),
                ("To", play.remote_from),
                ("Call-ID", play.call_id),
                ("CSeq", "1 BYE"),
                ("Max-Forwards", "70"),
                ("User-Agent", USER_AGENT),
            ],
        )
        try:
            await self.transport.request(msg, min(2.0, self.cfg.connect_timeout_s))
        except (SipTimeout, TransportClosed, OSError) as exc:
            log.info("%s: BYE for %s not answered: %s", self.name, play.channel_id, exc)

    def next_sn(self) -> int:
        self.sn += 1
        return self.sn

    # --- loops ---------------------------------------------------------------------

    async def refresh_loop(self, expires: int) -> None:
        while True:
            await asyncio.sleep(max(1.0, expires * REFRESH_AT))
            expires = await self.register(self.cfg.expires_whole_s)

    async def keepalive(self) -> sip.SipMessage:
        body = manscdp.keepalive(self.cfg.device_id, self.next_sn())
        return await self.message(body, min(self.cfg.connect_timeout_s, self.cfg.keepalive_s))

    async def keepalive_loop(self) -> None:
        missed = 0
        while True:
            await asyncio.sleep(self.cfg.keepalive_s)
            try:
                answer = await self.keepalive()
            except SipTimeout:
                missed += 1
                self.keepalives_missed += 1
                if missed >= self.cfg.keepalive_max_missed:
                    raise ReRegister(f"{missed} keepalives unanswered") from None
                continue
            if answer.status in (404, 403, 401):
                raise ReRegister(f"the platform answered {answer.status} to a keepalive")
            self.keepalives_ok += 1
            if missed:
                # While they went unanswered the platform may have marked us offline, and
                # one that does (wvp with gb-device-online: 0, the standard's way) answers
                # keepalives 200 but only a REGISTER brings the device back.
                raise ReRegister(f"keepalives answered again after {missed} unanswered")


def _clock_offset(answer: sip.SipMessage, tz: tzinfo) -> float | None:
    """`Date: 2024-05-17T14:24:54.123` (local time, as GB/T 28181 platforms send it)."""
    text = answer.get("Date")
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return round((when - datetime.now(UTC)).total_seconds(), 3)


def _granted(answer: sip.SipMessage, asked: int) -> int:
    text = answer.get("Expires")
    if text is None:
        contact = answer.get("Contact")
        if contact:
            text = sip.parse_name_addr(contact).params.get("expires")
    try:
        return int(text) if text is not None else asked
    except ValueError:
        return asked
