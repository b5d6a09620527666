"""What a model is trained to do: its loss, the metrics the loop reports, and what "better" means.

The training loop asks the task, never assumes classification, so a reconstruction objective
(the autoencoder) reuses the same loop by adding a task here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Classification:
    """Cross-entropy on logits; reports accuracy; a better model has a higher validation accuracy."""

    name: str = "classification"

    def loss(self, output: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, labels)

    def metric_sums(self, output: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        """Per-batch sums; the loop divides by the number of samples seen."""
        return {"acc": (output.argmax(1) == labels).sum().item()}

    def score(self, row: dict[str, float]) -> tuple[float, float]:
        """Validation score of an epoch's row, higher is better: accuracy, then lower loss."""
        return row["val_acc"], -row["val_loss"]


CLASSIFICATION = Classification()


def task_for(model: str) -> Classification:
    """The task a registered model is trained for; every model so far is a classifier."""
    return CLASSIFICATION
