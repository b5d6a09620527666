"""An experiment's data as train, evaluate and crossval read it: the prepared images and the split
file, joined on `sample_id`, so that a split file made from another prepared copy fails loudly
instead of pairing labels with the wrong images."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from handsign.config import Experiment, landmark_params_from_dict
from handsign.core import layout
from handsign.data import externalsets
from handsign.datasets import PreparedStore
from handsign.models import Kind

# Columns of the split file that must equal the prepared copy's for the same sample_id.
_SHARED = ("label", "source")


@dataclass
class SplitData:
    """Rows of `table` are rows of `images`: table row i describes images[i]."""

    store: PreparedStore
    table: pd.DataFrame  # the split file: sample_id, label, group, split (or fold_<subject> columns), ...
    split_file: Path

    @property
    def images(self) -> np.ndarray:
        return self.store.images

    @property
    def class_names(self) -> list[str]:
        return self.store.class_names

    def column(self, name: str = "split") -> np.ndarray:
        return self.table[name].to_numpy()

    def rows(self, part: str, column: str = "split") -> np.ndarray:
        """Indices (into images and table) of the samples in `part` (train | val | test)."""
        return np.flatnonzero(self.column(column) == part)


def load_split(exp: Experiment) -> SplitData:
    """The prepared copy and split file that `exp` trains and is evaluated on. A landmark model's
    "images" are the copy's hands as handsign.hands.handfeatures rows (NaN where no hand was found)."""
    prepared, split_file = exp.data_paths
    store = PreparedStore.load(prepared)
    if exp.kind is Kind.LANDMARKS:
        store = landmark_store(store, exp.dataset)
    if not split_file.exists():
        hint = f"add {exp.split} to data.{exp.data_copy}.splits in params.yaml and " if exp.split == "loso" else ""
        raise FileNotFoundError(f"{split_file} is missing: {hint}run the split stage (dvc repro split@{exp.data_copy})")
    table = pd.read_csv(split_file, keep_default_na=False, dtype={"group": str, "official_split": str, "source": str})
    added = externalsets.is_added(table["source"])
    table, extra = table[~added].reset_index(drop=True), table[added].reset_index(drop=True)
    joined = join_on_sample_id(store.samples, table, split_file)
    if exp.kind is Kind.LANDMARKS and store.landmarks.readings == "every":
        store, joined = with_every_reading(store, joined, exp.dataset)
    if extra.empty:
        return SplitData(store, joined, split_file)
    # A combined split: the external sets' images join the prepared copy's, for training only.
    size = store.images.shape[-1]
    images = externalsets.training_images(extra, exp.dataset, size, store.resize, exp.kind, exp.training.hand_crop)
    images = images.astype(store.images.dtype)
    samples = pd.concat([store.samples, extra[[c for c in store.samples.columns if c in extra.columns]]], ignore_index=True)
    store = PreparedStore(np.concatenate([np.asarray(store.images), images]), samples, store.class_names, store.resize,
                          store.landmarks)  # fmt: skip
    return SplitData(store, pd.concat([joined, extra], ignore_index=True), split_file)


def landmark_store(store: PreparedStore, dataset: str) -> PreparedStore:
    """`store` with its images replaced by the landmark rows of the same samples (by sample_id)."""
    from handsign.datasets import get_spec
    from handsign.hands import handfeatures
    from handsign.hands.landmarks import Landmarks

    folder = layout.landmarks(dataset)
    for name in ("landmarks.npz", "samples.csv", "settings.json"):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder / name} is missing: run the landmark stage (dvc repro landmarks@{dataset})")
    # The same samples with the same labels, in the prepared order.
    order = _landmark_rows(store.samples, folder)
    rows = handfeatures.features(Landmarks.load(folder / "landmarks.npz"), get_spec(dataset).aspect)[order]
    settings = landmark_params_from_dict(json.loads((folder / "settings.json").read_text()), str(folder / "settings.json"))
    return PreparedStore(rows, store.samples, store.class_names, resize="landmarks", landmarks=settings)


def with_every_reading(store: PreparedStore, table: pd.DataFrame, dataset: str) -> tuple[PreparedStore, pd.DataFrame]:
    """`landmarks.<dataset>.readings: every`: the landmark rows of `store` (the first reading of each
    sample) and `table`, followed by every other attempt's reading of each training sample where it
    found a hand, for training only: the copies' split columns say train where the sample's did,
    nothing (no part) elsewhere, so validation, test and each fold's held-out subject keep one row."""
    from handsign.datasets import get_spec
    from handsign.hands import handfeatures
    from handsign.hands.landmarks import READINGS_FILE, Landmarks

    folder = layout.landmarks(dataset)
    if not (folder / READINGS_FILE).exists():
        raise FileNotFoundError(f"{folder / READINGS_FILE} is missing: rerun the landmark stage (dvc repro landmarks@{dataset})")
    every = Landmarks.load(folder / READINGS_FILE)
    attempts = len(store.landmarks.attempts)
    order = _landmark_rows(store.samples, folder)
    first = Landmarks.load(folder / "landmarks.npz").attempt[order]
    parts = [c for c in table.columns if c == "split" or c.startswith("fold_")]
    trained = (table[parts].to_numpy() == "train").any(axis=1)
    candidates = order[:, None] * attempts + np.arange(attempts)  # each sample's row of every attempt
    keep = every.found[candidates] & (np.arange(attempts) != first[:, None]) & trained[:, None]
    source, attempt = np.nonzero(keep)  # sample by sample, attempts in order
    picked = candidates[source, attempt]
    rows = handfeatures.features(every.take(picked), get_spec(dataset).aspect)
    copies = table.iloc[source].reset_index(drop=True)
    for part in parts:
        copies[part] = np.where(copies[part] == "train", "train", "")
    samples = pd.concat([store.samples, store.samples.iloc[source]], ignore_index=True)
    images = np.concatenate([np.asarray(store.images), rows.astype(store.images.dtype)])
    grown = PreparedStore(images, samples, store.class_names, store.resize, store.landmarks)
    return grown, pd.concat([table, copies], ignore_index=True)


def _landmark_rows(samples: pd.DataFrame, folder: Path) -> np.ndarray:
    """Each prepared sample's row of the landmark stage's files (joined on sample_id)."""
    found = pd.read_csv(folder / "samples.csv", keep_default_na=False, dtype={"group": str, "official_split": str})
    return join_on_sample_id(samples, found.assign(row=np.arange(len(found))), folder / "samples.csv")["row"].to_numpy()


def join_on_sample_id(samples: pd.DataFrame, table: pd.DataFrame, split_file: Path) -> pd.DataFrame:
    """`table` in the order of the prepared `samples`, checked to describe the same samples."""
    if "sample_id" not in table.columns:
        raise ValueError(f"{split_file}: no sample_id column; rerun the split stage")
    ids = table["sample_id"].to_numpy()
    if len(np.unique(ids)) != len(ids):
        dup = pd.Series(ids).duplicated()
        row = int(np.flatnonzero(dup)[0])
        raise ValueError(f"{split_file}: line {row + 2}: sample_id {ids[row]} occurs twice")
    prepared_ids = samples["sample_id"].to_numpy()
    if len(ids) != len(prepared_ids) or not np.array_equal(np.sort(ids), np.sort(prepared_ids)):
        missing, extra = np.setdiff1d(prepared_ids, ids), np.setdiff1d(ids, prepared_ids)
        said = [f"{len(missing)} prepared samples missing (first sample_id {missing[0]})"] if len(missing) else []
        said += [f"{len(extra)} not in the prepared copy (first sample_id {extra[0]})"] if len(extra) else []
        raise ValueError(f"{split_file}: does not list the prepared copy's samples: {', '.join(said)}; rerun the split stage")
    if not np.array_equal(ids, prepared_ids):
        table = table.set_index("sample_id", drop=False).loc[prepared_ids].reset_index(drop=True)
    for column in _SHARED:
        if column not in table.columns:
            continue
        theirs, ours = table[column].astype(str).to_numpy(), samples[column].astype(str).to_numpy()
        differs = np.flatnonzero(theirs != ours)
        if len(differs):
            i = int(differs[0])
            raise ValueError(
                f"{split_file}: sample_id {prepared_ids[i]} has {column} {theirs[i]!r}, the prepared copy {ours[i]!r} "
                f"({len(differs)} such samples): the split was made from other data; "
                "rerun the split stage"
            )
    return table
