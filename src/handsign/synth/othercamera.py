"""An "other camera" for each dataset: the same classes as its renders, photographed the way a user's
webcam or phone would, in colour, by other people (hand anatomies the training renders never
drew), with other skin tones, backgrounds, lighting, scale and position, either hand (mirrored at
random) and some blur. `make demo` scores every classifier on these beside its own test split,
so the demo shows how far a model carries over (handsign.data.external), offline.

Written as an external set is laid out, `<class>/<n>.png`, RGB; a pure function of its seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from handsign.synth.hand import Anatomy, HandShape, Placement, draw_hand, jitter
from handsign.synth.looks import _clouds, _noise
from handsign.synth.vocab import FINGER_COUNTS, LEAP_SHAPES, SIGN_SHAPES, finger_count_shape
from handsign.synth.writers import _rng

SIZE = 128
# Skin colours as RGB multipliers of a level, from pale to dark (the training renders are grey).
SKIN = np.array([[1.0, 0.82, 0.70], [1.0, 0.76, 0.62], [0.95, 0.70, 0.52], [0.85, 0.60, 0.45], [0.70, 0.48, 0.36]])


def class_shapes(dataset: str) -> dict[str, list[HandShape]]:
    """Each class of a rendered dataset and the hand shapes that show it."""
    if dataset == "sign_mnist":
        return {letter: [shape] for letter, shape in SIGN_SHAPES.items()}
    if dataset == "fingers":
        return {str(n): [finger_count_shape(up) for up in options] for n, options in FINGER_COUNTS.items()}
    if dataset == "leapgestrecog":
        return {name: [shape] for name, shape in LEAP_SHAPES.items()}
    raise ValueError(f"no other-camera renders for dataset {dataset!r} (sign_mnist, fingers and leapgestrecog have them)")


def render_photo(anatomy: Anatomy, shape: HandShape, rng: np.random.Generator) -> np.ndarray:
    """One SIZE x SIZE x 3 uint8 colour photograph of a hand."""
    size = (SIZE, SIZE)
    ramp = np.linspace(-1, 1, SIZE, dtype=np.float32)
    base = rng.uniform(30, 230, 3) * rng.uniform(0.6, 1.0, 3)
    light = rng.normal(0, 25) * ramp[None, :] + rng.normal(0, 25) * ramp[:, None]  # light from one side
    skin = SKIN[int(rng.integers(len(SKIN)))] * rng.uniform(150, 240)
    where = Placement(
        cx=SIZE / 2 + rng.normal(0, 10),
        cy=SIZE * 0.58 + rng.normal(0, 8),
        scale=rng.uniform(0.2, 0.32) * SIZE,
        angle=rng.normal(0, 15),
        mirror=bool(rng.random() < 0.5),  # the other hand, or a selfie camera
    )
    hand = Image.new("L", size, 0)
    draw_hand(hand, anatomy, shape, where, 200.0)
    blur = float(rng.uniform(0.5, 1.5))
    shade = np.asarray(hand.filter(ImageFilter.GaussianBlur(blur)), np.float32) / 200.0
    mask = np.asarray(hand.point(lambda v: 255 if v else 0).filter(ImageFilter.GaussianBlur(blur)), np.float32) / 255.0
    channels = []
    for c in range(3):
        background = base[c] + light + _clouds(rng, size, (6, 6), 18)
        lit = skin[c] * shade * (1 + light / 255)
        channels.append(background * (1 - mask) + lit * mask + _noise(rng, size, 4.0))
    contrast, brightness = rng.uniform(0.75, 1.25), rng.normal(0, 15)
    photo = (np.stack(channels, -1) - 128) * contrast + 128 + brightness
    return np.clip(photo + 0.5, 0, 255).astype(np.uint8)


def write_other_camera(out: Path, dataset: str, per_class: int, seed: int) -> None:
    """`per_class` photographs of every class of `dataset` into `out/<class>/<n>.png`, by people
    drawn from another stream than the training renders'."""
    shapes = class_shapes(dataset)
    people = [Anatomy.random(_rng(seed, "other-camera-person", dataset, p)) for p in range(8)]
    for name, options in shapes.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            r = _rng(seed, "other-camera", dataset, name, k)
            shape = jitter(options[int(r.integers(len(options)))], r, bend=0.08, spread=6.0)
            photo = render_photo(people[int(r.integers(len(people)))], shape, r)
            Image.fromarray(photo).save(folder / f"{k:03d}.png", optimize=False)
