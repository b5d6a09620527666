"""A trained model as its users call it: image files or arrays in (any size, greyscale or RGB,
uint8), class names and probabilities out, with the experiment's own preprocessing.

`Classifier` (pixel models) and `handclassifier.HandClassifier` (landmark models: the hand
landmarker first) are the two implementations, with one interface; `handsign predict`, `live`,
the MLflow model that evaluate logs and registers (`ServedModel`, served by `mlflow models serve`)
and the exporters all go through them, so a served answer equals a local one.
"""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from handsign.data.imagefile import read_image
from handsign.data.preprocessing import HandPreprocessing, Preprocessing, saved
from handsign.pipeline.tracking import CHECKPOINT_FILE, ENSEMBLE_FILE, checkpoint_in
from handsign.use.answers import Probabilities, answer_table

if TYPE_CHECKING:
    from handsign.hands.handclassifier import HandClassifier
    from handsign.hands.landmarks import Detector, Landmarks

PREPROCESSING_FILE = "preprocessing.json"  # beside an export


def refuse_autoencoder(network: nn.Module, name: str) -> None:
    """A clear error where a classifier is expected and `network` is an autoencoder."""
    from handsign.models.autoencoder import Autoencoder

    if isinstance(network, Autoencoder):
        raise ValueError(
            f"{name} is an autoencoder: it reconstructs images and has no classes to predict. Its encoder can start "
            "a classifier (model: encoder_mlp or encoder_conv, init: this model); see the README's Autoencoders section"
        )


class Classifier:
    """A trained pixel network plus its preprocessing; `probabilities` on any images. With the
    preprocessing's `hand_crop`, each image is first cut to the hand the landmarker finds in it."""

    input_name = "images"

    def __init__(self, network: nn.Module, preprocessing: Preprocessing, detector_file: Path | None = None) -> None:
        refuse_autoencoder(network, "this model")
        self.model = Probabilities(network).eval()
        self.preprocessing = preprocessing
        self.detector_file = detector_file  # None: found where handsign.hands.landmarks.find_model looks
        self._detector: Detector | None = None

    @property
    def requirements(self) -> tuple[str, ...]:
        """Packages a served copy needs beyond torch, pillow and pandas: the landmarker's, to crop."""
        return ("mediapipe",) if self.preprocessing.hand_crop else ()

    @property
    def input_shape(self) -> tuple[int, ...]:
        """What the network (and its exports) takes per image: uint8 values as float, 1 x S x S."""
        return (1, self.preprocessing.image_size, self.preprocessing.image_size)

    def files(self) -> dict[str, Path]:
        """What a served copy needs beside the network and its preprocessing: the hand landmarker
        where it crops to the hand, else nothing."""
        from handsign.hands.landmarks import MODEL_FILE, find_model

        return {MODEL_FILE: self.detector_file or find_model(fetch=True)} if self.preprocessing.hand_crop else {}

    def crops(self, images: list[Image.Image | np.ndarray], found: Landmarks | None = None) -> list[np.ndarray]:
        """Each image cut to its hand, or whole where none is found: the hand in `found` (one row per
        image, found already: an ensemble's landmark model, the live tracker), else found here, in the
        image's own colours."""
        from handsign.data.preprocessing import as_picture
        from handsign.hands.handcrop import crop_to_hand
        from handsign.hands.landmarks import MODEL_FILE, Detector

        pictures = [as_picture(image) for image in images]
        if found is None:
            if self._detector is None:
                self._detector = Detector(self.preprocessing.hand_box, self.files()[MODEL_FILE])
            points = [self._detector.detect(p).image for p in pictures]
        else:
            points = list(found.image)
        return [crop_to_hand(p, hand, self.preprocessing.hand_crop) for p, hand in zip(pictures, points, strict=True)]

    def probabilities(self, images: list[Image.Image | np.ndarray], batch_size: int = 64) -> np.ndarray:
        """N x classes probabilities, rows in the order of `images` (cut to their hands first, with hand_crop)."""
        return self.classify(self.crops(images) if self.preprocessing.hand_crop else images, batch_size)

    @torch.inference_mode()
    def classify(self, images: list[Image.Image | np.ndarray], batch_size: int = 64) -> np.ndarray:
        """N x classes probabilities of images as the network reads them, already cut to the hand where
        it crops (`live` cuts a frame to the hand its tracker follows)."""
        out = []
        for start in range(0, len(images), batch_size):
            batch = np.stack([self.preprocessing.array(img) for img in images[start : start + batch_size]])
            out.append(self.model(torch.from_numpy(batch).float()).numpy())
        return np.concatenate(out) if out else np.empty((0, len(self.preprocessing.class_names)), dtype=np.float32)

    def table(self, probabilities: np.ndarray) -> Any:
        return answer_table(probabilities, self.preprocessing.class_names)


class Ensemble:
    """Classifiers of the same classes answering together, their probabilities multiplied
    (handsign.evaluation.ensemble: a landmark model that finds no hand abstains), as the
    evaluate_ensemble stage scores them. `handsign predict -m PIXEL -m LANDMARKS`, `live` with both,
    and the MLflow model the stage logs and registers (`log_served_ensemble`) all answer through it."""

    def __init__(self, members: list[Classifier | HandClassifier]) -> None:
        names = [m.preprocessing.class_names for m in members]
        if any(n != names[0] for n in names):
            raise ValueError(f"an ensemble's models must answer the same classes, not {' and '.join(map(str, names))}")
        self.members = members
        self.preprocessing = members[0].preprocessing  # its class_names: what the answers are called

    @property
    def requirements(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for m in self.members for r in m.requirements))

    def files(self) -> dict[str, Path]:
        """What a served copy needs beside the networks: the hand landmarker, once."""
        return {name: path for m in self.members for name, path in m.files().items()}

    def probabilities(self, images: list[Image.Image | np.ndarray]) -> np.ndarray:
        from handsign.evaluation.ensemble import combine

        hands = self._finder()
        if hands is None:
            return combine([m.probabilities(images) for m in self.members])
        # One detection per image for all: the cropping pixel models would find the same hand again.
        return self.given_hands(images, *hands.hands(images))

    def given_hands(self, images: list[Image.Image | np.ndarray], found: Landmarks, aspect: float | np.ndarray) -> np.ndarray:
        """The members' probabilities multiplied, the hand in each image found already (`found`, one row
        per image; `aspect`: width / height): the landmark model classifies it, a cropping pixel model
        reads its square, another pixel model the image as it is."""
        from handsign.evaluation.ensemble import combine
        from handsign.hands.handclassifier import HandClassifier

        answers = []
        for m in self.members:
            if isinstance(m, HandClassifier):
                answers.append(m.classify(found, aspect))
            elif m.preprocessing.hand_crop:
                answers.append(m.classify(m.crops(images, found)))
            else:
                answers.append(m.probabilities(images))
        return combine(answers)

    def _finder(self) -> HandClassifier | None:
        """The landmark member whose detector settings every cropping pixel member shares (as the
        pipeline's do: both are landmarks.<dataset>), else None."""
        from handsign.hands.handclassifier import HandClassifier

        hands = [m for m in self.members if isinstance(m, HandClassifier)]
        croppers = [m for m in self.members if isinstance(m, Classifier) and m.preprocessing.hand_crop]
        if len(hands) != 1 or not croppers or any(m.preprocessing.hand_box != hands[0].preprocessing.landmarks for m in croppers):
            return None
        return hands[0]

    def table(self, probabilities: np.ndarray) -> Any:
        return answer_table(probabilities, self.preprocessing.class_names)


def classifier_for(network: nn.Module, preprocessing: Preprocessing | HandPreprocessing,
                   folder: Path | None = None) -> Classifier | HandClassifier:  # fmt: skip
    """The classifier of a network and its preprocessing: a landmark model finds hands first, a pixel
    model resizes (cut to the hand first, with hand_crop); `folder` may hold the hand landmarker, as a
    served copy does."""
    from handsign.hands.landmarks import MODEL_FILE

    detector = folder / MODEL_FILE if folder is not None and (folder / MODEL_FILE).is_file() else None
    if isinstance(preprocessing, HandPreprocessing):
        from handsign.hands.handclassifier import HandClassifier

        return HandClassifier(network, preprocessing, detector)
    return Classifier(network, preprocessing, detector)


def from_checkpoint(path: Path, resize: str | None = None) -> Classifier | HandClassifier:
    """The classifier of a train-stage checkpoint (`models/<experiment>/model.pt`)."""
    from handsign.use.inference import load_checkpoint

    network, checkpoint = load_checkpoint(Path(path))
    refuse_autoencoder(network, str(path))
    return classifier_for(network, saved(checkpoint, path, resize))


def encode_file(path: Path) -> str:
    """A file's bytes as the base64 text the served model's `image` column takes."""
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


class ServedModel:
    """The `python_function` flavor of the logged model (what `mlflow models serve` and
    `mlflow.pyfunc.load_model` run). Input: a table with an `image` column of base64-encoded
    image files (PNG, JPEG; any size, greyscale or colour), as a REST client posts them. Output:
    `label`, `probability` and one column per class."""

    def __init__(self, classifier: Classifier | HandClassifier) -> None:
        self.classifier = classifier

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return self.classifier.table(self.classifier.probabilities(images_from_table(model_input)))


def images_from_table(model_input: Any) -> list[np.ndarray]:
    """The served model's input, a table with an `image` column of base64-encoded files, as
    pixels with their colour kept (a pixel model makes them grey as prepare does; a landmark model
    shows the detector their colours); a bad row is named."""
    if "image" not in getattr(model_input, "columns", []):
        raise ValueError("expected a table with an `image` column of base64-encoded image files")
    images = []
    for i, text in enumerate(model_input["image"]):
        try:
            data = base64.b64decode(text, validate=True)
        except (ValueError, TypeError):
            raise ValueError(f"row {i}: `image` is not base64 text") from None
        images.append(read_image(data, f"row {i}"))
    return images


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> ServedModel:
    """MLflow's entry point for the `python_function` flavor (`loader_module: handsign.use.serving`): the
    checkpoint(s) in the model's data/ folder, rebuilt by handsign's own code."""
    return ServedModel(load_logged(Path(data_path).parent))


def load_logged(local: Path) -> Classifier | HandClassifier | Ensemble:
    """The classifier of a model folder that `log_served_model` (or `log_served_ensemble`) wrote,
    downloaded from MLflow: each checkpoint's tensors (`torch.load(weights_only=True)`: no object is
    unpickled), the network built by name from handsign's registry, the preprocessing saved with it."""
    manifest = local / "data" / ENSEMBLE_FILE
    if not manifest.is_file():
        return _logged_classifier(checkpoint_in(local), local)
    names = json.loads(manifest.read_text()).get("members", [])
    if not names or any(not isinstance(n, str) or Path(n).name != n or n in ("", ".", "..") for n in names):
        raise ValueError(f"{manifest}: `members` must name checkpoint files in data/, not {names!r}")
    return Ensemble([_logged_classifier(local / "data" / name, local) for name in names])


def _logged_classifier(checkpoint: Path, local: Path) -> Classifier | HandClassifier:
    from handsign.use.inference import load_checkpoint

    network, contents = load_checkpoint(checkpoint)
    refuse_autoencoder(network, str(local))
    return classifier_for(network, saved(contents, checkpoint), local / "data")


def log_served_model(run_id: str, tracking_uri: str, checkpoint: Path, examples: list[Image.Image]) -> None:
    """Log a classifier's checkpoint to the run as the MLflow model `model`: a `python_function`
    flavor that takes image files (what is served; `loader_module` is this module, so handsign must
    be installed where it is served), with in data/ the checkpoint (tensors and plain values, read
    with weights_only) and what else it needs (a landmark model: the hand landmarker). No pickle,
    no code: loading it runs handsign's installed code only."""
    _log_served(run_id, tracking_uri, from_checkpoint(checkpoint), {CHECKPOINT_FILE: checkpoint}, examples)


def log_served_ensemble(run_id: str, tracking_uri: str, checkpoints: dict[str, Path], examples: list[Image.Image]) -> None:
    """Log an ensemble (`checkpoints`: role -> a member's checkpoint) to the run as the MLflow model
    `model`, served as one: data/ holds each member's checkpoint as `<role>.pt`, the hand landmarker
    once, and ensemble.json naming the members in order."""
    files = {f"{role}.pt": path for role, path in checkpoints.items()}
    classifier = Ensemble([from_checkpoint(path) for path in checkpoints.values()])
    _log_served(run_id, tracking_uri, classifier, files, examples, {ENSEMBLE_FILE: {"members": list(files)}})


def _log_served(run_id: str, tracking_uri: str, classifier: Classifier | HandClassifier | Ensemble, checkpoints: dict[str, Path],
                examples: list[Image.Image], manifest: dict[str, Any] | None = None) -> None:  # fmt: skip
    import pandas as pd
    from mlflow.models import infer_signature

    example = pd.DataFrame({"image": [base64.b64encode(_png(img)).decode("ascii") for img in examples]})
    signature = infer_signature(example, ServedModel(classifier).predict(example))
    _log_checkpoint(run_id, tracking_uri, checkpoints | classifier.files(), signature, classifier.requirements, example, manifest)


def log_network(run_id: str, tracking_uri: str, checkpoint: Path) -> None:
    """Log an autoencoder's checkpoint to the run as `model`: for `init` to start a classifier from
    its encoder (it answers with images, not class names, so serving it refuses)."""
    _log_checkpoint(run_id, tracking_uri, {CHECKPOINT_FILE: checkpoint})


def _log_checkpoint(run_id: str, tracking_uri: str, files: dict[str, Path], signature: Any = None,
                    requirements: tuple[str, ...] = (), example: Any = None,
                    manifest: dict[str, Any] | None = None) -> None:  # fmt: skip
    """The model folder written and logged: `files` (the checkpoints and what they need) and the
    `manifest` (file name -> JSON) in data/."""
    import shutil
    import tempfile

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow.pyfunc
    from mlflow.models import Model
    from mlflow.utils.environment import _mlflow_conda_env, _PythonEnv

    # The MLmodel and environment files that mlflow.pyfunc.save_model writes, written here: its
    # check of the requirements against every installed package took 3.4 s of each evaluate.
    pip = [f"mlflow=={mlflow.__version__}", f"torch=={torch.__version__.split('+')[0]}", "pillow", "pandas", *requirements]
    with tempfile.TemporaryDirectory(prefix="served-") as tmp:
        path = Path(tmp) / "model"
        (path / "data").mkdir(parents=True)
        for name, source in files.items():
            shutil.copyfile(source, path / "data" / name)
        for name, contents in (manifest or {}).items():
            (path / "data" / name).write_text(json.dumps(contents, indent=2) + "\n")
        mlmodel = Model(signature=signature)
        mlflow.pyfunc.add_to_model(mlmodel, loader_module=__name__, data="data", conda_env="conda.yaml",
                                   python_env="python_env.yaml")  # fmt: skip
        mlmodel.save(str(path / "MLmodel"))
        (path / "requirements.txt").write_text("\n".join(pip) + "\n")
        _PythonEnv.current().to_yaml(str(path / "python_env.yaml"))
        _mlflow_conda_env(str(path / "conda.yaml"), additional_pip_deps=pip, install_mlflow=False)
        if example is not None:
            example.to_json(path / "input_example.json", orient="split", index=False)
        mlflow.MlflowClient(tracking_uri).log_artifacts(run_id, str(path), "model")


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
