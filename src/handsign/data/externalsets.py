"""What the `external` stage wrote, read back (handsign.data.external builds it): the sets of a
dataset, and a combined split's external rows and their model inputs. Kept apart from the building
and scoring code, so that a change there retrains nothing: the train stages read only this."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from handsign.models import Kind

if TYPE_CHECKING:
    from handsign.hands.landmarks import Landmarks

SET_FILE = "set.json"
SAMPLES = "samples.csv"
LANDMARKS = "landmarks.npz"
IMAGES = "images"


def root_folder() -> Path:
    """data/external/, in the working copy the stage runs in (a `dvc exp run --temp` copy too)."""
    from handsign.core import layout

    return layout.DATA / "external"


@dataclass(frozen=True)
class ExternalSet:
    """One set as the external stage wrote it."""

    name: str
    folder: Path
    info: dict  # set.json: dataset, source, path, images; or absent: the reason
    table: pd.DataFrame  # samples.csv; empty when absent

    @property
    def absent(self) -> str:
        return self.info.get("absent", "")

    def files(self) -> list[Path]:
        return [self.folder / IMAGES / f for f in self.table["file"]]

    def landmarks(self) -> Landmarks | None:
        from handsign.hands.landmarks import Landmarks

        path = self.folder / LANDMARKS
        return Landmarks.load(path) if path.exists() else None

    def pictures(self, hand_crop: float = 0.0) -> list[np.ndarray]:
        """The images as they came, colour kept; with `hand_crop`, each cut to the hand found in it
        (handsign.hands.handcrop; whole where none was)."""
        from handsign.core.imagefile import read_image
        from handsign.hands.handcrop import crop_to_hand

        pictures = [read_image(f.read_bytes(), str(f)) for f in self.files()]
        if not hand_crop:
            return pictures
        found = self.landmarks()
        if found is None:
            raise FileNotFoundError(f"{self.folder}: hand_crop needs the hands found in it, and none were looked for")
        return [crop_to_hand(p, points, hand_crop) for p, points in zip(pictures, found.image, strict=True)]

    @property
    def aspects(self) -> np.ndarray:
        return (self.table["width"] / self.table["height"]).to_numpy(np.float64)


def sets_of(dataset: str) -> list[ExternalSet]:
    """The external sets of `dataset` as the external stage wrote them, by name."""
    folder = root_folder() / dataset
    out = []
    for set_file in sorted(folder.glob(f"*/{SET_FILE}")):
        info = json.loads(set_file.read_text())
        samples = set_file.parent / SAMPLES
        table = pd.read_csv(samples, dtype={"file": str, "class": str}) if samples.exists() else pd.DataFrame()
        out.append(ExternalSet(set_file.parent.name, set_file.parent, info, table))
    return out


EXTERNAL_SOURCE = "external:"  # a split file's `source` of an external set's image: external:<set>/<file>


def is_added(sources: pd.Series) -> pd.Series:
    """Which rows of a split file's (or a grown store's) `source` column are an added set's images."""
    return sources.astype(str).str.startswith(EXTERNAL_SOURCE)


def training_rows(dataset: str, name: str, first_id: int = -1) -> pd.DataFrame:
    """Split-file rows (all `train`) of the external set `name`'s images, for a combined split:
    negative sample ids from `first_id` down (the prepared copy's are 0 and up; a second set starts
    below the first's), the source naming the set and file, the set as the group, the file's
    content hash. Empty when the set is absent."""
    s = next((s for s in sets_of(dataset) if s.name == name), None)
    if s is None or s.absent:
        return pd.DataFrame()
    files = s.files()
    return pd.DataFrame({
        "sample_id": first_id - np.arange(len(files)),
        "source": [f"{EXTERNAL_SOURCE}{name}/{f}" for f in s.table["file"]],
        "label": s.table["label"].to_numpy(),
        "class_name": s.table["class"].to_numpy(),
        "group": name,
        "official_split": "",
        "split": "train",
        "content_hash": [hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files],
    })  # fmt: skip


def training_images(table: pd.DataFrame, dataset: str, image_size: int, resize: str, kind: Kind,
                    hand_crop: float = 0.0) -> np.ndarray:  # fmt: skip
    """The model inputs of a combined split's external rows (`training_rows`), in their order: each
    image made grey and square as the prepared copy's were (first cut to its hand, with
    `hand_crop`, as the model will see any image from elsewhere), or, for a landmark model, its
    hand's row of handsign.hands.handfeatures as the external stage found it (in colour)."""
    from PIL import Image

    from handsign.core.imagefile import grey_pixels, read_grey
    from handsign.datasets.base import to_square_array
    from handsign.hands import handfeatures

    sets = {s.name: s for s in sets_of(dataset)}
    rows: dict[str, np.ndarray] = {}  # a set's landmark rows, computed once
    pictures: dict[str, list[np.ndarray]] = {}  # a set's images, read once
    row_of = {name: {f: i for i, f in enumerate(s.table["file"])} for name, s in sets.items() if not s.absent}
    out = []
    for source in table["source"]:
        name, file = source.removeprefix(EXTERNAL_SOURCE).split("/", 1)
        if name not in row_of:
            raise FileNotFoundError(f"external set {name} is not in {root_folder() / dataset}: run the external stage")
        s, row = sets[name], row_of[name][file]
        if kind is Kind.LANDMARKS:
            if name not in rows:
                found = s.landmarks()
                if found is None:
                    raise FileNotFoundError(f"{s.folder}: no hands were found in it (no landmarks.{dataset} settings)")
                rows[name] = handfeatures.features(found, s.aspects)
            out.append(rows[name][row])
        elif hand_crop:
            if name not in pictures:
                pictures[name] = s.pictures(hand_crop)
            grey = grey_pixels(Image.fromarray(pictures[name][row]))
            out.append(to_square_array(grey, image_size, resize)[None])
        else:
            out.append(to_square_array(read_grey(s.folder / IMAGES / file), image_size, resize)[None])
    return np.stack(out)
