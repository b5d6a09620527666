"""Deterministic train/val/test splits, written as a file that lists every sample.

Strategies: `official` (the download's own test set, validation carved from its training set,
stratified), `random` (stratified frame split) and `subject` (whole subjects held out, so no
person is seen in training and testing: LeapGestRecog's honest measure) and `loso` (leave one
subject out: a fold per subject, for cross-validation; one column per fold). `SplitParams.seed`
picks the carve-outs and the held-out subjects.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from handsign.config import LOSO, SplitParams

SPLITS = ("train", "val", "test")


def _stratified(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of `fraction` off; stratified where the data allow it (every class twice, and
    each side at least one sample per class), plain random otherwise (tiny shrunk datasets)."""
    idx = np.arange(len(labels))
    counts = np.bincount(labels)
    n_classes = int((counts > 0).sum())
    n_held = int(np.ceil(fraction * len(labels)))
    stratifiable = counts[counts > 0].min() >= 2 and n_classes <= min(n_held, len(labels) - n_held)
    return train_test_split(idx, test_size=fraction, random_state=seed, stratify=labels if stratifiable else None)


def assign_splits(samples: pd.DataFrame, strategy: str, params: SplitParams) -> pd.Series:
    """A split name per sample (index-aligned with `samples`), a pure function of its inputs."""
    seed = params.seed
    labels = samples["label"].to_numpy()
    out = np.empty(len(samples), dtype=object)
    if strategy == "official":
        test = (samples["official_split"] == "test").to_numpy()
        if not test.any():
            raise ValueError("split strategy official: this dataset has no official test set; use random or subject")
        out[test] = "test"
        pool = np.flatnonzero(~test)
        keep, val = _stratified(labels[pool], params.val_fraction, seed)
        out[pool[keep]], out[pool[val]] = "train", "val"
    elif strategy == "random":
        rest, test = _stratified(labels, params.test_fraction, seed)
        keep, val = _stratified(labels[rest], params.val_fraction / (1 - params.test_fraction), seed)
        out[test], out[rest[keep]], out[rest[val]] = "test", "train", "val"
    elif strategy == "subject":
        order = np.random.default_rng(seed).permutation(subjects(samples, strategy))
        n_test = max(1, round(len(order) * params.test_fraction))
        n_val = max(1, round(len(order) * params.val_fraction))
        test_groups, val_groups = set(order[:n_test]), set(order[n_test : n_test + n_val])
        g = samples["group"].astype(str).to_numpy()
        out[:] = "train"
        out[np.isin(g, list(val_groups))] = "val"
        out[np.isin(g, list(test_groups))] = "test"
    else:
        raise ValueError(f"unknown split strategy {strategy!r} (for {LOSO} folds see leave_one_subject_out)")
    return pd.Series(out, index=samples.index, name="split")


def subjects(samples: pd.DataFrame, strategy: str) -> list[str]:
    groups = sorted(set(samples["group"].astype(str)) - {""})
    if len(groups) < 3:
        raise ValueError(f"split strategy {strategy} needs at least 3 subjects, this dataset has {len(groups)}")
    return groups


def leave_one_subject_out(samples: pd.DataFrame, params: SplitParams) -> pd.DataFrame:
    """One column per subject, `fold_<subject>`: that subject's samples are `test`, the next
    subject's in a seeded order `val` (it picks the best epoch), everyone else's `train`."""
    order = list(np.random.default_rng(params.seed).permutation(subjects(samples, LOSO)))
    g = samples["group"].astype(str).to_numpy()
    folds = {}
    for subject in sorted(order):
        val_subject = order[(order.index(subject) + 1) % len(order)]
        column = np.full(len(samples), "train", dtype=object)
        column[g == val_subject] = "val"
        column[g == subject] = "test"
        folds[fold_column(subject)] = column
    return pd.DataFrame(folds, index=samples.index)


def leave_one_source_out(table: pd.DataFrame, sources: list[str]) -> pd.DataFrame:
    """One column per added source, `fold_<source>` (a combined split's `hold_out`): that source's
    rows are `test`, the other sources' `train`; the copy's own rows keep their `split` role
    (train or val) in every fold, but not test: a fold tests the held-out source alone. `table` is
    a combined split's file, each added row's `group` the set it came from."""
    if not sources:
        raise ValueError("leave one source out: no added source is present to hold out (every set is absent)")
    added = table["group"].isin(sources).to_numpy() & (table["sample_id"].to_numpy() < 0)
    own = np.where(table["split"].to_numpy() == "test", "", table["split"].to_numpy())
    folds = {}
    for source in sources:
        column = np.where(added, "train", own).astype(object)
        column[added & (table["group"].to_numpy() == source)] = "test"
        folds[fold_column(source)] = column
    return pd.DataFrame(folds, index=table.index)


def fold_column(subject: str) -> str:
    return f"fold_{subject}"


def content_hashes(images: np.ndarray) -> list[str]:
    return [hashlib.sha1(np.ascontiguousarray(img).tobytes()).hexdigest()[:16] for img in images]


def cross_split_duplicates(split_table: pd.DataFrame) -> pd.DataFrame:
    """Images whose exact pixels occur in more than one split: one row per such sample."""
    by_hash = split_table.groupby("content_hash")["split"].nunique()
    leaking = by_hash[by_hash > 1].index
    dup = split_table[split_table["content_hash"].isin(leaking)]
    return dup.sort_values(["content_hash", "split", "sample_id"])[["content_hash", "sample_id", "source", "label", "split"]]


def subjects_in_two_splits(table: pd.DataFrame) -> list[str]:
    """Subjects (the `group` column) with samples in more than one of train, val and test."""
    named = table[table["group"].astype(str) != ""]
    per_subject = named.groupby(named["group"].astype(str))["split"].nunique()
    return sorted(per_subject[per_subject > 1].index)
