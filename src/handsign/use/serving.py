"""A recogniser served by MLflow: the `python_function` model that evaluate logs and registers
(`ServedModel`, run by `mlflow models serve` and `mlflow.pyfunc.load_model`), which takes
base64-encoded image files and answers through the same recogniser (handsign.recognition) that
`handsign predict` and `live` use, so a served answer equals a local one. The model folder holds
checkpoints and plain files only: loading it runs handsign's installed code, nothing unpickled.
"""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from handsign.core.imagefile import read_image
from handsign.recognition.batches import MAX_PIXELS
from handsign.recognition.loading import Ensemble, Recogniser, from_checkpoint, load_logged
from handsign.tracking import CHECKPOINT_FILE, ENSEMBLE_FILE
from handsign.use.server import answer, decoded

PREPROCESSING_FILE = "preprocessing.json"  # beside an export


def encode_file(path: Path) -> str:
    """A file's bytes as the base64 text the served model's `image` column takes."""
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


class ServedModel:
    """The `python_function` flavor of the logged model (what `mlflow models serve` and
    `mlflow.pyfunc.load_model` run). Input: a table with an `image` column of base64-encoded
    image files (PNG, JPEG; any size, greyscale or colour), as a REST client posts them. Output:
    `label`, `probability` and one column per class, and `error`: empty, or why that row could not
    be read (the other rows are answered). Rows are decoded and classified in batches bounded by
    decoded pixels, as `handsign serve` does (handsign.use.server.answer: the same answers)."""

    def __init__(self, classifier: Recogniser) -> None:
        self.classifier = classifier

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        if "image" not in getattr(model_input, "columns", []):
            raise ValueError("expected a table with an `image` column of base64-encoded image files")
        answers = answer(self.classifier, list(model_input["image"]), MAX_PIXELS, max_rows=None)
        table = pd.DataFrame([row if "error" in row else row | {"error": ""} for row in answers])
        return table[[c for c in table.columns if c != "error"] + ["error"]]


def images_from_table(model_input: Any) -> list[np.ndarray]:
    """The served model's input, a table with an `image` column of base64-encoded files, as
    pixels with their colour kept (a pixel model makes them grey as prepare does; a landmark model
    shows the detector their colours); a bad row is named."""
    if "image" not in getattr(model_input, "columns", []):
        raise ValueError("expected a table with an `image` column of base64-encoded image files")
    return [read_image(decoded(text, i), f"row {i}") for i, text in enumerate(model_input["image"])]


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> ServedModel:
    """MLflow's entry point for the `python_function` flavor (`loader_module: handsign.use.serving`): the
    checkpoint(s) in the model's data/ folder, rebuilt by handsign's own code."""
    return ServedModel(load_logged(Path(data_path).parent))


def log_served_model(run_id: str, tracking_uri: str, checkpoint: Path, examples: list[Image.Image]) -> None:
    """Log a classifier's checkpoint to the run as the MLflow model `model`: a `python_function`
    flavor that takes image files (what is served; `loader_module` is this module, so handsign must
    be installed where it is served), with in data/ the checkpoint (tensors and plain values, read
    with weights_only) and what else it needs (a landmark model: the hand landmarker). No pickle,
    no code: loading it runs handsign's installed code only."""
    _log_served(run_id, tracking_uri, from_checkpoint(checkpoint), {CHECKPOINT_FILE: checkpoint}, examples)


def log_served_ensemble(run_id: str, tracking_uri: str, checkpoints: dict[str, Path], examples: list[Image.Image],
                        weights: list[float] | None = None) -> None:  # fmt: skip
    """Log an ensemble (`checkpoints`: role -> a member's checkpoint) to the run as the MLflow model
    `model`, served as one: data/ holds each member's checkpoint as `<role>.pt`, the hand landmarker
    once, and ensemble.json naming the members in order, with their weights."""
    files = {f"{role}.pt": path for role, path in checkpoints.items()}
    classifier = Ensemble([from_checkpoint(path) for path in checkpoints.values()], weights)
    manifest = {"members": list(files), "weights": classifier.weights}
    _log_served(run_id, tracking_uri, classifier, files, examples, {ENSEMBLE_FILE: manifest})


def _log_served(run_id: str, tracking_uri: str, classifier: Recogniser, checkpoints: dict[str, Path],
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
