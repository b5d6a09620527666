"""What a classifier answers: class probabilities from its network, and the table of labels and
probabilities that predict, serving and live show ("no hand" where a landmark model found none)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from handsign.recognition.inference import NO_HAND_LABEL


def answer_table(probabilities: np.ndarray, names: list[str]) -> Any:
    """The served answer: `label`, `probability`, then one column per class. A row of zeros (a
    landmark model that found no hand) is labelled "no hand", probability 0."""
    import pandas as pd

    return pd.concat([pd.DataFrame({"label": labels(probabilities, names), "probability": probabilities.max(1, initial=0.0)}),
                      pd.DataFrame(probabilities, columns=names)], axis=1)  # fmt: skip


def labels(probabilities: np.ndarray, names: list[str]) -> list[str]:
    """The most probable class of each row; "no hand" for a row of zeros."""
    return [names[int(row.argmax())] if row.any() else NO_HAND_LABEL for row in probabilities]


class Probabilities(nn.Module):
    """The network with softmax on its logits: uint8 (as float) N x 1 x S x S in, N x classes out.
    What is exported (TorchScript, ONNX): preprocessing stays outside, in `Preprocessing`."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.network(x), dim=1)
