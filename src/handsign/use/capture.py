"""Frames in and a window out, for the camera tools: a camera index or a video file opened with
OpenCV, its frames, a region of interest, greyscale crops, and an OpenCV window (or none: headless).

OpenCV is `opencv-contrib-python`, which mediapipe (a dependency, the hand landmarker) brings, and
which has the GUI for the interactive window; `--headless` needs none.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from handsign.core.imagefile import grey_pixels


def _cv2():
    try:
        import cv2
    except ImportError:  # pragma: no cover - a dependency; a broken install says so
        raise RuntimeError("OpenCV is missing: `make install` (mediapipe brings opencv-contrib-python)") from None
    return cv2

@dataclass(frozen=True)
class Roi:
    """A region of interest in frame pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    @classmethod
    def centred(cls, frame_w: int, frame_h: int, fraction: float = 0.6, aspect: float = 1.0) -> Roi:
        """The largest `aspect` (w/h) box of `fraction` of the frame's shorter fitting side, centred."""
        h = int(min(frame_h, frame_w / aspect) * fraction)
        w = int(h * aspect)
        return cls((frame_w - w) // 2, (frame_h - h) // 2, w, h)

    @classmethod
    def parse(cls, text: str, aspect: float = 1.0) -> Roi:
        """`X,Y,SIZE` (a square, or SIZE wide at another aspect) in frame pixels."""
        try:
            x, y, size = (int(v) for v in text.split(","))
        except ValueError:
            raise ValueError(f"--roi {text!r}: expected X,Y,SIZE in pixels, e.g. 200,80,240") from None
        return cls(x, y, size, int(round(size / aspect)))

    def crop(self, frame: np.ndarray) -> np.ndarray:
        fh, fw = frame.shape[:2]
        if self.x < 0 or self.y < 0 or self.x + self.w > fw or self.y + self.h > fh or self.w < 1 or self.h < 1:
            raise ValueError(f"region of interest {self} does not fit in a {fw}x{fh} frame")
        return frame[self.y : self.y + self.h, self.x : self.x + self.w]

def open_source(source: str):
    """A camera index (`0`) or a video file, opened; a clear error when it cannot be."""
    cv2 = _cv2()
    if source.isdigit():
        capture = cv2.VideoCapture(int(source))
    else:
        if not Path(source).exists():
            raise FileNotFoundError(f"--source {source}: no such video file (or give a camera index such as 0)")
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise RuntimeError(f"--source {source}: cannot open it (no such camera, or a video OpenCV cannot read)")
    return capture

def frames(capture, max_frames: int | None = None, source: str = "") -> Iterator[np.ndarray]:
    """BGR frames until the video ends (or `max_frames`). A source that gives not even one frame (a
    file OpenCV opens but cannot decode, say a text file named .jpg) is an error, not an empty run."""
    n = 0
    while max_frames is None or n < max_frames:
        ok, frame = capture.read()
        if not ok:
            if n == 0 and max_frames != 0:
                raise RuntimeError(f"--source {source or 'the source'}: not a single frame could be read from it "
                                   "(not a video or camera OpenCV can read)")  # fmt: skip
            return
        n += 1
        yield frame


def grey(region: np.ndarray) -> np.ndarray:
    """A BGR (or already greyscale) crop as uint8 greyscale, the way Pillow converts RGB."""
    if region.ndim == 2:
        return region
    return grey_pixels(Image.fromarray(region[:, :, ::-1]))

def is_grey(frame: np.ndarray, spread: int = 8) -> bool:
    """Whether a BGR frame is greyscale: its channels differ by at most `spread` anywhere (checked on
    every 4th pixel each way). Not exactly equal: a video codec's colour rounding moves them by 1-2."""
    sample = frame[::4, ::4].astype(np.int16)
    return int((sample.max(axis=2) - sample.min(axis=2)).max()) <= spread

class Window:
    """An OpenCV window, or nothing when headless; `key()` is the key pressed since the last frame."""

    def __init__(self, title: str, headless: bool) -> None:
        self.title, self.headless = title, headless
        if not headless:
            if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
                # OpenCV's Qt would abort the process (exit 134) rather than raise.
                raise RuntimeError("no display to open a window on (DISPLAY is not set): run with --headless "
                                   "and --out-video / --out-csv")  # fmt: skip
            cv2 = _cv2()
            try:
                cv2.namedWindow(title)
            except cv2.error:
                raise RuntimeError("this OpenCV build or machine has no windows (no display, or a headless build): "
                                   "run with --headless") from None  # fmt: skip

    def show(self, frame: np.ndarray) -> str:
        if self.headless:
            return ""
        cv2 = _cv2()
        cv2.imshow(self.title, frame)
        code = cv2.waitKey(1) & 0xFF
        return chr(code) if code != 0xFF else ""

    def close(self) -> None:
        if not self.headless:
            _cv2().destroyWindow(self.title)
