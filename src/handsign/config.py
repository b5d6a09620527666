"""The one typed loader for `params.yaml` (and the per-experiment configs resolved from it).

`params.yaml` declares datasets once, the prepared copies the experiments share, the shared
training defaults (top-level keys, so `dvc exp run -S lr=1e-4` works as typed), the
experiments, each of which may override any training default, and the cross-validations
(`crossval:`, declared as experiments are, always on the leave-one-subject-out folds).
`Params.experiment(name)` and `Params.crossval_experiment(name)` resolve one into an
`Experiment`: everything its stages read.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from handsign.core import layout
from handsign.core.schema import ConfigError, LandmarkParams, SyntheticParams
from handsign.models import Kind, kind_of

SOURCES = ("synthetic", "local", "kaggle")
SPLIT_STRATEGIES = ("official", "random", "subject", "loso")
TAKES = ("all", "first_half", "second_half")  # which of each class's images an external set takes
LOSO = "loso"  # leave one subject out: one fold per subject, for cross-validation only
OPTIMIZERS = ("sgd", "adam")
DEVICES = ("auto", "cpu", "cuda", "mps")
READINGS = ("first", "every")  # landmarks.<dataset>.readings: which detector readings a landmark model trains on
CHOOSE_BY = ("mean", "worst")  # registry.choose_by: a cross-validation's held-out score that picks its champion
PRECISIONS = ("auto", "fp32", "bf16")  # auto: bf16 where the device computes it fast (handsign.core.runtime)


@dataclass(frozen=True)
class ExternalSetParams:
    """`external.<name>`: labelled images from elsewhere (other people, other cameras) on which every
    classifier of `dataset` is scored beside its own test split (handsign.data.external). `source: local`
    reads a folder or zip laid out `<class>/<image>` at `path` (any size, any format Pillow reads),
    pinned by the zip's `sha256` where given; `source: synthetic` renders `per_class` images of the
    dataset's classes as another camera would see them (handsign.synth.othercamera). `classes` maps
    folder names to the dataset's class names where they differ (`{a: A}`); folder names that match
    a class name, ignoring case, need no entry."""

    dataset: str
    source: str = "local"  # local | synthetic
    path: str = ""
    sha256: str = ""
    classes: dict[str, str] = field(default_factory=dict)
    per_class: int = 10
    # Which of each class's images: all, or the first or second half in the order of the numbers in
    # their file names (a video's frames: consecutive frames are near-copies, so never at random).
    take: str = "all"


@dataclass(frozen=True)
class EnsembleParams:
    """`ensembles.<name>`: a pixel classifier and a landmark classifier (both under `experiments:`)
    of one dataset, scored together on their shared test split and on every
    external set of the dataset, their probabilities multiplied (handsign.recognition.ensemble). Both
    must be declared on the `dataset`, `image_size` and `split` named here, the copy and split file
    whose test rows they share. Nothing is trained: the stage reads the two checkpoints."""

    dataset: str
    image_size: int
    split: str
    pixel: str
    landmarks: str
    # Each member's probabilities are raised to its weight before the product (1 unless given; 0:
    # it takes no part, and the ensemble answers as the other alone).
    weights: dict[str, float] = field(default_factory=dict)
    # External sets of people neither member trained on. Where any is present, the member weights are
    # chosen on them from `search` (values per member; the combination with the best held-out score,
    # registry.choose_by), and the ensemble is registered only where it beats its better member alone
    # there. Absent (or none present: the synthetic demo's), `weights` stand and the validation split
    # moves its champion, as the stage and the model card say.
    held_out: tuple[str, ...] = ()
    search: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def weight(self, role: str) -> float:
        return self.weights.get(role, 1.0)


# The sections below that params.yaml declares (synthetic, split, the training defaults) have no
# defaults in code: params.yaml is their one source, and the loader names a key it lacks.


@dataclass(frozen=True)
class DatasetParams:
    """Where one dataset's raw download comes from."""

    source: str = "synthetic"
    local_path: str = ""


@dataclass(frozen=True)
class CombinedSplit:
    """`data.<copy>.combined.<name>`: more than one source for the experiments that name it as their
    split: the `split` strategy's file as it is, plus every image of the external sets in `add`
    (their own split rule: `external.<set>.take`), all of them for training. Its file lists every
    sample with its source; an absent set adds nothing, and the split stage says so.

    With `hold_out: true` the added sets are the sources a cross-validation holds out in turn
    (leave one source out: a person's camera the model never saw): the file has a `fold_<set>`
    column per present set, in which that set's images are the test and the other sets' train; the
    `split` strategy's rows keep their train and validation roles in every fold, its test rows none.
    `hold_out: [<set>, ...]` holds out those sets alone: the others (renders, a user's own photos)
    train in every fold and are never a test."""

    split: str
    add: tuple[str, ...]
    hold_out: bool | tuple[str, ...] = False

    @property
    def held_out(self) -> tuple[str, ...]:
        """The added sets a cross-validation holds out in turn (none without `hold_out`)."""
        if isinstance(self.hold_out, bool):
            return self.add if self.hold_out else ()
        return tuple(self.hold_out)


@dataclass(frozen=True)
class DataCopyParams:
    """One prepared copy (a dataset at an image size) and the splits made of it. `resize` says how a
    non-square frame becomes square: stretch (what the published pipelines did), letterbox (pad
    with black) or center_crop."""

    dataset: str = "sign_mnist"
    image_size: int = 28
    resize: str = "stretch"
    splits: tuple[str, ...] = ("official",)
    # On the synthetic source only (the CPU demo): `image_size` to prepare at instead (absent keeps
    # image_size). The copy keeps its name, so experiments and real data (always image_size) are unchanged.
    on_synthetic: dict[str, int] = field(default_factory=dict)
    combined: dict[str, CombinedSplit] = field(default_factory=dict)


@dataclass(frozen=True)
class RegistryParams:
    """`registry:`: what moves a registered model's `champion` alias. A cross-validation's model
    (trained on everything once its folds are scored) is chosen by its held-out score: the `mean`
    or the `worst` over the subjects or sources it held out."""

    choose_by: str = "mean"


@dataclass(frozen=True)
class SplitParams:
    """Shared by every split: the seed picks the validation carve-out and the held-out subjects."""

    seed: int
    val_fraction: float
    test_fraction: float


@dataclass(frozen=True)
class TrainingDefaults:
    """The training keys params.yaml sets at the top level, shared by every experiment."""

    seed: int
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    epochs: int
    batch_size: int
    augment: bool
    device: str
    precision: str
    threads: int


@dataclass(frozen=True)
class Training(TrainingDefaults):
    """How one experiment trains: the defaults, its overrides, the model it names, where that
    model's starting weights come from (`init`: random | imagenet | a checkpoint file | an MLflow
    model URI), whether only its head trains (`freeze_backbone`) and, for an autoencoder, a class
    whose images it never sees in training (`holdout_class`), to test it as an anomaly detector."""

    model: str = "cnn_small"
    init: str = "random"
    freeze_backbone: bool = False
    holdout_class: str = ""
    # The share of training samples shown mirrored left to right (with augment): a hand signed with
    # the other hand, or through a selfie camera, is the mirror image of the dataset's.
    mirror: float = 0.0
    # A combined split's added people (add: in data:) are a few hundred photos beside a dataset's
    # tens of thousands: each of their training images is shown this many times an epoch.
    added_repeat: int = 1
    # Pixel models: an image from elsewhere (predict, serve, score, live, external and added sets) is
    # first cut to the square around the hand the detector finds in it (landmarks.<dataset>'s
    # settings), hand_crop times the landmarks' box; 0: shown whole. The dataset's own images are
    # hand crops already (handsign.hands.handcrop).
    hand_crop: float = 0.0


TRAINING_KEYS = tuple(f.name for f in dataclasses.fields(Training))
# The training keys a cross-validation may search (`search:`): how it learns, not what model it is,
# where it runs, or its seed (a search over seeds picks luck).
SEARCHABLE = ("optimizer", "lr", "momentum", "weight_decay", "epochs", "batch_size", "augment", "mirror", "added_repeat")
DEFAULT_KEYS = tuple(f.name for f in dataclasses.fields(TrainingDefaults))
# The top-level params an experiment is resolved from (Params.experiment): the configure stage's
# params in dvc.yaml (tests/test_dvc_yaml.py checks the two agree).
EXPERIMENT_KEYS = ("datasets", "recipes", "experiments", "crossval", "on_synthetic", "landmarks", *DEFAULT_KEYS)
# Where params.yaml declares experiments, and the stage that ends each (what `dvc repro` targets).
SECTIONS = {"experiments": "evaluate", "crossval": "crossval"}


@dataclass(frozen=True)
class Experiment:
    """One resolved experiment: what its train and evaluate stages read, and nothing else."""

    name: str
    dataset: str
    source: str
    image_size: int
    split: str
    training: Training
    # With training.hand_crop: how the detector is shown an image to find the hand to crop to
    # (landmarks.<dataset>, as written out); empty otherwise.
    hand_box: dict[str, Any] = field(default_factory=dict)
    # A cross-validation's settings to choose among (`search:`): each training key's values, every
    # combination cross-validated in turn and the best held-out score (registry.choose_by) kept.
    search: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def candidates(self) -> list[tuple[dict[str, Any], Experiment]]:
        """Each combination of the `search` values (in the order declared; the first of equal
        scores wins) and the experiment trained with it; without a search, the experiment alone."""
        keys = list(self.search)
        combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*self.search.values())]
        return [(c, dataclasses.replace(self, training=dataclasses.replace(self.training, **c), search={})) for c in combos]

    @property
    def data_copy(self) -> str:
        return data_copy_name(self.dataset, self.image_size)

    @property
    def kind(self) -> Kind:
        """What kind of model it trains (handsign.models.Kind): the one answer every stage asks."""
        return kind_of(self.training.model)

    @property
    def reads(self) -> Path:
        """What it learns from besides its split file (params.yaml's `reads:`, the path dvc.yaml's
        train, evaluate and crossval depend on): its dataset's hands for a landmark model, else its
        prepared copy."""
        return layout.landmarks(self.dataset) if self.kind is Kind.LANDMARKS else layout.prepared(self.data_copy)

    @property
    def data_paths(self) -> tuple[Path, Path]:
        """(prepared folder, split file) that the experiment trains and is evaluated on."""
        return layout.prepared(self.data_copy), layout.split_file(self.data_copy, self.split)

    @property
    def hand_box_settings(self) -> LandmarkParams | None:
        """`hand_box` as the detector's settings; None without hand_crop."""
        return landmark_params_from_dict(self.hand_box, "hand_box") if self.hand_box else None

    def to_flat_dict(self) -> dict[str, Any]:
        """`training.lr`-style keys, as MLflow params and checkpoints store them."""
        return _flatten(dataclasses.asdict(self))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Params(TrainingDefaults):
    synthetic: SyntheticParams
    split: SplitParams
    train_launcher: str  # how dvc.yaml starts training: `python`, or `torchrun --nproc_per_node=4` for DDP
    datasets: dict[str, DatasetParams] = field(default_factory=dict)
    data: dict[str, DataCopyParams] = field(default_factory=dict)
    # How each dataset's greyscale images are shown to the hand landmark detector (handsign.hands.landmarks).
    landmarks: dict[str, LandmarkParams] = field(default_factory=dict)
    # Labelled images from elsewhere: every classifier of the set's dataset is scored on each.
    external: dict[str, ExternalSetParams] = field(default_factory=dict)
    # A recipe is a set of training keys (and on_synthetic) written once; an experiment names it
    # (`recipe: <name>`) and sets only what differs.
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)
    crossval: dict[str, dict[str, Any]] = field(default_factory=dict)
    # A pixel and a landmark classifier combined (evaluate_ensemble@<name>): no training of its own.
    ensembles: dict[str, EnsembleParams] = field(default_factory=dict)
    registry: RegistryParams = field(default_factory=RegistryParams)
    # Training keys every experiment takes on the synthetic source, under its recipe's and its own
    # on_synthetic (the demo's one torch thread per stage, two stages at a time).
    on_synthetic: dict[str, Any] = field(default_factory=dict)

    def training(self, **overrides: Any) -> Training:
        """The shared training defaults with `overrides` (model, lr, ...): for tools and tests."""
        return Training(**{**{k: getattr(self, k) for k in DEFAULT_KEYS}, **overrides})

    def landmark_settings(self, dataset: str) -> LandmarkParams:
        """How `dataset`'s images are shown to the hand landmarker: `landmarks.<dataset>`."""
        if dataset not in self.landmarks:
            raise ConfigError(f"no landmarks.{dataset} entry in the params file: how to show its images to the hand landmarker")
        settings = self.landmarks[dataset]
        if settings.on_synthetic and self.datasets[dataset].source == "synthetic":  # the demo, shrunk
            settings = dataclasses.replace(settings, **settings.on_synthetic)
        return dataclasses.replace(settings, on_synthetic={})  # what the stages apply

    def prepared_size(self, copy: str) -> int:
        """The image size `prepare` writes for `copy`: its `on_synthetic.image_size` when its dataset's
        source is synthetic (a demo shrunk for a CPU), else its `image_size`."""
        spec = self.data[copy]
        if self.datasets[spec.dataset].source == "synthetic":
            return spec.on_synthetic.get("image_size", spec.image_size)
        return spec.image_size

    def every_experiment(self) -> list[tuple[str, Experiment]]:
        """Every experiment and cross-validation resolved, each with where params.yaml declares it
        (`experiments.<name>` or `crossval.<name>`)."""
        return [(f"experiments.{n}", self.experiment(n)) for n in self.experiments] + [
            (f"crossval.{n}", self.crossval_experiment(n)) for n in self.crossval
        ]

    def section(self, name: str) -> str:
        """Which section of params.yaml declares the experiment or cross-validation `name`."""
        for section in SECTIONS:
            if name in getattr(self, section):
                return section
        raise ConfigError(f"no experiment or cross-validation {name!r}")

    def stage(self, name: str) -> str:
        """The DVC stage that ends the experiment `name`: evaluate@<name>, crossval@<name>, ..."""
        return f"{SECTIONS[self.section(name)]}@{name}"

    def experiment(self, name: str) -> Experiment:
        """The experiment `name` with every shared default it does not override filled in."""
        if name not in self.experiments:
            raise ConfigError(f"no experiment {name!r}; known: {', '.join(self.experiments) or 'none'}")
        where = f"experiments.{name}"
        exp = self._resolve(name, dict(self.experiments[name]), where)
        if exp.split == LOSO:
            raise ConfigError(f"{where}.split: {LOSO} folds are for cross-validation; declare it under crossval:")
        return exp

    def crossval_experiment(self, name: str) -> Experiment:
        """The cross-validation `name`: an experiment trained once per fold of its split: `loso`
        (leave one subject out), or a combined split with `hold_out` (leave one source out)."""
        if name not in self.crossval:
            raise ConfigError(f"no cross-validation {name!r}; known: {', '.join(self.crossval) or 'none'}")
        where = f"crossval.{name}"
        raw = dict(self.crossval[name])
        search, set_by_entry = raw.pop("search", {}), set(raw)
        demo = dict(_coerce(raw.get("on_synthetic", {}), dict[str, Any], f"{where}.on_synthetic"))
        if "on_synthetic" in raw:
            raw["on_synthetic"] = {k: v for k, v in demo.items() if k != "search"}
        dataset = self.datasets.get(str(raw.get("dataset")))
        if dataset is not None and dataset.source == "synthetic":  # the demo: its own, smaller search
            search, set_by_entry = demo.get("search", search), set_by_entry | set(demo)
        exp = self._resolve(name, raw, where)
        if search:
            exp = _with_search(exp, search, set_by_entry, f"{where}.search")
        copy = self.data[exp.data_copy]
        if exp.split != LOSO and not (exp.split in copy.combined and copy.combined[exp.split].held_out):
            raise ConfigError(f"{where}.split: {LOSO} (leave one subject out) or a combined split of data.{exp.data_copy} "
                              f"with hold_out: true (leave one source out), not {exp.split!r}")  # fmt: skip
        return exp

    def _with_recipe(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        """An experiment's keys over those of the recipe it names; on_synthetic merges key by key."""
        if "recipe" not in raw:
            return raw
        name = _coerce(raw.pop("recipe"), str, f"{where}.recipe")
        if name not in self.recipes:
            raise ConfigError(f"{where}.recipe: no recipe {name!r} under recipes:; known: {', '.join(self.recipes) or 'none'}")
        recipe = dict(self.recipes[name])
        bad = sorted(set(recipe) - {"on_synthetic", *TRAINING_KEYS})
        if bad:
            raise ConfigError(
                f"recipes.{name}: training keys and on_synthetic only, not {', '.join(bad)} (experiments name data)"
            )
        demo = {
            **_coerce(recipe.get("on_synthetic", {}), dict[str, Any], f"recipes.{name}.on_synthetic"),
            **_coerce(raw.get("on_synthetic", {}), dict[str, Any], f"{where}.on_synthetic"),
        }
        merged = {**recipe, **raw}
        if demo:
            merged["on_synthetic"] = demo
        return merged

    def _resolve(self, name: str, raw: dict[str, Any], where: str) -> Experiment:
        raw = self._with_recipe(raw, where)
        missing = [k for k in ("dataset", "image_size", "split", "reads", "model") if k not in raw]
        if missing:
            raise ConfigError(f"{where}: must name {', '.join(missing)}")
        known = {"dataset", "image_size", "split", "reads", "on_synthetic", *TRAINING_KEYS}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        dataset = _coerce(raw["dataset"], str, f"{where}.dataset")
        if dataset not in self.datasets:
            raise ConfigError(f"{where}.dataset: {dataset!r} is not declared under datasets:")
        overrides = {k: v for k, v in raw.items() if k in TRAINING_KEYS}
        # The published settings stay as written; on the offline synthetic data (a CPU-sized demo)
        # `on_synthetic` may shrink them, e.g. fewer epochs. Real data always gets them unchanged.
        demo = _coerce(raw.get("on_synthetic", {}), dict[str, Any], f"{where}.on_synthetic")
        for key, keys in ((f"{where}.on_synthetic", demo), ("on_synthetic", self.on_synthetic)):
            bad = sorted(set(keys) - set(TRAINING_KEYS))
            if bad:
                raise ConfigError(f"{key}: only training keys may be shrunk, not {', '.join(bad)}")
        demo = {**self.on_synthetic, **demo}
        if self.datasets[dataset].source == "synthetic":
            overrides.update(demo)
        defaults = {k: getattr(self, k) for k in DEFAULT_KEYS}
        training = _build(Training, {**defaults, **overrides}, f"{where}.")
        image_size = _coerce(raw["image_size"], int, f"{where}.image_size")
        split = _coerce(raw["split"], str, f"{where}.split")
        copy = data_copy_name(dataset, image_size)
        if copy not in self.data:
            raise ConfigError(f"{where}: no prepared copy {copy!r} under data: (dataset {dataset}, image_size {image_size})")
        known = (*self.data[copy].splits, *self.data[copy].combined)
        if split not in known:
            raise ConfigError(f"{where}: split {split!r} is not among data.{copy}.splits or .combined ({', '.join(known)})")
        try:
            kind = kind_of(training.model)
        except ValueError as e:
            raise ConfigError(f"{where}.model: {e}") from None
        hand_box = {}
        if training.hand_crop > 0:
            if kind is Kind.LANDMARKS:
                raise ConfigError(f"{where}.hand_crop: for pixel models (a landmark model reads the hand's points already)")
            hand_box = dataclasses.asdict(self.landmark_settings(dataset))
        exp = Experiment(name, dataset, self.datasets[dataset].source, image_size, split, training, hand_box)
        if raw["reads"] != exp.reads.as_posix():
            what = "a landmark model reads its dataset's hands" if kind is Kind.LANDMARKS else "it reads its prepared copy"
            raise ConfigError(f"{where}.reads: {exp.reads.as_posix()} ({training.model}: {what}), not {raw['reads']!r}")
        _check_training(exp.training, f"{where}.")
        return exp


def _with_search(exp: Experiment, search: Any, set_by_entry: set[str], where: str) -> Experiment:
    """`exp` with its `search:` checked: searchable training keys, each a list of values of the key's
    type, none also set by the entry itself (which would be silently overridden), and every
    combination a valid training."""
    search = _coerce(search, dict[str, tuple[Any, ...]], where)
    bad = sorted(set(search) - set(SEARCHABLE))
    if bad:
        raise ConfigError(f"{where}: {', '.join(bad)} cannot be searched; training keys among {', '.join(SEARCHABLE)}")
    both = sorted(k for k in search if k in set_by_entry)
    if both:
        raise ConfigError(f"{where}: {', '.join(both)} also set by the entry; a searched key takes the listed values only")
    hints = typing.get_type_hints(Training)
    search = {k: tuple(_coerce(v, hints[k], f"{where}.{k}[{i}]") for i, v in enumerate(values)) for k, values in search.items()}
    exp = dataclasses.replace(exp, search=search)
    for settings, candidate in exp.candidates():
        _check_training(candidate.training, f"{where} {settings}: ")
    return exp


def data_copy_name(dataset: str, image_size: int) -> str:
    """The key of a prepared copy in `data:`, and its folder under data/prepared and data/split."""
    return f"{dataset}_{image_size}"


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _coerce(value: Any, typ: Any, key: str) -> Any:
    origin = typing.get_origin(typ)
    if dataclasses.is_dataclass(typ):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return _build(typ, value, f"{key}.")
    if origin is dict:
        _, item_type = typing.get_args(typ)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return {str(k): _coerce(v, item_type, f"{key}.{k}") for k, v in value.items()}
    if origin is tuple:
        item_type = typing.get_args(typ)[0]
        if not isinstance(value, list | tuple) or not value:
            raise ConfigError(f"{key}: expected a non-empty list, got {value!r}")
        return tuple(_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType) or typ is Any:
        return value
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
    fields = dataclasses.fields(cls)
    names = {f.name for f in fields}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(prefix + k for k in unknown)}; known: {', '.join(sorted(names))}")
    required = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [k for k in required if k not in raw]
    if missing:
        raise ConfigError(f"missing key(s) {', '.join(prefix + k for k in missing)}")
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in raw.items()}
    return cls(**kwargs)


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(allowed)}")


def _check_training(t: Training, where: str) -> None:
    # Model names are checked against the model registry by the configure stage: importing the
    # models (and torch) here would make every stage depend on them.
    _one_of(f"{where}optimizer", t.optimizer, OPTIMIZERS)
    if not 0 <= t.mirror <= 1:
        raise ConfigError(f"{where}mirror: a share of training samples, 0..1, got {t.mirror}")
    if t.hand_crop < 0:
        raise ConfigError(f"{where}hand_crop: 0 (images shown whole) or the crop's side in hand boxes, got {t.hand_crop}")
    _one_of(f"{where}device", t.device, DEVICES)
    _one_of(f"{where}precision", t.precision, PRECISIONS)
    for key in ("epochs", "batch_size", "added_repeat"):
        if getattr(t, key) < 1:
            raise ConfigError(f"{where}{key}: must be at least 1, got {getattr(t, key)}")
    if t.threads < 0:
        raise ConfigError(f"{where}threads: 0 (one per core) or a count, got {t.threads}")
    if not t.lr > 0:
        raise ConfigError(f"{where}lr: must be positive, got {t.lr}")
    if t.freeze_backbone and t.augment:
        # A frozen backbone's features are computed once and reused: an image that changes every
        # epoch would need a forward pass every epoch.
        raise ConfigError(f"{where}freeze_backbone: set augment: false too (features of a frozen backbone are cached)")


def check_synthetic(s: SyntheticParams) -> None:
    """The renderer's counts: a seed of 0 or more, at least one of everything."""
    if s.seed < 0:
        raise ConfigError(f"synthetic.seed: must be 0 or more, got {s.seed}")
    for key in ("per_class_train", "per_class_test", "subjects", "frames_per_gesture"):
        if getattr(s, key) < 1:
            raise ConfigError(f"synthetic.{key}: must be at least 1, got {getattr(s, key)}")


def _check(p: Params) -> None:
    from handsign.datasets import DATASETS, RESIZE_MODES  # the registry (it imports nothing of this module)

    for name, d in p.datasets.items():
        _one_of("datasets", name, tuple(DATASETS))
        _one_of(f"datasets.{name}.source", d.source, SOURCES)
        if d.source == "local" and not d.local_path:
            raise ConfigError(f"datasets.{name}.local_path: must name an archive or folder when source is local")
        if DATASETS[name].local_only and d.source != "local":
            raise ConfigError(f"datasets.{name}: is a folder of your own images; set source: local and local_path")
    check_synthetic(p.synthetic)
    _one_of("registry.choose_by", p.registry.choose_by, CHOOSE_BY)
    for key, value in (("split.val_fraction", p.split.val_fraction), ("split.test_fraction", p.split.test_fraction)):
        if not 0 < value < 0.5:
            raise ConfigError(f"{key}: must be between 0 and 0.5, got {value}")
    for name, copy in p.data.items():
        if copy.dataset not in p.datasets:
            raise ConfigError(f"data.{name}.dataset: {copy.dataset!r} is not declared under datasets:")
        if copy.image_size < 1:
            raise ConfigError(f"data.{name}.image_size: must be at least 1, got {copy.image_size}")
        expected = data_copy_name(copy.dataset, copy.image_size)
        if name != expected:
            raise ConfigError(f"data.{name}: a copy of {copy.dataset} at {copy.image_size} px must be named {expected!r}")
        _one_of(f"data.{name}.resize", copy.resize, RESIZE_MODES)
        bad = sorted(set(copy.on_synthetic) - {"image_size"})
        if bad:
            raise ConfigError(f"data.{name}.on_synthetic: only image_size may be shrunk, not {', '.join(bad)}")
        if copy.on_synthetic.get("image_size", 1) < 1:
            raise ConfigError(f"data.{name}.on_synthetic.image_size: must be at least 1, got {copy.on_synthetic['image_size']}")
        for strategy in copy.splits:
            _one_of(f"data.{name}.splits", strategy, SPLIT_STRATEGIES)
        for combined, c in copy.combined.items():
            where = f"data.{name}.combined.{combined}"
            if combined in SPLIT_STRATEGIES or c.split not in copy.splits or c.split == LOSO:
                raise ConfigError(f"{where}: a new name, and split one of data.{name}.splits but loso ({', '.join(copy.splits)})")
            for added in c.add:
                if added not in p.external or p.external[added].dataset != copy.dataset:
                    raise ConfigError(f"{where}.add: {added!r} is no external set of {copy.dataset} (external: in params.yaml)")
            if not isinstance(c.hold_out, bool) and (not c.hold_out or not set(c.hold_out) <= set(c.add)):
                raise ConfigError(f"{where}.hold_out: true, false or a list of its add: sets ({', '.join(c.add)}), "
                                  f"not {c.hold_out!r}")  # fmt: skip
    for name, lm in p.landmarks.items():
        if name not in p.datasets:
            raise ConfigError(f"landmarks.{name}: {name!r} is not declared under datasets:")
        if not 0 < lm.confidence < 1:
            raise ConfigError(f"landmarks.{name}.confidence: must be between 0 and 1, got {lm.confidence}")
        for i, a in enumerate(lm.attempts):
            if len(a.tint) != 3 or a.size < 16 or not 0 <= a.margin <= 1 or a.gamma <= 0:
                raise ConfigError(f"landmarks.{name}.attempts[{i}]: tint is 3 numbers, size >= 16, margin 0..1, gamma > 0")
        _one_of(f"landmarks.{name}.readings", lm.readings, READINGS)
        if set(lm.on_synthetic) - {"readings"}:
            changed = ", ".join(sorted(lm.on_synthetic))
            raise ConfigError(f"landmarks.{name}.on_synthetic: only readings may change, not {changed}")
        _one_of(f"landmarks.{name}.on_synthetic.readings", lm.on_synthetic.get("readings", "first"), READINGS)
    for name, ext in p.external.items():
        if ext.dataset not in DATASETS:  # declared or not under datasets: (a set of an undeclared one is not read)
            raise ConfigError(f"external.{name}.dataset: {ext.dataset!r} is no dataset handsign knows ({', '.join(DATASETS)})")
        _one_of(f"external.{name}.source", ext.source, ("local", "synthetic"))
        _one_of(f"external.{name}.take", ext.take, TAKES)
        if ext.source == "local" and not ext.path:
            raise ConfigError(f"external.{name}.path: must name a folder or zip of <class>/<image> files")
        if ext.per_class < 1:
            raise ConfigError(f"external.{name}.per_class: must be at least 1, got {ext.per_class}")
        classes = DATASETS[ext.dataset].class_names
        unknown = sorted(set(ext.classes.values()) - set(classes))
        if classes and unknown:
            raise ConfigError(
                f"external.{name}.classes: {', '.join(unknown)} are no class of {ext.dataset} ({', '.join(classes)})"
            )
    _check_training(Training(**{k: getattr(p, k) for k in DEFAULT_KEYS}), "")
    seen: dict[str, str] = {}
    for section in SECTIONS:
        for name in getattr(p, section):
            if name in seen:
                raise ConfigError(f"{section}.{name}: {seen[name]} has this name too; reports/{name}/ can hold one")
            seen[name] = f"{section}.{name}"
    for where, exp in p.every_experiment():
        if exp.kind is Kind.LANDMARKS and exp.dataset not in p.landmarks:
            raise ConfigError(f"{where}: its dataset {exp.dataset} has no landmarks.{exp.dataset} entry (how to find its hands)")
    for name, ens in p.ensembles.items():
        _check_ensemble(p, name, ens, seen)


def _check_ensemble(p: Params, name: str, ens: EnsembleParams, seen: dict[str, str]) -> None:
    where = f"ensembles.{name}"
    if name in seen:
        raise ConfigError(f"{where}: {seen[name]} has this name too; reports/{name}/ can hold one")
    unknown = sorted(set(ens.weights) - {"pixel", "landmarks"})
    if unknown:
        raise ConfigError(f"{where}.weights: pixel and landmarks only, not {', '.join(unknown)}")
    if any(w < 0 for w in ens.weights.values()) or not (ens.weight("pixel") or ens.weight("landmarks")):
        raise ConfigError(f"{where}.weights: each 0 or more, not both 0, got {ens.weights}")
    unknown = sorted(set(ens.search) - {"pixel", "landmarks"})
    if unknown or any(not values or any(w <= 0 for w in values) for values in ens.search.values()):
        raise ConfigError(f"{where}.search: pixel and landmarks, each a list of weights above 0 "
                          f"(a member alone is always compared), got {ens.search}")  # fmt: skip
    for set_name in ens.held_out:
        if set_name not in p.external or p.external[set_name].dataset != ens.dataset:
            raise ConfigError(f"{where}.held_out: {set_name!r} is not an external set of {ens.dataset} (params.yaml's external:)")
    for role, kind in (("pixel", Kind.PIXELS), ("landmarks", Kind.LANDMARKS)):
        member = getattr(ens, role)
        exp = p.experiment(member) if member in p.experiments else None
        if exp is None or exp.kind is not kind:
            fits = [n for n in p.experiments if p.experiment(n).kind is kind]  # resolved for the message alone
            raise ConfigError(f"{where}.{role}: {member!r} is no {kind.value} under experiments: ({', '.join(fits)})")
        for key in ("dataset", "image_size", "split"):
            if getattr(exp, key) != getattr(ens, key):
                raise ConfigError(f"{where}.{role}: {member} has {key} {getattr(exp, key)!r}, the ensemble "
                                  f"{getattr(ens, key)!r}: its members share one test split")  # fmt: skip


def landmark_params_from_dict(raw: dict[str, Any], where: str = "landmarks") -> LandmarkParams:
    """`LandmarkParams` as written out (asdict): what the landmarks stage saves beside its rows and
    a landmark model carries, so that it finds hands as its training data's were found."""
    return _build(LandmarkParams, raw, f"{where}.")


def params_from_dict(raw: dict[str, Any]) -> Params:
    params = _build(Params, raw)
    _check(params)
    return params


def load_params(path: str | Path = "params.yaml", overrides: dict[str, Any] | None = None) -> Params:
    """Read, type-check and validate a params file; `overrides` uses dotted keys (`split.seed`)."""
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


def load_experiment(path: str | Path) -> Experiment:
    """An experiment config written by the configure stage (`reports/configs/<experiment>/config.json`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the configure stage first")
    raw = json.loads(path.read_text())
    try:
        exp = _build(Experiment, raw)
        _check_training(exp.training, "training.")
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return exp
