"""Short synthetic scene videos composed from the real COCO photos, made at test time.

Each scenario is a list of (time s, BGR frame) at 640×360: a plain background (a lift
car, a lane, a façade) with a real object cut out of a COCO photo pasted where the
scenario puts it. The object detector sees real pixels of a real motorcycle or car; only
the motion is synthetic. `scripts/make-scene-videos DIR` writes them out as MP4 files
to look at or to play through a `file` camera.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

W, H = 640, 360
OBJECTS = Path(__file__).resolve().parents[3] / "shared" / "images" / "objects"

# (photo, box x1 y1 x2 y2 from labels.csv) of one clean object of each class
CUTOUTS = {
    "motorcycle": ("coco_000000000629.jpg", (321, 257, 568, 414)),
    "car": ("coco_000000001532.jpg", (225, 362, 420, 480)),
    "person": ("coco_000000000459.jpg", (0, 85, 515, 633)),
    "bicycle": ("coco_000000000074.jpg", (3, 4, 162, 316)),
}

Frames = list[tuple[float, np.ndarray]]


@dataclass(frozen=True)
class Cutout:
    image: np.ndarray

    @classmethod
    def of(cls, label: str, height: int) -> Cutout:
        name, (x1, y1, x2, y2) = CUTOUTS[label]
        photo = cv2.imread(str(OBJECTS / name))
        if photo is None:
            raise FileNotFoundError(OBJECTS / name)
        crop = photo[y1:y2, x1:x2]
        scale = height / crop.shape[0]
        return cls(cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))


def background(kind: str) -> np.ndarray:
    """A plain, slightly textured backdrop: lift walls, lane asphalt or a façade."""
    rng = np.random.default_rng(7)
    img = np.full((H, W, 3), {"lift": 150, "lane": 95, "facade": 175}[kind], np.uint8)
    noise = rng.integers(-6, 7, (H, W, 1), dtype=np.int16)
    img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    if kind == "facade":  # window grid
        for y in range(20, H, 70):
            for x in range(30, W, 90):
                cv2.rectangle(img, (x, y), (x + 40, y + 40), (120, 110, 100), -1)
    if kind == "lift":
        cv2.line(img, (W // 2, 0), (W // 2, H), (110, 110, 110), 2)
    return img


def paste(frame: np.ndarray, cut: Cutout, cx: float, bottom: float) -> np.ndarray:
    """Put the cut-out with its bottom centre at (cx, bottom), clipped to the frame."""
    h, w = cut.image.shape[:2]
    x1, y1 = int(cx - w / 2), int(bottom - h)
    fx1, fy1, fx2, fy2 = max(0, x1), max(0, y1), min(W, x1 + w), min(H, y1 + h)
    if fx1 < fx2 and fy1 < fy2:
        frame[fy1:fy2, fx1:fx2] = cut.image[fy1 - y1 : fy2 - y1, fx1 - x1 : fx2 - x1]
    return frame


def _timeline(fps: float, seconds: float) -> Iterator[float]:
    for i in range(int(fps * seconds)):
        yield i / fps


def enters_and_leaves(
    label: str, kind: str, *, stay_s: float, fps: float = 4.0, height: int = 220
) -> Frames:
    """Walks in from the left, stands at the centre for `stay_s`, leaves to the right,
    then 4 s of the empty scene."""
    bg, cut = background(kind), Cutout.of(label, height)
    out: Frames = []
    move_s = 1.5
    total = 2 * move_s + stay_s + 4.0
    for t in _timeline(fps, total):
        frame = bg.copy()
        if t < move_s:
            cx = -cut.image.shape[1] / 2 + (W / 2 + cut.image.shape[1] / 2) * t / move_s
        elif t < move_s + stay_s:
            cx = W / 2
        elif t < 2 * move_s + stay_s:
            k = (t - move_s - stay_s) / move_s
            cx = W / 2 + (W / 2 + cut.image.shape[1]) * k
        else:
            cx = None
        if cx is not None:
            paste(frame, cut, cx, H - 20)
        out.append((t, frame))
    return out


def stands(label: str, kind: str, *, seconds: float, fps: float = 2.0, height: int = 220) -> Frames:
    """The object stands still at the centre the whole time, then the scene is empty 4 s."""
    bg, cut = background(kind), Cutout.of(label, height)
    out: Frames = []
    for t in _timeline(fps, seconds + 4.0):
        frame = bg.copy()
        if t < seconds:
            paste(frame, cut, W / 2, H - 20)
        out.append((t, frame))
    return out


PLATES = OBJECTS.parent / "plates" / "scenes"
PARKED = ("we0091234_single_green.jpg", "沪AF71017")
"""A real photo of a car whose plate the plate pipeline reads (labels.csv in PLATES)."""


def parked(*, seconds: float, fps: float = 2.0) -> Frames:
    """A real photo of a car, plate readable, standing in the lane (the photo scaled to
    the frame's height, centred), then the empty lane for 4 s."""
    bg = background("lane")
    photo = cv2.imread(str(PLATES / PARKED[0]))
    if photo is None:
        raise FileNotFoundError(PLATES / PARKED[0])
    car = Cutout(cv2.resize(photo, None, fx=H / photo.shape[0], fy=H / photo.shape[0]))
    out: Frames = []
    for t in _timeline(fps, seconds + 4.0):
        frame = bg.copy()
        if t < seconds:
            paste(frame, car, W / 2, H)
        out.append((t, frame))
    return out


def creeps(label: str, kind: str, *, seconds: float, px_per_s: float, fps: float = 2.0) -> Frames:
    """A vehicle crawling through the zone (never stationary)."""
    bg, cut = background(kind), Cutout.of(label, 160)
    out: Frames = []
    for t in _timeline(fps, seconds):
        frame = bg.copy()
        paste(frame, cut, 150 + px_per_s * t, H - 20)
        out.append((t, frame))
    return out


def drop(
    *, fps: float = 25.0, m_per_px: float = 0.05, g: float = 9.81, x0: float = 320.0
) -> Frames:
    """A small dark object released from a window, falling with `g` (m/s²)."""
    bg = background("facade")
    out: Frames = []
    for t in _timeline(fps, 2.0):
        frame = bg.copy()
        if t >= 0.6:
            dt = t - 0.6
            y = 30 + 0.5 * g / m_per_px * dt * dt
            if y < H:
                cv2.circle(frame, (int(x0), int(y)), 4, (30, 30, 30), -1)
        out.append((t, frame))
    return out


def bird(*, fps: float = 25.0, px_per_s: float = 300.0, flap_px: float = 6.0) -> Frames:
    """A small dark shape crossing sideways with a little up-and-down flapping."""
    bg = background("facade")
    out: Frames = []
    for t in _timeline(fps, 2.0):
        frame = bg.copy()
        if t >= 0.4:
            dt = t - 0.4
            x = 20 + px_per_s * dt
            y = 150 + flap_px * np.sin(2 * np.pi * 4 * dt)
            if x < W:
                cv2.circle(frame, (int(x), int(y)), 4, (30, 30, 30), -1)
        out.append((t, frame))
    return out


def write_mp4(frames: Frames, path: Path, fps: float) -> None:
    """An H.264 (or mp4v when H.264 is not available) file of the frames, to look at."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for _, img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


SCENARIOS = {
    "motorcycle_in_lift": lambda: (enters_and_leaves("motorcycle", "lift", stay_s=4.0), 4.0),
    "person_in_lift": lambda: (enters_and_leaves("person", "lift", stay_s=4.0), 4.0),
    "car_parked": lambda: (stands("car", "lane", seconds=12.0), 2.0),
    "car_parked_with_plate": lambda: (parked(seconds=12.0), 2.0),
    "car_creeping": lambda: (creeps("car", "lane", seconds=10.0, px_per_s=30.0), 2.0),
    "person_standing": lambda: (stands("person", "lift", seconds=10.0), 2.0),
    "falling_object": lambda: (drop(), 25.0),
    "bird": lambda: (bird(), 25.0),
}


def main(argv: list[str] | None = None) -> int:
    import sys

    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0] if args else "scene-videos")
    dest.mkdir(parents=True, exist_ok=True)
    for name, make in SCENARIOS.items():
        frames, fps = make()
        write_mp4(frames, dest / f"{name}.mp4", fps)
        print(dest / f"{name}.mp4")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
