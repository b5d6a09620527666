"""The camera tools: live classification of a region of interest (`handsign live`) and collecting
training images from it in a dataset's own layout (`handsign collect`), from a camera index or a
video file, with a window or headless (annotated video and CSV: how the tests drive them).

OpenCV does the capture and drawing: `opencv-contrib-python`, which mediapipe (a dependency, the
hand landmarker) brings, and which has the GUI for the interactive window; `--headless` needs none.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from handsign.atomic import atomic_path
from handsign.datasets.spec import DatasetSpec
from handsign.imagefile import grey_pixels, read_grey
from handsign.serving import Classifier


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


def frames(capture, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """BGR frames until the video ends (or `max_frames`)."""
    n = 0
    while max_frames is None or n < max_frames:
        ok, frame = capture.read()
        if not ok:
            return
        n += 1
        yield frame


def grey(region: np.ndarray) -> np.ndarray:
    """A BGR (or already greyscale) crop as uint8 greyscale, the way Pillow converts RGB."""
    if region.ndim == 2:
        return region
    return grey_pixels(Image.fromarray(region[:, :, ::-1]))


class Window:
    """An OpenCV window, or nothing when headless; `key()` is the key pressed since the last frame."""

    def __init__(self, title: str, headless: bool) -> None:
        self.title, self.headless = title, headless
        if not headless:
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


def annotate(frame: np.ndarray, roi: Roi, text: str, fps: float | None) -> np.ndarray:
    cv2 = _cv2()
    out = frame.copy()
    cv2.rectangle(out, (roi.x, roi.y), (roi.x + roi.w, roi.y + roi.h), (0, 255, 0), 2)
    cv2.putText(out, text, (roi.x, max(20, roi.y - 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 255, 0), 2, cv2.LINE_AA)
    if fps is not None:
        cv2.putText(out, f"{fps:.1f} fps", (10, out.shape[0] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 255), 2, cv2.LINE_AA)
    return out


@dataclass
class LiveResult:
    frames: int
    seconds: float
    snapshots: list[Path]


def live(
    classifier: Classifier,
    source: str,
    roi_text: str = "",
    headless: bool = False,
    out_video: Path | None = None,
    out_csv: Path | None = None,
    snapshot_dir: Path = Path("snapshots"),
    max_frames: int | None = None,
    screenshot: Path | None = None,
) -> LiveResult:
    """Classify the region of interest of every frame; overlay label, confidence and frames per
    second. Keys (window): `s` snapshots the region (saved, classified, printed), `q` quits.
    `screenshot` saves the last annotated frame as a PNG."""
    cv2 = _cv2()
    capture = open_source(source)
    window = Window("handsign live (s: snapshot, q: quit)", headless)
    writer, rows, snapshots, roi = None, [], [], None
    names = classifier.preprocessing.class_names
    start = time.perf_counter()
    fps: float | None = None
    n = 0
    try:
        for n, frame in enumerate(frames(capture, max_frames), 1):
            t0 = time.perf_counter()
            if roi is None:
                h, w = frame.shape[:2]
                roi = Roi.parse(roi_text) if roi_text else Roi.centred(w, h)
            region = grey(roi.crop(frame))
            p = classifier.probabilities([region])[0]
            best = int(p.argmax())
            dt = time.perf_counter() - t0
            fps = 1 / dt if fps is None else 0.9 * fps + 0.1 / max(dt, 1e-9)  # smoothed
            shown = annotate(frame, roi, f"{names[best]} {p[best]:.0%}", fps)
            per_class = dict(zip(names, p.tolist(), strict=True))
            rows.append({"frame": n, "label": names[best], "probability": float(p[best]), **per_class})
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
                Image.fromarray(region).save(path)
                snapshots.append(path)
                print(f"{path}: {names[best]} ({p[best]:.1%})")
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        window.close()
    if screenshot is not None and n:
        with atomic_path(screenshot) as tmp:
            Image.fromarray(shown[:, :, ::-1]).save(tmp, format="PNG")
    if out_csv is not None:
        with atomic_path(out_csv) as tmp, tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["frame", "label", "probability", *names])
            w.writeheader()
            w.writerows(rows)
    return LiveResult(n, time.perf_counter() - start, snapshots)


def collecting(dataset: str) -> DatasetSpec:
    """The spec of a dataset that `collect` can write camera images of."""
    from handsign.datasets import DATASETS

    able = [name for name, spec in DATASETS.items() if spec.collect_path]
    if dataset not in able:
        raise ValueError(f"--dataset {dataset!r}: collect writes image-file datasets: {', '.join(able)}")
    return DATASETS[dataset]


def collected_path(out: Path, dataset: str, label: str, split: str = "train", subject: str = "00") -> Path:
    """Where the next image of `label` goes, in the dataset's Kaggle layout and naming."""
    return collecting(dataset).collect_path(out, label, split, subject)


def collect(
    source: str,
    dataset: str,
    label: str,
    out: Path,
    split: str = "train",
    subject: str = "00",
    roi_text: str = "",
    headless: bool = False,
    every: int = 10,
    max_frames: int | None = None,
) -> list[Path]:
    """Save the region of interest as a training image of `label` when `c` is pressed (or every
    `every` frames when headless), in the dataset's layout, so `source: local` reads them as is."""
    spec = collecting(dataset)
    collected_path(out, dataset, label, split, subject)  # a bad label fails before the camera opens
    capture = open_source(source)
    window = Window(f"handsign collect {label} (c: capture, q: quit)", headless)
    aspect = spec.aspect  # the region of interest has the shape of the dataset's images
    saved: list[Path] = []
    roi = None
    try:
        for n, frame in enumerate(frames(capture, max_frames), 1):
            if roi is None:
                h, w = frame.shape[:2]
                roi = Roi.parse(roi_text, aspect) if roi_text else Roi.centred(w, h, aspect=aspect)
            key = window.show(annotate(frame, roi, f"{label}: {len(saved)} saved", None))
            if key == "q":
                break
            if key == "c" or (headless and n % every == 0):
                path = collected_path(out, dataset, label, split, subject)
                path.parent.mkdir(parents=True, exist_ok=True)
                image = Image.fromarray(grey(roi.crop(frame))).resize(spec.native_size, Image.BILINEAR)
                with atomic_path(path) as tmp:
                    image.save(tmp, format="PNG")
                saved.append(path)
    finally:
        capture.release()
        window.close()
    return saved


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
