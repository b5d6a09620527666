"""Export a trained model to TorchScript and ONNX, run the exports back (TorchScript in PyTorch,
ONNX in onnxruntime) and measure how far their probabilities are from the PyTorch model's.

What is exported is `answers.Probabilities`: uint8 pixel values (as float) N x 1 x S x S in,
class probabilities out, any batch size. Preprocessing (decode, greyscale, resize to S) stays
outside, in `Preprocessing`, written beside the files as `preprocessing.json`. A landmark model's
export takes N x 106 handsign.hands.handfeatures rows (input `landmarks`): finding the hand stays with
MediaPipe's hand landmarker, shown images as its preprocessing.json says.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from handsign.core.atomic import atomic_path, write_text
from handsign.recognition.loading import Classifier, from_checkpoint
from handsign.use.serving import PREPROCESSING_FILE

if TYPE_CHECKING:
    from handsign.recognition.landmarks import HandClassifier

FORMATS = ("torchscript", "onnx")


@dataclass
class Exported:
    format: str
    path: Path
    max_abs_diff: float  # largest |probability difference| against PyTorch on the parity inputs
    same_labels: bool  # the top class agrees on every parity input


def _example(classifier: Classifier | HandClassifier, n: int = 2) -> torch.Tensor:
    return torch.zeros(n, *classifier.input_shape)


def export_torchscript(classifier: Classifier | HandClassifier, path: Path) -> Path:
    # TorchScript is deprecated in favour of torch.export, but still what many runtimes load.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(classifier.model, _example(classifier), check_trace=False)
        with atomic_path(path) as tmp:
            torch.jit.save(traced, str(tmp))
    return path


def export_onnx(classifier: Classifier | HandClassifier, path: Path) -> Path:
    batch = torch.export.Dim("batch", min=1, max=4096)
    with atomic_path(path) as tmp:
        program = torch.onnx.export(
            classifier.model,
            (_example(classifier),),
            dynamo=True,
            input_names=[classifier.input_name],
            output_names=["probabilities"],
            dynamic_shapes=({0: batch},),
            external_data=False,  # one self-contained file
            verbose=False,
        )
        program.save(str(tmp))
    return path


def run_torchscript(path: Path, inputs: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        module = torch.jit.load(str(path), map_location="cpu").eval()
    with torch.inference_mode():
        return module(torch.from_numpy(inputs).float()).numpy()


def run_onnx(path: Path, inputs: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs.astype(np.float32)})[0]


def export(classifier: Classifier | HandClassifier, out_dir: Path, inputs: np.ndarray,
           formats: tuple[str, ...] = FORMATS) -> list[Exported]:  # fmt: skip
    """Write each format into `out_dir` (plus preprocessing.json) and check it on `inputs` (uint8
    N x 1 x S x S real images, or a landmark model's rows of found hands): the exported file's
    probabilities against PyTorch's."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown export format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / PREPROCESSING_FILE, classifier.preprocessing.to_json())
    with torch.inference_mode():
        reference = classifier.model(torch.from_numpy(inputs).float()).numpy()
    results = []
    for fmt in formats:
        if fmt == "torchscript":
            path = export_torchscript(classifier, out_dir / "model.torchscript.pt")
            got = run_torchscript(path, inputs)
        else:
            path = export_onnx(classifier, out_dir / "model.onnx")
            got = run_onnx(path, inputs)
        diff = float(np.abs(got - reference).max())
        results.append(Exported(fmt, path, diff, bool((got.argmax(1) == reference.argmax(1)).all())))
    return results


TOLERANCE = 1e-4  # the largest probability difference an export may show against PyTorch


def export_experiment(experiment: str, out: Path | None, formats: tuple[str, ...], parity_images: int,
                      log: bool) -> tuple[list[Exported], int, str]:  # fmt: skip
    """`export` for an experiment of the pipeline: its models/<experiment>/model.pt, checked on its
    first `parity_images` test images; the files (and their differences) logged to its MLflow run
    when `log`. Returns the exports, the number of images checked and the run id ("" if not logged)."""
    import json

    from handsign import tracking
    from handsign.config import load_experiment, load_params
    from handsign.core import layout
    from handsign.data.splitdata import load_split

    ensembles = load_params().ensembles if Path("params.yaml").is_file() else {}
    if experiment in ensembles:
        pixel, hands = ensembles[experiment].pixel, ensembles[experiment].landmarks
        raise ValueError(f"{experiment} is an ensemble: export its members (handsign export {pixel}; handsign export "
                         f"{hands}) and multiply their probabilities as handsign.recognition.ensemble.combine does")  # fmt: skip
    paths = layout.ExperimentPaths(experiment)
    if not paths.model.exists():
        raise FileNotFoundError(f"{paths.model} is missing: run `dvc repro train@{experiment}` first")
    data = load_split(load_experiment(paths.config))
    test = data.rows("test")
    inputs = np.asarray(data.images[test])
    inputs = inputs[np.isfinite(inputs.reshape(len(inputs), -1)).all(1)][:parity_images]  # landmark rows: hands found
    out = out or paths.model.parent / "export"
    results = export(from_checkpoint(paths.model), out, inputs, formats)
    run_id = ""
    if log and paths.mlflow_run.exists():
        run_id = json.loads(paths.mlflow_run.read_text())["run_id"]
        differences = {f"export_{r.format}_max_abs_diff": r.max_abs_diff for r in results}
        files = [r.path for r in results] + [out / PREPROCESSING_FILE]
        tracking.log_files(layout.repo_root(), run_id, files, "export", differences)
    return results, len(inputs), run_id
