"""`handsign live`: a recogniser on every frame of a camera or video, with its answer, confidence
and frame rate drawn on; a window, or headless (an annotated video and a CSV: how the tests drive it)."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from handsign.core.atomic import atomic_path
from handsign.recognition.answers import labels
from handsign.recognition.loading import Recogniser
from handsign.use.capture import Window, _cv2, frames, open_source
from handsign.use.drawing import annotate
from handsign.use.readers import reader_for


@dataclass
class LiveResult:
    frames: int
    seconds: float
    snapshots: list[Path]
    hands: int  # frames with a hand found (a pixel model: every frame)

def live(
    classifier: Recogniser,
    source: str,
    roi_text: str = "",
    headless: bool = False,
    out_video: Path | None = None,
    out_csv: Path | None = None,
    snapshot_dir: Path = Path("snapshots"),
    max_frames: int | None = None,
    screenshot: Path | None = None,
) -> LiveResult:
    """Classify every frame: a pixel model its region of interest, a landmark model the hand wherever
    it is (its skeleton drawn; "no hand" when there is none). Label, confidence and frames per second
    are overlaid. Keys (window): `s` snapshots (saved, classified, printed), `q` quits. `screenshot`
    saves the last annotated frame as a PNG."""
    cv2 = _cv2()
    read = reader_for(classifier, roi_text)
    capture = open_source(source)
    window = Window("handsign live (s: snapshot, q: quit)", headless)
    writer, rows, snapshots = None, [], []
    names = classifier.preprocessing.class_names
    start = time.perf_counter()
    fps: float | None = None
    n = hands = 0
    try:
        for n, frame in enumerate(frames(capture, max_frames, source), 1):
            t0 = time.perf_counter()
            reading = read(frame, n)
            p = reading.probabilities
            (label,) = labels(p[None], names)
            hands += reading.hand and bool(p.any())
            dt = time.perf_counter() - t0
            fps = 1 / dt if fps is None else 0.9 * fps + 0.1 / max(dt, 1e-9)  # smoothed
            shown = annotate(frame, f"{label} {p.max():.0%}" if p.any() else label, fps, reading.roi, reading.points)
            per_class = dict(zip(names, p.tolist(), strict=True))
            rows.append({"frame": n, "label": label, "probability": float(p.max()), **per_class})
            if out_video is not None:
                if writer is None:
                    out_video.parent.mkdir(parents=True, exist_ok=True)
                    size = (frame.shape[1], frame.shape[0])
                    writer = cv2.VideoWriter(str(out_video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
                writer.write(shown)
            key = window.show(shown)
            if key == "q":
                break
            if key == "s":
                snapshot_dir.mkdir(parents=True, exist_ok=True)
                path = snapshot_dir / f"snapshot_{n:06d}.png"
                with atomic_path(path) as tmp:
                    Image.fromarray(reading.snapshot).save(tmp, format="PNG")
                snapshots.append(path)
                print(f"{path}: {label} ({p.max():.1%})")
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        window.close()
        read.close()
    if screenshot is not None and n:
        with atomic_path(screenshot) as tmp:
            Image.fromarray(shown[:, :, ::-1]).save(tmp, format="PNG")
    if out_csv is not None:
        with atomic_path(out_csv) as tmp, tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["frame", "label", "probability", *names])
            w.writeheader()
            w.writerows(rows)
    return LiveResult(n, time.perf_counter() - start, snapshots, hands)
