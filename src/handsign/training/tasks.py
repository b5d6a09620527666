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

    def score(self, row: dict[str, float]) -> tuple[float, ...]:
        """Validation score of an epoch's row, higher is better: accuracy, then lower loss."""
        return row["val_acc"], -row["val_loss"]


@dataclass(frozen=True)
class Reconstruction:
    """Mean squared error between the image (scaled to 0..1) and the model's output; labels are
    ignored. Reports PSNR (dB, peak 1); a better model has a lower validation error."""

    name: str = "reconstruction"

    def loss(self, output: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(output.float(), images / 255.0)

    def metric_sums(self, output: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        per_image = (output.float() - images / 255.0).pow(2).flatten(1).mean(1)
        return {"psnr": psnr(per_image).sum().item()}

    def score(self, row: dict[str, float]) -> tuple[float, ...]:
        return (-row["val_loss"],)


def psnr(mse: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of images in 0..1, from their mean squared errors."""
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


CLASSIFICATION = Classification()
RECONSTRUCTION = Reconstruction()
Task = Classification | Reconstruction


def task_for(model: str) -> Task:
    """The task a registered model is trained for: autoencoders reconstruct, the rest classify."""
    from handsign.models import Kind, kind_of

    return RECONSTRUCTION if kind_of(model) is Kind.AUTOENCODER else CLASSIFICATION
