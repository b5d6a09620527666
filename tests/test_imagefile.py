"""One image reader for every path (handsign.core.imagefile): each kind of file read right, or refused
with the file named; prepare and the served model read a file to the same pixels."""

import base64
import io
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from handsign.core.imagefile import UnreadableImage, read_grey
from handsign.data.preprocessing import Preprocessing
from handsign.datasets import images as image_folder
from handsign.datasets.base import read_image_files
from handsign.use.serving import images_from_table

RNG = np.random.default_rng(0)
GREY = RNG.integers(0, 256, (12, 20), dtype=np.uint8)


def encoded(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_by_hand(rows: np.ndarray, depth: int, colour: int) -> bytes:
    """A PNG from H x W (x channels) samples, written big-endian with filter None: for the kinds
    Pillow cannot write."""
    h, w = rows.shape[:2]
    raw = b"".join(b"\x00" + rows[y].astype(">u2" if depth == 16 else np.uint8).tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def luma(r, g, b) -> int:
    return round(0.299 * r + 0.587 * g + 0.114 * b)


def test_eight_bit_grey_is_read_as_stored():
    assert np.array_equal(read_grey(encoded(Image.fromarray(GREY))), GREY)


def test_sixteen_bit_grey_keeps_its_values_shifted_to_eight_bits():
    """Pillow's convert("L") clips 16-bit values: a frame of mean 16 (8-bit) read white."""
    values = GREY.astype(np.uint16) * 257 + RNG.integers(0, 257, GREY.shape).astype(np.uint16)
    data = png_by_hand(values, 16, 0)
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    got = read_grey(data)
    assert np.array_equal(got, (values >> 8).astype(np.uint8))
    dark = png_by_hand(np.full((4, 4), 16 * 256, np.uint16), 16, 0)
    assert read_grey(dark).mean() == 16  # not 255


@pytest.mark.parametrize(
    ("rgb", "fmt"), [((255, 0, 0), "PNG"), ((0, 255, 0), "PNG"), ((0, 0, 255), "BMP"), ((200, 100, 50), "TIFF")]
)
def test_colour_is_luma(rgb, fmt):
    got = read_grey(encoded(Image.new("RGB", (5, 3), rgb), fmt))
    assert got.shape == (3, 5) and abs(int(got[0, 0]) - luma(*rgb)) <= 1


def test_sixteen_bit_rgb_is_read_from_the_top_eight_bits_of_each_channel():
    rows = np.zeros((3, 4, 3), np.uint16)
    rows[..., 0], rows[..., 1], rows[..., 2] = 0xC8FF, 0x6400, 0x3210  # 200, 100, 50 in the top bytes
    got = read_grey(png_by_hand(rows, 16, 2))
    assert got.shape == (3, 4) and abs(int(got[0, 0]) - luma(200, 100, 50)) <= 1


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_over_black(mode):
    img = Image.new(mode, (3, 1))
    white = (255, 255, 255) if mode == "RGBA" else (255,)
    for x, alpha in enumerate((255, 128, 0)):
        img.putpixel((x, 0), (*white, alpha))
    got = read_grey(encoded(img))
    assert got[0, 0] == 255 and abs(int(got[0, 1]) - 128) <= 1 and got[0, 2] == 0


def test_palette_transparency_is_composited_over_black_and_colours_are_luma():
    img = Image.new("P", (3, 1))
    img.putpalette([255, 255, 255, 255, 255, 255, 200, 100, 50] + [0] * 759)
    img.putdata([0, 1, 2])
    got = read_grey(encoded(img, transparency=0))
    assert got[0, 0] == 0 and got[0, 1] == 255 and abs(int(got[0, 2]) - luma(200, 100, 50)) <= 1


def test_cmyk_jpeg_is_read_as_its_colours():
    img = Image.new("CMYK", (16, 16), (0, 0, 0, 0))  # no ink: white
    img.paste((0, 0, 0, 255), (0, 0, 16, 8))  # the top half black ink
    got = read_grey(encoded(img, "JPEG", quality=95))
    assert got[:6].mean() < 10 and got[10:].mean() > 245


def test_exif_rotated_jpeg_is_read_upright():
    stored = np.zeros((10, 20), np.uint8)
    stored[:, 10:] = 255  # left half black, right half white, as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer turns it 90 degrees clockwise: the left half ends on top
    got = read_grey(encoded(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()))
    assert got.shape == (20, 10)
    assert got[:8].mean() < 20 and got[12:].mean() > 235


@pytest.mark.parametrize("fmt", ["GIF", "TIFF"])
def test_multi_frame_files_are_read_at_their_first_frame(fmt):
    first, second = Image.new("L", (8, 8), 0), Image.new("L", (8, 8), 255)
    data = encoded(first, fmt, save_all=True, append_images=[second])
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    assert read_grey(data).max() == 0


def test_bad_files_are_refused_with_their_name(tmp_path):
    good = encoded(Image.fromarray(GREY))
    cases = {
        "empty.png": (b"", "empty file"),
        "truncated.png": (good[: len(good) // 2], "cannot read image"),
        "notes.png": (b"these are not pixels" * 10, "not an image file"),
        "float.tif": (encoded(Image.fromarray(GREY.astype(np.float32)), "TIFF"), "unsupported pixel mode F"),
    }
    for name, (data, says) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UnreadableImage, match=f"{name}.*{says}"):
            read_grey(tmp_path / name)
    with pytest.raises(UnreadableImage, match="missing.png: cannot read file"):
        read_grey(tmp_path / "missing.png")


@pytest.mark.parametrize("side", [40, 100])  # over the limit (Pillow warns) and over twice it (Pillow raises)
def test_decompression_bombs_are_an_error_not_a_warning(monkeypatch, side):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = encoded(Image.new("L", (side, side)))
    with pytest.raises(UnreadableImage, match="bomb.png: over the decompression-bomb limit of 1,000 pixels"):
        read_grey(data, "bomb.png")


def test_prepare_reads_a_sixteen_bit_frame_right(tmp_path):
    """The bug this reader fixes: prepare stored a 16-bit greyscale frame as white."""
    values = np.full((8, 8), 16 * 256 + 200, np.uint16)
    (tmp_path / "frame.png").write_bytes(png_by_hand(values, 16, 0))
    images = read_image_files([tmp_path / "frame.png"], (8, 8), 8, "frames", workers=1).images
    assert images.shape == (1, 1, 8, 8) and (images == 16).all()


def test_a_raw_file_through_the_served_model_equals_its_prepared_row(tmp_path):
    """Training and serving read one file to the same pixels, whatever its kind."""
    rgba = Image.fromarray(np.dstack([GREY, 255 - GREY, GREY, np.full_like(GREY, 160)]), "RGBA")
    files = {
        "grey.png": encoded(Image.fromarray(GREY)),
        "deep.png": png_by_hand(GREY.astype(np.uint16) * 257, 16, 0),
        "colour.jpg": encoded(Image.fromarray(np.dstack([GREY, GREY // 2, 255 - GREY])), "JPEG"),
        "alpha.png": encoded(rgba),
        "palette.gif": encoded(Image.fromarray(GREY).convert("P")),
    }
    for name, data in files.items():
        (tmp_path / "mine" / "hands").mkdir(parents=True, exist_ok=True)
        (tmp_path / "mine" / "hands" / name).write_bytes(data)
    prepared = image_folder.read(tmp_path / "mine", image_size=16, resize="letterbox")
    table = pd.DataFrame({"image": [base64.b64encode(files[s.split("/")[-1]]).decode() for s in prepared.sources]})
    served = images_from_table(table)
    preprocessing = Preprocessing(16, "letterbox", prepared.class_names)
    for row, pixels in enumerate(served):
        assert np.array_equal(preprocessing.array(pixels), prepared.images[row]), prepared.sources[row]
    assert len(served) == len(files)
