"""COCO objects (YOLOX-Nano): detections, per-class tracks and each track's best crop."""
