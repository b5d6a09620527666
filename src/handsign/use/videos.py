"""Videos to try `live` on without a camera, made from image files: a dataset's images in the
region of interest (`demo_video`), or hands drifting across the frame (`hand_video`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from handsign.core.atomic import atomic_path
from handsign.core.imagefile import read_grey
from handsign.use.capture import Roi, _cv2


def demo_video(images: list[Path], out: Path, size: tuple[int, int] = (320, 240), fps: float = 10.0, repeat: int = 1) -> Roi:
    """A video to try `live` on without a camera: each image (say, a dataset's test files) fills the
    default region of interest of a dark frame for `repeat` frames. MJPG in an .avi."""
    cv2 = _cv2()
    roi = Roi.centred(*size)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        writer = cv2.VideoWriter(str(tmp.with_suffix(".avi")), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        for f in images:
            frame = np.full((size[1], size[0], 3), 40, np.uint8)
            hand = np.asarray(Image.fromarray(read_grey(f)).resize((roi.w, roi.h), Image.BILINEAR))
            frame[roi.y : roi.y + roi.h, roi.x : roi.x + roi.w] = hand[:, :, None]
            for _ in range(repeat):
                writer.write(frame)
        writer.release()
        tmp.with_suffix(".avi").rename(tmp)
    return roi

def hand_video(images: list[Path], out: Path, size: tuple[int, int] = (640, 480), fps: float = 30.0, repeat: int = 10,
               empty: int = 10, tint: tuple[float, float, float] = (1.0, 0.8, 0.65)) -> list[Roi | None]:  # fmt: skip
    """A video to try a landmark model's `live` on without a camera: `empty` frames of background
    alone ("no hand"), then each greyscale hand image, tinted towards skin colour and half the
    frame's height, for `repeat` frames, drifting across the frame from left to right as a hand in
    front of a camera would (not in a fixed square). MJPG in an .avi; returns where the hand is in
    each frame (None: no hand)."""
    cv2 = _cv2()
    w, h = size
    side = h // 2
    hands = [np.asarray(Image.fromarray(read_grey(f)).resize((side, side), Image.BILINEAR), np.float32) for f in images]
    total = empty + repeat * len(hands)
    colour = np.array(tint[::-1], np.float32)  # BGR
    boxes: list[Roi | None] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        writer = cv2.VideoWriter(str(tmp.with_suffix(".avi")), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        for n in range(total):
            hand = hands[(n - empty) // repeat] if n >= empty else hands[0]
            edge = np.concatenate([hand[0], hand[-1], hand[:, 0], hand[:, -1]])  # its own background, around it
            frame = np.full((h, w), np.median(edge), np.float32)
            boxes.append(None)
            if n >= empty:
                boxes[-1] = box = Roi(int((w - side) * (0.1 + 0.8 * n / max(1, total - 1))),
                                      int((h - side) * (0.5 + 0.3 * np.sin(n / 15))), side, side)  # fmt: skip
                frame[box.y : box.y + side, box.x : box.x + side] = hand
            writer.write((frame[:, :, None] * colour).clip(0, 255).astype(np.uint8))
        writer.release()
        tmp.with_suffix(".avi").rename(tmp)
    return boxes
