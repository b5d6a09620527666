"""The one way handsign turns an image into greyscale pixels: prepare (every dataset and the
`images` folder), `handsign predict`, the served model and the camera tools all call
`read_grey` (a file or its bytes) or `grey_pixels` (an image already open), so that training
and serving cannot read one file two ways.

What each kind of file becomes (uint8 H x W):
- 8-bit greyscale: as stored.
- 16-bit greyscale: the top 8 bits (value >> 8); Pillow's own `convert("L")` clips instead,
  which turns a dark 16-bit frame white.
- RGB, CMYK (JPEG included), palette, 16-bit RGB: luma, ITU-R 601-2 (L = 0.299 R + 0.587 G +
  0.114 B), as Pillow computes it; 16-bit channels are read as their top 8 bits.
- With transparency (RGBA, LA, palette or greyscale with a transparent colour): composited over
  black first, so a transparent background reads as the dark background of the datasets (and
  as the black of letterbox padding).
- JPEG with an EXIF orientation: turned upright, as an image viewer shows it.
- Several frames (GIF, TIFF): the first.
Refused, with the file named (`UnreadableImage`): empty files, damaged or truncated files, bytes
that are no image, float or other exotic pixel modes, and images over Pillow's decompression-bomb
limit (`PIL.Image.MAX_IMAGE_PIXELS`, 89.5 megapixels), which Pillow itself only warns about up
to twice that size.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


class UnreadableImage(ValueError):
    """A file that is no image handsign can read; the message names it and says why."""


_SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_COLOUR = ("RGB", "CMYK", "YCbCr", "LAB", "HSV")


def read_grey(source: str | Path | bytes, name: str | None = None) -> np.ndarray:
    """uint8 H x W greyscale pixels of an image file (a path, or the file's bytes named `name`)."""
    return _read(source, name, grey_pixels)


def read_image(source: str | Path | bytes, name: str | None = None, max_pixels: int | None = None) -> np.ndarray:
    """An image file's pixels with its colour kept: uint8 H x W x 3 RGB for a colour file, H x W for
    a greyscale one (`image_pixels`). What the hand landmarker is shown: it was trained on colour.
    An image of more than `max_pixels` pixels is refused before it is decoded."""
    return _read(source, name, image_pixels, max_pixels)


def check_image(source: str | Path | bytes, name: str | None = None) -> None:
    """Raise UnreadableImage, as `read_image` would, for a file that cannot be read; a JPEG is decoded
    at an eighth of its size (what `handsign check` can afford for thousands of photos)."""
    _read(source, name, lambda img, label: np.empty(0), small=True)


def _read(source: str | Path | bytes, name: str | None, pixels: Callable[[Image.Image, str], np.ndarray],
          max_pixels: int | None = None, small: bool = False) -> np.ndarray:  # fmt: skip
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as e:
            raise UnreadableImage(f"{label}: cannot read file ({e.strerror or e})") from None
    if not data:
        raise UnreadableImage(f"{label}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if max_pixels is not None and img.width * img.height > max_pixels:  # known from the header alone
                    raise UnreadableImage(f"{label}: {img.width}x{img.height} is {img.width * img.height:,} pixels, "
                                          f"over the limit of {max_pixels:,} (--max-pixels)")  # fmt: skip
                if small:
                    img.draft(img.mode, (img.width // 8 or 1, img.height // 8 or 1))  # JPEG: decode at 1/8
                img.load()  # the first frame of a multi-frame file
                return pixels(img, label)
    except UnreadableImage:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise UnreadableImage(
            f"{label}: over the decompression-bomb limit of {Image.MAX_IMAGE_PIXELS:,} pixels "
            f"(PIL.Image.MAX_IMAGE_PIXELS); refusing to decode it ({e})"
        ) from None
    except Image.UnidentifiedImageError:
        raise UnreadableImage(f"{label}: not an image file Pillow knows ({len(data):,} bytes)") from None
    except Exception as e:  # Pillow raises many types for a damaged file (OSError for a truncated one)
        raise UnreadableImage(f"{label}: cannot read image ({type(e).__name__}: {e})") from None


def image_pixels(img: Image.Image, name: str = "image") -> np.ndarray:
    """uint8 H x W x 3 RGB pixels of an open colour image (transparency composited over black, as
    `grey_pixels` does), or `grey_pixels` of a greyscale one. A colour file whose three channels are
    equal everywhere is greyscale, and comes back as H x W: the greyscale route is for such images."""
    img = ImageOps.exif_transpose(img) if img.getexif().get(0x0112, 1) != 1 else img
    mode = img.mode
    if mode in ("RGBA", "PA", "RGBa") or (mode in ("P", *_COLOUR) and "transparency" in img.info):
        rgba = img.convert("RGBA")
        rgb = np.asarray(Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("RGB"))
    elif mode == "P" or mode in _COLOUR:
        rgb = np.asarray(img.convert("RGB"))
    else:
        return grey_pixels(img, name)
    if (rgb[:, :, 0] == rgb[:, :, 1]).all() and (rgb[:, :, 1] == rgb[:, :, 2]).all():
        return rgb[:, :, 0].copy()
    return np.array(rgb, dtype=np.uint8)


def grey_pixels(img: Image.Image, name: str = "image") -> np.ndarray:
    """uint8 H x W greyscale pixels of an open Pillow image, by the rules in this module's docstring."""
    img = ImageOps.exif_transpose(img) if img.getexif().get(0x0112, 1) != 1 else img
    mode = img.mode
    if mode == "L" and "transparency" not in img.info:
        return np.asarray(img, dtype=np.uint8).copy()
    if mode in _SIXTEEN_BIT_GREY:
        values = np.asarray(img).astype(np.int64)  # "I" holds int32; 16-bit files fit in 0..65535
        return (np.clip(values, 0, 65535) >> 8).astype(np.uint8)
    if mode == "1":
        return np.asarray(img.convert("L"), dtype=np.uint8).copy()
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return np.asarray(Image.alpha_composite(black, rgba).convert("L"), dtype=np.uint8).copy()
    if mode == "P" or mode in _COLOUR:
        return np.asarray(img.convert("RGB").convert("L"), dtype=np.uint8).copy()
    raise UnreadableImage(f"{name}: unsupported pixel mode {mode} (read are: 8/16-bit grey, RGB, CMYK, palette, alpha)")
