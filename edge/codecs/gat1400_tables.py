"""GA/T 1400 code tables: colours, plate classes, vehicle classes, image types.

Tables only, no wire format: `gat1400_objects` fills its fields from them and the tests check
them against ../shared/protocols/DIGEST.md §1. The mapping functions take this gateway's own
words (the plate reader's colours and plate types, our image roles) and fall back to the
table's "other" code, so an unknown word never fails a pass.
"""

from __future__ import annotations

INFO_KIND_AUTO = 1  # InfoKind: 0 其他, 1 自动采集, 2 人工采集

# ColorType (PlateColor, VehicleColor): 1 黑 ... 13 透明, 99 其他.
COLOR_CODES: dict[str, str] = {
    "black": "1",
    "white": "2",
    "grey": "3",
    "gray": "3",
    "red": "4",
    "blue": "5",
    "yellow": "6",
    "orange": "7",
    "brown": "8",
    "green": "9",
    "purple": "10",
    "cyan": "11",
    "pink": "12",
    "transparent": "13",
}
COLOR_TABLE = frozenset({*COLOR_CODES.values(), "99"})

# 号牌种类 (GA 24.7) as this gateway's plate reader classifies plates. New-energy
# plates (51/52 in later editions) are not in the verified list: sent as 99.
PLATE_CLASS_CODES: dict[str, str] = {
    "blue": "02",
    "yellow": "01",
    "yellow_double": "01",
    "police": "23",
    "coach": "16",
    "trailer": "15",
    "embassy": "03",
    "consulate": "04",
    "military": "32",
    "farm": "14",
}
PLATE_CLASS_TABLE = frozenset(
    {f"{c:02d}" for c in (1, 2, 3, 4, 5, 6, 7, 8, 13, 14, 15, 16, 20, 21, 22, 23, 24, 26, 27)}
    | {"31", "32", "99"}
)

# GA 24.4 vehicle type: the reader does not classify bodies, so passes carry X99 (其他).
VEHICLE_CLASS_UNKNOWN = "X99"

# SubImageInfoObject.Type (ImageType, GA/T 1400.3).
IMAGE_TYPES: dict[str, str] = {
    "01": "车辆大图",
    "02": "车牌彩色小图",
    "03": "车牌二值化图",
    "04": "驾驶员面部特征图",
    "05": "副驾驶面部特征图",
    "06": "车标",
    "07": "违章合成图",
    "08": "过车合成图",
    "09": "车辆特写图",
    "10": "人员图",
    "11": "人脸图",
    "12": "非机动车图",
    "13": "物品图",
    "14": "场景图",
    "100": "一般图片",
}
FILE_FORMATS = ("Jpeg", "Png", "Bmp", "Gif")


def plate_color(colour: str | None) -> str:
    return COLOR_CODES.get((colour or "").lower(), "99")


def plate_class(plate_type: str | None, plate_no: str = "") -> str:
    if plate_type == "hk_macao":
        return "27" if plate_no.endswith("澳") else "26"
    return PLATE_CLASS_CODES.get(plate_type or "", "99")


def image_type(kind: str, role: str) -> str:
    """Our image roles to ImageType codes. The scene of a vehicle pass is its
    车辆大图 (01); of a face pass, the 场景图 (14)."""
    if role == "scene":
        return "01" if kind == "plate" else "14"
    if role == "plate_crop" or (kind == "plate" and role == "crop"):
        return "02"
    if role == "face_crop" or (kind == "face" and role == "crop"):
        return "11"
    if role == "vehicle_crop":
        return "09"
    return "100"
