"""How each dataset's camera sees a hand: background, lighting, noise, framing.

Each `render_*` returns one uint8 greyscale array in the dataset's native size and is a pure
function of its arguments, so the same seed gives the same bytes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image, ImageFilter

from handsign.datasets import fingers, leapgestrecog, sign_mnist
from handsign.synth.hand import Anatomy, HandShape, Placement, draw_hand


def _clouds(rng: np.random.Generator, size: tuple[int, int], cells: tuple[int, int], amplitude: float) -> np.ndarray:
    """Smooth random texture: coarse noise upsampled bilinearly (cheap and seamless)."""
    coarse = rng.normal(0, amplitude, (cells[1], cells[0])).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize(size, Image.BILINEAR), dtype=np.float32)


def _composite(
    background: np.ndarray,
    anatomy: Anatomy,
    shape: HandShape,
    where: Placement,
    skin: float,
    blur: float,
    gain: np.ndarray | None = None,
) -> np.ndarray:
    """The hand over the background with soft (blurred, premultiplied) edges; `gain` scales the hand.

    Only the hand's bounding box is blurred and blended: most of a 640x240 frame is background.
    """
    h, w = background.shape
    hand = Image.new("L", (w, h), 0)
    draw_hand(hand, anatomy, shape, where, skin)
    out = background.copy()
    box = hand.getbbox()
    if box is None:
        return out
    pad = int(3 * blur) + 2
    x0, y0, x1, y1 = max(box[0] - pad, 0), max(box[1] - pad, 0), min(box[2] + pad, w), min(box[3] + pad, h)
    hand = hand.crop((x0, y0, x1, y1))
    mask = hand.point(lambda v: 255 if v else 0)
    if blur > 0:
        hand = hand.filter(ImageFilter.GaussianBlur(blur))
        mask = mask.filter(ImageFilter.GaussianBlur(blur))
    bg = background[y0:y1, x0:x1]
    delta = np.asarray(hand, dtype=np.float32) - bg * (np.asarray(mask, dtype=np.float32) / 255.0)
    if gain is not None:
        delta *= gain[y0:y1, x0:x1]
    out[y0:y1, x0:x1] = bg + delta
    return out


@functools.cache
def _noise_bank(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(20240917).standard_normal((2 * h, 2 * w), dtype=np.float32)


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Sensor noise: a random window of a fixed bank, far cheaper than fresh normals per frame."""
    h, w = shape
    y, x = rng.integers(h), rng.integers(w)
    return _noise_bank(h, w)[y : y + h, x : x + w] * sigma


def _to_uint8(a: np.ndarray) -> np.ndarray:
    return np.clip(a + 0.5, 0, 255).astype(np.uint8)


# --- LeapGestRecog: 640x240 near-infrared; a bright hand near the sensor, a nearly black room ---
LEAP_SIZE = leapgestrecog.FRAME_SIZE


@dataclass(frozen=True)
class LeapSubject:
    """One person at the sensor: their hand and their habits (where and how big the hand sits)."""

    anatomy: Anatomy
    cx: float
    cy: float
    scale: float
    skin: float
    room_seed: int

    @classmethod
    def random(cls, rng: np.random.Generator) -> LeapSubject:
        return cls(
            anatomy=Anatomy.random(rng),
            cx=float(rng.uniform(230, 410)),
            cy=float(rng.uniform(105, 140)),
            scale=float(rng.uniform(52, 72)),
            skin=float(rng.uniform(200, 250)),
            room_seed=int(rng.integers(2**31)),
        )

    @cached_property
    def room(self) -> np.ndarray:
        rng = np.random.default_rng(self.room_seed)
        return rng.uniform(3, 10) + _clouds(rng, LEAP_SIZE, (16, 6), 3.5).clip(-3, None)


_yy, _xx = np.mgrid[0 : LEAP_SIZE[1], 0 : LEAP_SIZE[0]].astype(np.float32)
# The sensor lights the scene itself, so brightness falls off away from the middle of the frame.
LEAP_FALLOFF = np.exp(-(((_xx - 320) / 300) ** 2) - ((_yy - 110) / 190) ** 2)


def render_leap(
    subject: LeapSubject,
    shape: HandShape,
    rng: np.random.Generator,
    offset: tuple[float, float, float],
    moved: bool,
    zoom: float = 1.0,
) -> np.ndarray:
    """One frame; `offset` (dx, dy, dangle) is the slow drift that makes neighbouring frames alike,
    `zoom` the hand's distance from the sensor for this recording."""
    dx, dy, da = offset
    if moved:  # displaced toward the middle of the frame, so the hand never leaves it entirely
        toward_middle = 1.0 if subject.cx + dx < LEAP_SIZE[0] / 2 else -1.0
        dx += toward_middle * float(rng.uniform(60, 140))
    where = Placement(cx=subject.cx + dx, cy=subject.cy + dy, scale=subject.scale * zoom, angle=da)
    frame = _composite(subject.room, subject.anatomy, shape, where, subject.skin, blur=1.6, gain=LEAP_FALLOFF)
    if moved:
        frame = _motion_blur(frame, length=int(rng.integers(12, 28)), vertical=bool(rng.random() < 0.3))
    return _to_uint8(frame + _noise(rng, frame.shape, 2.5))


def _motion_blur(a: np.ndarray, length: int, vertical: bool) -> np.ndarray:
    """A box blur along one axis, as a hand moving during the exposure smears."""
    axis = 0 if vertical else 1
    c = np.cumsum(a, axis=axis, dtype=np.float32)
    pad = [(0, 0), (0, 0)]
    pad[axis] = (length, 0)
    c = np.pad(c, pad)
    hi = np.take(c, np.arange(length, c.shape[axis]), axis=axis)
    lo = np.take(c, np.arange(0, c.shape[axis] - length), axis=axis)
    return (hi - lo) / length


# --- Fingers: 128x128, a pale hand on a dark, mottled, noisy background ---
FINGERS_SIZE = fingers.IMAGE_SIZE


def render_fingers(anatomy: Anatomy, shape: HandShape, rng: np.random.Generator, left: bool) -> np.ndarray:
    base = rng.uniform(45, 80)
    background = base + _clouds(rng, FINGERS_SIZE, (5, 5), 14) + _clouds(rng, FINGERS_SIZE, (20, 20), 6)
    where = Placement(
        cx=64 + rng.normal(0, 5),
        cy=76 + rng.normal(0, 5),
        scale=rng.uniform(38, 46),
        angle=rng.normal(0, 12),
        mirror=not left,  # drawn unmirrored, a hand shows its palm with the thumb on the left: a left hand
    )
    img = _composite(background, anatomy, shape, where, skin=rng.uniform(190, 230), blur=0.9)
    return _to_uint8(img + _noise(rng, img.shape, 5.0))


# --- Sign Language MNIST: a cropped hand filling a 28x28 frame, on varied backgrounds ---
SIGN_SIDE = sign_mnist.SIDE
SIGN_RENDER = 3 * SIGN_SIDE  # drawn at 3x, then box-filtered down as the original crops were resized


def render_sign(anatomy: Anatomy, shape: HandShape, rng: np.random.Generator) -> np.ndarray:
    size = (SIGN_RENDER, SIGN_RENDER)
    bg_level = rng.uniform(30, 220)
    ramp = np.linspace(-1, 1, SIGN_RENDER, dtype=np.float32)
    gx, gy = rng.normal(0, 18, 2)
    background = bg_level + gx * ramp[None, :] + gy * ramp[:, None] + _clouds(rng, size, (6, 6), 16)
    # Keep the hand visible against its background, as a person framing a photo would.
    skin = rng.uniform(150, 235) if bg_level < 130 else rng.uniform(60, 150) if rng.random() < 0.3 else rng.uniform(170, 240)
    where = Placement(
        cx=42 + rng.normal(0, 3),
        cy=50 + rng.normal(0, 3),
        scale=rng.uniform(27, 33),
        angle=rng.normal(0, 8),
        mirror=False,
    )
    img = _composite(background, anatomy, shape, where, skin=skin, blur=1.2)
    small = Image.fromarray(_to_uint8(img)).resize((SIGN_SIDE, SIGN_SIDE), Image.BOX)
    return _to_uint8(np.asarray(small, dtype=np.float32) + _noise(rng, (SIGN_SIDE, SIGN_SIDE), 2.0))
