"""What the camera tools draw on a frame: the region of interest or the hand's skeleton, the label
and the frame rate."""

from __future__ import annotations

import numpy as np

from handsign.use.capture import Roi, _cv2

GREEN, YELLOW, RED = (0, 255, 0), (0, 255, 255), (0, 0, 255)  # BGR
# MediaPipe's hand: the wrist (0), then four points per finger from the thumb (1-4) to the little finger (17-20).
BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
         (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (17, 18), (18, 19), (19, 20), (0, 17))  # fmt: skip


def annotate(frame: np.ndarray, text: str, fps: float | None, roi: Roi | None = None,
             points: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """The frame with the region of interest or the hand's skeleton, the text and the frame rate drawn on."""
    cv2 = _cv2()
    out = frame.copy()
    at = (10, 30)
    if roi is not None:
        cv2.rectangle(out, (roi.x, roi.y), (roi.x + roi.w, roi.y + roi.h), GREEN, 2)
        at = (roi.x, max(20, roi.y - 8))
    if points is not None:
        pts = [tuple(int(round(v)) for v in p) for p in points]
        for a, b in BONES:
            cv2.line(out, pts[a], pts[b], GREEN, 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(out, p, 4, RED, -1, cv2.LINE_AA)
        at = (max(0, min(x for x, _ in pts)), max(20, min(y for _, y in pts) - 10))
    cv2.putText(out, text, at, cv2.FONT_HERSHEY_SIMPLEX, 0.7, GREEN, 2, cv2.LINE_AA)
    if fps is not None:
        cv2.putText(out, f"{fps:.1f} fps", (10, out.shape[0] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.6, YELLOW, 2, cv2.LINE_AA)
    return out
