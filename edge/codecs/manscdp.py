"""MANSCDP (GB/T 28181 §A): the XML bodies of MESSAGE requests, in GB2312.

Parsing accepts what gear sends: `encoding="GB2312"` (decoded as GBK, its
superset), no encoding attribute (UTF-8, falling back to GBK), CRLF or LF, and
IDs of 18 digits from 2011-era devices. DOCTYPE and entity declarations are
refused, so a hostile platform cannot expand entities in our parser.

Building always writes `<?xml version="1.0" encoding="GB2312"?>` and encodes
in GB2312; a character outside it (rare in names) becomes a numeric character
reference, which every XML parser reads back, rather than bytes a strict
GB2312 decoder would reject.

Query answers are new MESSAGEs that repeat the query's `SN`; a Catalog answer
is split into pages, each with the same `SumNum` (the total) and its own
`DeviceList Num` (the items in that page), which is how platforms (wvp
`CatalogResponseMessageHandler`) know when the list is complete.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Union
from xml.sax.saxutils import escape

from edge.codecs.errors import ProtocolError

CONTENT_TYPE = "Application/MANSCDP+xml"
ROOTS = ("Query", "Response", "Notify", "Control")
_DECL = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.DOTALL)
_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([A-Za-z0-9_-]+)[\"']")


class ManscdpError(ProtocolError):
    """A body that is not a MANSCDP document."""


@dataclass
class Manscdp:
    """A parsed body: root (`Query`/`Response`/`Notify`/`Control`), command, SN, device."""

    root: str
    cmd_type: str
    sn: int
    device_id: str
    element: ET.Element

    def text(self, tag: str, default: str = "") -> str:
        node = self.element.find(tag)
        return (node.text or "").strip() if node is not None else default

    def items(self, list_tag: str) -> list[dict[str, str]]:
        """Children `Item`s of a list element, each as {tag: text} (nested: flattened)."""
        node = self.element.find(list_tag)
        if node is None:
            return []
        return [_flatten(item) for item in node.findall("Item")]

    def list_num(self, list_tag: str) -> int | None:
        node = self.element.find(list_tag)
        if node is None or node.get("Num") is None:
            return None
        try:
            return int(node.get("Num", ""))
        except ValueError:
            raise ManscdpError(f"{list_tag} Num is not a number") from None


def _flatten(node: ET.Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for child in node:
        if len(child):
            for key, value in _flatten(child).items():
                out[f"{child.tag}.{key}"] = value
        else:
            out[child.tag] = (child.text or "").strip()
    return out


def decode_text(body: bytes) -> str:
    """The body as text, by its declared encoding (GB2312 read as GBK)."""
    m = _DECL.match(body)
    declared = None
    if m:
        enc = _ENCODING.search(m.group(0))
        declared = enc.group(1).decode("ascii").lower() if enc else None
    if declared in ("gb2312", "gbk", "gb18030"):
        codecs_to_try = ["gb18030"]
    elif declared:
        codecs_to_try = [declared, "gb18030"]
    else:
        codecs_to_try = ["utf-8", "gb18030"]
    for codec in codecs_to_try:
        try:
            return body.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    raise ManscdpError("body is neither valid in its declared encoding nor GBK")


def parse(body: bytes) -> Manscdp:
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise ManscdpError("DOCTYPE/ENTITY declarations are refused")
    text = decode_text(body)
    text = re.sub(r"^\s*<\?xml[^>]*?\?>", "", text, count=1, flags=re.DOTALL)
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise ManscdpError(f"not well-formed XML: {exc}") from None
    if root.tag not in ROOTS:
        raise ManscdpError(f"root element {root.tag!r} is not one of {ROOTS}")
    cmd = root.findtext("CmdType")
    if not cmd:
        raise ManscdpError("no CmdType")
    sn_text = (root.findtext("SN") or "").strip()
    try:
        sn = int(sn_text)
    except ValueError:
        raise ManscdpError(f"SN {sn_text!r} is not a number") from None
    device_id = (root.findtext("DeviceID") or "").strip()
    if not device_id:
        raise ManscdpError("no DeviceID")
    return Manscdp(root.tag, cmd.strip(), sn, device_id, root)


# --- building ----------------------------------------------------------------------

Value = Union[str, int, float, None, "Node", Sequence["Node"]]


@dataclass
class Node:
    """One element to write: text, or children; attributes in order."""

    tag: str
    value: Value = None
    attrs: dict[str, str] = field(default_factory=dict)


def _render(node: Node, depth: int, out: list[str]) -> None:
    pad = "    " * depth
    attrs = "".join(f' {k}="{escape(v, {chr(34): "&quot;"})}"' for k, v in node.attrs.items())
    value = node.value
    if isinstance(value, Node):
        value = [value]
    if isinstance(value, list | tuple):
        out.append(f"{pad}<{node.tag}{attrs}>")
        for child in value:
            _render(child, depth + 1, out)
        out.append(f"{pad}</{node.tag}>")
    else:
        text = "" if value is None else escape(str(value))
        out.append(f"{pad}<{node.tag}{attrs}>{text}</{node.tag}>")


def build(root: str, cmd_type: str, sn: int, device_id: str, fields: Iterable[Node]) -> bytes:
    """A whole body: declaration, root, CmdType, SN, DeviceID, then `fields`."""
    lines = ['<?xml version="1.0" encoding="GB2312"?>']
    children = [Node("CmdType", cmd_type), Node("SN", sn), Node("DeviceID", device_id)]
    _render(Node(root, [*children, *fields]), 0, lines)
    return ("\r\n".join(lines) + "\r\n").encode("gb2312", errors="xmlcharrefreplace")


def keepalive(device_id: str, sn: int, status: str = "OK") -> bytes:
    return build("Notify", "Keepalive", sn, device_id, [Node("Status", status)])


def query(cmd_type: str, sn: int, device_id: str, fields: Iterable[Node] = ()) -> bytes:
    return build("Query", cmd_type, sn, device_id, fields)


@dataclass(frozen=True)
class CatalogItem:
    """One channel (or the device itself) as a platform lists it."""

    device_id: str
    name: str
    manufacturer: str = "compound-edge"
    model: str = ""
    owner: str = "0"
    civil_code: str = ""
    address: str = ""
    parental: int = 0
    parent_id: str = ""
    safety_way: int = 0
    register_way: int = 1
    secrecy: int = 0
    status: str = "ON"
    event: str | None = None  # catalog change notifications: ON/OFF/ADD/DEL/UPDATE/...

    def node(self) -> Node:
        fields = [
            Node("DeviceID", self.device_id),
            Node("Name", self.name),
            Node("Manufacturer", self.manufacturer),
            Node("Model", self.model),
            Node("Owner", self.owner),
            Node("CivilCode", self.civil_code),
            Node("Address", self.address),
            Node("Parental", self.parental),
            Node("ParentID", self.parent_id),
            Node("SafetyWay", self.safety_way),
            Node("RegisterWay", self.register_way),
            Node("Secrecy", self.secrecy),
            Node("Status", self.status),
        ]
        if self.event is not None:
            fields.append(Node("Event", self.event))
        return Node("Item", fields)


def catalog_pages(
    device_id: str, sn: int, items: Sequence[CatalogItem], page_size: int, *, root: str = "Response"
) -> list[bytes]:
    """The catalog as bodies of at most `page_size` items, each with the total `SumNum`.

    An empty catalog is one page with `SumNum` 0 (the platform still needs an answer).
    """
    if page_size < 1:
        raise ValueError("page_size must be >= 1")
    pages: list[bytes] = []
    total = len(items)
    for start in range(0, max(total, 1), page_size):
        chunk = items[start : start + page_size]
        fields = [
            Node("SumNum", total),
            Node("DeviceList", [i.node() for i in chunk], {"Num": str(len(chunk))}),
        ]
        pages.append(build(root, "Catalog", sn, device_id, fields))
    return pages


def catalog_notify(device_id: str, sn: int, items: Sequence[CatalogItem]) -> bytes:
    """A catalog change (`Event` ON/OFF/...) pushed to the platform unasked."""
    return catalog_pages(device_id, sn, items, max(1, len(items)), root="Notify")[0]


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S")


def device_info(
    device_id: str,
    sn: int,
    *,
    name: str,
    manufacturer: str,
    model: str,
    firmware: str,
    channels: int,
) -> bytes:
    return build(
        "Response",
        "DeviceInfo",
        sn,
        device_id,
        [
            Node("DeviceName", name),
            Node("Result", "OK"),
            Node("Manufacturer", manufacturer),
            Node("Model", model),
            Node("Firmware", firmware),
            Node("Channel", channels),
        ],
    )


def device_status(
    device_id: str,
    sn: int,
    *,
    online: bool,
    device_time: datetime,
    encode: bool = True,
    record: bool = False,
    status_ok: bool = True,
) -> bytes:
    return build(
        "Response",
        "DeviceStatus",
        sn,
        device_id,
        [
            Node("Result", "OK"),
            Node("Online", "ONLINE" if online else "OFFLINE"),
            Node("Status", "OK" if status_ok else "ERROR"),
            Node("DeviceTime", _iso(device_time)),
            Node("Encode", "ON" if encode else "OFF"),
            Node("Record", "ON" if record else "OFF"),
            Node("Alarmstatus", [], {"Num": "0"}),
        ],
    )


def config_download(
    device_id: str,
    sn: int,
    *,
    name: str,
    expires_s: int,
    heartbeat_s: int,
    heartbeat_count: int,
) -> bytes:
    """The BasicParam answer: the device's registration and keepalive settings."""
    return build(
        "Response",
        "ConfigDownload",
        sn,
        device_id,
        [
            Node("Result", "OK"),
            Node(
                "BasicParam",
                [
                    Node("Name", name),
                    Node("Expiration", expires_s),
                    Node("HeartBeatInterval", heartbeat_s),
                    Node("HeartBeatCount", heartbeat_count),
                ],
            ),
        ],
    )


def alarm_notify(
    device_id: str,
    sn: int,
    *,
    priority: int,
    method: int,
    time: datetime,
    description: str,
    longitude: float | None = None,
    latitude: float | None = None,
    alarm_type: int | None = None,
) -> bytes:
    """Alarm NOTIFY body. Priority 1 (一级) … 4; method 1 phone, 2 device, 5 video, ..."""
    fields = [
        Node("AlarmPriority", priority),
        Node("AlarmMethod", method),
        Node("AlarmTime", _iso(time)),
        Node("AlarmDescription", description),
    ]
    if longitude is not None and latitude is not None:
        fields += [Node("Longitude", longitude), Node("Latitude", latitude)]
    if alarm_type is not None:
        fields.append(Node("Info", [Node("AlarmType", alarm_type)]))
    return build("Notify", "Alarm", sn, device_id, fields)


def response_result(cmd_type: str, sn: int, device_id: str, ok: bool) -> bytes:
    """A bare `Result` answer (for commands we accept or refuse)."""
    return build("Response", cmd_type, sn, device_id, [Node("Result", "OK" if ok else "ERROR")])


# --- IDs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GbCode:
    """The parts of a 20-digit ID (GB/T 28181-2016 Appendix D, table D.1)."""

    center: str
    province: str
    city: str
    district: str
    grassroots: str
    industry: str
    type_code: str
    network: str
    seq: str


def split_id(code: str) -> GbCode:
    if not re.fullmatch(r"\d{20}", code):
        raise ManscdpError(f"{code!r} is not a 20-digit code")
    return GbCode(
        center=code[0:8],
        province=code[0:2],
        city=code[2:4],
        district=code[4:6],
        grassroots=code[6:8],
        industry=code[8:10],
        type_code=code[10:13],
        network=code[13],
        seq=code[14:20],
    )
