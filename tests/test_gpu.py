"""Every CUDA branch of training and serving, on one GPU (`make gpu-check`, marker `cuda`): bf16
autocast with channels_last and pinned batches, frozen-backbone features on the GPU, a one-process
NCCL DDP run through torchrun, resume, export and serving of a GPU-trained checkpoint, and CPU and
GPU agreeing. Without CUDA every test skips with the reason."""

import json

import numpy as np
import pytest
import torch
from conftest import BIN, REPO, run, tiny_experiment
from test_distributed import workdir

from handsign.core import layout
from handsign.recognition.checkpoint import load_checkpoint
from handsign.recognition.inference import predict
from handsign.recognition.loading import from_checkpoint
from handsign.training.train import batches, fit, interrupted_state
from handsign.use.export import export

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here: `make gpu-check` needs a GPU"),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("gpu")


def accuracy(checkpoint, store, split):
    model, _ = load_checkpoint(checkpoint, "cpu")
    test = np.flatnonzero(split == "test")
    return float((predict(model, store.images, test) == store.samples["label"].to_numpy()[test]).mean())


def test_training_on_cuda_uses_bf16_channels_last_and_pinned_batches(root, tmp_path):
    exp, store, split = tiny_experiment(root, per_class_train=30, epochs=6, device="cuda", precision="auto")
    result = fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt")
    assert result.device.startswith("cuda") and result.precision == "bf16"
    loader = batches(torch.utils.data.TensorDataset(torch.zeros(4, 1, 8, 8)), 2, torch.device("cuda"))
    assert loader.pin_memory
    assert accuracy(tmp_path / "model.pt", store, split) > 3 / 12  # chance is 1/12


def test_cpu_and_gpu_runs_of_one_experiment_agree(root, tmp_path):
    # bf16 against fp32 and other kernels: the same recipe, not the same bits. Stated tolerance:
    # final validation accuracy within 0.1, test accuracy within 0.1.
    results = {}
    for device in ("cpu", "cuda"):
        exp, store, split = tiny_experiment(root, per_class_train=30, epochs=6, device=device, augment=False)
        out = tmp_path / device
        out.mkdir()
        r = fit(exp, store, split, out / "model.pt", out / "last.pt")
        results[device] = (r.history[-1]["val_acc"], accuracy(out / "model.pt", store, split))
    assert results["cuda"][0] == pytest.approx(results["cpu"][0], abs=0.1), results
    assert results["cuda"][1] == pytest.approx(results["cpu"][1], abs=0.1), results


def test_frozen_backbone_features_are_computed_on_the_gpu(root, tmp_path):
    exp, store, split = tiny_experiment(root, per_class_train=10, model="resnet18", freeze_backbone=True, augment=False,
                                        optimizer="adam", lr=1e-3, epochs=3, device="cuda")  # fmt: skip
    result = fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt")
    assert result.device.startswith("cuda") and result.feature_seconds > 0
    assert torch.load(tmp_path / "model.pt", weights_only=True)["epoch"] >= 1


def test_an_interrupted_gpu_training_resumes_to_the_same_end(root, tmp_path):
    exp, store, split = tiny_experiment(root, per_class_train=10, epochs=4, device="cuda", augment=False)
    whole = fit(exp, store, split, tmp_path / "whole.pt", tmp_path / "whole_last.pt", "data")

    def stop_after_two(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt", "data", on_epoch=stop_after_two)
    state = interrupted_state(tmp_path / "last.pt", exp, "data")
    resumed = fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt", "data", state)
    assert resumed.resumed_from == 2 and len(resumed.history) == 4 and resumed.device.startswith("cuda")
    for a, b in zip(whole.history, resumed.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)


def test_a_gpu_trained_checkpoint_exports_and_serves_on_the_cpu(root, tmp_path):
    exp, store, split = tiny_experiment(root, per_class_train=10, epochs=2, device="cuda")
    fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt")
    classifier = from_checkpoint(tmp_path / "model.pt")
    assert next(classifier.model.parameters()).device.type == "cpu"
    results = export(classifier, tmp_path / "export", store.images[:16])
    assert {r.format for r in results} == {"torchscript", "onnx"}
    for r in results:
        assert r.same_labels and r.max_abs_diff < 1e-4, r


def test_torchrun_one_process_trains_with_nccl(tmp_path):
    exp, store, split = tiny_experiment(tmp_path, per_class_train=20, image_size=32, epochs=2, batch_size=16,
                                        augment=False, device="cuda")  # fmt: skip
    where = workdir(tmp_path, "one", exp, store, split)
    out = run([str(BIN / "torchrun"), "--standalone", "--nproc_per_node=1", str(REPO / "stages/train.py"), exp.name], where)
    summary = json.loads((where / layout.ExperimentPaths(exp.name).train_summary).read_text())
    assert summary["processes"] == 1 and summary["device"].startswith("cuda") and summary["precision"] == "bf16"
    assert "DDP over 1 process(es), backend nccl, on cuda" in out.stdout
