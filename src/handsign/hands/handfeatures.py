"""What a landmark classifier sees: a hand's 21 landmarks (handsign.hands.landmarks), normalised so that
where the hand is in the frame and how large it appears do not matter.

Per hand, one row of `WIDTH` numbers:
- the 21 image points (x, y; x scaled by the frame's width / height so both axes are in the same
  unit), with the wrist at the origin and divided by the palm's size (wrist to the middle finger's
  knuckle): 42 numbers;
- the 21 world points (metres, MediaPipe's 3-D estimate), wrist at the origin, divided by the same
  palm measure in world units: 63 numbers;
- handedness: +1 right, -1 left (Fingers' classes are L/R hands; elsewhere the model may ignore it).
A row with no hand is all NaN: the training skips it and evaluation counts it as an error.

Augmentation happens on these rows (`augment`): an in-plane rotation, a scale and jitter, the
landmark-space counterparts of the pixel models' random affine.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from handsign.hands.landmarks import Landmarks

WRIST, MIDDLE_KNUCKLE = 0, 9
POINTS = 21
WIDTH = POINTS * 2 + POINTS * 3 + 1  # image x, y; world x, y, z; handedness
IMAGE, WORLD, HANDEDNESS = slice(0, POINTS * 2), slice(POINTS * 2, POINTS * 5), slice(POINTS * 5, WIDTH)  # a row's parts


def features(found: Landmarks, aspect: float | np.ndarray = 1.0) -> np.ndarray:
    """N x WIDTH float32 rows, NaN where no hand was found. `aspect` is the frames' width / height
    (one for all, or one per row)."""
    stretch = np.ones((len(found.image), 1, 2))
    stretch[:, 0, 0] = aspect
    image = found.image[:, :, :2].astype(np.float64) * stretch
    world = found.world.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = np.concatenate(
            [_normalised(image).reshape(len(image), -1), _normalised(world).reshape(len(world), -1),
             np.where(found.right == 1, 1.0, -1.0)[:, None]],
            axis=1,
        )  # fmt: skip
    rows[~found.found] = np.nan
    return rows.astype(np.float32)


def _normalised(points: np.ndarray) -> np.ndarray:
    """Wrist at the origin, the wrist-to-middle-knuckle distance 1."""
    centred = points - points[:, WRIST : WRIST + 1]
    palm = np.linalg.norm(centred[:, MIDDLE_KNUCKLE], axis=1)
    return centred / np.where(palm > 0, palm, np.nan)[:, None, None]


# Each finger's chain from the wrist: thumb, index, middle, ring, little.
FINGERS = ((0, 1, 2, 3, 4), (0, 5, 6, 7, 8), (0, 9, 10, 11, 12), (0, 13, 14, 15, 16), (0, 17, 18, 19, 20))
JOINT_FEATURES = 5 * 3 + 4 + 2  # each finger's three bends, four spreads, the thumb tip's two reaches


def joints(world: torch.Tensor) -> torch.Tensor:
    """What a hand's pose is, whatever its side, turn or view: N x 21 x 3 world points (wrist-centred,
    in palm units) to N x JOINT_FEATURES numbers. Each finger's three bends (the cosine between
    consecutive bones: 1 straight, below 0 curled), the spread between neighbouring fingers (the
    cosine between their first bones past the knuckle), and how far the thumb's tip is from the
    index and little fingers' knuckles (thumb in or out). Mirroring and rotating leave all unchanged."""
    bones = torch.stack([world[:, list(chain[1:])] - world[:, list(chain[:-1])] for chain in FINGERS], 1)  # N x 5 x 4 x 3
    bones = bones / bones.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    bends = (bones[:, :, 1:] * bones[:, :, :-1]).sum(-1).flatten(1)  # N x 15
    spreads = (bones[:, 1:, 1] * bones[:, :-1, 1]).sum(-1)  # N x 4
    tip = world[:, 4]
    reach = torch.stack([(tip - world[:, 5]).norm(dim=-1), (tip - world[:, 17]).norm(dim=-1)], 1)
    return torch.cat([bends, spreads, reach], 1)


def mirror(rows: torch.Tensor, generator: torch.Generator, share: float) -> torch.Tensor:
    """`share` of the rows mirrored left to right, drawn per row: every x (image and world) negated
    (the points are wrist-centred) and the handedness swapped, as the other hand making the same sign."""
    if share <= 0:
        return rows
    flipped = (torch.rand(rows.shape[0], generator=generator) < share).to(rows.device)
    sign = torch.ones(rows.shape[1], device=rows.device, dtype=rows.dtype)
    sign[IMAGE][::2] = -1  # image x
    sign[WORLD][::3] = -1  # world x
    sign[HANDEDNESS] = -1
    return torch.where(flipped[:, None], rows * sign, rows)


def augment(rows: torch.Tensor, generator: torch.Generator, degrees: float = 15.0, scale: float = 0.1,
            jitter: float = 0.03) -> torch.Tensor:  # fmt: skip
    """Each row rotated in the image plane by up to +-`degrees` (image and world points alike), scaled
    by 1 +- `scale` and every coordinate jittered by a normal of sd `jitter` (palm units)."""
    n = rows.shape[0]
    u = (torch.rand(n, 2, generator=generator) * 2 - 1).to(rows.device)
    angle, size = u[:, 0] * math.radians(degrees), 1 + scale * u[:, 1]
    cos, sin = torch.cos(angle)[:, None], torch.sin(angle)[:, None]
    image = rows[:, IMAGE].reshape(n, POINTS, 2)
    world = rows[:, WORLD].reshape(n, POINTS, 3)

    def turn(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return cos * x - sin * y, sin * x + cos * y

    ix, iy = turn(image[..., 0], image[..., 1])
    wx, wy = turn(world[..., 0], world[..., 1])
    moved = torch.cat([torch.stack([ix, iy], -1).flatten(1), torch.stack([wx, wy, world[..., 2]], -1).flatten(1)], 1)
    noise = torch.randn(moved.shape, generator=generator).to(rows.device) * jitter
    return torch.cat([(moved * size[:, None] + noise), rows[:, HANDEDNESS]], 1)
