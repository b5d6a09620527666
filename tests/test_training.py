"""The one training loop, run for real on tiny synthetic data: it learns, repeats, and resumes."""

import numpy as np
import pytest
import torch
from conftest import tiny_experiment

from handsign.recognition.checkpoint import load_checkpoint
from handsign.recognition.inference import predict
from handsign.training.train import data_fingerprint, fit, interrupted_state


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("training")


def without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_a_model_overfits_a_small_training_set(root, tmp_path):
    # 60 images, 6 classes: a loop that does not step the optimizer, or scrambles labels, cannot fit them.
    exp, store, split = tiny_experiment(root, per_class_train=5, optimizer="adam", lr=3e-3, epochs=40,
                                        augment=False, weight_decay=0.0)  # fmt: skip
    result = fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt")
    first, last = result.history[0], result.history[-1]
    assert last["train_acc"] == 1.0
    assert last["train_loss"] < 0.3 * first["train_loss"]  # dropout keeps it above 0


@pytest.mark.slow  # seconds: make test runs it, make test-fast leaves it out
def test_training_beats_chance_by_a_wide_margin_on_held_out_images(root, tmp_path):
    exp, store, split = tiny_experiment(root, per_class_train=30, epochs=20)
    fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt")
    model, checkpoint = load_checkpoint(tmp_path / "model.pt")
    test = np.flatnonzero(split == "test")
    accuracy = (predict(model, store.images, test) == store.samples["label"].to_numpy()[test]).mean()
    assert accuracy > 3 / len(checkpoint.class_names), accuracy  # chance is 1/6


def test_same_params_give_the_same_metrics_and_weights(root, tmp_path):
    exp, store, split = tiny_experiment(root, epochs=2)
    first = fit(exp, store, split, tmp_path / "a.pt", tmp_path / "a_last.pt").history
    second = fit(exp, store, split, tmp_path / "b.pt", tmp_path / "b_last.pt").history
    assert without_seconds(first) == without_seconds(second)
    wa, wb = torch.load(tmp_path / "a.pt")["model"], torch.load(tmp_path / "b.pt")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert np.isfinite(first[0]["val_loss"])


def test_an_interrupted_training_resumes_and_ends_as_an_uninterrupted_one(root, tmp_path):
    exp, store, split = tiny_experiment(root, epochs=4)  # augmentation and dropout on: RNG state matters
    split_file = tmp_path / "split.csv"
    split_file.write_text("\n".join(split))
    fingerprint = data_fingerprint(split_file)
    whole = fit(exp, store, split, tmp_path / "whole.pt", tmp_path / "whole_last.pt", fingerprint)
    assert interrupted_state(tmp_path / "whole_last.pt", exp, fingerprint) is None  # finished: nothing to resume

    def stop_after_two(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt", fingerprint, on_epoch=stop_after_two)
    state = interrupted_state(tmp_path / "last.pt", exp, fingerprint)
    assert state is not None and state["epoch"] == 2
    assert interrupted_state(tmp_path / "last.pt", exp, "other data") is None
    (tmp_path / "damaged.pt").write_bytes(b"not a checkpoint")
    assert interrupted_state(tmp_path / "damaged.pt", exp, fingerprint) is None
    resumed = fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt", fingerprint, state)
    assert resumed.resumed_from == 2
    assert without_seconds(resumed.history) == without_seconds(whole.history)
    wa, wb = torch.load(tmp_path / "whole.pt")["model"], torch.load(tmp_path / "model.pt")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
