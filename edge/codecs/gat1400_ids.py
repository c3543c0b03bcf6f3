"""GA/T 1400.1-2017 §7 identifiers, and how this gateway derives them from an event.

Layouts (表3, 表4; scans read in ../shared/protocols/DIGEST.md §1.3):

    41-char basic object (图像 ImageID, SourceID):
        1-20 device ID · 21-22 subtype (01 视频片段, 02 图像, 03 文件, 99 其他)
        · 23-36 time YYYYMMDDhhmmss · 37-41 sequence
    48-char semantic object (MotorVehicleID, FaceID, PersonID):
        1-41 the basic object it was found in · 42-43 subtype (01 人员, 02 机动车,
        03 非机动车, 04 物品, 05 场景, 06 人脸, 07 标签, 99 其他) · 44-48 sequence

Derivation (deterministic, so a resend after an outage or a crash carries the
same IDs and the 视图库 de-duplicates instead of storing a second pass):
- device ID: the camera's `ape_id` (or the gateway's `device_id` when the
  camera has none);
- time: the event's own time in site local time — never the time-sync
  corrected one, which can change between two sends;
- image sequence: `mmm` `hh` where `mmm` are the event time's milliseconds and
  `hh` = (first byte pair of SHA-1(event id) mod 100 + image index) mod 100; two
  records collide only when the same camera made them in the same millisecond
  *and* their hashes agree (1 in 100);
- the record's SourceID is the ImageID of its scene image (index 0), the
  convention of the captures; its MotorVehicleID/FaceID is SourceID + 02/06 +
  `00001` (the first object of that source: one pass, one scene image).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

DEVICE_ID_LEN = 20
BASIC_ID_LEN = 41
SEMANTIC_ID_LEN = 48

BasicType = Literal["01", "02", "03", "99"]
SemanticType = Literal["01", "02", "03", "04", "05", "06", "07", "99"]

BASIC_TYPES: dict[str, str] = {"01": "视频片段", "02": "图像", "03": "文件", "99": "其他"}
SEMANTIC_TYPES: dict[str, str] = {
    "01": "人员",
    "02": "机动车",
    "03": "非机动车",
    "04": "物品",
    "05": "场景",
    "06": "人脸",
    "07": "视频图像标签",
    "99": "其他",
}

# Digits 11-13 of a 20-digit ID: GB/T 28181-2016 表D.1 plus GA/T 1400.1 表1.
DEVICE_TYPES: dict[str, str] = {
    "111": "DVR",
    "112": "视频服务器",
    "113": "编码器",
    "118": "NVR",
    "119": "在线视频图像信息采集设备",
    "120": "采集系统",
    "121": "视频卡口",
    "131": "摄像机",
    "132": "网络摄像机 IPC",
    "200": "中心信令控制服务器",
    "209": "接入网关",
    "502": "视频图像分析系统",
    "503": "视频图像信息数据库 (视图库)",
    "504": "应用平台",
    "505": "分析设备",
}
# What may capture a face or a vehicle and so prefix an ImageID (an APE, 采集设备,
# or the system/gateway that collected it).
APE_TYPES = frozenset({"111", "112", "113", "118", "119", "120", "121", "131", "132", "505"})
# What this gateway may register as with a 视图库 (采集设备 / 采集系统 / 下级平台).
SENDER_TYPES = APE_TYPES | {"200", "209", "502", "504"}

_TIME = "%Y%m%d%H%M%S"


class IdError(ValueError):
    pass


def check_device_id(value: str, allowed: frozenset[str] | None = None, what: str = "ID") -> str:
    """20 digits, and (when `allowed` is given) a type code at digits 11-13 from it."""
    if not re.fullmatch(r"\d{20}", value):
        raise IdError(f"{what} must be 20 digits, got {value!r} ({len(value)} chars)")
    code = value[10:13]
    if allowed is not None and code not in allowed:
        names = ", ".join(f"{c} {DEVICE_TYPES.get(c, '')}".strip() for c in sorted(allowed))
        raise IdError(
            f"{what} {value} has type code {code} at digits 11-13"
            f" ({DEVICE_TYPES.get(code, 'not a GA/T 1400 or GB/T 28181 device type')});"
            f" expected one of: {names}"
        )
    return value


def id_time(ts: datetime) -> str:
    return ts.strftime(_TIME)


def basic_id(device_id: str, subtype: str, ts: datetime | str, seq: int) -> str:
    if subtype not in BASIC_TYPES:
        raise IdError(f"basic object subtype {subtype!r} is not one of {sorted(BASIC_TYPES)}")
    if not 0 <= seq <= 99999:
        raise IdError(f"sequence {seq} does not fit 5 digits")
    check_device_id(device_id, what="device ID")
    t = ts if isinstance(ts, str) else id_time(ts)
    out = f"{device_id}{subtype}{t}{seq:05d}"
    if len(out) != BASIC_ID_LEN:
        raise IdError(f"time {t!r} is not YYYYMMDDhhmmss")
    return out


def semantic_id(basic: str, subtype: str, seq: int) -> str:
    if len(basic) != BASIC_ID_LEN:
        raise IdError(f"basic object ID must be 41 chars, got {len(basic)}")
    if subtype not in SEMANTIC_TYPES:
        raise IdError(f"semantic object subtype {subtype!r} is not one of {sorted(SEMANTIC_TYPES)}")
    if not 0 <= seq <= 99999:
        raise IdError(f"sequence {seq} does not fit 5 digits")
    return f"{basic}{subtype}{seq:05d}"


@dataclass(frozen=True)
class Decomposed:
    device_id: str
    device_type: str
    basic_type: str
    time: str
    seq: str
    semantic_type: str | None = None
    semantic_seq: str | None = None

    def as_vector(self) -> dict[str, str]:
        """The key names of ../shared/protocols/vectors/gat1400.json."""
        out = {
            "device_or_platform_id_1_20": self.device_id,
            "type_11_13_of_device": self.device_type,
            "basic_object_type_21_22": self.basic_type,
            "time_23_36": self.time,
            "seq_37_41": self.seq,
        }
        if self.semantic_type is not None and self.semantic_seq is not None:
            out["semantic_object_type_42_43"] = self.semantic_type
            out["seq_44_48"] = self.semantic_seq
        return out


def decompose(object_id: str) -> Decomposed:
    """Split a 41- or 48-char ID, checking digits, subtypes and the time field."""
    if len(object_id) not in (BASIC_ID_LEN, SEMANTIC_ID_LEN) or not object_id.isdigit():
        raise IdError(f"a GA/T 1400 object ID is 41 or 48 digits, got {len(object_id)} chars")
    basic_type, t = object_id[20:22], object_id[22:36]
    if basic_type not in BASIC_TYPES:
        raise IdError(f"digits 21-22 {basic_type!r} are not a basic object type")
    try:
        datetime.strptime(t, _TIME)
    except ValueError:
        raise IdError(f"digits 23-36 {t!r} are not a time YYYYMMDDhhmmss") from None
    d = Decomposed(object_id[:20], object_id[10:13], basic_type, t, object_id[36:41])
    if len(object_id) == SEMANTIC_ID_LEN:
        sem = object_id[41:43]
        if sem not in SEMANTIC_TYPES:
            raise IdError(f"digits 42-43 {sem!r} are not a semantic object type")
        d = Decomposed(d.device_id, d.device_type, basic_type, t, d.seq, sem, object_id[43:48])
    return d


def _hash100(event_id: str) -> int:
    digest = hashlib.sha1(event_id.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:2], "big") % 100


def image_seq(event_id: str, ts_ms: int, index: int) -> int:
    return (ts_ms % 1000) * 100 + (_hash100(event_id) + index) % 100


@dataclass(frozen=True)
class RecordIds:
    source_id: str
    object_id: str
    image_ids: tuple[str, ...]


def record_ids(
    *,
    device_id: str,
    event_id: str,
    ts_ms: int,
    local_time: datetime,
    semantic: SemanticType,
    n_images: int,
) -> RecordIds:
    """The IDs of one pass: its images (index 0 is the scene), SourceID, object ID."""
    images = tuple(
        basic_id(device_id, "02", local_time, image_seq(event_id, ts_ms, i))
        for i in range(max(1, n_images))
    )
    return RecordIds(images[0], semantic_id(images[0], semantic, 1), images[:n_images])
