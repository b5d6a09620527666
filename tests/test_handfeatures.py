"""What a landmark classifier sees (handsign.hands.handfeatures): rows that do not change with where the
hand is or how large it appears, NaN where no hand was found, and augmentation in landmark space."""

import math

import numpy as np
import pytest
import torch

from handsign.hands import handfeatures
from handsign.hands.landmarks import Landmarks


def hands(n: int = 5, seed: int = 0) -> Landmarks:
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.2, 0.8, (n, 21, 3)).astype(np.float32)
    world = rng.normal(0, 0.05, (n, 21, 3)).astype(np.float32)
    right = (np.arange(n) % 2).astype(np.int8)
    return Landmarks(image, world, right, np.ones(n, np.float32), np.zeros(n, np.int8))


def test_rows_ignore_where_the_hand_is_and_how_large_it_appears():
    found = hands()
    rows = handfeatures.features(found)
    assert rows.shape == (5, handfeatures.WIDTH) and rows.dtype == np.float32
    moved = hands()
    moved.image[..., :2] = moved.image[..., :2] * 0.5 + 0.3  # half the size, elsewhere in the frame
    moved.world = moved.world * 1.7 + 0.2
    assert np.allclose(handfeatures.features(moved), rows, atol=1e-4)
    # The wrist is the origin and the palm (wrist to middle knuckle) is 1, in both point sets.
    image = rows[:, :42].reshape(5, 21, 2)
    assert np.allclose(image[:, 0], 0) and np.allclose(np.linalg.norm(image[:, 9], axis=1), 1)
    world = rows[:, 42:105].reshape(5, 21, 3)
    assert np.allclose(world[:, 0], 0) and np.allclose(np.linalg.norm(world[:, 9], axis=1), 1, atol=1e-5)
    assert rows[:, -1].tolist() == [-1, 1, -1, 1, -1]  # handedness: left -1, right +1


def test_a_wide_frame_is_measured_in_one_unit_on_both_axes():
    """LeapGestRecog's 640x240 frames: x in 0..1 of the width is 8/3 times y's unit."""
    found = hands(1)
    found.image[0, :, 1] = 0.5  # a flat hand along x
    wide = handfeatures.features(found, aspect=640 / 240)
    square = handfeatures.features(found, aspect=1.0)
    assert np.allclose(wide[0, :42], square[0, :42], atol=1e-5)  # x alone: the palm scale absorbs it
    found.image[0, :, 1] = np.linspace(0.3, 0.7, 21)  # now y varies too: the unit matters
    assert not np.allclose(handfeatures.features(found, aspect=640 / 240)[0, :42], handfeatures.features(found)[0, :42])


def test_no_hand_is_a_row_of_nan():
    found = hands(3)
    found.attempt[1] = -1
    found.image[1] = np.nan
    found.world[1] = np.nan
    rows = handfeatures.features(found)
    assert np.isnan(rows[1]).all() and np.isfinite(rows[[0, 2]]).all()


def test_augmentation_turns_scales_and_jitters_each_hand_its_own_way():
    rows = torch.from_numpy(handfeatures.features(hands(64)))
    g = torch.Generator().manual_seed(0)
    turned = handfeatures.augment(rows, g, degrees=30, scale=0.0, jitter=0.0)
    image, image_turned = rows[:, :42].reshape(64, 21, 2), turned[:, :42].reshape(64, 21, 2)
    # A rotation keeps every point's distance from the wrist; the rows change, each differently.
    assert torch.allclose(image.norm(dim=2), image_turned.norm(dim=2), atol=1e-5)
    angles = torch.atan2(image_turned[:, 9, 1], image_turned[:, 9, 0]) - torch.atan2(image[:, 9, 1], image[:, 9, 0])
    angles = torch.remainder(angles + torch.pi, 2 * torch.pi) - torch.pi
    assert angles.abs().max() <= np.radians(30) + 1e-4 and angles.std() > 0.1
    world, world_turned = rows[:, 42:105].reshape(64, 21, 3), turned[:, 42:105].reshape(64, 21, 3)
    assert torch.allclose(world[..., 2], world_turned[..., 2])  # in the image plane: depth stays
    assert torch.equal(turned[:, -1], rows[:, -1])  # a left hand stays a left hand
    scaled = handfeatures.augment(rows, torch.Generator().manual_seed(0), degrees=0, scale=0.1, jitter=0.0)
    ratio = scaled[:, :42].reshape(64, 21, 2).norm(dim=2)[:, 9] / image.norm(dim=2)[:, 9]
    assert ratio.min() >= 0.9 - 1e-5 and ratio.max() <= 1.1 + 1e-5 and ratio.std() > 0.01
    jittered = handfeatures.augment(rows, torch.Generator().manual_seed(0), degrees=0, scale=0.0, jitter=0.03)
    assert (jittered[:, :-1] - rows[:, :-1]).std() == pytest.approx(0.03, rel=0.1)


def test_a_mirrored_row_is_the_row_of_the_mirrored_hand():
    """handfeatures.mirror on a row equals the features of the same hand mirrored in the image (x -> 1 - x,
    world x negated, the other hand): what the `mirror` training key shows the model."""
    found = hands()
    mirrored = hands()
    mirrored.image[..., 0] = 1 - mirrored.image[..., 0]
    mirrored.world[..., 0] = -mirrored.world[..., 0]
    mirrored.right = 1 - mirrored.right
    rows = torch.from_numpy(handfeatures.features(found))
    every = handfeatures.mirror(rows, torch.Generator().manual_seed(0), share=1.0)
    assert np.allclose(every.numpy(), handfeatures.features(mirrored), atol=1e-5)
    assert torch.equal(handfeatures.mirror(rows, torch.Generator().manual_seed(0), share=0.0), rows)
    some = handfeatures.mirror(rows.repeat(40, 1), torch.Generator().manual_seed(1), share=0.5)
    changed = (some != rows.repeat(40, 1)).any(1).float().mean().item()
    assert 0.3 < changed < 0.7  # about half, drawn per row


def test_mirrored_images_are_flipped_left_to_right_per_sample():
    from handsign.training.train import mirror_images

    x = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 1, 3, 4)
    assert torch.equal(mirror_images(x, torch.Generator().manual_seed(0), 1.0), x.flip(-1))
    assert torch.equal(mirror_images(x, torch.Generator().manual_seed(0), 0.0), x)


def open_hand(curled: tuple[int, ...] = ()) -> torch.Tensor:
    """21 x 3 world points of a flat hand, the wrist at the origin, fingers straight along y from their
    knuckles (the thumb out along -x); each finger in `curled` (0 thumb .. 4 little) folds towards
    the palm (-z), 70 degrees more at each joint."""
    points = torch.zeros(21, 3)
    for f, chain in enumerate(handfeatures.FINGERS):
        points[chain[1]] = torch.tensor([-0.6, 0.3, 0.0]) if f == 0 else torch.tensor([0.3 * (f - 2.5), 1.0, 0.0])
        for j, i in enumerate(chain[2:], 1):
            angle = math.radians(70 * j) if f in curled else 0.0
            along = torch.tensor([-0.8, 0.6]) if f == 0 else torch.tensor([0.0, 1.0])  # the finger's line in the palm
            step = torch.cat([along * math.cos(angle), torch.tensor([-math.sin(angle)])]) * 0.35
            points[i] = points[chain[j]] + step
    return points


def test_the_joints_are_a_pose_that_neither_side_nor_turn_nor_view_changes():
    """handfeatures.joints: straight fingers bend by cosines near 1, a curled one below; mirroring the
    hand (the other hand) or turning it in 3-D (another view) leaves every number as it was."""
    straight, two_curled = open_hand(), open_hand(curled=(3, 4))
    pose = handfeatures.joints(torch.stack([straight, two_curled]))
    assert pose.shape == (2, handfeatures.JOINT_FEATURES)
    bends = pose[:, :15].reshape(2, 5, 3)
    assert (bends[0] > 0.9).all()  # every finger straight
    assert torch.equal(bends[1, :3], bends[0, :3]) and (bends[1, 3:] < 0.5).all()  # ring and little curled
    turn = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(0)))[0]
    mirrored = straight * torch.tensor([-1.0, 1.0, 1.0])
    for other in (straight @ turn.T, mirrored, mirrored @ turn.T):
        assert torch.allclose(handfeatures.joints(other[None]), pose[:1], atol=1e-5)
    # and the model reading it answers the same for either hand
    from handsign.models import build_model

    model = build_model("landmark_mlp_joints", num_classes=6, in_channels=handfeatures.WIDTH).eval()
    rows = torch.zeros(2, handfeatures.WIDTH)
    rows[0, handfeatures.WORLD], rows[1, handfeatures.WORLD] = straight.flatten(), mirrored.flatten()
    rows[:, handfeatures.HANDEDNESS] = torch.tensor([[1.0], [-1.0]])
    with torch.no_grad():
        out = model(rows)
    assert torch.allclose(out[0], out[1], atol=1e-5)
    rows[1, handfeatures.WORLD] = two_curled.flatten()
    with torch.no_grad():
        assert not torch.allclose(model(rows)[0], model(rows)[1], atol=1e-3)
