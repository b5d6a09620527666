"""The `handsign` command, run in-process on real renders and a real (tiny) checkpoint."""

import json

import pytest
from conftest import split_params, training
from PIL import Image
from typer.testing import CliRunner

from handsign.cli import app
from handsign.config import DatasetParams, Experiment
from handsign.data.split import assign_splits
from handsign.datasets import PreparedStore, get_spec
from handsign.training.train import fit

runner = CliRunner()
TINY = ["--per-class-train", "3", "--per-class-test", "2", "--subjects", "2"]


def test_synth_writes_the_kaggle_layout_and_refuses_an_existing_folder(tmp_path):
    out = tmp_path / "fingers"
    result = runner.invoke(app, ["synth", "fingers", str(out), *TINY])
    assert result.exit_code == 0, result.output
    assert len(list((out / "fingers" / "test").glob("*.png"))) == 6 * 2 * 2
    again = runner.invoke(app, ["synth", "fingers", str(out), *TINY])
    assert again.exit_code != 0 and "exists" in again.output


def test_synth_rejects_bad_counts_without_writing(tmp_path):
    result = runner.invoke(app, ["synth", "sign_mnist", str(tmp_path / "s"), "--per-class-train", "0"])
    assert result.exit_code != 0
    assert "synthetic.per_class_train: must be at least 1" in result.output
    assert not (tmp_path / "s").exists()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    assert runner.invoke(app, ["synth", "sign_mnist", str(root / "raw"), *TINY]).exit_code == 0
    get_spec("sign_mnist").read(root / "raw").save(root / "prepared", "sign_mnist")
    store = PreparedStore.load(root / "prepared")
    exp = Experiment("tiny", "sign_mnist", DatasetParams().source, 28, "official", training(epochs=1))
    split = assign_splits(store.samples, "official", split_params(seed=0)).to_numpy()
    fit(exp, store, split, root / "model.pt", root / "last.pt")
    return root


def test_score_reports_metrics_on_the_official_test_part(checkpoint):
    result = runner.invoke(app, ["score", str(checkpoint / "model.pt"), str(checkpoint / "raw")])
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout)  # (what it is doing goes to stderr)
    assert result.stderr.startswith("score: ")
    assert scored["n_test"] == 24 * 2 and 0.0 <= scored["accuracy"] <= 1.0


def test_score_refuses_data_with_other_classes(checkpoint, tmp_path):
    assert runner.invoke(app, ["synth", "fingers", str(tmp_path / "f"), *TINY]).exit_code == 0
    result = runner.invoke(app, ["score", str(checkpoint / "model.pt"), str(tmp_path / "f"), "--dataset", "fingers"])
    assert result.exit_code != 0 and "was trained on classes" in result.output


def test_bench_commands_print_rates():
    render = runner.invoke(app, ["bench", "render", "--dataset", "sign_mnist", "--images", "48"])
    assert render.exit_code == 0 and "images/s" in render.output
    train = runner.invoke(app, ["bench", "train", "--model", "cnn_seed", "--steps", "2", "--batch-size", "8"])
    assert train.exit_code == 0 and "train" in train.output and "img/s" in train.output
    decode = runner.invoke(app, ["bench", "decode", "--frames", "100", "--image-size", "32"])
    assert decode.exit_code == 0, decode.output
    assert "decode 100 frames" in decode.output and "frames/s" in decode.output
    freeze = runner.invoke(app, ["bench", "freeze", "--image-size", "32", "--images", "40", "--epochs", "1"])
    assert freeze.exit_code == 0, freeze.output
    lines = [line for line in freeze.output.splitlines() if "epochs," in line]
    assert "frozen" in lines[0] and "fine-tuned" in lines[1] and "feature pass 0.0 s" in lines[1]


def test_bench_time_to_accuracy_trains_each_budget_with_the_real_fit(checkpoint):
    result = runner.invoke(app, ["bench", "time-to-accuracy", str(checkpoint / "raw"), "--max-epochs", "2"])
    assert result.exit_code == 0, result.output
    rows = [line.split(" | ") for line in result.output.splitlines() if line[:1].isdigit()]
    assert [r[0] for r in rows] == ["1", "2"]
    assert all(0 <= int(r[3]) <= 24 * 2 for r in rows)  # errors on the official test part: 24 letters x 2


def test_experiments_lists_the_crossvalidations_and_their_stages():
    listing = runner.invoke(app, ["experiments", "--dataset", "leapgestrecog"])
    assert listing.exit_code == 0, listing.output
    loso = [line for line in listing.output.splitlines() if line.startswith("leapgestrecog_resnet18_loso ")]
    assert len(loso) == 1 and " loso " in loso[0] and "handsign_resnet18" in loso[0]
    stages = runner.invoke(app, ["experiments", "--dataset", "leapgestrecog", "--stages"]).output.split()
    assert "crossval@leapgestrecog_resnet18_loso" in stages and "evaluate@leapgestrecog_cnn" in stages
    assert not [s for s in stages if "fingers" in s]
    # An ensemble is listed and among the stages `make real` runs.
    listing = runner.invoke(app, ["experiments", "--dataset", "sign_mnist"]).output.splitlines()
    (ensemble,) = [line for line in listing if line.startswith("sign_mnist_ensemble ")]
    assert "sign_mnist_cnn x sign_mnist_landmarks" in ensemble
    assert "evaluate_ensemble@sign_mnist_ensemble" in runner.invoke(app, ["experiments", "--stages"]).output.split()
    # Each as its stages run it: the demo's smaller size after the declared one.
    listing = runner.invoke(app, ["experiments"]).output.splitlines()
    (resnet,) = [line for line in listing if line.startswith("leapgestrecog_resnet18 ")]
    assert " 224->48px " in resnet


class Payload:
    """An object in a checkpoint: unpickled, it could run anything."""


def test_a_users_mistake_is_one_line_and_exit_1_never_a_traceback(checkpoint, tmp_path, monkeypatch):
    """A checkpoint carrying an object (refused unread), a camera source that is no video, a window
    with no display: each a `handsign: error:` line naming it, and exit code 1."""
    import torch

    pickled = tmp_path / "pickled.pt"
    torch.save({"model": Payload()}, pickled)
    image = tmp_path / "hand.png"
    Image.new("L", (28, 28)).save(image)
    out = runner.invoke(app, ["predict", str(image), "-m", str(pickled)])
    assert out.exit_code == 1 and isinstance(out.exception, SystemExit), out.exception  # no traceback
    assert f"handsign: error: {pickled}: not a checkpoint of plain tensors and values; refused" in out.output
    text = tmp_path / "notes.jpg"
    text.write_text("not a video")
    out = runner.invoke(app, ["collect", "--label", "3L", "--out", str(tmp_path / "mine"), "--source", str(text), "--headless"])
    assert out.exit_code == 1 and isinstance(out.exception, SystemExit), out.exception
    assert f"--source {text}: not a single frame could be read" in out.output, out.output
    assert not (tmp_path / "mine").exists()
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    out = runner.invoke(app, ["live", "-m", str(checkpoint / "model.pt"), "--source", str(text)])
    assert out.exit_code == 1 and "no display to open a window on" in out.output and "--headless" in out.output, out.output
