"""report.classification_metrics computes, without importing scikit-learn, exactly what
scikit-learn's metrics say, a landmark model's "no hand" (-1) predictions included."""

import numpy as np
import pytest

from handsign.evaluation import report


@pytest.mark.parametrize("no_hand", [False, True])
def test_classification_metrics_equal_scikit_learns(no_hand):
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, precision_recall_fscore_support

    rng = np.random.default_rng(0)
    for _ in range(60):
        n, m = int(rng.integers(2, 8)), int(rng.integers(1, 40))
        y_true, y_pred = rng.integers(0, n, m), rng.integers(-1 if no_hand else 0, n, m)
        names = [f"class {k}" for k in range(n)]
        summary, per_class = report.classification_metrics(y_true, y_pred, names)
        labels = list(range(n))
        p, r, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        assert summary["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
        assert [summary["precision_macro"], summary["recall_macro"], summary["f1_macro"]] == pytest.approx([p, r, f1], abs=1e-12)
        expected = classification_report(y_true, y_pred, labels=labels, target_names=names, output_dict=True, zero_division=0)
        assert set(per_class) == set(expected)  # "accuracy", or "micro avg" where some prediction is no class
        for key, row in expected.items():
            assert per_class[key] == pytest.approx(row, abs=1e-12), key
        assert (report.confusion_matrix(y_true, y_pred, n) == confusion_matrix(y_true, y_pred, labels=labels)).all()
