"""What a strict 视图库 checks in a posted object, written from the standard.

Deliberately independent of `edge.codecs.gat1400*` (its own tables, its own
image decoding through OpenCV): a test peer built from the codec under test
would accept whatever mistake the codec makes on both sides. Sources:
GA/T 1400.1-2017 §7 表1/表3/表4 (IDs), GA/T 1400.3 ImageType, ColorType,
号牌种类 as listed in ../shared/protocols/DIGEST.md §1.3-1.4.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

import cv2
import numpy as np

ID41 = re.compile(r"^(\d{20})(01|02|03|99)(\d{14})(\d{5})$")
ID48 = re.compile(r"^(\d{41})(0[1-7]|99)(\d{5})$")
DEVICE_TYPE_CODES = {
    "111", "112", "113", "118", "119", "120", "121", "131", "132", "505", "200", "209",
    "502", "503", "504",
}  # fmt: skip
IMAGE_TYPE_CODES = {f"{i:02d}" for i in range(1, 15)} | {"100"}
COLOR_TYPE = {str(i) for i in range(1, 14)} | {"99"}
PLATE_CLASS = {
    "01", "02", "03", "04", "05", "06", "07", "08", "13", "14", "15", "16", "20", "21", "22",
    "23", "24", "26", "27", "31", "32", "99",
}  # fmt: skip
FILE_FORMATS = {"Jpeg", "Png", "Bmp", "Gif"}
VEHICLE_CLASS = re.compile(r"^[A-Z]\d{2}$")  # GA 24.4, e.g. K33 轿车, X99 其他


def is_time(value: Any) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"\d{14}", value):
        return False
    try:
        datetime.strptime(value, "%Y%m%d%H%M%S")
    except ValueError:
        return False
    return True


def check_device_id(value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{20}", value):
        problems.append(f"{where}: {value!r} is not a 20-digit ID")
    elif value[10:13] not in DEVICE_TYPE_CODES:
        problems.append(f"{where}: type code {value[10:13]} at digits 11-13 is not a device type")


def check_basic_id(value: Any, where: str, problems: list[str]) -> None:
    m = ID41.match(value) if isinstance(value, str) else None
    if m is None:
        problems.append(f"{where}: {value!r} is not a 41-digit basic object ID")
        return
    check_device_id(m.group(1), f"{where}[1-20]", problems)
    if not is_time(m.group(3)):
        problems.append(f"{where}: digits 23-36 {m.group(3)} are not a time")


def check_semantic_id(value: Any, kind: str, source_id: Any, where: str, p: list[str]) -> None:
    m = ID48.match(value) if isinstance(value, str) else None
    if m is None:
        p.append(f"{where}: {value!r} is not a 48-digit semantic object ID")
        return
    check_basic_id(m.group(1), f"{where}[1-41]", p)
    if m.group(2) != kind:
        p.append(f"{where}: digits 42-43 are {m.group(2)}, expected {kind}")
    if source_id is not None and m.group(1) != source_id:
        p.append(f"{where}: does not start with its SourceID {source_id}")


def decode_image(b64: Any) -> tuple[int, int, int] | None:
    """(size, width, height) of base64 image data, or None when it is not a picture."""
    if not isinstance(b64, str):
        return None
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        return None
    return len(raw), int(img.shape[1]), int(img.shape[0])


def check_sub_images(obj: dict[str, Any], where: str, p: list[str], data: bool) -> list[str]:
    """Problems with SubImageList; returns the (ImageID, Type) pairs seen."""
    sil = obj.get("SubImageList")
    items = sil.get("SubImageInfoObject") if isinstance(sil, dict) else None
    if not isinstance(items, list) or not items:
        p.append(f"{where}.SubImageList: no SubImageInfoObject list")
        return []
    seen = []
    for i, im in enumerate(items):
        w = f"{where}.SubImageList[{i}]"
        check_basic_id(im.get("ImageID"), f"{w}.ImageID", p)
        if isinstance(im.get("ImageID"), str) and im["ImageID"][20:22] != "02":
            p.append(f"{w}.ImageID: digits 21-22 are not 02 (图像)")
        if im.get("Type") not in IMAGE_TYPE_CODES:
            p.append(f"{w}.Type: {im.get('Type')!r} is not an ImageType code")
        if im.get("FileFormat") not in FILE_FORMATS:
            p.append(f"{w}.FileFormat: {im.get('FileFormat')!r}")
        if not is_time(im.get("ShotTime")):
            p.append(f"{w}.ShotTime: {im.get('ShotTime')!r} is not yyyyMMddHHmmss")
        if "DeviceID" in im:
            check_device_id(im["DeviceID"], f"{w}.DeviceID", p)
        if not im.get("Data") and not im.get("StoragePath"):
            p.append(f"{w}: neither Data nor StoragePath")
        if data and im.get("Data"):
            got = decode_image(im["Data"])
            if got is None:
                p.append(f"{w}.Data: not a base64 image")
            else:
                size, width, height = got
                if (im.get("Width"), im.get("Height")) != (width, height):
                    p.append(
                        f"{w}: Width/Height {im.get('Width')}x{im.get('Height')} but the"
                        f" image is {width}x{height}"
                    )
                if "FileSize" in im and im["FileSize"] != size:
                    p.append(f"{w}.FileSize {im['FileSize']} but Data decodes to {size} bytes")
        seen.append(im.get("ImageID"))
    return seen


def check_motor_vehicle(obj: Any, where: str = "MotorVehicle", data: bool = True) -> list[str]:
    p: list[str] = []
    if not isinstance(obj, dict):
        return [f"{where}: not an object"]
    check_basic_id(obj.get("SourceID"), f"{where}.SourceID", p)
    check_semantic_id(obj.get("MotorVehicleID"), "02", obj.get("SourceID"), where, p)
    check_device_id(obj.get("DeviceID"), f"{where}.DeviceID", p)
    if obj.get("InfoKind") not in (0, 1, 2, "0", "1", "2"):
        p.append(f"{where}.InfoKind: {obj.get('InfoKind')!r}")
    if str(obj.get("PlateColor")) not in COLOR_TYPE:
        p.append(f"{where}.PlateColor: {obj.get('PlateColor')!r} is not a ColorType code")
    if "PlateClass" in obj and str(obj["PlateClass"]) not in PLATE_CLASS:
        p.append(f"{where}.PlateClass: {obj['PlateClass']!r} is not a 号牌种类 code")
    if "VehicleColor" in obj and str(obj["VehicleColor"]) not in COLOR_TYPE:
        p.append(f"{where}.VehicleColor: {obj['VehicleColor']!r}")
    vc = obj.get("VehicleClass")
    if vc is not None and not (VEHICLE_CLASS.match(str(vc)) or str(vc).isdigit()):
        p.append(f"{where}.VehicleClass: {vc!r} is not a GA 24.4 code")
    for key in ("PassTime", "MarkTime", "AppearTime", "DisappearTime"):
        if key in obj and not is_time(obj[key]):
            p.append(f"{where}.{key}: {obj[key]!r} is not yyyyMMddHHmmss")
    if not obj.get("PlateNo") and str(obj.get("HasPlate")) == "1":
        p.append(f"{where}: HasPlate 1 without PlateNo")
    check_sub_images(obj, where, p, data)
    return p


def check_face(obj: Any, where: str = "Face", data: bool = True) -> list[str]:
    p: list[str] = []
    if not isinstance(obj, dict):
        return [f"{where}: not an object"]
    check_basic_id(obj.get("SourceID"), f"{where}.SourceID", p)
    check_semantic_id(obj.get("FaceID"), "06", obj.get("SourceID"), where, p)
    check_device_id(obj.get("DeviceID"), f"{where}.DeviceID", p)
    for key in ("FaceAppearTime", "FaceDisAppearTime", "LocationMarkTime", "ShotTime"):
        if key in obj and not is_time(obj[key]):
            p.append(f"{where}.{key}: {obj[key]!r} is not yyyyMMddHHmmss")
    ids = check_sub_images(obj, where, p, data)
    if ids and obj.get("SourceID") not in ids:
        p.append(f"{where}.SourceID is not the ImageID of one of its images")
    return p
