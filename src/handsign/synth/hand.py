"""A procedural 2-D hand: a palm, a forearm and five jointed fingers, drawn with PIL.

Coordinates are hand-local: the palm's centre is the origin, x points to the thumb's opposite
side, y points up along the fingers, and the palm is one unit wide. A finger's curl bends its
three joints toward the camera: seen from the front the finger shortens, folds back over the
palm and, as in near-infrared images where nearer is brighter, its bent segments get brighter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

FINGERS = ("thumb", "index", "middle", "ring", "little")
# Where each finger leaves the palm (x, y as fractions of palm width / height) and its rest angle.
_BASES = {
    "thumb": (-0.44, -0.12),
    "index": (-0.36, 0.46),
    "middle": (-0.12, 0.5),
    "ring": (0.12, 0.48),
    "little": (0.35, 0.42),
}
_REST_ANGLE = {"thumb": 135.0, "index": 96.0, "middle": 90.0, "ring": 84.0, "little": 76.0}
_SEGMENTS = (0.45, 0.31, 0.24)  # phalanx lengths as fractions of the finger
_JOINT_FLEX = (80.0, 100.0, 70.0)  # degrees each joint bends at curl = 1
_THUMB_SEGMENTS = (0.42, 0.33, 0.25)
_THUMB_FLEX = (35.0, 60.0, 60.0)


@dataclass(frozen=True)
class Anatomy:
    """What stays fixed for one subject: proportions and how bright the skin renders."""

    palm_aspect: float  # palm height / width
    finger_length: tuple[float, float, float, float, float]  # in palm widths, thumb first
    finger_width: tuple[float, float, float, float, float]
    arm_width: float
    brightness: float  # 0..1 multiplier of the look's skin level

    @classmethod
    def random(cls, rng: np.random.Generator) -> Anatomy:
        base = rng.uniform(0.85, 1.1)
        lengths = np.array([0.62, 0.86, 0.95, 0.88, 0.68]) * base * rng.uniform(0.93, 1.07, 5)
        widths = np.array([0.28, 0.25, 0.26, 0.24, 0.21]) * rng.uniform(0.9, 1.1)
        return cls(
            palm_aspect=float(rng.uniform(0.95, 1.2)),
            finger_length=tuple(float(v) for v in lengths),
            finger_width=tuple(float(v) for v in widths),
            arm_width=float(rng.uniform(0.7, 0.85)),
            brightness=float(rng.uniform(0.8, 1.0)),
        )


@dataclass(frozen=True)
class HandShape:
    """A gesture: per finger (thumb first) curl 0 (straight) .. 1 (fully bent) and spread (degrees)."""

    curl: tuple[float, float, float, float, float]
    spread: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)
    thumb_across: float = 0.0  # 0 = thumb out to the side, 1 = folded across the palm
    roll: float = 0.0  # in-plane rotation of the whole hand, degrees; 180 points the fingers down


def extended(*names: str, thumb_across: float = 0.8, **kw: float) -> HandShape:
    """A shape with the named fingers straight and the others curled into the palm."""
    curl = tuple(0.0 if f in names else 1.0 for f in FINGERS)
    across = 0.0 if "thumb" in names else thumb_across
    return HandShape(curl=curl, thumb_across=across, **kw)  # type: ignore[arg-type]


def jitter(shape: HandShape, rng: np.random.Generator, bend: float = 0.06, spread: float = 4.0) -> HandShape:
    """Small per-sample bends and spreads, keeping the gesture what it is."""
    curl = np.clip(np.array(shape.curl) + rng.normal(0, bend, 5), 0, 1)
    return HandShape(
        curl=tuple(float(c) for c in curl),
        spread=tuple(float(s) for s in np.array(shape.spread) + rng.normal(0, spread, 5)),
        thumb_across=float(np.clip(shape.thumb_across + rng.normal(0, bend), 0, 1)),
        roll=shape.roll,
    )


@dataclass(frozen=True)
class Placement:
    """Where the hand lands in the image: centre (px), palm width (px), rotation (deg), mirror."""

    cx: float
    cy: float
    scale: float
    angle: float = 0.0
    mirror: bool = False


def _finger_chain(name: str, anatomy: Anatomy, shape: HandShape) -> list[tuple[float, float, float, float, float]]:
    """The finger's segments as (x0, y0, x1, y1, depth) in hand-local units."""
    i = FINGERS.index(name)
    bx, by = _BASES[name]
    y0 = by * anatomy.palm_aspect
    length = anatomy.finger_length[i]
    if name == "thumb":
        direction = _REST_ANGLE[name] - 115.0 * shape.thumb_across + shape.spread[i]
        segments, flexes = _THUMB_SEGMENTS, _THUMB_FLEX
        x0 = bx + 0.28 * shape.thumb_across
    else:
        direction = _REST_ANGLE[name] + shape.spread[i]
        segments, flexes = _SEGMENTS, _JOINT_FLEX
        x0 = bx
    ux, uy = math.cos(math.radians(direction)), math.sin(math.radians(direction))
    out = []
    flex, depth, x, y = 0.0, 0.0, x0, y0
    for seg, joint in zip(segments, flexes, strict=True):
        flex += joint * shape.curl[i]
        advance = seg * length * math.cos(math.radians(flex))
        depth += seg * length * math.sin(math.radians(flex))
        nx, ny = x + ux * advance, y + uy * advance
        out.append((x, y, nx, ny, depth))
        x, y = nx, ny
    return out


def draw_hand(img: Image.Image, anatomy: Anatomy, shape: HandShape, where: Placement, skin: float, arm: float = 0.88) -> None:
    """Draw the hand onto a greyscale image in place; `skin` is the palm's grey level (0..255)."""
    draw = ImageDraw.Draw(img)
    theta = math.radians(where.angle + shape.roll)
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    flip = -1.0 if where.mirror else 1.0
    s = where.scale

    def to_px(x: float, y: float) -> tuple[float, float]:
        x *= flip
        return (where.cx + s * (x * cos_t - y * sin_t), where.cy - s * (x * sin_t + y * cos_t))

    level = skin * anatomy.brightness
    aspect = anatomy.palm_aspect
    # The forearm leaves the frame, so the hand is anchored to an edge as in the real captures.
    aw = anatomy.arm_width / 2
    arm_pts = [(-aw, -0.3 * aspect), (aw, -0.3 * aspect), (aw * 1.15, -4.0), (-aw * 1.15, -4.0)]
    draw.polygon([to_px(x, y) for x, y in arm_pts], fill=int(level * arm))
    palm = []
    for k in range(24):
        t = 2 * math.pi * k / 24
        c, sn = math.cos(t), math.sin(t)
        palm.append((0.5 * math.copysign(abs(c) ** 0.6, c), 0.5 * aspect * math.copysign(abs(sn) ** 0.6, sn)))
    draw.polygon([to_px(x, y) for x, y in palm], fill=int(level))
    order = ("little", "ring", "middle", "index", "thumb")
    for name in order:
        i = FINGERS.index(name)
        width = anatomy.finger_width[i] * s
        for k, (x0, y0, x1, y1, depth) in enumerate(_finger_chain(name, anatomy, shape)):
            grey = int(min(255, level * (1.0 + 0.35 * depth)))
            w = max(1.0, width * (1.0 - 0.08 * k))
            p0, p1 = to_px(x0, y0), to_px(x1, y1)
            draw.line([p0, p1], fill=grey, width=int(round(w)))
            r = w / 2
            for px, py in (p0, p1):
                draw.ellipse([px - r, py - r, px + r, py + r], fill=grey)
