"""Training on more than one process (GPUs, machines) with PyTorch DDP, launched by `torchrun`.

`torchrun` starts one process per device and sets RANK, WORLD_SIZE and LOCAL_RANK; without it
there is one process and nothing here does anything. `batch_size` stays the *global* batch: every
process draws the same shuffled batches (same seed) and takes its own equal share of each, so W
processes step through the batches one process would, DDP's averaged gradient is that batch's,
and a params file means the same training whatever the number of processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler


@dataclass(frozen=True)
class Processes:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launched: bool = False  # started by torchrun, even as one process (a process group of one)

    @property
    def main(self) -> bool:
        """The one process that writes checkpoints, reports and MLflow runs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1 or self.launched


ONE = Processes()  # a plain run: one process


def launched() -> Processes:
    """This process's place among those `torchrun` started (one process when not launched by it)."""
    env = os.environ
    ranks = int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))
    return Processes(*ranks, launched="TORCHELASTIC_RUN_ID" in env)


def start(device: torch.device) -> tuple[Processes, torch.device]:
    """Join the process group (NCCL on CUDA, gloo on the CPU) and take this process's GPU."""
    procs = launched()
    if not procs.distributed:
        return procs, device
    if device.type == "cuda":
        torch.cuda.set_device(procs.local_rank)
        device = torch.device("cuda", procs.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if procs.main:
            print(f"train: DDP over {procs.world_size} process(es), backend {dist.get_backend()}, on {device.type}")
    return procs, device


def wrap(module: nn.Module, procs: Processes, device: torch.device) -> nn.Module:
    """DDP around the part that trains. On CUDA its BatchNorm layers synchronise their batch
    statistics across processes (as one process would see the batch); SyncBatchNorm needs a GPU,
    so on the CPU each process normalises with its own share's statistics."""
    if not procs.distributed:
        return module
    if device.type == "cuda":
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def all_sum(values: dict[str, float], procs: Processes) -> dict[str, float]:
    """Each key summed over the processes (metric sums and sample counts of each process's share)."""
    if not procs.distributed or not values:
        return values
    keys = list(values)  # the same order on every process: each adds its sums in one order
    # gloo reduces CPU tensors, NCCL GPU ones.
    device = torch.device("cuda", procs.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(keys, t.tolist(), strict=True))


def gather(obj: object, procs: Processes) -> list[object]:
    """`obj` from every process, in rank order."""
    if not procs.distributed:
        return [obj]
    out: list[object] = [None] * procs.world_size
    dist.all_gather_object(out, obj)
    return out


def stop() -> None:
    """Leave the process group, once training is over (a no-op for one process)."""
    if dist.is_initialized():
        dist.destroy_process_group()


class ShardedBatches(Sampler[list[int]]):
    """This process's share of every batch `batches` yields: items rank, rank+W, rank+2W, ...

    `equal` (training) trims a batch to a multiple of W, so every process holds the same number
    of samples (at most W-1 of an epoch's last batch sit out, a different few each epoch), and
    skips a last batch whose share is below `min_share` (BatchNorm cannot train on one sample).
    Every process therefore runs the same number of steps, which DDP needs.
    """

    def __init__(self, batches: Sampler[list[int]], procs: Processes, equal: bool = False, min_share: int = 1) -> None:
        self.batches, self.procs, self.equal, self.min_share = batches, procs, equal, min_share
        self.seen: set[int] = set()  # the indices this process took in the latest pass (what proves sharding)

    def _share(self, batch: list[int]) -> list[int]:
        w = self.procs.world_size
        if self.equal:
            batch = batch[: len(batch) - len(batch) % w]
        return batch[self.procs.rank :: w]

    def _keep(self, i: int, share: list[int]) -> bool:
        # Only a last batch can be short; a first one that is short is the only one, and kept.
        return len(share) >= self.min_share or (i == 0 and len(share) > 0)

    def __iter__(self) -> Iterator[list[int]]:
        self.seen = set()
        for i, batch in enumerate(self.batches):
            share = self._share(batch)
            if self._keep(i, share):
                self.seen.update(share)
                yield share

    def __len__(self) -> int:
        n, size = len(self.batches.sampler), self.batches.batch_size  # type: ignore[attr-defined]
        sizes = [min(size, n - start) for start in range(0, n, size)]
        return sum(self._keep(i, self._share(list(range(k)))) for i, k in enumerate(sizes))
