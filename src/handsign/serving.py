"""A trained model as its users call it: image files or arrays in (any size, greyscale or RGB,
uint8), class names and probabilities out, with the experiment's own preprocessing.

`Classifier` is the one implementation; `handsign predict`, the MLflow model that evaluate
logs and registers (`GesturePyfunc`, served by `mlflow models serve`) and the exporters all go
through it, so a served answer equals a local one.
"""

from __future__ import annotations

import base64
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from handsign.datasets.base import to_square_array
from handsign.imagefile import grey_pixels, read_grey

PREPROCESSING_FILE = "preprocessing.json"


@dataclass(frozen=True)
class Preprocessing:
    """What a model's training data went through, so that any image can be made like it."""

    image_size: int
    resize: str  # stretch | letterbox | center_crop, as data.<copy>.resize
    class_names: list[str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Preprocessing:
        return cls(**json.loads(text))

    def array(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """One image (PIL, or a uint8 H x W greyscale / H x W x 3 RGB / H x W x 4 RGBA array) as the
        model's uint8 1 x S x S input, read to grey as prepare reads files (handsign.imagefile)."""
        if isinstance(image, np.ndarray):
            if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
                raise ValueError(f"expected a uint8 H x W or H x W x 1/3/4 array, got {image.dtype} {image.shape}")
            image = Image.fromarray(image if image.ndim == 2 or image.shape[2] > 1 else image[:, :, 0])
        return to_square_array(grey_pixels(image), self.image_size, self.resize)[None]


class Probabilities(nn.Module):
    """The network with softmax on its logits: uint8 (as float) N x 1 x S x S in, N x classes out.
    What is exported (TorchScript, ONNX): preprocessing stays outside, in `Preprocessing`."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.network(x), dim=1)


def refuse_autoencoder(network: nn.Module, name: str) -> None:
    """A clear error where a classifier is expected and `network` is an autoencoder."""
    from handsign.models.autoencoder import Autoencoder

    if isinstance(network, Autoencoder):
        raise ValueError(
            f"{name} is an autoencoder: it reconstructs images and has no classes to predict. Its encoder can start "
            "a classifier (model: encoder_mlp or encoder_conv, init: this model); see the README's Autoencoders section"
        )


def refuse_landmark_model(checkpoint: dict, name: str) -> None:
    """A clear error where an image classifier is expected and the checkpoint classifies the hand
    landmarker's points, which predict, live, export and serving do not compute yet."""
    from handsign.models import LANDMARK_MODELS

    if checkpoint["model_name"] in LANDMARK_MODELS:
        raise ValueError(
            f"{name} is a hand-landmark model ({checkpoint['model_name']}): predict, live, export and serving take "
            "pixel models for now; `handsign score CHECKPOINT ARCHIVE --dataset ...` scores it on a dataset"
        )


class Classifier:
    """A trained network plus its preprocessing; `probabilities` on any images."""

    def __init__(self, network: nn.Module, preprocessing: Preprocessing) -> None:
        refuse_autoencoder(network, "this model")
        self.model = Probabilities(network).eval()
        self.preprocessing = preprocessing

    @classmethod
    def from_checkpoint(cls, path: Path, resize: str | None = None) -> Classifier:
        """From a train-stage checkpoint (`models/<experiment>/model.pt`). Its `preprocessing`
        entry is used where it has one; `resize` otherwise (older checkpoints), else stretch."""
        from handsign.inference import load_checkpoint

        network, checkpoint = load_checkpoint(Path(path))
        refuse_autoencoder(network, str(path))
        refuse_landmark_model(checkpoint, str(path))
        saved = checkpoint.get("preprocessing")
        if saved:
            return cls(network, Preprocessing(**saved))
        return cls(network, Preprocessing(checkpoint["input_shape"][1], resize or "stretch", checkpoint["class_names"]))

    @torch.inference_mode()
    def probabilities(self, images: list[Image.Image | np.ndarray], batch_size: int = 64) -> np.ndarray:
        """N x classes probabilities, rows in the order of `images`."""
        out = []
        for start in range(0, len(images), batch_size):
            batch = np.stack([self.preprocessing.array(img) for img in images[start : start + batch_size]])
            out.append(self.model(torch.from_numpy(batch).float()).numpy())
        return np.concatenate(out) if out else np.empty((0, len(self.preprocessing.class_names)), dtype=np.float32)

    def table(self, probabilities: np.ndarray) -> Any:
        """The served answer: `label`, `probability`, then one column per class."""
        import pandas as pd

        names = self.preprocessing.class_names
        best = probabilities.argmax(1) if len(probabilities) else np.empty(0, dtype=int)
        frame = pd.DataFrame({"label": [names[i] for i in best], "probability": probabilities.max(1, initial=0.0)})
        return pd.concat([frame, pd.DataFrame(probabilities, columns=names)], axis=1)


def encode_file(path: Path) -> str:
    """A file's bytes as the base64 text the served model's `image` column takes."""
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


class ServedModel:
    """The `python_function` flavor of the logged model (what `mlflow models serve` and
    `mlflow.pyfunc.load_model` run). Input: a table with an `image` column of base64-encoded
    image files (PNG, JPEG; any size, greyscale or colour), as a REST client posts them. Output:
    `label`, `probability` and one column per class."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return self.classifier.table(self.classifier.probabilities(images_from_table(model_input)))


def images_from_table(model_input: Any) -> list[np.ndarray]:
    """The served model's input, a table with an `image` column of base64-encoded files, as
    greyscale pixels, read as prepare reads files; a bad row is named."""
    if "image" not in getattr(model_input, "columns", []):
        raise ValueError("expected a table with an `image` column of base64-encoded image files")
    images = []
    for i, text in enumerate(model_input["image"]):
        try:
            data = base64.b64decode(text, validate=True)
        except (ValueError, TypeError):
            raise ValueError(f"row {i}: `image` is not base64 text") from None
        images.append(read_grey(data, f"row {i}"))
    return images


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> ServedModel:
    """MLflow's entry point for the `python_function` flavor (`loader_module: handsign.serving`):
    the PyTorch flavor's network beside it, and the preprocessing saved with it."""
    import mlflow.pytorch

    root = Path(data_path).parent
    network = mlflow.pytorch.load_model(str(root), map_location="cpu")
    preprocessing = Preprocessing.from_json((Path(data_path) / PREPROCESSING_FILE).read_text())
    return ServedModel(Classifier(network, preprocessing))


def log_served_model(run_id: str, tracking_uri: str, network: nn.Module, preprocessing: Preprocessing,
                     examples: list[Image.Image]) -> None:  # fmt: skip
    """Log `network` to the run as `model` with two flavors: PyTorch (what `init` loads to start
    from it) and a `python_function` that takes image files (what is served)."""
    import tempfile

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    import pandas as pd
    from mlflow.models import Model, infer_signature

    classifier = Classifier(network, preprocessing)
    example = pd.DataFrame({"image": [base64.b64encode(_png(img)).decode("ascii") for img in examples]})
    signature = infer_signature(example, ServedModel(classifier).predict(example))
    with tempfile.TemporaryDirectory(prefix="served-") as tmp:
        path = Path(tmp) / "model"
        _save_network(network, path, signature)
        (path / "data" / PREPROCESSING_FILE).write_text(preprocessing.to_json())
        mlmodel = Model.load(str(path / "MLmodel"))
        mlmodel.flavors["python_function"]["loader_module"] = __name__
        mlmodel.save(str(path / "MLmodel"))
        example.to_json(path / "input_example.json", orient="split", index=False)
        mlflow.MlflowClient(tracking_uri).log_artifacts(run_id, str(path), "model")


def log_network(run_id: str, tracking_uri: str, network: nn.Module) -> None:
    """Log `network` to the run as `model` in the PyTorch flavor alone: what an autoencoder logs,
    for `init` to start a classifier from its encoder (it answers with images, not class names)."""
    import tempfile

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    with tempfile.TemporaryDirectory(prefix="network-") as tmp:
        path = Path(tmp) / "model"
        _save_network(network, path)
        mlflow.MlflowClient(tracking_uri).log_artifacts(run_id, str(path), "model")


def _save_network(network: nn.Module, path: Path, signature: Any = None) -> None:
    import mlflow.pytorch

    import handsign

    mlflow.pytorch.save_model(
        network.cpu().eval(),
        str(path),
        signature=signature,
        serialization_format="pickle",  # the network's own classes, from code_paths: any batch size
        # Inferring requirements re-imports torch in a subprocess; we know them.
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "pillow", "pandas"],
        code_paths=[str(Path(handsign.__file__).parent)],  # the server needs no install of ours
    )


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
