"""Combining a pixel and a landmark classifier's probabilities (handsign.recognition.ensemble)."""

import numpy as np
import pytest

from handsign.recognition.ensemble import answers, combine


def test_the_product_picks_the_class_both_find_likely_where_the_average_would_not():
    pixel = np.array([[0.8, 0.2, 0.0]], dtype=np.float32)
    hands = np.array([[0.1, 0.5, 0.4]], dtype=np.float32)
    combined = combine([pixel, hands])
    assert ((pixel + hands) / 2).argmax() == 0  # the average follows the confident pixel model
    assert answers(combined, -1).tolist() == [1]
    expected = np.array([0.8 * 0.1, 0.2 * 0.5, 0.0]) + [1e-6 * 0.9, 1e-6 * 0.7, 1e-6 * 0.4]
    np.testing.assert_allclose(combined[0], expected / expected.sum(), rtol=1e-3)


def test_a_member_without_a_hand_abstains_and_no_answer_at_all_stays_no_hand():
    pixel = np.array([[0.3, 0.7], [0.0, 0.0]], dtype=np.float32)
    hands = np.array([[0.0, 0.0], [0.0, 0.0]], dtype=np.float32)  # no hand found in either image
    combined = combine([pixel, hands])
    np.testing.assert_allclose(combined[0], [0.3, 0.7], rtol=1e-4)
    assert combined[1].tolist() == [0.0, 0.0]
    assert answers(combined, -1).tolist() == [1, -1]


def test_rows_are_probabilities_even_where_every_member_is_sure_of_another_class():
    pixel = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    hands = np.array([[0.0, 0.0, 1.0]], dtype=np.float32)
    combined = combine([pixel, hands])
    assert combined.sum() == pytest.approx(1.0) and np.isfinite(combined).all()
    assert combined[0, 1] < combined[0, 0] == pytest.approx(combined[0, 2])


def test_member_weights_are_chosen_on_held_out_people_and_compared_with_each_member_alone():
    """The search scores every combination of the declared weights on each held-out set, keeps the
    best by the mean (or the worst) of their accuracies, and scores each member alone the same way:
    the ensemble is registered only where it beats the better of them."""
    from handsign.evaluation.classifiers import choose_weights

    y = np.array([0, 1, 1])
    pixel = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]], dtype=np.float32)  # wrong, and sure, on the middle one
    hands = np.array([[0.6, 0.4], [0.25, 0.75], [0.6, 0.4]], dtype=np.float32)  # right there, wrong on the last
    held = {"someone": (y, [pixel, hands])}
    choice = choose_weights(["pixel", "hands"], held, [[0.5, 1.0], [1.0]], "mean")
    assert [t["weights"] for t in choice.tried] == [[0.5, 1.0], [1.0, 1.0]]
    # Half the pixel model's say lets the hands decide the middle image: every image right.
    assert choice.weights == [0.5, 1.0] and choice.score == 1.0 and choice.tried[1]["score"] == pytest.approx(2 / 3)
    assert choice.member_scores == {"pixel": pytest.approx(2 / 3), "hands": pytest.approx(2 / 3)} and choice.beats_its_members
    # Another person on whom the pixel model alone is right every time: no weights beat it there.
    other = {"another": (np.array([0, 0, 1]), [pixel, hands])}
    worse = choose_weights(["pixel", "hands"], held | other, [[0.5, 1.0], [1.0]], "worst")
    assert worse.member_scores["pixel"] == pytest.approx(2 / 3) and worse.score == pytest.approx(2 / 3)
    assert worse.best_member == "pixel" and not worse.beats_its_members  # equal is not better
