"""A grid of prepared samples with their labels, for a person to judge what a dataset looks like."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from handsign.core.atomic import atomic_path
from handsign.datasets import Prepared


def contact_sheet(data: Prepared, path: Path, per_class: int = 4, cell: tuple[int, int] = (96, 96), seed: int = 0) -> Path:
    """One row per class, `per_class` samples each, labelled; written atomically as PNG.

    `cell` is (width, height): give it the dataset's native aspect to undo the square resize.
    """
    cw, ch = cell
    rng = np.random.default_rng(seed)
    label_w = 90
    sheet = Image.new("L", (label_w + per_class * cw, len(data.class_names) * ch), 255)
    draw = ImageDraw.Draw(sheet)
    for c, name in enumerate(data.class_names):
        idx = np.flatnonzero(data.labels == c)
        pick = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        draw.text((6, c * ch + ch // 2 - 6), name, fill=0)
        for k, i in enumerate(sorted(pick)):
            img = Image.fromarray(data.images[i, 0]).resize((cw - 4, ch - 4), Image.BILINEAR)
            sheet.paste(img, (label_w + k * cw + 2, c * ch + 2))
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
    return path
