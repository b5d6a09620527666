"""Where code runs and how it is made repeatable: device choice and seeding."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def pick_device(requested: str = "auto") -> torch.device:
    """`auto` takes CUDA, then Apple MPS, then the CPU; a forced device that is absent is an error."""
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if requested == "auto":
        return torch.device(next(name for name in ("cuda", "mps", "cpu") if available[name]))
    if not available.get(requested, False):
        raise RuntimeError(f"device {requested!r} was asked for but is not available here; use device: auto")
    return torch.device(requested)


def fast_bf16(device: torch.device) -> bool:
    """Whether `device` has bfloat16 matrix units: a CUDA GPU that supports it, or a CPU with AMX or
    AVX-512 BF16 whose AVX-512 kernels PyTorch uses. Elsewhere bf16 is emulated and slower than float32
    (about 10x on an AVX2 CPU). `ATEN_CPU_CAPABILITY=avx2` (PyTorch's switch to its AVX2 kernels) thus
    gives float32 here too: how an AMX machine approximates the AVX2 CPUs most users have."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        avx512_kernels = torch.backends.cpu.get_cpu_capability().startswith("AVX512")
        return avx512_kernels and (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    return False


def resolve_precision(requested: str, device: torch.device) -> str:
    """`auto` becomes `bf16` where the device computes it fast, `fp32` elsewhere; `fp32` and `bf16` stay as asked."""
    if requested == "auto":
        return "bf16" if fast_bf16(device) else "fp32"
    return requested


def use_threads(threads: int) -> None:
    """`threads` torch CPU threads (0: PyTorch's default, one per core). Results on a CPU depend on
    the count, so it is a training key, recorded with the run, not the machine's core count."""
    if threads > 0:
        torch.set_num_threads(threads)


def seed_everything(seed: int) -> torch.Generator:
    """One switch for repeatable runs, as torchvision's references do it; returns a seeded generator."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # use_deterministic_algorithms(True, warn_only=True) without its import of torch._inductor
    # (2.6 s per process; we never compile).
    torch.set_deterministic_debug_mode("warn")
    torch.backends.cudnn.benchmark = False
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def to_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 images to float on `device` (copied as uint8: a quarter of the bytes); channels_last is
    15-20% faster for convolutions on CPU and GPU. Feature vectors (2-D) pass through as float."""
    x = images.to(device, non_blocking=True).float()
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x
