"""The demo's simulated cameras: real H.264 made from real stills, played by `file`
sources, so live view and GB/T 28181 plays get a camera's own packets in the demo too.

Vehicle gate: plate scenes from ../shared, each followed by an empty lane so every car
is one pass (`camera/vehicle.mp4`, one picture per frame at 2 fps). Pedestrian gate:
faces, a resident and a watchlist person enrolled in the gallery, strangers left
unknown (`camera/pedestrian.mp4`, 1 fps). Encoded at high quality (x264 crf 18) so the
recognisers read the same plates and faces as from the stills. Idempotent: a second
run reuses what the first built (the demo starts in well under a second then).

    python -m edge.sim.demo_camera DATA_DIR [--shared ../shared] [--models models]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from edge.sim.rtsp import build_frames, build_video, read_bgr

ROOT = Path(__file__).resolve().parents[2]
PLATE_SCENES = [
    "we0091234_hongkang1.jpg",
    "zeusees_15.jpg",
    "hyperlpr_2.jpg",
    "zeusees_17.jpg",
    "we0091234_police.jpg",
    "we0091234_xue.jpg",
]
RESIDENT = ("张伟 Zhang Wei (demo resident)", "img1.jpg", ["img2.jpg", "img4.jpg"])
WATCHLIST = ("布控 Watchlist demo", "img16.jpg", ["img17.jpg"])
STRANGERS = ["img20.jpg"]
# Frame rates of the demo's videos: the `fps` of their entries in config/demo.yaml.
VEHICLE_FPS = 2
PEDESTRIAN_FPS = 1
VIDEO_CRF = 18


def _with_gaps(images: list[Path], gap: Path) -> list[Path]:
    out: list[Path] = []
    for image in images:
        out += [image, gap]
    return out


def build(data_dir: Path, shared: Path, models: Path) -> None:
    cam = data_dir / "camera"
    gap = cam / "empty.jpg"
    cam.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(gap), np.full((720, 1280, 3), 70, np.uint8))
    scenes = shared / "images" / "plates" / "scenes"
    faces = shared / "images" / "faces" / "deepface"
    vehicle, pedestrian = cam / "vehicle", cam / "pedestrian"
    if not any(vehicle.glob("*.jpg")):
        build_frames(vehicle, (1280, 720), _with_gaps([scenes / n for n in PLATE_SCENES], gap))
    probes = [f for _, _, fs in (RESIDENT, WATCHLIST) for f in fs] + STRANGERS
    if not any(pedestrian.glob("*.jpg")):
        build_frames(pedestrian, (1280, 720), _with_gaps([faces / n for n in probes], gap))
    for folder, fps in ((vehicle, VEHICLE_FPS), (pedestrian, PEDESTRIAN_FPS)):
        video = folder.with_suffix(".mp4")
        if not video.exists():
            partial = video.with_suffix(".part.mp4")
            stills = sorted(folder.glob("*.jpg"))
            build_video(partial, stills, fps=fps, hold_frames=1, crf=VIDEO_CRF)
            partial.replace(video)  # never a half-written video after an interrupted run
    _enroll(data_dir / "faces.db", faces, models)


def _enroll(db: Path, faces: Path, models: Path) -> None:
    from edge.vision.faces.pipeline import FacePipeline
    from edge.vision.models import ModelRegistry

    pipeline = FacePipeline(ModelRegistry.from_dir(models))
    gallery = pipeline.open_gallery(db)
    for name_gallery, (name, photo, _) in (("residents", RESIDENT), ("watchlist", WATCHLIST)):
        if any(p.name == name for p in gallery.list(name_gallery)):
            continue
        image = read_bgr(faces / photo)
        if image is None:
            raise SystemExit(f"{photo}: cannot read")
        obs = pipeline.analyse(image)
        if len(obs) != 1:
            raise SystemExit(f"{photo}: expected one face, found {len(obs)}")
        gallery.enroll(name_gallery, name, None, obs[0].embedding[None, :], None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("data_dir", type=Path)
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--models", type=Path, default=ROOT / "models")
    args = p.parse_args(argv)
    if not (args.shared / "images").is_dir():
        print(
            f"no demo images: {args.shared}/images is missing; cameras stay idle", file=sys.stderr
        )
        return 1
    build(args.data_dir, args.shared, args.models)
    print(f"demo cameras ready in {args.data_dir / 'camera'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
