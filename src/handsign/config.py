"""The one typed loader for `params.yaml`: nothing else in handsign parses that file."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DATASETS = ("sign_mnist", "leapgestrecog", "fingers")
SOURCES = ("synthetic", "local", "kaggle")
SPLIT_STRATEGIES = ("auto", "random", "subject")
OPTIMIZERS = ("sgd", "adam")
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A params file that cannot drive the pipeline; the message names the key."""


@dataclass(frozen=True)
class SyntheticParams:
    seed: int = 0
    per_class_train: int = 60
    per_class_test: int = 20
    subjects: int = 4
    frames_per_gesture: int = 20


@dataclass(frozen=True)
class SplitParams:
    strategy: str = "auto"
    val_fraction: float = 0.1
    test_fraction: float = 0.1


@dataclass(frozen=True)
class Params:
    dataset: str = "sign_mnist"
    source: str = "synthetic"
    local_path: str = ""
    synthetic: SyntheticParams = field(default_factory=SyntheticParams)
    image_size: int = 28
    seed: int = 42
    split: SplitParams = field(default_factory=SplitParams)
    model: str = "cnn_small"
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    epochs: int = 3
    batch_size: int = 64
    augment: bool = True
    device: str = "auto"

    def to_flat_dict(self) -> dict[str, Any]:
        """`synthetic.per_class_train`-style keys, as MLflow params and checkpoints store them."""
        return _flatten(dataclasses.asdict(self))

    def resolve_path(self, path: str, root: Path) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (root / p).resolve()


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _coerce(value: Any, typ: Any, key: str) -> Any:
    if dataclasses.is_dataclass(typ):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return _build(typ, value, f"{key}.")
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
    if typ is float:
        # YAML 1.1 reads `1e-4` (no dot) as a string, and `dvc exp run -S lr=1e-4` writes it so.
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {typ} for {key}")


def _build(cls: type, raw: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(prefix + k for k in unknown)}; known: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in raw.items()}
    return cls(**kwargs)


def _check(p: Params) -> None:
    def one_of(key: str, value: str, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(allowed)}")

    one_of("dataset", p.dataset, DATASETS)
    one_of("source", p.source, SOURCES)
    one_of("split.strategy", p.split.strategy, SPLIT_STRATEGIES)
    one_of("optimizer", p.optimizer, OPTIMIZERS)
    one_of("device", p.device, DEVICES)
    positive = {
        "image_size": p.image_size,
        "epochs": p.epochs,
        "batch_size": p.batch_size,
        "synthetic.per_class_train": p.synthetic.per_class_train,
        "synthetic.per_class_test": p.synthetic.per_class_test,
        "synthetic.subjects": p.synthetic.subjects,
        "synthetic.frames_per_gesture": p.synthetic.frames_per_gesture,
    }
    if p.synthetic.seed < 0:
        raise ConfigError(f"synthetic.seed: must be 0 or more, got {p.synthetic.seed}")
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{key}: must be at least 1, got {value}")
    if not p.lr > 0:
        raise ConfigError(f"lr: must be positive, got {p.lr}")
    for key, value in (("split.val_fraction", p.split.val_fraction), ("split.test_fraction", p.split.test_fraction)):
        if not 0 < value < 0.5:
            raise ConfigError(f"{key}: must be between 0 and 0.5, got {value}")
    if p.source == "local" and not p.local_path:
        raise ConfigError("local_path: must name an archive or folder when source is local")


def params_from_dict(raw: dict[str, Any]) -> Params:
    params = _build(Params, raw)
    _check(params)
    return params


def load_params(path: str | Path = "params.yaml", overrides: dict[str, Any] | None = None) -> Params:
    """Read, type-check and validate a params file; `overrides` uses dotted keys (`split.strategy`)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found")
    with path.open() as f:
        raw = yaml.safe_load(f) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        return params_from_dict(raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
