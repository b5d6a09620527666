"""The image path of the prepare stage: the fast PNG decoder, resize modes, repeated frames."""

import json
import shutil
import struct
import zlib

import numpy as np
import pytest
from conftest import synthetic_params
from PIL import Image

from handsign.datasets import leapgestrecog
from handsign.datasets.base import read_image_files, resize_pixels, to_square_array
from handsign.datasets.png import decode_grey_png
from handsign.synth import render_dataset


def png(pixels: np.ndarray, row_filter: int) -> bytes:
    """A greyscale PNG whose every row uses `row_filter` (0 None, 1 Sub, 2 Up), written by hand."""
    h, w = pixels.shape
    p = pixels.astype(np.int16)
    if row_filter == 1:
        p = np.diff(p, axis=1, prepend=0)
    elif row_filter == 2:
        p = np.diff(p, axis=0, prepend=0)
    rows = np.hstack([np.full((h, 1), row_filter), p % 256]).astype(np.uint8)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows.tobytes())) + chunk(b"IEND", b"")


@pytest.mark.parametrize("row_filter", [0, 1, 2])
def test_fast_decoder_agrees_with_pillow(tmp_path, row_filter):
    pixels = np.random.default_rng(row_filter).integers(0, 256, (24, 40), dtype=np.uint8)
    data = png(pixels, row_filter)
    (tmp_path / "f.png").write_bytes(data)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "f.png")), pixels)  # the hand-made file is valid
    assert np.array_equal(decode_grey_png(data), pixels)


def test_fast_decoder_leaves_other_pngs_to_pillow(tmp_path):
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 40), dtype=np.uint8))
    img.convert("RGB").save(tmp_path / "rgb.png")
    assert decode_grey_png((tmp_path / "rgb.png").read_bytes()) is None
    assert decode_grey_png(b"not a png") is None
    data = png(np.zeros((24, 40), np.uint8), 0)
    assert decode_grey_png(data[:-30]) is None  # truncated: Pillow reports it, with the file name


def test_fast_and_pillow_paths_prepare_the_same_frames(tmp_path):

    render_dataset("leapgestrecog", tmp_path / "leap", synthetic_params(subjects=2, frames_per_gesture=2), 0)
    paths = [p for p, _, _ in leapgestrecog.locate(tmp_path / "leap")]
    fast = np.array(read_image_files(paths, (640, 240), 64, "fast").images)
    for p in paths:  # Pillow's adaptive row filters: the decoder hands these to Pillow
        Image.open(p).save(p)
    assert decode_grey_png(paths[0].read_bytes()) is None
    assert np.array_equal(np.array(read_image_files(paths, (640, 240), 64, "pillow", workers=1).images), fast)


def test_resizing_is_pillows_antialiased_bilinear_filter():
    rng = np.random.default_rng(0)
    for (h, w), (out_h, out_w), most in [((28, 28), (96, 96), 0), ((128, 128), (64, 64), 0), ((240, 640), (224, 224), 1)]:
        pixels = rng.integers(0, 256, (h, w), dtype=np.uint8)
        pillow = np.asarray(Image.fromarray(pixels).resize((out_w, out_h), Image.BILINEAR), dtype=int)
        ours = resize_pixels(pixels, out_h, out_w).astype(int)
        assert ours.shape == (out_h, out_w) and np.abs(ours - pillow).max() == most
        assert (ours != pillow).mean() < 0.01  # a rounding apart on a few pixels at most


def test_resize_modes_keep_or_ignore_the_aspect_ratio():
    frame = Image.new("L", (640, 240), 255)
    stretched = to_square_array(frame, 224, "stretch")
    assert stretched.shape == (224, 224) and stretched.min() == 255
    boxed = to_square_array(frame, 224, "letterbox")
    white_rows = np.flatnonzero(boxed.max(axis=1) == 255)
    assert len(white_rows) == 84 and white_rows[0] == 70  # 240 * 224/640 rows, centred, black above and below
    halves = Image.fromarray(np.hstack([np.zeros((240, 320), np.uint8), np.full((240, 320), 255, np.uint8)]))
    cropped = to_square_array(halves, 224, "center_crop")
    assert cropped[:, :100].max() == 0 and cropped[:, 124:].min() == 255  # the middle 240 columns, scaled
    with pytest.raises(ValueError, match="resize 'fit'"):
        to_square_array(frame, 224, "fit")


def test_identical_neighbouring_frames_are_counted_not_fatal(tmp_path):

    raw = tmp_path / "leap"
    render_dataset("leapgestrecog", raw, synthetic_params(subjects=3, frames_per_gesture=3), 0)
    folder = raw / "leapGestRecog" / "01" / "03_fist"
    shutil.copyfile(folder / "frame_01_03_0001.png", folder / "frame_01_03_0002.png")
    data = leapgestrecog.read(raw, 32)
    assert data.identical_neighbours == 1
    data.save(tmp_path / "prepared", "leapgestrecog")
    assert json.loads((tmp_path / "prepared" / "meta.json").read_text())["identical_neighbour_files"] == 1
