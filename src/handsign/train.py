"""One supervised training loop for every classifier: short and flat, like torchvision's references."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm

from handsign.atomic import atomic_path
from handsign.config import Params
from handsign.datasets import PreparedStore
from handsign.models import build_model
from handsign.runtime import pick_device, seed_everything


def split_tensors(store: PreparedStore, split: np.ndarray, name: str) -> TensorDataset:
    idx = np.flatnonzero(split == name)
    if idx.size == 0:
        raise ValueError(f"the {name} split is empty; check split.* in params.yaml")
    images = torch.from_numpy(np.ascontiguousarray(store.images[idx]))
    labels = torch.from_numpy(store.samples["label"].to_numpy()[idx].astype(np.int64))
    return TensorDataset(images, labels)


def random_affine(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per-sample rotation (+-10 deg), scale (0.9-1.1) and shift (+-10%), on the whole batch at once."""
    n = x.shape[0]
    u = torch.rand(n, 4, generator=generator).to(x.device) * 2 - 1
    angle, scale = u[:, 0] * math.radians(10), 1 + 0.1 * u[:, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, 0.1 * u[:, 2]], 1), torch.stack([sin, cos, 0.1 * u[:, 3]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def to_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    # channels_last is 15-20% faster for convolutions on CPU and on tensor cores alike.
    return images.to(device, non_blocking=True).float().contiguous(memory_format=torch.channels_last)


def train_one_epoch(
    model: nn.Module,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loader: DataLoader,
    device: torch.device,
    epoch: int,
    augment: Callable[[torch.Tensor], torch.Tensor] | None,
) -> dict[str, float]:
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(loader, desc=f"epoch {epoch}", unit="batch", leave=False, disable=None)
    for images, labels in bar:
        images, labels = to_device(images, device), labels.to(device)
        if augment is not None:
            images = augment(images)
        output = model(images)
        loss = criterion(output, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.item() * len(labels)
        correct += (output.argmax(1) == labels).sum().item()
        seen += len(labels)
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}")
    return {"train_loss": total_loss / seen, "train_acc": correct / seen}


@torch.inference_mode()
def evaluate(model: nn.Module, criterion: nn.Module, loader: DataLoader, device: torch.device) -> tuple[float, np.ndarray]:
    """Mean loss and the predicted class of every sample, in loader order."""
    model.eval()
    total_loss, preds = 0.0, []
    for images, labels in loader:
        images, labels = to_device(images, device), labels.to(device)
        output = model(images)
        total_loss += criterion(output, labels).item() * len(labels)
        preds.append(output.argmax(1).cpu())
    return total_loss / len(loader.dataset), torch.cat(preds).numpy()


def make_optimizer(params: Params, model: nn.Module) -> torch.optim.Optimizer:
    if params.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=params.lr, momentum=params.momentum, weight_decay=params.weight_decay)


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int
    device: str
    train_seconds: float


def fit(
    params: Params,
    store: PreparedStore,
    split: np.ndarray,
    checkpoint_path: Path,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train `params.model` on the train split, keep the checkpoint with the lowest validation loss."""
    generator = seed_everything(params.seed)
    device = pick_device(params.device)
    train_set, val_set = split_tensors(store, split, "train"), split_tensors(store, split, "val")
    train_loader = DataLoader(train_set, batch_size=params.batch_size, shuffle=True, generator=generator)
    val_loader = DataLoader(val_set, batch_size=max(256, params.batch_size))
    model = build_model(params.model, len(store.class_names), store.images.shape[1], store.images.shape[2])
    model = model.to(device, memory_format=torch.channels_last)
    criterion = nn.CrossEntropyLoss()
    optimizer = make_optimizer(params, model)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=params.epochs * len(train_loader))
    augment = (lambda x: random_affine(x, generator)) if params.augment else None

    history: list[dict[str, float]] = []
    best_loss, best_epoch, start = math.inf, 0, time.perf_counter()
    for epoch in range(1, params.epochs + 1):
        t0 = time.perf_counter()
        row = {"epoch": epoch, **train_one_epoch(model, criterion, optimizer, scheduler, train_loader, device, epoch, augment)}
        val_loss, val_pred = evaluate(model, criterion, val_loader, device)
        row.update(val_loss=val_loss, val_acc=float((val_pred == val_set.tensors[1].numpy()).mean()))
        row.update(lr=optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - t0)
        history.append(row)
        print(f"epoch {epoch}/{params.epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch"))
        if on_epoch is not None:
            on_epoch(row)
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            checkpoint = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "lr_scheduler": scheduler.state_dict(),
                "epoch": epoch,
                "val_loss": val_loss,
                "config": params.to_flat_dict(),
                "model_name": params.model,
                "class_names": store.class_names,
                "input_shape": list(store.images.shape[1:]),
            }
            with atomic_path(checkpoint_path) as tmp:
                torch.save(checkpoint, tmp)
    return FitResult(history, best_epoch, str(device), time.perf_counter() - start)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """The trained network (in eval mode) and its checkpoint dict, which carries the resolved config."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the train stage first")
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    channels, size, _ = checkpoint["input_shape"]
    model = build_model(checkpoint["model_name"], len(checkpoint["class_names"]), channels, size)
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval(), checkpoint


@torch.inference_mode()
def predict(model: nn.Module, images: np.ndarray, indices: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Predicted class for `images[indices]`, batch by batch (the images may be a memory map)."""
    model.eval()
    device = next(model.parameters()).device
    preds = []
    for start in range(0, len(indices), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(images[indices[start : start + batch_size]]))
        preds.append(model(to_device(batch, device)).argmax(1).cpu())
    return torch.cat(preds).numpy() if preds else np.empty(0, dtype=np.int64)
