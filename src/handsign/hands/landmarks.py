"""Hand landmarks: MediaPipe's hand landmarker (a palm detector, then a 21-point hand model) run on
the datasets' greyscale images, keyed by sample_id, and on any colour photograph in its colours.

The detector was trained on colour photographs; a raw greyscale frame is mostly missed (about 14%
of the real Fingers photos are found). Each dataset therefore says in params.yaml
(`landmarks.<dataset>`) how its images are shown to the detector: a list of attempts, tried in
order until a hand is found, each a tint towards skin colour, a margin of the image's median grey
around it (the palm detector misses hands that fill the frame), a size, a gamma and whether it is
shown mirrored; every attempt is padded to a square. Coordinates are mapped back to the original
image: x and y in 0..1 of its width and height.

The model file is pinned (a versioned URL and its sha256, handsign.core.weights.HAND_LANDMARKER) and
found on handsign's search path for weights (`$HANDSIGN_WEIGHTS`, `../shared/weights/`, the cache,
into which it is downloaded when there is a network); a file with another hash is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import multiprocessing
import os
import sys
import threading
import weakref
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from handsign.core import weights
from handsign.core.schema import Attempt, LandmarkParams
from handsign.hands import detectcache

if TYPE_CHECKING:
    from PIL import Image

    from handsign.datasets import Prepared

MODEL_FILE = weights.HAND_LANDMARKER.name
READINGS_FILE = "readings.npz"  # beside landmarks.npz with `readings: every`: each attempt's reading of each image
CHUNK = 8  # images a worker detects per task: small, so that no worker is left with a long last one
POINTS = 21  # wrist, then four joints per finger from the thumb to the little finger


@dataclass
class Landmarks:
    """One row per sample, in the prepared order (sample_id = row)."""

    image: np.ndarray  # N x 21 x 3 float32: x, y in 0..1 of the image, z (depth, x's scale); NaN: no hand
    world: np.ndarray  # N x 21 x 3 float32: metres, origin at the hand's centre; NaN: no hand
    right: np.ndarray  # N int8: 1 right hand, 0 left, -1 no hand (MediaPipe's label, which assumes a mirrored view)
    score: np.ndarray  # N float32: handedness score; 0 where no hand
    attempt: np.ndarray  # N int8: the attempt that found the hand, -1 none

    @property
    def found(self) -> np.ndarray:
        return self.attempt >= 0

    @classmethod
    def empty(cls, n: int) -> Landmarks:
        """`n` rows of no hand."""
        nothing = np.full((n, POINTS, 3), np.nan, np.float32)
        return cls(nothing, nothing.copy(), np.full(n, -1, np.int8), np.zeros(n, np.float32), np.full(n, -1, np.int8))

    @classmethod
    def of(cls, hands: list[Hand]) -> Landmarks:
        out = cls.empty(len(hands))
        for i, hand in enumerate(hands):
            out.put(i, hand)
        return out

    def put(self, i: int, hand: Hand) -> None:
        self.image[i], self.world[i], self.right[i], self.score[i], self.attempt[i] = (
            hand.image,
            hand.world,
            hand.right,
            hand.score,
            hand.attempt,
        )

    def hand(self, i: int) -> Hand:
        """Row `i` as one Hand (what `put` wrote)."""
        return Hand(self.image[i], self.world[i], int(self.right[i]), float(self.score[i]), int(self.attempt[i]))

    def take(self, rows: np.ndarray) -> Landmarks:
        """These rows, in this order."""
        return Landmarks(self.image[rows], self.world[rows], self.right[rows], self.score[rows], self.attempt[rows])

    def place(self, rows: np.ndarray, other: Landmarks) -> None:
        """`other`'s rows written at `rows`, in order."""
        for name in ("image", "world", "right", "score", "attempt"):
            getattr(self, name)[rows] = getattr(other, name)

    def found_by_attempt(self, attempts: int) -> list[int]:
        """How many hands each of the `attempts` attempts found, in order."""
        return np.bincount(self.attempt[self.found], minlength=attempts).tolist()

    def save(self, path: Path) -> None:
        np.savez(path, image=self.image, world=self.world, right=self.right, score=self.score, attempt=self.attempt)

    @classmethod
    def load(cls, path: Path) -> Landmarks:
        with np.load(path) as f:
            return cls(f["image"], f["world"], f["right"], f["score"], f["attempt"])


def find_model(root: Path | None = None, fetch: bool = False) -> Path:
    """The pinned hand landmarker file, verified (handsign.core.weights); with `fetch`, downloaded into
    the cache when it is nowhere on the search path."""
    return weights.find(weights.HAND_LANDMARKER, root, fetch)


class Detector:
    """The hand landmarker for one process, with a dataset's attempts (`detect`); or, with `video`,
    following one hand from frame to frame of a colour video (`track`), which runs the palm detector
    only when the hand was lost: what makes live classification fast."""

    def __init__(self, params: LandmarkParams, model: Path | bytes, video: bool = False) -> None:
        try:
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as e:
            raise RuntimeError(f"mediapipe is not installed ({e}): `make install` installs it") from None
        # The file's bytes where a worker on another machine has no path to it (handsign.hands.cluster).
        base = BaseOptions(model_asset_buffer=model) if isinstance(model, bytes) else BaseOptions(model_asset_path=str(model))
        options = vision.HandLandmarkerOptions(
            base_options=base,
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_hands=1,
            min_hand_detection_confidence=params.confidence,
            min_hand_presence_confidence=params.confidence,
        )
        self.params = params
        with quiet_stderr():
            self._landmarker = vision.HandLandmarker.create_from_options(options)
        self._first = True  # its first run logs too
        self._closer = weakref.finalize(self, _close, self._landmarker)  # closed when dropped
        _close_at_exit(self._closer)

    def close(self) -> None:
        self._closer()

    def __enter__(self) -> Detector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, image: np.ndarray) -> Hand:
        """The hand in one uint8 image, tried as each attempt says until one finds it: an H x W
        greyscale image in the attempt's tint and gamma, an H x W x 3 RGB one in its own colours
        (the detector was trained on colour photographs; making them grey loses most hands), each
        attempt's size, margin and mirroring applied to both."""
        return next((hand for hand in self._attempts(image) if hand.found), NOT_FOUND)

    def readings(self, image: np.ndarray) -> list[Hand]:
        """What every attempt finds in one image, in order (NOT_FOUND where it finds none); the first
        found is `detect`'s hand."""
        return list(self._attempts(image))

    def _attempts(self, image: np.ndarray) -> Iterator[Hand]:
        import mediapipe as mp

        colour = image.ndim == 3
        tried: set[tuple] = set()
        for k, attempt in enumerate(self.params.attempts):
            if colour:  # the tint and gamma are for greys: attempts that differ only there are one
                geometry = (attempt.margin, attempt.size, attempt.mirror)
                if geometry in tried:
                    yield NOT_FOUND
                    continue
                tried.add(geometry)
            rgb, scale, left, top = shown(image[:, ::-1] if attempt.mirror else image, attempt)
            with self._quiet_once():
                result = self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            if not result.hand_landmarks:
                yield NOT_FOUND
                continue
            h, w = image.shape[:2]
            side = rgb.shape[0]
            points, world, right, score = _hand(result)
            # From the padded, resized square back to 0..1 of the original image.
            points[:, 0] = (points[:, 0] * side - left) / (w * scale)
            points[:, 1] = (points[:, 1] * side - top) / (h * scale)
            points[:, 2] *= side / (w * scale)
            if attempt.mirror:  # back to the image as it is: x mirrored, and so the hand's side
                points[:, 0], world[:, 0], right = 1 - points[:, 0], -world[:, 0], 1 - right
            yield Hand(points, world, right, score, k)

    def _quiet_once(self) -> contextlib.AbstractContextManager:
        first, self._first = self._first, False
        return quiet_stderr() if first else contextlib.nullcontext()

    def track(self, rgb: np.ndarray, milliseconds: int) -> Hand:
        """The hand in one uint8 H x W x 3 RGB video frame, as it is (a camera's frame has room
        around the hand); `milliseconds` must grow from frame to frame."""
        import mediapipe as mp

        h, w = rgb.shape[:2]
        side = max(h, w)
        top, left = (side - h) // 2, (side - w) // 2
        square = np.zeros((side, side, 3), np.uint8)  # as in `shown`: landmarks come out right for squares
        square[top : top + h, left : left + w] = rgb
        with self._quiet_once():
            result = self._landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=square), milliseconds)
        if not result.hand_landmarks:
            return NOT_FOUND
        points, world, right, score = _hand(result)
        points[:, 0] = (points[:, 0] * side - left) / w
        points[:, 1] = (points[:, 1] * side - top) / h
        points[:, 2] *= side / w
        return Hand(points, world, right, score, 0)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """File descriptor 2 to /dev/null for a while: MediaPipe's C++ runtime writes a dozen INFO and
    WARNING lines there as it creates, first runs and closes a landmarker, whatever GLOG_minloglevel
    says. Its failures still come back as Python exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _close(landmarker: object) -> None:
    with quiet_stderr():
        landmarker.close()  # type: ignore[attr-defined]


_still_open: list[tuple[int, weakref.finalize]] = []  # (process id, its closer)
_hooked = False


def _close_at_exit(closer: weakref.finalize) -> None:
    """MediaPipe makes its C calls on a thread pool, which Python shuts down at exit before atexit
    and weakref.finalize hooks run; a landmarker still open then fails to close, with two tracebacks.
    Those still open are closed first, from a hook that runs before the pool's own (registered later).
    Only the process's own: a forked worker inherits the list, not the parent's threads."""
    global _hooked
    if not _hooked:
        threading._register_atexit(_close_still_open)  # type: ignore[attr-defined]
        _hooked = True
    _still_open[:] = [(pid, c) for pid, c in _still_open if c.alive] + [(os.getpid(), closer)]


def _close_still_open() -> None:
    for pid, close in _still_open:
        if pid == os.getpid():
            close()


@dataclass(frozen=True)
class Hand:
    """One image's hand: image points (21 x 3, x and y in 0..1 of the image), world points (21 x 3,
    metres), right (1 right, 0 left, -1 none), the handedness score and the attempt that found it (-1)."""

    image: np.ndarray
    world: np.ndarray
    right: int
    score: float
    attempt: int

    @property
    def found(self) -> bool:
        return self.attempt >= 0


_NOTHING = np.full((POINTS, 3), np.nan, np.float32)
NOT_FOUND = Hand(_NOTHING, _NOTHING, -1, 0.0, -1)  # what detect and track return without a hand


def _hand(result: object) -> tuple[np.ndarray, np.ndarray, int, float]:
    points = np.array([[p.x, p.y, p.z] for p in result.hand_landmarks[0]], np.float32)  # type: ignore[attr-defined]
    world = np.array([[p.x, p.y, p.z] for p in result.hand_world_landmarks[0]], np.float32)  # type: ignore[attr-defined]
    hand = result.handedness[0][0]  # type: ignore[attr-defined]
    return points, world, int(hand.category_name == "Right"), float(hand.score)


def shown(image: np.ndarray, attempt: Attempt) -> tuple[np.ndarray, float, int, int]:
    """The RGB image the detector sees for `attempt`: resized, padded with the image's median
    (grey, or colour per channel) by the margin and then to a square (MediaPipe projects landmarks
    right only for square inputs), a greyscale image tinted; with the scale applied and the left
    and top padding in pixels."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = attempt.size / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = Image.fromarray(np.ascontiguousarray(image)).resize(size, Image.BILINEAR)
    margin = round(max(size) * attempt.margin)
    side = max(size) + 2 * margin
    left, top = (side - size[0]) // 2, (side - size[1]) // 2
    histograms = np.reshape(resized.histogram(), (-1, 256))  # one row per channel
    counts = np.cumsum(histograms, axis=1)
    median = [int(np.searchsorted(c, c[-1] / 2)) for c in counts]
    if image.ndim == 3:
        canvas = Image.new("RGB", (side, side), tuple(median))
        canvas.paste(resized, (left, top))
    else:
        canvas = Image.new("RGB", (side, side), tuple(c[median[0]] for c in _channels(attempt)))
        canvas.paste(tinted(resized, attempt), (left, top))
    return np.asarray(canvas), scale, left, top


def tinted(grey: Image.Image, attempt: Attempt) -> Image.Image:
    """A greyscale (mode L) image in the colours `attempt` shows it in: gamma, then tint."""
    from PIL import Image

    return Image.merge("RGB", [grey.point(c) for c in _channels(attempt)])


@functools.lru_cache(maxsize=64)
def _channels(attempt: Attempt) -> tuple[list[int], list[int], list[int]]:
    """Three 256-entry lookup tables (Pillow's `point`): the shown red, green and blue of each grey
    level. Tables rather than arithmetic per pixel: the landmarks stage's time is detection's."""
    levels = (np.arange(256) / 255) ** attempt.gamma
    rgb = (levels[:, None] * np.array(attempt.tint) * 255).clip(0, 255).astype(np.uint8)
    return rgb[:, 0].tolist(), rgb[:, 1].tolist(), rgb[:, 2].tolist()


def read_for_landmarks(raw_dir: Path, dataset: str, params: LandmarkParams) -> tuple[Prepared, float]:
    """A dataset's download as the detector is given it: read at `params.image_size`, letterboxed
    (detect_all takes the bars off again with the returned aspect, width / height of its frames)."""
    from handsign.datasets import get_spec

    spec = get_spec(dataset)
    return spec.read(raw_dir, params.image_size, "letterbox"), spec.aspect


def detect_all(images: np.ndarray, params: LandmarkParams, model: Path, aspect: float = 1.0, workers: int | None = None,
               progress: str = "") -> Landmarks:  # fmt: skip
    """Landmarks of every uint8 N x 1 x S x S image, one detector per worker process. Images of a
    dataset whose frames are not square (`aspect` = width / height) are letterboxed: the detector
    sees the frame alone, and coordinates are relative to it."""
    return _run(_Job(images, params, model, aspect), len(images), workers, progress)


def detect_every(images: np.ndarray, params: LandmarkParams, model: Path, aspect: float = 1.0, workers: int | None = None,
                 progress: str = "", only: np.ndarray | None = None) -> tuple[Landmarks, Landmarks]:  # fmt: skip
    """As `detect_all`, with every attempt run on every image (or on those where the boolean `only`
    is true): the first reading that finds a hand (`detect_all`'s answer, for every image), and every
    attempt's reading, N x attempts rows (row i * attempts + k is attempt k's reading of image i; no
    hand in the rows of an image outside `only`)."""
    per, n = len(params.attempts), len(images)
    chosen = np.arange(n) if only is None else np.flatnonzero(only)
    picked = images if only is None else images[chosen]  # (a memory-mapped download stays mapped)
    read = _run(_Job(picked, params, model, aspect, every=True), len(chosen) * per, workers, progress, per)
    every, first = Landmarks.empty(n * per), Landmarks.empty(n)
    every.place((chosen[:, None] * per + np.arange(per)).ravel(), read)
    # The first attempt that found a hand; where none did, attempt 0's empty reading.
    first.place(chosen, read.take(np.arange(len(chosen)) * per + read.found.reshape(-1, per).argmax(1)))
    rest = np.setdiff1d(np.arange(n), chosen)
    if rest.size:
        first.place(rest, detect_all(images[rest], params, model, aspect, workers, f"{progress} (first hand)"))
    return first, every


def detect_pictures(pictures: list[np.ndarray], params: LandmarkParams, model: Path, workers: int | None = None,
                    progress: str = "") -> Landmarks:  # fmt: skip
    """Landmarks of each uint8 picture as it is (any size; H x W x 3 colour or H x W grey), one
    detector per worker process; coordinates relative to each picture."""
    return _run(_Pictures(pictures, params, model), len(pictures), workers, progress)


def _run(job: _Job | _Pictures, n: int, workers: int | None, progress: str, per_image: int = 1) -> Landmarks:
    """`n` rows of hands, `per_image` for each image of the job (its every attempt's reading)."""
    from tqdm import tqdm

    out = Landmarks.empty(n)
    chunks = list(_chunks(n // per_image, CHUNK))
    with _detections(job, chunks, workers) as rows:
        for start, found in tqdm(rows, total=len(chunks), desc=progress or "landmarks", unit="batch", disable=None):
            for i, hand in enumerate(found, start * per_image):
                out.put(i, hand)
    return out


@contextlib.contextmanager
def _detections(job: _Job | _Pictures, chunks: list[tuple[int, int]],
                workers: int | None) -> Iterator[Iterable[tuple[int, list]]]:  # fmt: skip
    """Each chunk's first row and hands, in any order: from the workers of the Dask cluster that
    $HANDSIGN_DASK_SCHEDULER names, where it names one, else from local processes."""
    from handsign.hands import cluster

    if address := os.environ.get(cluster.SCHEDULER_ENV):
        with cluster.detections(address, job, chunks, _detect_job) as rows:
            yield rows
        return
    with _pool(workers or os.cpu_count() or 1, job) as pool:
        yield pool.map(_detect, chunks)


@dataclass
class _Pictures:
    pictures: list[np.ndarray]
    params: LandmarkParams
    model: Path

    def frame(self, i: int) -> np.ndarray:
        return self.pictures[i]


@dataclass
class _Job:
    images: np.ndarray
    params: LandmarkParams
    model: Path
    aspect: float  # width / height of the frames inside the letterboxed squares
    every: bool = False  # every attempt's reading of each image, not the first hand found

    def frame(self, i: int) -> np.ndarray:
        """Image i without its letterbox bars (handsign.datasets.base.to_square_array's geometry)."""
        square = np.asarray(self.images[i, 0])
        size = square.shape[0]
        if self.aspect > 1:
            h = max(1, round(size / self.aspect))
            return square[(size - h) // 2 : (size - h) // 2 + h]
        if self.aspect < 1:
            w = max(1, round(size * self.aspect))
            return square[:, (size - w) // 2 : (size - w) // 2 + w]
        return square


_worker = threading.local()  # .job and its .detector: one per worker thread (a Dask worker may run several)


def _start(job: _Job | _Pictures) -> None:
    _worker.job, _worker.detector = job, Detector(job.params, job.model)


def _detect_job(job: _Job | _Pictures, rows: tuple[int, int]) -> tuple[int, list]:
    """`_detect` where no initializer ran (a Dask worker): the detector is built on the first chunk
    of a job and kept for the rest of it."""
    if getattr(_worker, "job", None) is not job:
        _start(job)
    return _detect(rows)


def _detect(rows: tuple[int, int]) -> tuple[int, list]:
    assert getattr(_worker, "job", None) is not None, "a landmark worker starts with _start"
    job, detector = _worker.job, _worker.detector
    start, stop = rows
    every = isinstance(job, _Job) and job.every
    frames = [job.frame(i) for i in range(start, stop)]
    where = detectcache.folder()
    if where is not None:  # the hands of these very frames, found before with these settings and this code
        name = detectcache.key(frames, f"{job.params!r} every={every}", _model_digest(job.model), _CODE)
        if (kept := detectcache.load(where, name)) is not None:
            return start, _hands(kept)
    hands = [hand for frame in frames for hand in detector.readings(frame)] if every else \
        [detector.detect(frame) for frame in frames]  # fmt: skip
    if where is not None:
        detectcache.save(where, name, _arrays(hands))
    return start, hands


_CODE = Path(__file__).read_bytes()  # the detection code: a changed detector detects again


@functools.lru_cache(maxsize=4)
def _model_digest(model: Path | bytes) -> str:
    return hashlib.sha256(model if isinstance(model, bytes) else Path(model).read_bytes()).hexdigest()


def _arrays(hands: list[Hand]) -> dict[str, np.ndarray]:
    return dataclasses.asdict(Landmarks.of(hands))


def _hands(arrays: dict[str, np.ndarray]) -> list[Hand]:
    rows = Landmarks(**arrays)
    return [rows.hand(i) for i in range(len(rows.attempt))]


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


def _pool(n: int, job: _Job | _Pictures) -> Executor:
    """Forked processes on Linux (each builds its own detector after the fork), threads elsewhere."""
    if sys.platform == "linux":
        return ProcessPoolExecutor(n, multiprocessing.get_context("fork"), _start, (job,))
    return ThreadPoolExecutor(1, initializer=_start, initargs=(job,))
