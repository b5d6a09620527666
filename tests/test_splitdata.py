"""The split file and the prepared images are joined on sample_id, never paired by position."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from handsign.data.splitdata import join_on_sample_id
from handsign.datasets import Prepared

SPLIT_FILE = Path("data/split/toy_8/random.csv")


@pytest.fixture
def samples() -> pd.DataFrame:
    images = np.zeros((6, 1, 4, 4), np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])
    return Prepared(images, labels, ["a", "b", "c"], [f"f{i}.png" for i in range(6)], [""] * 6, [""] * 6).samples()


def split_of(samples: pd.DataFrame) -> pd.DataFrame:
    return samples.assign(split=["train", "train", "val", "test", "test", "train"])


def test_a_split_file_in_prepared_order_is_taken_as_it_is(samples):
    table = split_of(samples)
    assert join_on_sample_id(samples, table, SPLIT_FILE).equals(table)


def test_a_reordered_split_file_is_joined_back_to_the_images(samples):
    table = split_of(samples)
    shuffled = table.sample(frac=1, random_state=3).reset_index(drop=True)
    assert not shuffled["sample_id"].equals(table["sample_id"])
    joined = join_on_sample_id(samples, shuffled, SPLIT_FILE)
    assert joined["sample_id"].tolist() == list(range(6))
    assert joined["split"].tolist() == table["split"].tolist()


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda t: t.iloc[:-1], r"1 prepared samples missing \(first sample_id 5\)"),
        (lambda t: pd.concat([t, t.iloc[[2]]]), "line 8: sample_id 2 occurs twice"),
        (lambda t: t.assign(sample_id=t["sample_id"] + 1), "1 not in the prepared copy"),
        (lambda t: t.assign(label=[0, 1, 2, 0, 2, 2]), "sample_id 4 has label '2', the prepared copy '1'"),
        (lambda t: t.assign(source=[f"g{i}.png" for i in range(6)]), "sample_id 0 has source 'g0.png'"),
        (lambda t: t.drop(columns="sample_id"), "no sample_id column"),
    ],
)
def test_a_split_file_of_other_data_fails_naming_the_file_and_sample(samples, damage, says):
    with pytest.raises(ValueError, match=f"{SPLIT_FILE}.*{says}"):
        join_on_sample_id(samples, damage(split_of(samples)), SPLIT_FILE)
