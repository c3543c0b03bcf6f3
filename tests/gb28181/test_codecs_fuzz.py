"""Hostile bytes from a platform only ever raise ProtocolError (never crash the agent task)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from gb_media import SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.codecs import manscdp, rtp, sdp, sip, sipdigest
from edge.codecs.errors import ProtocolError

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
VECTORS = json.loads((SHARED / "protocols" / "vectors" / "gb28181.json").read_text("utf-8"))
SIP_SEEDS = [
    VECTORS[3]["json"]["register1"].encode(),
    next(v["json"] for v in VECTORS if v["name"].startswith("MESSAGE Keepalive (")).encode(),
]
XML_SEEDS = [
    VECTORS[6]["json"]["query"].encode(),
    VECTORS[6]["json"]["response"].encode("gb2312"),
]
SDP_SEED = sdp.build_offer(user="p", address="10.0.0.1", port=30000, tcp=True)


def _mutated(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    def mutate(args: tuple[int, int, int, bytes]) -> bytes:
        which, at, cut, junk = args
        seed = seeds[which % len(seeds)]
        at %= len(seed) + 1
        return seed[:at] + junk + seed[at + cut :]

    return st.tuples(
        st.integers(0, 10), st.integers(0, 4000), st.integers(0, 40), st.binary(max_size=24)
    ).map(mutate)


def _only_protocol_errors(fn: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        fn(data)


@FUZZ
@given(_mutated(SIP_SEEDS))
def test_sip_parse(data: bytes) -> None:
    def parse_all(raw: bytes) -> None:
        msg = sip.parse(raw)
        for name in ("Via", "From", "To", "CSeq", "Contact"):
            value = msg.get(name)
            if value is None:
                continue
            if name == "Via":
                sip.parse_via(value)
            elif name == "CSeq":
                sip.parse_cseq(value)
            else:
                sip.parse_uri(sip.parse_name_addr(value).uri)

    _only_protocol_errors(parse_all, data)


@FUZZ
@given(st.lists(_mutated(SIP_SEEDS), max_size=4), st.integers(1, 64))
def test_sip_stream_framer(chunks: list[bytes], step: int) -> None:
    framer = sip.StreamFramer()
    stream = b"".join(chunks)
    try:
        for i in range(0, len(stream), step):
            list(framer.feed(stream[i : i + step]))
    except ProtocolError:
        pass


@FUZZ
@given(_mutated(XML_SEEDS))
def test_manscdp_parse(data: bytes) -> None:
    def parse_all(raw: bytes) -> None:
        doc = manscdp.parse(raw)
        doc.items("DeviceList")
        doc.list_num("DeviceList")

    _only_protocol_errors(parse_all, data)


@FUZZ
@given(_mutated([SDP_SEED]))
def test_sdp_offer(data: bytes) -> None:
    _only_protocol_errors(sdp.parse_offer, data)


@FUZZ
@given(st.binary(max_size=64))
def test_rtp_parse(data: bytes) -> None:
    _only_protocol_errors(rtp.parse, data)


@FUZZ
@given(st.text(max_size=120))
def test_digest_challenge(text: str) -> None:
    _only_protocol_errors(lambda raw: sipdigest.Challenge.parse(raw.decode()), text.encode())
