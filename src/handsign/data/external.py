"""External test sets: does a model carry over? Labelled images from elsewhere (other people, other
cameras), declared under `external:` in params.yaml, on which every classifier of their dataset is
scored beside its own test split.

The `external` stage (stages/external.py) writes each declared set once into
`data/external/<dataset>/<set>/`: the images as they came (`images/<class>/...`, colour kept),
`samples.csv` (file, class, label, width, height) and, where the dataset has `landmarks:` settings,
the hand found in each image in its own colours (`landmarks.npz`), so that landmark models read
points rather than run the detector again. A set whose files are absent is written as such
(`set.json`: `absent`, with the reason) and skipped by every model, never a crash; a zip whose
sha256 is not the one declared is refused. The evaluate stage then scores each classifier of the
dataset on each present set (handsign.evaluation.external): `reports/<experiment>/external.json`
and `reports/<experiment>/external/<set>/`.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from handsign.config import ExternalSetParams, Params
from handsign.core.atomic import write_json
from handsign.data.externalsets import IMAGES, LANDMARKS, SAMPLES, SET_FILE
from handsign.datasets.images import SUFFIXES

if TYPE_CHECKING:
    from handsign.core.schema import LandmarkParams
    from handsign.hands.landmarks import Landmarks


def absent_reason(p: ExternalSetParams, repo: Path) -> str:
    """Why a declared set cannot be read ("" when it can). A relative path is the repository's
    (`handsign.core.layout.repo_root`: also from a `dvc exp run --temp` copy), as a dataset's local_path is."""
    from handsign.core.archives import resolve_path

    if p.source == "synthetic":
        return ""
    return "" if resolve_path(p.path, repo).exists() else f"{p.path} does not exist"


def class_of(folder: str, class_names: list[str], classes: dict[str, str], where: str) -> str:
    """The dataset's class a set's folder name stands for: `classes` maps it, else a class name
    equal to it ignoring case."""
    if folder in classes:
        return classes[folder]
    by_lower = {c.lower(): c for c in class_names}
    if folder.lower() in by_lower:
        return by_lower[folder.lower()]
    raise ValueError(f"{where}: folder {folder!r} is no class of the dataset ({', '.join(class_names)}); "
                     "map it under external.<set>.classes")  # fmt: skip


def labelled_files(source: Path) -> Iterator[tuple[str, bytes]]:
    """(path inside the set, bytes) of every image file in a folder or zip laid out `<class>/<image>`
    (at any depth: the class is the folder holding the image); hidden files and macOS forks skipped,
    a zip entry whose name leaves the archive (`../`, `/...`) refused."""

    def wanted(rel: PurePosixPath) -> bool:
        return rel.suffix.lower() in SUFFIXES and not any(part.startswith((".", "__MACOSX")) for part in rel.parts)

    if source.is_dir():
        for f in sorted(source.rglob("*")):
            rel = PurePosixPath(f.relative_to(source).as_posix())
            if f.is_file() and wanted(rel) and len(rel.parts) >= 2:
                yield str(rel), f.read_bytes()
        return
    try:
        z = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{source}: not a readable zip archive or folder ({e})") from None
    with z:
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            rel = PurePosixPath(info.filename)
            if ".." in rel.parts or rel.is_absolute():
                raise ValueError(f"{source}: {info.filename}: a path that leaves the archive; refused")
            if not info.is_dir() and wanted(rel) and len(rel.parts) >= 2:
                try:
                    data = z.read(info)
                except (zipfile.BadZipFile, OSError, EOFError) as e:  # a damaged member: CRC, truncation
                    raise ValueError(f"{source}: {info.filename}: damaged in the archive ({e})") from None
                yield str(rel), data


def pin_problem(name: str, p: ExternalSetParams, source: Path, found: str) -> str:
    """Why a zip whose sha256 is `found` is refused: not the file params.yaml pins ("" when it is, or none is)."""
    if not p.sha256 or found == p.sha256:
        return ""
    return (f"external.{name}: {source} has sha256 {found}, params.yaml pins {p.sha256}: a different file; "
            f"update external.{name}.sha256 if it is meant to be")  # fmt: skip


def set_problems(name: str, p: ExternalSetParams, repo: Path) -> list[str]:
    """What the external stage would refuse in a present set, found before any stage runs (`handsign
    check`): another file than the pinned sha256, a damaged or unreadable archive, a folder that is no
    class, an image that cannot be read, no image at all. [] for a set that is fine, absent or rendered."""
    from handsign.core.archives import resolve_path
    from handsign.core.imagefile import UnreadableImage, check_image
    from handsign.core.weights import sha256_of
    from handsign.datasets import get_spec

    if p.source == "synthetic" or absent_reason(p, repo):
        return []
    source, where = resolve_path(p.path, repo), f"external.{name}"
    if source.is_file() and p.sha256 and (problem := pin_problem(name, p, source, sha256_of(source))):
        return [problem]
    class_names, problems, images = list(get_spec(p.dataset).class_names), [], 0
    try:
        for rel, data in labelled_files(source):
            images += 1
            try:
                class_of(PurePosixPath(rel).parts[-2], class_names, p.classes, f"{source}/{rel}")
                check_image(data, f"{source}/{rel}")
            except (ValueError, UnreadableImage) as e:
                problems.append(f"{where}: {e}")
    except ValueError as e:  # the archive itself
        return [f"{where}: {e}"]
    if not images:
        problems.append(f"{where}: no image files laid out <class>/<image> in {source}")
    return problems[:5] + ([f"{where}: and {len(problems) - 5} more"] if len(problems) > 5 else [])


def taken(files: Iterator[tuple[str, bytes]], take: str) -> list[tuple[str, bytes]]:
    """All of `files`, or the first or second half of each class folder's, in the order of the numbers
    in the file names (frame 9 before frame 10; a class with an odd count gives its middle file to
    the first half)."""
    files = list(files)
    if take == "all":
        return files

    def frame_order(rel: str) -> tuple:
        name = PurePosixPath(rel).name
        return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))

    by_class: dict[str, list[tuple[str, bytes]]] = {}
    for item in files:
        by_class.setdefault(str(PurePosixPath(item[0]).parent), []).append(item)
    out = []
    for items in by_class.values():
        items.sort(key=lambda item: frame_order(item[0]))
        middle = (len(items) + 1) // 2
        out += items[:middle] if take == "first_half" else items[middle:]
    return sorted(out, key=lambda item: item[0])


def write_set(name: str, p: ExternalSetParams, params: Params, repo: Path, out: Path, landmarker: Path,
              seen: dict | None = None) -> dict:  # fmt: skip
    """Build one set into `out` (which must not exist), its hands found with the `landmarker` file;
    returns its set.json. `seen` carries the hands already found in the same files with the same
    settings (two halves of one set and the whole of it are detected once)."""
    from handsign.core.archives import resolve_path
    from handsign.core.imagefile import read_image
    from handsign.core.weights import sha256_of
    from handsign.datasets import get_spec

    out.mkdir(parents=True)
    info: dict = {"dataset": p.dataset, "source": p.source, "take": p.take}
    reason = absent_reason(p, repo)
    if reason:
        info["absent"] = reason
        write_json(out / SET_FILE, info)
        return info
    class_names = list(get_spec(p.dataset).class_names)
    if p.source == "synthetic":
        from handsign.synth.othercamera import write_other_camera

        source = out / "rendered"
        write_other_camera(source, p.dataset, p.per_class, params.synthetic.seed)
    else:
        source = resolve_path(p.path, repo)
        info["path"] = p.path
        if source.is_file():
            found = sha256_of(source)
            if problem := pin_problem(name, p, source, found):
                raise ValueError(problem)
            info["sha256"] = found
    rows, pictures, digests = [], [], []
    for k, (rel, data) in enumerate(taken(labelled_files(source), p.take)):
        parts = PurePosixPath(rel).parts
        cls = class_of(parts[-2], class_names, p.classes, f"{source}/{rel}")
        picture = read_image(data, f"{source}/{rel}")
        file = f"{cls}/{k:05d}_{parts[-1]}"
        (out / IMAGES / cls).mkdir(parents=True, exist_ok=True)
        (out / IMAGES / file).write_bytes(data)
        rows.append({"file": file, "source_file": rel, "class": cls, "label": class_names.index(cls),
                     "width": picture.shape[1], "height": picture.shape[0]})  # fmt: skip
        pictures.append(picture)
        digests.append(hashlib.sha256(data).hexdigest())
    if not rows:
        raise ValueError(f"external.{name}: no image files laid out <class>/<image> in {source}")
    if p.source == "synthetic":
        shutil.rmtree(source)
    pd.DataFrame(rows).to_csv(out / SAMPLES, index=False)
    info["images"] = len(rows)
    info["classes"] = sorted({r["class"] for r in rows}, key=class_names.index)
    if p.dataset in params.landmarks:
        found = hands_in(pictures, digests, params.landmark_settings(p.dataset), landmarker, name, seen)
        found.save(out / LANDMARKS)
        info["hand_found"] = round(float(found.found.mean()), 4)
    write_json(out / SET_FILE, info)
    return info


def hands_in(pictures: list[np.ndarray], digests: list[str], settings: LandmarkParams, landmarker: Path, name: str,
             seen: dict | None) -> Landmarks:  # fmt: skip
    """The hand in each picture, detected once per file's bytes and settings across the sets of one run."""
    from handsign.hands.landmarks import Landmarks, detect_pictures

    seen = {} if seen is None else seen
    keys = [(d, settings) for d in digests]
    todo = [i for i, k in enumerate(keys) if k not in seen]
    if todo:
        found = detect_pictures([pictures[i] for i in todo], settings, landmarker, progress=f"landmarks {name}")
        for j, i in enumerate(todo):
            seen[keys[i]] = found.hand(j)
    out = Landmarks.empty(len(pictures))
    for i, k in enumerate(keys):
        out.put(i, seen[k])
    return out

