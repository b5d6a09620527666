"""landmarker: MediaPipe's hand landmarker at its pinned version (handsign/core/weights.py: a versioned
URL and its sha256), found on the weights search path or downloaded, verified, and written to
data/weights/hand_landmarker.task: the file every landmarks stage detects with, so that a different
file reruns detection (a DVC dependency) and a file with another hash is refused."""

import shutil

from handsign.core import layout, weights
from handsign.core.atomic import atomic_path
from handsign.pipeline.stage import run_stage


def landmarker() -> None:
    found = weights.find(weights.HAND_LANDMARKER, fetch=True)  # downloaded into the cache where it is nowhere here
    with atomic_path(layout.landmarker()) as tmp:
        shutil.copyfile(found, tmp)
    print(f"landmarker: {found} (sha256 {weights.HAND_LANDMARKER.sha256[:12]}...) -> {layout.landmarker()}")


if __name__ == "__main__":
    run_stage("landmarker", landmarker)
