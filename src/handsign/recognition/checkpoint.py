"""The checkpoint: one typed object, written by train (`Checkpoint.save`) and read by everything
else (`Checkpoint.read`, `load_checkpoint`). On disk it is a dict of tensors and plain values,
read with `torch.load(weights_only=True)`, so no object is ever unpickled; its keys are the ones
the checkpoints of earlier versions carry, which are read as they are."""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from handsign.core.atomic import atomic_path
from handsign.data.preprocessing import HandPreprocessing, Preprocessing, saved
from handsign.models import Kind, build_model, kind_of


@dataclass(frozen=True)
class Checkpoint:
    """A trained network's weights and everything needed to use it on new images."""

    model_name: str  # the registry's name (handsign.models.MODELS)
    class_names: list[str]
    input_shape: list[int]  # channels, height, width; or a landmark row's width
    preprocessing: Preprocessing | HandPreprocessing  # what a new image goes through to look like the training data
    weights: dict[str, torch.Tensor] = field(repr=False)
    config: dict[str, Any] = field(default_factory=dict, repr=False)  # the experiment, `training.lr`-style keys
    epoch: int = 0  # the best epoch's
    val_loss: float = math.nan
    task: str = ""  # classification | reconstruction

    @property
    def kind(self) -> Kind:
        return kind_of(self.model_name)

    def network(self, device: torch.device | str = "cpu") -> nn.Module:
        """The network built by name from handsign's registry, its weights loaded, in eval mode."""
        model = build_model(self.model_name, len(self.class_names), self.input_shape[0], self.input_shape[-1])
        model.load_state_dict(self.weights)
        return model.to(device).eval()

    def to_dict(self) -> dict[str, Any]:
        """What the file holds: tensors and plain values only."""
        return {
            "model": self.weights,
            "epoch": self.epoch,
            "val_loss": self.val_loss,
            "config": self.config,
            "model_name": self.model_name,
            "task": self.task,
            "class_names": list(self.class_names),
            "input_shape": list(self.input_shape),
            "preprocessing": self.preprocessing.to_dict(),
        }

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            torch.save(self.to_dict(), tmp)

    @classmethod
    def read(cls, path: Path, device: torch.device | str = "cpu", resize: str | None = None) -> Checkpoint:
        """The checkpoint at `path`; `resize` stands in for a pixel checkpoint from before checkpoints
        carried their preprocessing."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run the train stage first")
        try:
            raw = torch.load(path, map_location=device, weights_only=True)
        except pickle.UnpicklingError as e:  # weights_only: an object in it would run code; refused, never run
            raise ValueError(f"{path}: not a checkpoint of plain tensors and values; refused, nothing in it was run "
                             f"({str(e).splitlines()[0]})") from None  # fmt: skip
        except (RuntimeError, EOFError, OSError) as e:  # truncated, not a torch file
            raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__}: {str(e).splitlines()[0]})") from None
        return cls(
            model_name=raw["model_name"],
            class_names=list(raw["class_names"]),
            input_shape=list(raw["input_shape"]),
            preprocessing=saved(raw, path, resize),
            weights=raw["model"],
            config=raw.get("config", {}),
            epoch=int(raw.get("epoch", 0)),
            val_loss=float(raw.get("val_loss", math.nan)),
            task=raw.get("task", ""),
        )


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, Checkpoint]:
    """The trained network (in eval mode, on `device`) and its checkpoint."""
    checkpoint = Checkpoint.read(path, device)
    return checkpoint.network(device), checkpoint
