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
