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
dataset on each present set (`score`): `reports/<experiment>/external.json` and
`reports/<experiment>/external/<set>/`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from handsign.config import ExternalSetParams, Params
from handsign.data.externalsets import IMAGES, LANDMARKS, SAMPLES, SET_FILE, ExternalSet
from handsign.datasets.images import SUFFIXES
from handsign.pipeline.atomic import atomic_path, write_json

if TYPE_CHECKING:
    from handsign.config import LandmarkParams
    from handsign.hands.landmarks import Hand, Landmarks
    from handsign.pipeline.layout import ExperimentPaths


def absent_reason(p: ExternalSetParams, repo: Path) -> str:
    """Why a declared set cannot be read ("" when it can). A relative path is the repository's
    (`handsign.pipeline.layout.repo_root`: also from a `dvc exp run --temp` copy), as a dataset's local_path is."""
    from handsign.pipeline.sources import resolve_path

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
    with zipfile.ZipFile(source) as z:
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            rel = PurePosixPath(info.filename)
            if ".." in rel.parts or rel.is_absolute():
                raise ValueError(f"{source}: {info.filename}: a path that leaves the archive; refused")
            if not info.is_dir() and wanted(rel) and len(rel.parts) >= 2:
                yield str(rel), z.read(info)


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
    from handsign.data.imagefile import read_image
    from handsign.datasets import get_spec
    from handsign.pipeline.sources import resolve_path
    from handsign.pipeline.weights import sha256_of

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
            if p.sha256 and found != p.sha256:
                raise ValueError(f"external.{name}: {source} has sha256 {found}, params.yaml pins {p.sha256}: "
                                 f"a different file; update external.{name}.sha256 if it is meant to be")  # fmt: skip
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
        found = hands_in(pictures, digests, params.landmarks[p.dataset], landmarker, name, seen)
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
            seen[keys[i]] = _row(found, j)
    out = Landmarks.empty(len(pictures))
    for i, k in enumerate(keys):
        out.put(i, seen[k])
    return out


def _row(found: Landmarks, j: int) -> Hand:
    from handsign.hands.landmarks import Hand

    return Hand(found.image[j], found.world[j], int(found.right[j]), float(found.score[j]), int(found.attempt[j]))


@dataclass
class Scored:
    """One model on one set."""

    summary: dict[str, float]
    per_class: dict[str, float]  # accuracy per class present in the set
    predictions: pd.DataFrame  # file, actual, predicted
    y_true: np.ndarray
    y_pred: np.ndarray
    class_names: list[str]


def model_inputs(s: ExternalSet, checkpoint: dict, path: Path, landmark: bool) -> np.ndarray | str:
    """What the classifier of `checkpoint` (at `path`) reads of the set: a landmark model the rows of
    the hands the external stage found in it in colour, a pixel model the images made grey and resized
    as its training images were (with hand_crop, cut first to the hand found). Where the hands it
    needs were never looked for, the reason, as a string."""
    from handsign.data.preprocessing import saved
    from handsign.hands import handfeatures

    prep = None if landmark else saved(checkpoint, path)
    if (landmark or prep.hand_crop) and not (s.folder / LANDMARKS).exists():
        return f"no hands were looked for in it (no landmarks.{s.info['dataset']} settings)"
    if landmark:
        return handfeatures.features(s.landmarks(), s.aspects)
    return np.stack([prep.array(picture) for picture in s.pictures(prep.hand_crop)])


def score(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], files: list[str], landmark: bool) -> Scored:
    """Accuracy, macro F1 over the classes the set holds, per-class accuracy and, for a landmark model,
    how often a hand was found and the accuracy on those."""
    from handsign.evaluation.report import classification_metrics
    from handsign.use.inference import hand_found_scores, names_of

    summary, report = classification_metrics(y_true, y_pred, class_names)
    present = [class_names[k] for k in np.unique(y_true)]
    result = {
        "accuracy": summary["accuracy"],
        "f1_macro": float(np.mean([report[c]["f1-score"] for c in present])),
        "n_test": summary["n_test"],
    }
    if landmark:
        result.update(hand_found_scores(y_true, y_pred))
    per_class = {c: report[c]["recall"] for c in present}
    predictions = pd.DataFrame({"file": files, "actual": [class_names[i] for i in y_true],
                                "predicted": names_of(class_names, y_pred)})  # fmt: skip
    return Scored(result, per_class, predictions, y_true, y_pred, class_names)


def write_scores(paths: ExperimentPaths, scored: dict[str, Scored], skipped: dict[str, str], title: str) -> None:
    """reports/<experiment>/external.json (every set's summary: a DVC metric) and external/<set>/
    (per_class.json, predictions.csv, confusion_matrix.png), with skipped.json: the sets not scored, why."""
    from handsign.evaluation.report import plot_confusion_matrix

    write_json(paths.external_metrics, {name: s.summary for name, s in scored.items()})
    with atomic_path(paths.external) as tmp:
        tmp.mkdir()
        write_json(tmp / "skipped.json", skipped)
        for name, s in scored.items():
            (tmp / name).mkdir()
            write_json(tmp / name / "per_class.json", s.per_class)
            s.predictions.to_csv(tmp / name / "predictions.csv", index=False)
            plot_confusion_matrix(s.y_true, s.y_pred, s.class_names, tmp / name / "confusion_matrix.png",
                                  f"{title} on {name}\naccuracy {s.summary['accuracy']:.4f}")  # fmt: skip


def run_metrics(paths: ExperimentPaths, summary: dict, scored: dict[str, Scored]) -> tuple[dict[str, float], list[Path]]:
    """What a run logs of its scores: the test metrics as `test_<key>` and each set's as `<set>_<key>`,
    and the files `write_scores` wrote."""
    logged = {f"test_{k}": v for k, v in summary.items()}
    logged.update({f"{name}_{k}": v for name, s in scored.items() for k, v in s.summary.items()})
    return logged, [f for f in sorted(paths.external.rglob("*")) if f.is_file()]


def carry_over_table(reports: Path, experiments: list[tuple[str, str]]) -> str:
    """Markdown: each classifier's accuracy on its own test split against each external set of its
    dataset (a landmark model's share of hands found in brackets); `experiments` is (name, dataset)."""
    lines = []
    for dataset in dict.fromkeys(d for _, d in experiments):
        rows = []
        for name, d in experiments:
            metrics, ext = reports / name / "metrics.json", reports / name / "external.json"
            if d != dataset or not metrics.exists() or "accuracy" not in (m := json.loads(metrics.read_text())):
                continue
            rows.append((name, m["accuracy"], json.loads(ext.read_text()) if ext.exists() else {}))
        sets = sorted({s for _, _, e in rows for s in e})
        if not rows:
            continue
        lines += ["", f"| {dataset} | own test split | " + " | ".join(sets) + " |", "|---" * (len(sets) + 2) + "|"]
        for name, acc, ext in rows:
            cells = [_cell(ext[s]) if s in ext else "-" for s in sets]
            lines.append(f"| `{name}` | {acc:.2%} | " + " | ".join(cells) + " |")
    return "\n".join(lines).lstrip("\n")


def _cell(summary: dict) -> str:
    found = f" (hand {summary['hand_found']:.0%})" if "hand_found" in summary else ""
    return f"{summary['accuracy']:.2%}{found}"
