"""One training loop for every model: short and flat, like torchvision's references.

The task (`handsign.training.tasks`) owns the loss and the metrics, so the loop serves a classifier and
a reconstruction objective alike. After every epoch the whole state (weights, optimizer,
scheduler, random generators, history) is written to a resume file; a training killed
mid-run picks up from its last completed epoch and ends exactly as an uninterrupted one.
Launched by `torchrun`, the same loop trains with DDP over several processes (`distributed`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler, TensorDataset
from tqdm import tqdm

from handsign.config import Experiment, Training
from handsign.core.atomic import atomic_path
from handsign.core.runtime import pick_device, resolve_precision, seed_everything, to_device, use_threads
from handsign.data import preprocessing
from handsign.data.externalsets import is_added
from handsign.datasets import PreparedStore
from handsign.hands import handfeatures
from handsign.models import Kind, build_model, is_warm_start
from handsign.recognition.checkpoint import Checkpoint
from handsign.training import distributed
from handsign.training.distributed import ONE, Processes, ShardedBatches
from handsign.training.tasks import Task, task_for
from handsign.training.warmstart import WarmStart, warm_start


class SplitImages(Dataset):
    """One split of a prepared copy, read a batch at a time from the memory-mapped images: no
    copy of the whole set is ever made, as uint8 or float. Indexed by a list of rows (a batch).
    `without` names a class left out (an autoencoder's `holdout_class`). Landmark rows where
    no hand was found (NaN) are left out: there is nothing to learn from them."""

    def __init__(
        self, store: PreparedStore, split: np.ndarray, name: str, kind: Kind, without: str = "", added_repeat: int = 1
    ) -> None:
        keep = split == name
        if without:
            if without not in store.class_names:
                raise ValueError(f"holdout_class {without!r} is not a class of this dataset ({', '.join(store.class_names)})")
            keep &= store.samples["label"].to_numpy() != store.class_names.index(without)
        if kind is Kind.LANDMARKS:
            keep &= np.isfinite(store.images).all(axis=1)
        self.rows = np.flatnonzero(keep)
        if self.rows.size == 0:
            raise ValueError(f"the {name} split is empty; check split.* in params.yaml")
        if added_repeat > 1:  # the added sets' images (a combined split) shown added_repeat times each
            added = self.rows[is_added(store.samples["source"].iloc[self.rows]).to_numpy()]
            self.rows = np.concatenate([self.rows, *[added] * (added_repeat - 1)])
        self.images = store.images
        self.labels = torch.from_numpy(store.samples["label"].to_numpy()[self.rows].astype(np.int64))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, batch: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(np.ascontiguousarray(self.images[self.rows[batch]])), self.labels[batch]


def batches(
    data: Dataset,
    batch_size: int,
    device: torch.device,
    generator: torch.Generator | None = None,
    procs: Processes = ONE,
) -> DataLoader:
    """This process's share of whole batches per fetch (for training, shuffled by `generator` in
    the order DataLoader's own shuffle would take), pinned for an asynchronous copy on CUDA."""
    if generator is None:
        sampler = ShardedBatches(BatchSampler(SequentialSampler(data), batch_size, drop_last=False), procs)
    else:  # training: equal shares, and BatchNorm cannot train on a share of one sample
        sampler = ShardedBatches(BatchSampler(RandomSampler(data, generator=generator), batch_size, False), procs, True, 2)
    return DataLoader(data, sampler=sampler, batch_size=None, pin_memory=device.type == "cuda")


def autocast(device: torch.device, bf16: bool) -> torch.autocast:
    """bfloat16 mixed precision (no loss scaling needed) when `bf16`, else full precision."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


@torch.no_grad()
def cached_features(
    model: nn.Module, data: Dataset, device: torch.device, procs: Processes = ONE, batch_size: int = 64, bf16: bool = False
) -> TensorDataset:
    """The frozen part's output for every image of `data`, computed once (in eval mode), on the
    CPU. Several processes each compute a contiguous slice and then all hold the whole."""
    model.eval()
    n = len(data)
    lo, hi = n * procs.rank // procs.world_size, n * (procs.rank + 1) // procs.world_size
    feats, labels = [], []
    for start in tqdm(range(lo, hi, batch_size), desc="features", unit="batch", leave=False, disable=None):
        images, y = data[list(range(start, min(start + batch_size, hi)))]
        with autocast(device, bf16):
            feats.append(model.features(to_device(images, device)).float().cpu())
        labels.append(y)
    parts = [p for p in distributed.gather((torch.cat(feats), torch.cat(labels)) if feats else None, procs) if p]
    return TensorDataset(torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts]))


def freeze_backbone(model: nn.Module) -> nn.Module:
    """Stop gradients everywhere but `model.head` and put the frozen part in eval mode (its
    BatchNorm statistics stay as they were); returns the head, the one part left to train."""
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.head.parameters():
        p.requires_grad_(True)
    model.eval()
    return model.head


def random_affine(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per-sample rotation (+-10 deg), scale (0.9-1.1) and shift (+-10%), on the whole batch at once."""
    n = x.shape[0]
    u = torch.rand(n, 4, generator=generator).to(x.device) * 2 - 1
    angle, scale = u[:, 0] * math.radians(10), 1 + 0.1 * u[:, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, 0.1 * u[:, 2]], 1), torch.stack([sin, cos, 0.1 * u[:, 3]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def mirror_images(x: torch.Tensor, generator: torch.Generator, share: float) -> torch.Tensor:
    """`share` of the images (N x C x H x W) mirrored left to right, drawn per sample."""
    if share <= 0:
        return x
    flipped = (torch.rand(x.shape[0], generator=generator) < share).to(x.device)
    return torch.where(flipped[:, None, None, None], x.flip(-1), x)


def _add(sums: dict[str, float], loss: torch.Tensor, metric_sums: dict[str, float], n: int) -> None:
    sums["n"] = sums.get("n", 0) + n
    sums["loss"] = sums.get("loss", 0.0) + loss.item() * n
    for k, v in metric_sums.items():
        sums[k] = sums.get(k, 0.0) + v


def _means(sums: dict[str, float], procs: Processes, prefix: str) -> dict[str, float]:
    """Per-sample means over every process's share."""
    total = distributed.all_sum(sums, procs)
    return {f"{prefix}_{k}": v / total["n"] for k, v in total.items() if k != "n"}


def train_one_epoch(
    model: nn.Module,
    task: Task,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loader: DataLoader,
    device: torch.device,
    epoch: int,
    augment: Callable[[torch.Tensor], torch.Tensor] | None,
    procs: Processes = ONE,
    bf16: bool = False,
) -> dict[str, float]:
    model.train()
    sums: dict[str, float] = {}
    bar = tqdm(loader, desc=f"epoch {epoch}", unit="batch", leave=False, disable=None if procs.main else True)
    for images, labels in bar:
        images, labels = to_device(images, device), labels.to(device)
        if augment is not None:
            images = augment(images)
        with autocast(device, bf16):
            output = model(images)
            loss = task.loss(output, images, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        _add(sums, loss, task.metric_sums(output, images, labels), len(labels))
        bar.set_postfix({k: f"{v / sums['n']:.4f}" for k, v in sums.items() if k != "n"})
    return _means(sums, procs, "train")


@torch.inference_mode()
def evaluate(
    model: nn.Module, task: Task, loader: DataLoader, device: torch.device, procs: Processes = ONE, bf16: bool = False
) -> dict[str, float]:
    """Mean loss and task metrics over `loader` (and the other processes' shares), as `val_<name>`."""
    model.eval()
    sums: dict[str, float] = {}
    for images, labels in loader:
        images, labels = to_device(images, device), labels.to(device)
        with autocast(device, bf16):
            output = model(images)
        _add(sums, task.loss(output, images, labels), task.metric_sums(output, images, labels), len(labels))
    return _means(sums, procs, "val")


def make_optimizer(t: Training, model: nn.Module) -> torch.optim.Optimizer:
    """Weight decay on weight matrices and kernels only: decaying norm scales and biases pulls
    them towards 0, which only hurts (as torchvision's references and timm arrange it too). The
    fused implementation updates every parameter in one kernel: on one CPU thread, Adam's step over
    a ResNet-18 takes 15 ms instead of 57 (the per-tensor loop), which at batch 8 was most of a step."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": t.weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    fused = all(p.device.type in ("cpu", "cuda") for p in params)  # where PyTorch has the fused kernels
    if t.optimizer == "adam":
        return torch.optim.Adam(groups, lr=t.lr, fused=fused)
    return torch.optim.SGD(groups, lr=t.lr, momentum=t.momentum, fused=fused)


def data_fingerprint(split_file: Path) -> str:
    """The split file lists every sample's label, split and content hash: it identifies the data."""
    return hashlib.sha1(split_file.read_bytes()).hexdigest()


def interrupted_state(path: Path, exp: Experiment, fingerprint: str) -> dict[str, Any] | None:
    """The saved state of an unfinished training of this same experiment on this same data, else None."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unreadable (another torch version, a damaged disk): train afresh, say so
        print(f"train: ignoring {path}, which cannot be read ({type(e).__name__}: {e})")
        return None
    if state.get("complete", True) or state.get("config") != exp.to_flat_dict() or state.get("data") != fingerprint:
        return None
    return state


def _rng_state(generator: torch.Generator) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "generator": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int
    device: str
    precision: str  # fp32 or bf16: the training's `precision` as resolved for its device
    train_seconds: float
    resumed_from: int  # the last completed epoch found on disk, 0 for a fresh start
    feature_seconds: float = 0.0  # the one pass of a frozen backbone over the data (in train_seconds)
    warm_start: WarmStart | None = None  # what an init from an earlier run loaded
    samples_per_process: list[int] = dataclasses.field(default_factory=list)  # training samples of the last epoch
    samples_in_two_processes: int = 0  # of those, seen by more than one process (sharding makes it 0)


def fit(
    exp: Experiment,
    store: PreparedStore,
    split: np.ndarray,
    checkpoint_path: Path,
    resume_path: Path,
    fingerprint: str = "",
    state: dict[str, Any] | None = None,
    run_id: str = "",
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train `exp` on the train split from scratch, or from `state` (see `interrupted_state`);
    write the epoch with the best validation score to `checkpoint_path`. Under `torchrun`, every
    process trains its share of each batch and only the first writes files and calls `on_epoch`."""
    t = exp.training
    task = task_for(t.model)
    use_threads(t.threads)
    generator = seed_everything(t.seed)
    procs, device = distributed.start(pick_device(t.device))
    precision = resolve_precision(t.precision, device)
    bf16 = precision == "bf16"
    if t.batch_size // procs.world_size < 2:
        raise ValueError(f"batch_size {t.batch_size} leaves fewer than 2 images per process on {procs.world_size} processes")
    train_set: Dataset = SplitImages(store, split, "train", exp.kind, t.holdout_class, t.added_repeat)
    val_set: Dataset = SplitImages(store, split, "val", exp.kind, t.holdout_class)
    shape = store.images.shape[1:]  # channels, height, width; or a landmark row's width
    model = build_model(t.model, len(store.class_names), shape[0], shape[-1], t.init)
    warm: WarmStart | None = None
    if state is not None:
        model.load_state_dict(state["model"])
    elif is_warm_start(t.init):
        warm = warm_start(model, t.init)
        if procs.main:
            print(f"train: {warm.summary()}")
    model = model.to(device, memory_format=torch.channels_last)
    trainable, feature_seconds = model, 0.0
    if t.freeze_backbone:
        trainable = freeze_backbone(model)
        t0 = time.perf_counter()
        train_set, val_set = (
            cached_features(model, train_set, device, procs, bf16=bf16),
            cached_features(model, val_set, device, procs, bf16=bf16),
        )
        feature_seconds = time.perf_counter() - t0
        n = len(train_set) + len(val_set)
        if procs.main:
            print(
                f"train: frozen backbone: features of {n} images computed once in {feature_seconds:.1f}s; the head trains on them"
            )
    train_loader = batches(train_set, t.batch_size, device, generator, procs)
    val_loader = batches(val_set, max(256, t.batch_size), device, procs=procs)
    optimizer = make_optimizer(t, trainable)
    stepped = distributed.wrap(trainable, procs, device)  # what the training steps call: DDP when launched so
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t.epochs * len(train_loader))
    shift = handfeatures.augment if exp.kind is Kind.LANDMARKS else random_affine  # landmark rows or images
    flip = handfeatures.mirror if exp.kind is Kind.LANDMARKS else mirror_images
    augment = (lambda x: shift(flip(x, generator, t.mirror), generator)) if t.augment else None

    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"epoch": 0, "score": (-math.inf,), "model": None}
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["lr_scheduler"])
        _set_rng_state(state["rng"], generator)
        history, best = state["history"], state["best"]
        warm = WarmStart(**state["warm_start"]) if state.get("warm_start") else None
        if procs.main:
            print(f"train: resuming {exp.name} after epoch {state['epoch']} of {t.epochs} (from {resume_path})")
    resumed_from = len(history)
    for epoch in range(resumed_from + 1, t.epochs + 1):
        t0 = time.perf_counter()
        row = {"epoch": epoch}
        row.update(train_one_epoch(stepped, task, optimizer, scheduler, train_loader, device, epoch, augment, procs, bf16))
        row.update(evaluate(trainable, task, val_loader, device, procs, bf16))
        row.update(lr=optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - t0)
        history.append(row)
        if task.score(row) > tuple(best["score"]):
            weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            best = {"epoch": epoch, "score": task.score(row), "model": weights}
        if not procs.main:
            continue
        with atomic_path(resume_path) as tmp:
            torch.save({
                "complete": False, "epoch": epoch, "config": exp.to_flat_dict(), "data": fingerprint, "run_id": run_id,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "lr_scheduler": scheduler.state_dict(),
                "rng": _rng_state(generator), "history": history, "best": best,
                "warm_start": warm.to_dict() if warm else None,
            }, tmp)  # fmt: skip
        # Printed once the state is on disk: a run killed after this line resumes after this epoch.
        print(f"epoch {epoch}/{t.epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch"))
        if on_epoch is not None:
            on_epoch(row)

    seen = distributed.gather(train_loader.sampler.seen, procs)  # type: ignore[attr-defined]
    samples = [len(s) for s in seen]
    shared = sum(samples) - len(set().union(*seen))
    seconds = sum(row["seconds"] for row in history) + feature_seconds
    result = FitResult(
        history, best["epoch"], str(device), precision, seconds, resumed_from, feature_seconds, warm, samples, shared
    )
    if not procs.main:
        return result
    best_row = history[best["epoch"] - 1]
    Checkpoint(
        model_name=t.model,
        class_names=store.class_names,
        input_shape=list(store.images.shape[1:]),
        # What a new image must go through to look like the training data (handsign.recognition).
        preprocessing=preprocessing.of_store(store, exp.kind, t.hand_crop, exp.hand_box_settings),
        weights=best["model"],
        config=exp.to_flat_dict(),
        epoch=best["epoch"],
        val_loss=best_row["val_loss"],
        task=task.name,
    ).save(checkpoint_path)
    # Done: a rerun of the same config (`dvc repro -f`) trains afresh rather than "resuming".
    with atomic_path(resume_path) as tmp:
        torch.save({"complete": True, "epoch": t.epochs, "run_id": run_id}, tmp)
    return result
