"""The camera tools: live classification (`handsign live`: a pixel model classifies a region of
interest; a landmark model finds the hand anywhere in the frame) and collecting training images
from a region of interest in a dataset's own layout (`handsign collect`), from a camera index or a
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
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from handsign.core.atomic import atomic_path
from handsign.core.imagefile import grey_pixels, read_grey
from handsign.datasets.spec import DatasetSpec
from handsign.recognition import Classifier, Ensemble
from handsign.recognition.answers import labels

if TYPE_CHECKING:
    from handsign.hands.landmarks import Hand
    from handsign.recognition.landmarks import HandClassifier


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


GREEN, YELLOW, RED = (0, 255, 0), (0, 255, 255), (0, 0, 255)  # BGR
# MediaPipe's hand: the wrist (0), then four points per finger from the thumb (1-4) to the little finger (17-20).
BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
         (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (17, 18), (18, 19), (19, 20), (0, 17))  # fmt: skip


@dataclass
class Reading:
    """What live made of one frame."""

    probabilities: np.ndarray  # one per class; all zero: no hand found
    snapshot: np.ndarray  # what `s` saves: the greyscale region of interest, or the whole frame (RGB)
    roi: Roi | None = None  # drawn as a box
    points: np.ndarray | None = None  # the hand's 21 landmarks in frame pixels (x, y), drawn as a skeleton
    hand: bool = True  # whether a hand was found (a pixel model alone: always)


class RoiReader:
    """A pixel model on the region of interest (`roi_text`, else centred)."""

    def __init__(self, classifier: Classifier, roi_text: str) -> None:
        self.classifier, self.roi_text, self.roi = classifier, roi_text, None

    def __call__(self, frame: np.ndarray, n: int) -> Reading:
        region = self.region(frame)
        return Reading(self.classifier.probabilities([region])[0], region, roi=self.roi)

    def region(self, frame: np.ndarray) -> np.ndarray:
        """The frame's region of interest, greyscale (placed on the first frame)."""
        if self.roi is None:
            h, w = frame.shape[:2]
            self.roi = Roi.parse(self.roi_text) if self.roi_text else Roi.centred(w, h)
        return grey(self.roi.crop(frame))

    def close(self) -> None:
        pass


class HandReader:
    """A landmark model on the whole frame: the hand landmarker follows the hand from frame to frame
    (its palm detector runs only when the hand was lost), the network classifies it. A greyscale
    frame (an infrared camera's: `is_grey`) is shown in the colours of the model's first
    detection attempt, as its training images were: the detector, made for colour photographs, finds
    hands in about three in four raw grey frames and in all tinted ones (a generated video)."""

    def __init__(self, classifier: HandClassifier, frame_ms: float = 1000 / 30) -> None:
        self.classifier, self.frame_ms = classifier, frame_ms
        self.tracker = classifier.tracker()

    def __call__(self, frame: np.ndarray, n: int) -> Reading:
        from handsign.hands.landmarks import Landmarks

        hand, rgb = self.follow(frame, n)
        h, w = frame.shape[:2]
        p = self.classifier.classify(Landmarks.of([hand]), w / h)[0]
        return Reading(p, rgb, points=hand.image[:, :2] * (w, h) if hand.found else None, hand=hand.found)

    def follow(self, frame: np.ndarray, n: int) -> tuple[Hand, np.ndarray]:
        """The hand in BGR frame `n`, and the RGB frame the tracker was shown."""
        from handsign.hands.landmarks import tinted

        if is_grey(frame):
            rgb = np.asarray(tinted(Image.fromarray(frame[:, :, 1]), self.classifier.preprocessing.landmarks.attempts[0]))
        else:
            rgb = np.ascontiguousarray(frame[:, :, ::-1])
        return self.tracker.track(rgb, round(n * self.frame_ms)), rgb

    def close(self) -> None:
        self.tracker.close()


class EnsembleReader:
    """A pixel model and a landmark model answering together (`live -m PIXEL -m LANDMARKS`, or an
    ensemble's MLflow URI): the landmark model's tracker follows the hand; the pixel model reads that
    hand's square where it crops to the hand (`hand_crop`, as the ensembles' pixel models do), else its
    region of interest, as it would alone; their probabilities multiplied as evaluate_ensemble
    multiplies them. Where no hand is found the pixel model answers alone (the whole frame, or its region)."""

    def __init__(self, ensemble: Ensemble, roi_text: str) -> None:
        from handsign.recognition.landmarks import HandClassifier

        pixels = [m for m in ensemble.members if isinstance(m, Classifier)]
        hands = [m for m in ensemble.members if isinstance(m, HandClassifier)]
        if len(pixels) != 1 or len(hands) != 1 or len(ensemble.members) != 2:
            raise ValueError("live takes one model, or an ensemble of one pixel model and one landmark model")
        self.ensemble, self.hands = ensemble, HandReader(hands[0])
        self.region = None if pixels[0].preprocessing.hand_crop else RoiReader(pixels[0], roi_text)

    def __call__(self, frame: np.ndarray, n: int) -> Reading:
        from handsign.hands.landmarks import Landmarks

        hand, rgb = self.hands.follow(frame, n)
        h, w = frame.shape[:2]
        # A cropping pixel model reads the camera's own colours (not the detector's tint), another its region.
        image = np.ascontiguousarray(frame[:, :, ::-1]) if self.region is None else self.region.region(frame)
        p = self.ensemble.given_hands([image], Landmarks.of([hand]), w / h)[0]
        roi = None if self.region is None else self.region.roi
        return Reading(p, rgb, roi=roi, points=hand.image[:, :2] * (w, h) if hand.found else None, hand=hand.found)

    def close(self) -> None:
        self.hands.close()


def is_grey(frame: np.ndarray, spread: int = 8) -> bool:
    """Whether a BGR frame is greyscale: its channels differ by at most `spread` anywhere (checked on
    every 4th pixel each way). Not exactly equal: a video codec's colour rounding moves them by 1-2."""
    sample = frame[::4, ::4].astype(np.int16)
    return int((sample.max(axis=2) - sample.min(axis=2)).max()) <= spread


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


@dataclass
class LiveResult:
    frames: int
    seconds: float
    snapshots: list[Path]
    hands: int  # frames with a hand found (a pixel model: every frame)


def live(
    classifier: Classifier | HandClassifier | Ensemble,
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
    from handsign.recognition.landmarks import HandClassifier

    cv2 = _cv2()
    if isinstance(classifier, Ensemble):
        read: RoiReader | HandReader | EnsembleReader = EnsembleReader(classifier, roi_text)
    elif isinstance(classifier, HandClassifier):
        read = HandReader(classifier)
    else:
        read = RoiReader(classifier, roi_text)
    capture = open_source(source)
    window = Window("handsign live (s: snapshot, q: quit)", headless)
    writer, rows, snapshots = None, [], []
    names = classifier.preprocessing.class_names
    start = time.perf_counter()
    fps: float | None = None
    n = hands = 0
    try:
        for n, frame in enumerate(frames(capture, max_frames), 1):
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
            key = window.show(annotate(frame, f"{label}: {len(saved)} saved", None, roi))
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
