"""Face pipeline and gallery figures: the faces and gallery sections of `vision.py`.

Run: .venv/bin/python scripts/bench/vision_faces.py [any vision.py option]
(the same as `vision.py --only faces,gallery`; see that script for what is measured).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "--only", "faces,gallery", *sys.argv[1:]]
    runpy.run_path(str(Path(__file__).with_name("vision.py")), run_name="__main__")
