import numpy as np
import pandas as pd
import pytest
from conftest import split_params

from handsign.data.split import assign_splits, content_hashes, cross_split_duplicates, leave_one_subject_out


def samples(n=600, classes=6, official_test=0, groups=None):
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "sample_id": np.arange(n),
        "label": rng.integers(0, classes, n),
        "group": groups if groups is not None else [""] * n,
        "official_split": ["train"] * (n - official_test) + ["test"] * official_test,
    })  # fmt: skip


@pytest.mark.parametrize("strategy, official_test", [("official", 100), ("random", 0)])
def test_same_seed_same_split_other_seed_other_split(strategy, official_test):
    table = samples(official_test=official_test)
    a, b = assign_splits(table, strategy, split_params(seed=7)), assign_splits(table, strategy, split_params(seed=7))
    assert a.equals(b)
    assert not a.equals(assign_splits(table, strategy, split_params(seed=8)))
    assert set(a) == {"train", "val", "test"}


def test_official_test_file_is_the_test_split_and_val_is_stratified():
    table = samples(n=1200, official_test=200)
    split = assign_splits(table, "official", split_params(seed=0, val_fraction=0.1))
    assert (split[table["official_split"] == "test"] == "test").all()
    assert (split[table["official_split"] == "train"] != "test").all()
    val = table[split == "val"]
    assert len(val) == 100
    # stratified: every class's share of val matches its share of the training file within a sample
    train_file = table[table["official_split"] == "train"]
    expected = train_file["label"].value_counts(normalize=True)
    observed = val["label"].value_counts(normalize=True)
    assert (observed - expected).abs().max() < 0.02


def test_subject_split_keeps_each_subject_in_one_split():
    groups = [f"{i % 10:02d}" for i in range(1000)]
    table = samples(n=1000, groups=groups)
    split = assign_splits(table, "subject", split_params(seed=3))
    per_group = pd.DataFrame({"group": groups, "split": split}).groupby("group")["split"].nunique()
    assert (per_group == 1).all()
    assert split.value_counts().to_dict() == {"train": 800, "val": 100, "test": 100}


def test_subject_split_needs_subjects():
    with pytest.raises(ValueError, match="needs at least 3 subjects"):
        assign_splits(samples(), "subject", split_params(seed=0))


def test_cross_split_duplicates_are_reported():
    images = np.zeros((4, 1, 2, 2), dtype=np.uint8)
    images[1] += 1
    images[3] += 1  # same pixels as image 1
    table = pd.DataFrame({
        "sample_id": range(4), "source": list("abcd"), "label": [0, 1, 0, 1],
        "split": ["train", "train", "val", "test"], "content_hash": content_hashes(images),
    })  # fmt: skip
    dup = cross_split_duplicates(table)
    # image 0 and 2 are identical too (all zeros) and sit in train and val
    assert sorted(dup["sample_id"]) == [0, 1, 2, 3]
    table.loc[2, "split"] = "train"
    assert sorted(cross_split_duplicates(table)["sample_id"]) == [1, 3]


def test_too_small_to_stratify_still_splits_deterministically():
    table = samples(n=72, classes=24, official_test=0)  # a 10% carve-out holds fewer than 24 images
    a = assign_splits(table, "random", split_params(seed=0))
    assert a.equals(assign_splits(table, "random", split_params(seed=0)))
    assert set(a) == {"train", "val", "test"}


def test_official_split_of_a_dataset_without_a_test_set_is_refused():
    with pytest.raises(ValueError, match="no official test set"):
        assign_splits(samples(official_test=0), "official", split_params())


def test_subject_split_shares_no_subject_and_the_check_catches_one_that_does():
    from handsign.data.split import subjects_in_two_splits

    table = samples(n=1000, groups=[f"{i % 10:02d}" for i in range(1000)])
    table["split"] = assign_splits(table, "subject", split_params(seed=3))
    assert subjects_in_two_splits(table) == []
    assert table.groupby("split")["group"].nunique().to_dict() == {"test": 1, "train": 8, "val": 1}
    table["split"] = assign_splits(table, "random", split_params(seed=3))  # frames of one person everywhere
    assert len(subjects_in_two_splits(table)) == 10


def test_leave_one_subject_out_holds_each_subject_out_once_and_validates_on_another():
    from handsign.data.split import subjects_in_two_splits

    groups = [f"{i % 5:02d}" for i in range(500)]
    table = samples(n=500, groups=groups)
    folds = leave_one_subject_out(table, split_params(seed=3))
    assert list(folds.columns) == [f"fold_{s:02d}" for s in range(5)]
    val_subjects = []
    for column in folds:
        subject = column.removeprefix("fold_")
        fold = table.assign(split=folds[column])
        assert set(fold.loc[fold["group"] == subject, "split"]) == {"test"}
        assert set(fold.loc[fold["group"] != subject, "split"]) == {"train", "val"}
        assert subjects_in_two_splits(fold) == []
        (val,) = fold.loc[fold["split"] == "val", "group"].unique()
        val_subjects.append(val)
    assert sorted(val_subjects) == sorted(set(groups))  # a cycle: every subject validates one fold
    assert folds.equals(leave_one_subject_out(table, split_params(seed=3)))
    assert not folds.equals(leave_one_subject_out(table, split_params(seed=4)))
    with pytest.raises(ValueError, match="loso needs at least 3 subjects, this dataset has 2"):
        leave_one_subject_out(samples(n=10, groups=["L", "R"] * 5), split_params())
