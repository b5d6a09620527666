"""Write synthetic datasets in the Kaggle layouts, so the real parsers read them unchanged."""

from __future__ import annotations

import csv
import struct
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from isal import isal_zlib
from tqdm import tqdm

from handsign.core.schema import SyntheticParams
from handsign.datasets import fingers, leapgestrecog, sign_mnist
from handsign.synth.hand import Anatomy, jitter
from handsign.synth.looks import LeapSubject, render_fingers, render_leap, render_sign
from handsign.synth.vocab import FINGER_COUNTS, LEAP_SHAPES, MOVED, SIGN_SHAPES, finger_count_shape


def _rng(seed: int, *keys: int | str) -> np.random.Generator:
    """An independent stream per (seed, what is drawn), stable across runs and platforms."""
    return np.random.default_rng([seed, *(k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys)])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(img: np.ndarray) -> bytes:
    """An 8-bit greyscale PNG. Pillow's encoder spends 5-7 ms on a noisy 640x240 frame; ISA-L's
    deflate of unfiltered rows takes under 1 ms, and the file is smaller. Any PNG reader decodes it."""
    h, w = img.shape
    rows = np.zeros((h, w + 1), dtype=np.uint8)  # a leading 0 per row: filter type None
    rows[:, 1:] = img
    data = isal_zlib.compress(rows.tobytes(), 1)
    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit, greyscale, no interlace
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def _save_png(img: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(img))


def write_sign_mnist(out: Path, p: SyntheticParams, seed: int) -> None:
    anatomies = [Anatomy.random(_rng(seed, "sign-subject", s)) for s in range(p.subjects)]
    letters = sign_mnist.LETTER_LABELS
    for split, per_class in (("train", p.per_class_train), ("test", p.per_class_test)):
        rng = _rng(seed, "sign", split)
        jobs = [(label, k) for label in letters for k in range(per_class)]
        order = rng.permutation(len(jobs))  # the Kaggle files are not sorted by label either
        path = out / f"sign_mnist_{split}" / sign_mnist.FILES[split]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(sign_mnist.HEADER)
            for j in tqdm(order, desc=f"synthetic Sign MNIST {split}", unit="img", leave=False, disable=None):
                label, k = jobs[j]
                r = _rng(seed, "sign", split, label, k)
                letter = sign_mnist.CLASS_NAMES[letters.index(label)]
                anatomy = anatomies[int(r.integers(len(anatomies)))]
                img = render_sign(anatomy, jitter(SIGN_SHAPES[letter], r), r)
                w.writerow([label, *img.ravel().tolist()])


def write_leapgestrecog(out: Path, p: SyntheticParams, seed: int) -> None:
    subjects = [LeapSubject.random(_rng(seed, "leap-subject", s)) for s in range(p.subjects)]
    jobs = [(s, g) for s in range(p.subjects) for g in range(len(leapgestrecog.GESTURES))]
    for s, g in tqdm(jobs, desc="synthetic LeapGestRecog", unit="sequence", leave=False, disable=None):
        name = leapgestrecog.CLASS_NAMES[g]
        r = _rng(seed, "leap", s, g)
        # Each person makes a gesture their own way (bends, spread, angle, where the hand is)...
        shape = jitter(LEAP_SHAPES[name], r, bend=0.15, spread=10.0)
        start = r.normal(0, [45.0, 12.0, 15.0])
        if r.random() < 0.15:  # some recordings sit at a frame edge, the hand partly cut off
            edge = r.choice([40.0, leapgestrecog.FRAME_SIZE[0] - 40.0])
            start[0] = edge - subjects[s].cx + r.normal(0, 10)
        zoom = float(np.clip(r.normal(1.0, 0.12), 0.75, 1.3))
        # ...and a recording drifts slowly: consecutive frames are near-identical, as in the real set.
        drift = np.cumsum(r.normal(0, [0.8, 0.5, 0.3], (p.frames_per_gesture, 3)), axis=0)
        for f in range(p.frames_per_gesture):
            frame_shape = jitter(shape, r, bend=0.01, spread=0.5)
            img = render_leap(subjects[s], frame_shape, r, tuple(start + drift[f]), moved=name in MOVED, zoom=zoom)
            _save_png(img, out / leapgestrecog.frame_path(s, g, f + 1))


def write_fingers(out: Path, p: SyntheticParams, seed: int) -> None:
    anatomies = [Anatomy.random(_rng(seed, "fingers-subject", s)) for s in range(p.subjects)]
    for split, per_class in (("train", p.per_class_train), ("test", p.per_class_test)):
        jobs = [(count, hand, k) for count in range(6) for hand in "LR" for k in range(per_class)]
        for count, hand, k in tqdm(jobs, desc=f"synthetic Fingers {split}", unit="img", leave=False, disable=None):
            r = _rng(seed, "fingers", split, count, hand, k)
            options = FINGER_COUNTS[count]
            # A curled thumb lies along the palm's side or over the curled fingers: people differ.
            shape = finger_count_shape(options[int(r.integers(len(options)))], thumb_across=float(r.choice([0.3, 0.8])))
            anatomy = anatomies[int(r.integers(len(anatomies)))]
            img = render_fingers(anatomy, jitter(shape, r), r, left=hand == "L")
            name = f"{uuid.UUID(bytes=r.bytes(16), version=4)}_{count}{hand}.png"
            _save_png(img, out / "fingers" / split / name)


# The datasets the synthetic source can make, each with the function that writes it (out, params,
# seed) in its Kaggle layout. A dataset not named here has no synthetic source.
RENDERERS: dict[str, Callable[[Path, SyntheticParams, int], None]] = {
    sign_mnist.SPEC.name: write_sign_mnist,
    leapgestrecog.SPEC.name: write_leapgestrecog,
    fingers.SPEC.name: write_fingers,
}


def render_dataset(dataset: str, out: Path, params: SyntheticParams, seed: int) -> None:
    """Render `dataset` into `out` (created), in its Kaggle layout."""
    if dataset not in RENDERERS:
        raise ValueError(f"no synthetic renderer for dataset {dataset!r} (handsign.synth.RENDERERS: {', '.join(RENDERERS)})")
    out.mkdir(parents=True, exist_ok=True)
    RENDERERS[dataset](out, params, seed)
