"""Start a model from an earlier run of ours: a checkpoint file or an MLflow model URI.

Tensors are matched by name and shape; the rest keep their fresh initialisation. The report
lists what was loaded and what was not (and why), so a head resized for other classes, or an
architecture that shares nothing with the source, is visible in the run's log and in MLflow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from handsign.models import MLFLOW_SCHEMES


@dataclass
class WarmStart:
    source: str
    loaded: list[str] = field(default_factory=list)
    not_loaded: dict[str, str] = field(default_factory=dict)  # this model's tensor -> why it kept its init
    unused: list[str] = field(default_factory=list)  # the source's tensors this model has no place for

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        names = sorted(self.not_loaded)
        which = f" ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})" if names else ""
        return (f"init from {self.source}: {len(self.loaded)} tensors loaded, {len(names)} not loaded{which}, "
                f"{len(self.unused)} unused in the source")  # fmt: skip


def source_state_dict(init: str, tracking_root: Path | None = None) -> dict[str, torch.Tensor]:
    """The weights `init` names: `runs:/<id>/model`, `models:/<name>@<alias>` or a checkpoint file."""
    if init.startswith(MLFLOW_SCHEMES):
        from handsign.tracking import logged_checkpoint

        path = logged_checkpoint(init, tracking_root or Path.cwd())
    else:
        path = Path(init)
    if not path.exists():
        raise FileNotFoundError(f"init: {path} does not exist (expected a checkpoint such as models/<experiment>/model.pt)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"init: {path} is not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from None
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"init: {path} holds no state dict (a train-stage checkpoint or a saved state_dict)")
    return state


def warm_start(model: nn.Module, init: str, tracking_root: Path | None = None) -> WarmStart:
    """Copy every tensor of `init` whose name and shape match one of `model`'s into it."""
    source = source_state_dict(init, tracking_root)
    report = WarmStart(init)
    own = model.state_dict()
    for name, tensor in own.items():
        if name not in source:
            report.not_loaded[name] = "absent from the source"
        elif source[name].shape != tensor.shape:
            report.not_loaded[name] = f"shape {tuple(source[name].shape)} in the source, {tuple(tensor.shape)} here"
        else:
            report.loaded.append(name)
    report.unused = sorted(set(source) - set(own))
    if not report.loaded:
        raise ValueError(f"init: nothing in {init} matches this model by name and shape; is it the same architecture?")
    model.load_state_dict({k: source[k] for k in report.loaded}, strict=False)
    return report
