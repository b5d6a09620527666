"""Every stage script, run in-process on tiny data in the order `dvc repro` runs them: download,
prepare, split, configure, train, evaluate, crossval. The fast suite's
end-to-end check (seconds); tests/test_pipeline.py runs the same scripts through the real DVC."""

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO, SHARED_WEIGHTS, with_reads
from PIL import Image

from handsign.config import load_params
from handsign.core import layout
from handsign.hands.landmarks import MODEL_FILE

# The landmark classifiers need the hand landmarker file (../shared/weights/ in the workplace).
HAS_DETECTOR = (SHARED_WEIGHTS / MODEL_FILE).exists()


def stage(name: str):
    """The stage function of stages/<name>.py, imported as a module (its typer entry point unused)."""
    spec = importlib.util.spec_from_file_location(f"stage_{name}", REPO / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


# The committed params.yaml (its training defaults and recipes), shrunk to tiny data.
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text()) | {
    "datasets": {"fingers": {"source": "synthetic"}, "leapgestrecog": {"source": "synthetic"}},
    "synthetic": {"seed": 0, "per_class_train": 6, "per_class_test": 2, "subjects": 3, "frames_per_gesture": 3},
    "data": {
        "fingers_64": {"dataset": "fingers", "image_size": 64, "splits": ["official"], "on_synthetic": {"image_size": 24},
                       "combined": {"official_more": {"split": "official", "add": ["fingers_other_camera"]}}},
        "leapgestrecog_24": {"dataset": "leapgestrecog", "image_size": 24, "splits": ["subject", "loso"]},
    },
    "epochs": 2,
    "batch_size": 16,
    "experiments": {
        "fingers_cnn": {"dataset": "fingers", "image_size": 64, "split": "official", "model": "cnn_small"},
        # Trained on both sources; a photo from elsewhere is cut to its hand (hand_crop), added ones too.
        "fingers_cnn_more": {"dataset": "fingers", "image_size": 64, "split": "official_more", "model": "cnn_small",
                             "mirror": 0.5, "hand_crop": 1.0, "added_repeat": 3},
        "fingers_landmarks": {"dataset": "fingers", "image_size": 64, "split": "official", "recipe": "landmark_mlp",
                              "model": "landmark_mlp_joints"},  # as params.yaml counts
    },
    "crossval": {"leapgestrecog_cnn_loso": {"dataset": "leapgestrecog", "image_size": 24, "split": "loso",
                                             "model": "cnn_small"}},
    "ensembles": {"fingers_ensemble": {"dataset": "fingers", "image_size": 64, "split": "official",
                                       "pixel": "fingers_cnn", "landmarks": "fingers_landmarks"},
                  # The same pair, its weights chosen on the two sets of other hands neither member trained on.
                  "fingers_ensemble_chosen": {"dataset": "fingers", "image_size": 64, "split": "official",
                                              "pixel": "fingers_cnn", "landmarks": "fingers_landmarks",
                                              "held_out": ["fingers_other_camera", "fingers_someone"],
                                              "search": {"pixel": [0.25, 1.0]}}},
}
PARAMS["landmarks"] = {name: PARAMS["landmarks"][name] for name in PARAMS["datasets"]}
# Every reading, as sign_mnist's, of the first two ways of showing a hand (each way a detection an image).
PARAMS["landmarks"]["fingers"] = PARAMS["landmarks"]["fingers"] | {"readings": "every",
                                                                   "attempts": PARAMS["landmarks"]["fingers"]["attempts"][:2]}
PARAMS["external"] = {"fingers_other_camera": {"dataset": "fingers", "source": "synthetic", "per_class": 2},
                      "fingers_someone": {"dataset": "fingers", "path": "someone"}}  # (made by the fixture)
# Leave one source out: the official split plus the two sets, each held out in turn.
PARAMS["data"]["fingers_64"]["combined"]["sources"] = {"split": "official", "add": ["fingers_other_camera", "fingers_someone"],
                                                       "hold_out": True}
# ... and one set held out while the other (renders, say) trains in every fold.
PARAMS["data"]["fingers_64"]["combined"]["someone_out"] = {"split": "official", "hold_out": ["fingers_someone"],
                                                           "add": ["fingers_other_camera", "fingers_someone"]}
# Its settings searched: each added source's images once or three times an epoch.
PARAMS["crossval"]["fingers_landmarks_sources"] = {"dataset": "fingers", "image_size": 64, "split": "sources",
                                                  "recipe": "landmark_mlp", "epochs": 3, "search": {"added_repeat": [1, 3]}}
with_reads(PARAMS)


MISSED = 5  # test images whose hand the detector is made to miss


def miss_hands(folder, n):
    """As if the detector had found no hand in the first `n` official test images."""
    from handsign.hands.landmarks import Landmarks

    found = Landmarks.load(folder / "landmarks.npz")
    samples = pd.read_csv(folder / "samples.csv", keep_default_na=False)
    rows = samples.index[samples["official_split"] == "test"][:n]
    found.image[rows], found.world[rows], found.attempt[rows] = np.nan, np.nan, -1
    found.save(folder / "landmarks.npz")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A working directory holding params.yaml, with every stage run in it once, in order."""
    root = tmp_path_factory.mktemp("stages")
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    someone_photos(root / "someone")
    (root / "dvc.yaml").write_text("stages: {}\n")  # marks the repository root (the MLflow store goes there)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        for dataset in ("fingers", "leapgestrecog"):
            stage("download")(dataset)
        if HAS_DETECTOR:  # the external sets' hands are found by the pinned landmarker
            mp.setenv("HANDSIGN_WEIGHTS", str(SHARED_WEIGHTS))
            stage("landmarker")()
            for dataset in ("fingers", "leapgestrecog"):
                stage("external")(dataset)
        for copy in ("fingers_64", "leapgestrecog_24"):
            stage("prepare")(copy)
            stage("split")(copy)
        stage("configure")()
        stage("train")("fingers_cnn")
        stage("evaluate")("fingers_cnn")
        if HAS_DETECTOR:  # more than one source: the official split plus the other camera's photos
            stage("train")("fingers_cnn_more")
            stage("evaluate")("fingers_cnn_more")
        stage("crossval")("leapgestrecog_cnn_loso")
        if HAS_DETECTOR:
            stage("landmarks")("fingers")
            miss_hands(root / layout.landmarks("fingers"), MISSED)
            stage("train")("fingers_landmarks")
            stage("evaluate")("fingers_landmarks")
            stage("evaluate_ensemble")("fingers_ensemble")
            stage("evaluate_ensemble")("fingers_ensemble_chosen")
            stage("crossval")("fingers_landmarks_sources")
    return root


def someone_photos(dest):
    """Another source's finger counts, `<count>/<image>`: renders of other hands (another seed)."""
    from conftest import synthetic_params

    from handsign.datasets import get_spec
    from handsign.synth import render_dataset

    raw = dest.parent / "someone_raw"
    render_dataset("fingers", raw, synthetic_params(per_class_train=2, per_class_test=1, subjects=2), 7)
    for path, _, count, _ in get_spec("fingers").locate(raw):
        (dest / str(count)).mkdir(parents=True, exist_ok=True)
        path.rename(dest / str(count) / path.name)


def test_download_prepare_and_split_write_the_prepared_copies(repo):
    meta = json.loads((repo / layout.prepared("fingers_64") / "meta.json").read_text())
    assert meta["image_shape"] == [1, 24, 24]  # on_synthetic: the demo's size, not 64
    assert np.load(repo / layout.prepared("fingers_64") / "images.npy", mmap_mode="r").shape == (6 * 2 * 8, 1, 24, 24)
    official = pd.read_csv(repo / layout.split_dir("fingers_64") / "official.csv")
    assert (official["split"] == "test").sum() == 6 * 2 * 2  # the official test folder
    loso = pd.read_csv(repo / layout.split_dir("leapgestrecog_24") / "loso.csv", dtype={"group": str})
    assert sorted(c for c in loso.columns if c.startswith("fold_")) == ["fold_00", "fold_01", "fold_02"]


def test_configure_train_and_evaluate_score_the_experiment(repo):
    config = json.loads((repo / layout.ExperimentPaths("fingers_cnn").config).read_text())
    assert config["training"]["epochs"] == 2 and config["source"] == "synthetic"
    summary = json.loads((repo / layout.ExperimentPaths("fingers_cnn").train_summary).read_text())
    assert summary["precision"] in ("fp32", "bf16") and summary["device"] == "cpu"
    metrics = json.loads((repo / layout.ExperimentPaths("fingers_cnn").metrics).read_text())
    assert metrics["n_test"] == 24 and 0 <= metrics["accuracy"] <= 1
    predictions = pd.read_csv(repo / layout.ExperimentPaths("fingers_cnn").predictions)
    assert len(predictions) == 24 and (predictions["actual"] == predictions["predicted"]).mean() == metrics["accuracy"]
    assert (repo / "mlflow.db").exists()
    if HAS_DETECTOR:  # and on the renderer's other camera, beside its own test split
        carried = json.loads((repo / layout.ExperimentPaths("fingers_cnn").external_metrics).read_text())
        assert list(carried) == ["fingers_other_camera", "fingers_someone"] and carried["fingers_other_camera"]["n_test"] == 6 * 2
        # `handsign score --external` on the set's folder reads it as the pipeline did
        from handsign.evaluation.score import score_external_folder

        images = repo / "data/external/fingers/fingers_other_camera/images"
        scored = score_external_folder(repo / layout.ExperimentPaths("fingers_cnn").model, images, {})
        assert scored["accuracy"] == carried["fingers_other_camera"]["accuracy"] and scored["n_test"] == 12


@pytest.mark.skipif(not HAS_DETECTOR, reason=f"{SHARED_WEIGHTS / MODEL_FILE} is only present in the project's workplace")
def test_a_combined_split_trains_on_both_sources_and_tests_on_the_official_test_folder(repo):
    split = pd.read_csv(repo / layout.split_dir("fingers_64") / "official_more.csv", dtype={"group": str, "class_name": str})
    official = pd.read_csv(repo / layout.split_dir("fingers_64") / "official.csv", dtype={"group": str, "class_name": str})
    added = split[split["source"].str.startswith("external:fingers_other_camera/")]
    assert len(added) == 6 * 2 and set(added["split"]) == {"train"} and (added["sample_id"] < 0).all()
    assert set(added["class_name"]) == {"0", "1", "2", "3", "4", "5"} and set(added["group"]) == {"fingers_other_camera"}
    pd.testing.assert_frame_equal(split.iloc[: len(official)], official)  # the official rows as they are
    summary = json.loads((repo / layout.ExperimentPaths("fingers_cnn_more").train_summary).read_text())
    assert summary["train_samples"] == {"fingers": int((official["split"] == "train").sum()), "fingers_other_camera": 12}
    # added_repeat: 3, each added image shown three times an epoch
    assert summary["samples_per_process_min"] == int((official["split"] == "train").sum()) + 3 * 12
    metrics = json.loads((repo / layout.ExperimentPaths("fingers_cnn_more").metrics).read_text())
    assert metrics["n_test"] == 24  # the official test folder alone


@pytest.mark.skipif(not HAS_DETECTOR, reason=f"{SHARED_WEIGHTS / MODEL_FILE} is only present in the project's workplace")
def test_a_cropping_model_sees_every_image_from_elsewhere_cut_to_its_hand(repo, monkeypatch):
    """hand_crop: the added training images, evaluate's external scores and the served model (which
    finds the hands again) all use the crop around the hand the detector finds."""
    from handsign.config import load_experiment
    from handsign.core.imagefile import grey_pixels
    from handsign.data import externalsets
    from handsign.data.preprocessing import saved
    from handsign.data.splitdata import load_split
    from handsign.datasets.base import to_square_array
    from handsign.recognition.loading import from_checkpoint

    monkeypatch.chdir(repo)
    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(SHARED_WEIGHTS))
    paths = layout.ExperimentPaths("fingers_cnn_more")
    prep = saved(torch.load(repo / paths.model, weights_only=True), repo / paths.model)
    assert prep.hand_crop == 1.0 and prep.hand_box == load_params(repo / "params.yaml").landmark_settings("fingers")
    data = load_split(load_experiment(repo / paths.config))
    added = data.table["source"].str.startswith("external:").to_numpy()
    (other,) = [s for s in externalsets.sets_of("fingers") if s.name == "fingers_other_camera"]
    pictures = other.pictures()
    crops = [to_square_array(grey_pixels(Image.fromarray(c)), 24, "stretch") for c in other.pictures(1.0)]
    whole = [to_square_array(grey_pixels(Image.fromarray(c)), 24, "stretch") for c in pictures]
    np.testing.assert_array_equal(np.asarray(data.store.images)[added][:, 0], np.stack(crops))
    assert not np.array_equal(np.stack(crops), np.stack(whole))
    # Evaluate's answer for each photo is the served classifier's, which finds the hands itself.
    evaluated = pd.read_csv(repo / paths.external / "fingers_other_camera/predictions.csv", dtype=str)
    classifier = from_checkpoint(repo / paths.model)
    served = classifier.probabilities(pictures)
    assert evaluated["predicted"].tolist() == [prep.class_names[k] for k in served.argmax(1)]
    unseen = from_checkpoint(repo / paths.model)
    unseen.preprocessing = dataclasses.replace(prep, hand_crop=0.0)  # the photos whole: other answers
    assert np.abs(unseen.probabilities(pictures) - served).max() > 1e-3


@pytest.mark.skipif(not HAS_DETECTOR, reason=f"{SHARED_WEIGHTS / MODEL_FILE} is only present in the project's workplace")
def test_a_landmark_classifier_trains_and_counts_a_missed_hand_as_an_error(repo):
    paths = layout.ExperimentPaths("fingers_landmarks")
    assert json.loads((repo / paths.config).read_text())["training"]["model"] == "landmark_mlp_joints"
    metrics = json.loads((repo / paths.metrics).read_text())
    predictions = pd.read_csv(repo / paths.predictions, dtype=str)
    missed = predictions["predicted"] == "no hand"
    assert missed.sum() >= MISSED  # and those are errors:
    assert metrics["hand_found"] == pytest.approx(1 - missed.mean())
    assert metrics["accuracy"] == pytest.approx((predictions["actual"] == predictions["predicted"]).mean())
    assert metrics["accuracy"] == pytest.approx(metrics["accuracy_hand_found"] * metrics["hand_found"])
    history = pd.read_csv(repo / paths.history)
    assert (
        len(history) == PARAMS["recipes"]["landmark_mlp"]["on_synthetic"]["epochs"]
        and history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    )


@pytest.mark.skipif(not HAS_DETECTOR, reason=f"{SHARED_WEIGHTS / MODEL_FILE} is only present in the project's workplace")
def test_with_every_reading_a_landmark_model_also_trains_on_each_attempts_hand(repo, monkeypatch):
    """`readings: every`: the landmark stage keeps every attempt's reading (its first found is the
    hand it keeps anyway), and the split adds each training sample's other readings, for training only."""
    from handsign.config import load_experiment
    from handsign.data.splitdata import load_split
    from handsign.hands.landmarks import READINGS_FILE, Landmarks

    monkeypatch.chdir(repo)
    folder = repo / layout.landmarks("fingers")
    first, every = Landmarks.load(folder / "landmarks.npz"), Landmarks.load(folder / READINGS_FILE)
    attempts = len(PARAMS["landmarks"]["fingers"]["attempts"])
    assert len(every.attempt) == attempts * len(first.attempt)
    by_image = every.found.reshape(-1, attempts)
    # The download's own test images are read once (training alone reads every reading).
    tested = (pd.read_csv(folder / "samples.csv", dtype=str, keep_default_na=False)["official_split"] == "test").to_numpy()
    assert tested.any() and not by_image[tested].any() and first.found[tested].any()
    kept = first.found & ~tested  # miss_hands took some test hands away afterwards: the rest are the first readings
    assert (by_image.any(1)[kept]).all() and (by_image.argmax(1)[kept] == first.attempt[kept]).all()
    assert np.allclose(every.image.reshape(-1, attempts, 21, 3)[kept, first.attempt[kept]], first.image[kept], equal_nan=True)
    assert (by_image.sum(1) > 1).sum() > 0  # more than one attempt finds most hands

    exp = load_experiment(repo / layout.ExperimentPaths("fingers_landmarks").config)
    data = load_split(exp)
    n = len(pd.read_csv(repo / layout.prepared("fingers_64") / "samples.csv"))
    extra = data.table.iloc[n:]
    official = pd.read_csv(repo / layout.split_dir("fingers_64") / "official.csv", dtype=str).set_index("sample_id")
    assert len(extra) and (extra["split"] == "train").all()
    assert (official.loc[extra["sample_id"].astype(str), "split"] == "train").all()
    assert (data.store.samples["label"].to_numpy()[n:] == extra["label"].to_numpy()).all()
    assert np.isfinite(data.images[n:]).all() and max(data.rows("test").max(), data.rows("val").max()) < n
    rows = pd.read_csv(folder / "samples.csv", dtype=str).reset_index().set_index("sample_id")["index"]
    train = rows.loc[official.index[official["split"] == "train"]].to_numpy(int)
    assert len(extra) == by_image[train].sum() - first.found[train].sum()
    summary = json.loads((repo / layout.ExperimentPaths("fingers_landmarks").train_summary).read_text())
    assert summary["train_samples"] == {"fingers": (data.column("split") == "train").sum()}


@pytest.mark.slow  # seconds on the shared repository: make test runs it
@pytest.mark.skipif(not HAS_DETECTOR, reason=f"{SHARED_WEIGHTS / MODEL_FILE} is only present in the project's workplace")
def test_an_ensemble_answers_the_product_of_its_members_probabilities(repo, monkeypatch):
    """On the test split (a missed hand: the pixel model decides) and on an external set, where the
    served members find the hands again and must agree with the ensemble's answers; and as the
    MLflow model the stage registers, served as one."""
    import mlflow
    import mlflow.pyfunc
    from typer.testing import CliRunner

    from handsign import tracking
    from handsign.cli import app
    from handsign.config import load_experiment
    from handsign.data import externalsets
    from handsign.data.splitdata import load_split
    from handsign.recognition.checkpoint import load_checkpoint
    from handsign.recognition.inference import probabilities
    from handsign.recognition.loading import from_checkpoint

    monkeypatch.chdir(repo)
    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(SHARED_WEIGHTS))
    probs, names = [], None
    for member in ("fingers_cnn", "fingers_landmarks"):
        paths = layout.ExperimentPaths(member)
        model, checkpoint = load_checkpoint(repo / paths.model)
        data = load_split(load_experiment(repo / paths.config))
        probs.append(probabilities(model, data.store.images, data.rows("test")))
        names = checkpoint.class_names
    pixel, hands = probs
    missed = hands.sum(1) == 0
    assert missed.sum() >= MISSED and np.allclose(hands[~missed].sum(1), 1, atol=1e-4)
    product = np.log(pixel + 1e-6) + np.where(missed[:, None], 0.0, np.log(hands + 1e-6))
    paths = layout.ExperimentPaths("fingers_ensemble")
    predictions = pd.read_csv(repo / paths.predictions, dtype=str)
    assert predictions["predicted"].tolist() == [names[k] for k in product.argmax(1)]
    assert (predictions["predicted"][missed] == [names[k] for k in pixel[missed].argmax(1)]).all()
    metrics = json.loads((repo / paths.metrics).read_text())
    assert metrics["accuracy"] == pytest.approx((predictions["actual"] == predictions["predicted"]).mean())
    # Its own MLflow run, which names its members' runs.
    client = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri(repo))
    (run,) = client.search_runs([client.get_experiment_by_name("handsign-fingers_ensemble").experiment_id])
    assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["accuracy"])
    member_run = json.loads((repo / layout.ExperimentPaths("fingers_landmarks").mlflow_run).read_text())["run_id"]
    assert run.data.tags["landmarks_run"] == member_run and run.data.params["pixel"] == "fingers_cnn"
    # An external set: both members served as users call them, on the photos as they came.
    (other,) = [s for s in externalsets.sets_of("fingers") if s.name == "fingers_other_camera"]
    pictures = other.pictures()
    served = [from_checkpoint(repo / layout.ExperimentPaths(m).model).probabilities(pictures)
              for m in ("fingers_cnn", "fingers_landmarks")]  # fmt: skip
    found = served[1].sum(1) > 0
    product = np.log(served[0] + 1e-6) + np.where(found[:, None], np.log(served[1] + 1e-6), 0.0)
    scored = pd.read_csv(repo / paths.external / "fingers_other_camera/predictions.csv", dtype=str)
    assert scored["predicted"].tolist() == [names[k] for k in product.argmax(1)]
    # handsign predict -m PIXEL -m LANDMARKS answers the same.
    out = CliRunner().invoke(app, ["predict", "--json", "-k", "1", *map(str, other.files()),
                                   "-m", str(repo / layout.ExperimentPaths("fingers_cnn").model),
                                   "-m", str(repo / layout.ExperimentPaths("fingers_landmarks").model)])  # fmt: skip
    assert out.exit_code == 0, out.output
    local = json.loads(out.stdout)["predictions"]
    assert [p["top"][0]["label"] for p in local] == scored["predicted"].tolist()
    external = json.loads((repo / paths.external_metrics).read_text())["fingers_other_camera"]
    assert external["accuracy"] == pytest.approx((scored["actual"] == scored["predicted"]).mean())
    # A cropping pixel model with it: one detection serves both, and answers as two would.
    from handsign.recognition.ensemble import combine
    from handsign.use.predict import load_model

    cropping = [str(repo / layout.ExperimentPaths(m).model) for m in ("fingers_cnn_more", "fingers_landmarks")]
    pair = load_model(cropping)
    assert pair._finder() is pair.members[1]
    separately = combine([load_model([m]).probabilities(pictures) for m in cropping])
    assert pair.probabilities(pictures) == pytest.approx(separately, abs=1e-6)
    # The pair registered as one served model, which brings both checkpoints and its own detector.
    from handsign.use.serving import encode_file

    assert run.data.metrics["val_accuracy"] > 0
    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(repo / "nowhere"))
    mlflow.set_tracking_uri(tracking.tracking_uri(repo))
    served = mlflow.pyfunc.load_model("models:/handsign-fingers_ensemble-synthetic@champion")
    answer = served.predict(pd.DataFrame({"image": [encode_file(f) for f in other.files()]}))
    assert list(answer["label"]) == scored["predicted"].tolist()
    assert answer["probability"].to_numpy() == pytest.approx([p["top"][0]["probability"] for p in local], abs=1e-5)
    with pytest.raises(ValueError, match="an ensemble of several checkpoints"):
        tracking.logged_checkpoint("models:/handsign-fingers_ensemble-synthetic@champion", repo)  # init: from one member
    out = CliRunner().invoke(app, ["export", "fingers_ensemble"])
    assert out.exit_code == 1 and "handsign export fingers_cnn; handsign export fingers_landmarks" in out.output


needs_detector = pytest.mark.skipif(not HAS_DETECTOR, reason=f"{SHARED_WEIGHTS / MODEL_FILE} is only in the workplace")


def split_files(repo, experiment):
    """The raw image files of an experiment's test split, in its predictions.csv's order."""
    predictions = pd.read_csv(repo / layout.ExperimentPaths(experiment).predictions, dtype=str)
    samples = pd.read_csv(repo / layout.prepared("fingers_64") / "samples.csv", dtype=str).set_index("sample_id")
    return [repo / layout.raw("fingers") / samples.loc[i, "source"] for i in predictions["sample_id"]], predictions


@needs_detector
def test_a_one_member_evaluation_gives_exactly_evaluates_reports(repo, monkeypatch):
    """The path evaluate_ensemble scores its members by (evaluation/classifiers.py), given one member,
    writes byte for byte the reports the evaluate stage wrote for it: test metrics, per class, per
    group, predictions and every external set; a landmark member's missed hands included. And one
    member's answers are its own network's: the product of one model's probabilities picks the class
    `predict` picks from its logits, and "no hand" where it found none."""
    from handsign.evaluation import classifiers
    from handsign.evaluation.external import write_scores
    from handsign.evaluation.report import write_reports
    from handsign.recognition.inference import NO_HAND, predict

    monkeypatch.chdir(repo)
    for name in ("fingers_cnn", "fingers_landmarks"):
        member = classifiers.load_member(name)
        own = predict(member.model, member.data.images, member.data.rows("test"))
        assert np.array_equal(classifiers.answer([member.probabilities("test")]), own)
        assert (name == "fingers_landmarks") == bool((own == NO_HAND).any())  # a missed hand, kept as such
        y_true = member.data.column("label")[member.data.rows("test")]
        reported = json.loads((repo / layout.ExperimentPaths(name).metrics).read_text())
        assert reported["accuracy"] == pytest.approx((own == y_true).mean())
        assert reported.get("hand_found", 1.0) == pytest.approx((own != NO_HAND).mean())
        copy = layout.ExperimentPaths(f"{name}_one_member")
        results = classifiers.score_members([member], copy, name)
        write_reports(copy, results.summary, results.per_class, results.per_group, results.predictions)
        write_scores(copy, results.external, results.skipped, name)
        paths = layout.ExperimentPaths(name)
        for file in ("metrics", "per_class", "per_group", "predictions", "external_metrics"):
            assert (repo / getattr(copy, file)).read_bytes() == (repo / getattr(paths, file)).read_bytes(), (name, file)
        for f in sorted((repo / paths.external).rglob("*.csv")) + sorted((repo / paths.external).rglob("*.json")):
            assert (repo / copy.external / f.relative_to(repo / paths.external)).read_bytes() == f.read_bytes(), f


@needs_detector
def test_an_ensemble_member_of_weight_zero_leaves_the_other_alone(repo, monkeypatch):
    """ensembles.<name>.weights: a member of weight 0 takes no part. The pair with one member at 0
    writes the other's own evaluate reports byte for byte (the landmark model's missed hands too), on
    the test split and every external set; and the served Ensemble answers as that member alone."""
    from handsign.evaluation import classifiers
    from handsign.evaluation.external import write_scores
    from handsign.evaluation.report import write_reports
    from handsign.recognition.ensemble import Ensemble
    from handsign.recognition.loading import from_checkpoint

    monkeypatch.chdir(repo)
    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(SHARED_WEIGHTS))
    names = ("fingers_cnn", "fingers_landmarks")
    for alone in names:
        members = [classifiers.load_member(n) for n in names]
        for m in members:
            m.weight = 1.0 if m.exp.name == alone else 0.0
        copy = layout.ExperimentPaths(f"{alone}_weighted")
        results = classifiers.score_members(members, copy, alone)
        write_reports(copy, results.summary, results.per_class, results.per_group, results.predictions)
        write_scores(copy, results.external, results.skipped, alone)
        paths = layout.ExperimentPaths(alone)
        for file in ("metrics", "per_class", "predictions", "external_metrics"):
            assert (repo / getattr(copy, file)).read_bytes() == (repo / getattr(paths, file)).read_bytes(), (alone, file)
    images = sorted((repo / layout.raw("fingers") / "fingers" / "test").glob("*.png"))[:8]
    pixel, hands = (from_checkpoint(repo / layout.ExperimentPaths(n).model) for n in names)
    pictures = [np.asarray(Image.open(f)) for f in images]
    assert np.allclose(Ensemble([pixel, hands], [0, 1]).probabilities(pictures), hands.probabilities(pictures), atol=1e-5)
    assert np.array_equal(Ensemble([pixel, hands], [1, 0]).probabilities(pictures).argmax(1),
                          pixel.probabilities(pictures).argmax(1))  # fmt: skip
    with pytest.raises(ValueError, match="not all 0"):
        Ensemble([pixel, hands], [0, 0])


@needs_detector
def test_predict_and_the_served_model_find_the_hand_as_the_pipeline_did(repo, monkeypatch):
    """The checkpoint carries landmarks.fingers, so `predict` on the test split's own files finds the
    hands the landmarks stage found and answers as evaluate did; the registered MLflow model (with
    the hand landmarker in it) answers the same. An image without a hand: "no hand"."""
    import mlflow.pyfunc

    from handsign.recognition.landmarks import HandClassifier
    from handsign.use.predict import load_classifier, predict_files
    from handsign.use.serving import encode_file

    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(SHARED_WEIGHTS))
    classifier = load_classifier(str(repo / layout.ExperimentPaths("fingers_landmarks").model))
    assert isinstance(classifier, HandClassifier)
    assert classifier.preprocessing.landmarks == load_params(repo / "params.yaml").landmarks["fingers"]
    files, evaluated = split_files(repo, "fingers_landmarks")
    blank = repo / "blank.png"
    Image.new("L", (128, 128), 90).save(blank)
    local = predict_files(classifier, [*files, blank])
    labels = [top[0][0] for top in local.top(3)]
    assert not local.errors and len(labels) == len(files) + 1, (local.errors, len(labels), len(files))
    assert labels[-1] == "no hand" and local.top(3)[-1] == [("no hand", 0.0)]
    assert local.to_table(3).splitlines()[-1].split()[1:] == ["no", "hand"]
    assert json.loads(local.to_json(3))["predictions"][-1]["top"] == [{"label": "no hand", "probability": 0.0}]
    # The test made the stage miss MISSED hands; the files have them, and predict finds them.
    missed = (evaluated["predicted"] == "no hand").to_numpy()
    assert missed.sum() == MISSED and "no hand" not in [labels[i] for i in np.flatnonzero(missed)]
    assert [labels[i] for i in np.flatnonzero(~missed)] == list(evaluated["predicted"][~missed])

    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(repo / "nowhere"))  # the served model brings its own detector
    served = mlflow.pyfunc.load_model("models:/handsign-fingers_landmarks-synthetic@champion")
    answer = served.predict(pd.DataFrame({"image": [encode_file(f) for f in [*files[:12], blank]]}))
    assert list(answer["label"]) == labels[:12] + ["no hand"]
    expected = local.probabilities[[*range(12), -1]]
    assert answer[classifier.preprocessing.class_names].to_numpy() == pytest.approx(expected, abs=1e-5)


@needs_detector
def test_a_landmark_checkpoint_from_before_it_carried_its_settings_is_named(repo, tmp_path):
    import torch

    from handsign.recognition.loading import from_checkpoint

    checkpoint = torch.load(repo / layout.ExperimentPaths("fingers_landmarks").model, weights_only=True)
    checkpoint["preprocessing"] = {"image_size": 106, "resize": "landmarks", "class_names": checkpoint["class_names"]}
    torch.save(checkpoint, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="old.pt is a hand-landmark model trained before .* retrain it"):
        from_checkpoint(tmp_path / "old.pt")


@pytest.mark.slow  # seconds on the shared repository: make test runs it
@needs_detector
def test_score_finds_the_hands_with_the_checkpoints_settings_and_agrees_with_evaluate(repo, monkeypatch):
    """`handsign score` of the landmark model on the same files: every hand found (the test's made-up
    misses are not in the files), and the other images scored as evaluate scored them."""
    from handsign.evaluation.score import score_checkpoint

    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(SHARED_WEIGHTS))
    paths = layout.ExperimentPaths("fingers_landmarks")
    scored = score_checkpoint(repo / paths.model, repo / layout.raw("fingers"), "fingers", "test")
    evaluated = json.loads((repo / paths.metrics).read_text())
    n = evaluated["n_test"]
    assert scored["n_test"] == n and scored["hand_found"] == 1.0
    right = round(scored["accuracy"] * n)
    assert round(evaluated["accuracy"] * n) <= right <= round(evaluated["accuracy"] * n) + MISSED


@pytest.mark.slow  # seconds: make test runs it, make test-fast leaves it out
@needs_detector
def test_a_landmark_model_exports_to_onnx_with_parity_on_its_test_hands(repo, monkeypatch, tmp_path):
    from handsign.recognition.loading import from_checkpoint
    from handsign.use.export import TOLERANCE, export_experiment, run_onnx

    monkeypatch.chdir(repo)
    results, checked, _ = export_experiment("fingers_landmarks", tmp_path, ("onnx",), 256, log=False)
    evaluated = pd.read_csv(repo / layout.ExperimentPaths("fingers_landmarks").predictions, dtype=str)
    assert checked == (evaluated["predicted"] != "no hand").sum()
    assert results[0].max_abs_diff <= TOLERANCE and results[0].same_labels
    classes = len(from_checkpoint(repo / layout.ExperimentPaths("fingers_landmarks").model).preprocessing.class_names)
    assert run_onnx(results[0].path, np.zeros((3, 106), np.float32)).shape == (3, classes)
    assert "landmarks" in json.loads((tmp_path / "preprocessing.json").read_text())


@pytest.mark.slow  # seconds on the shared repository: make test runs it
@needs_detector
def test_live_finds_the_hand_anywhere_in_the_frame_and_says_when_there_is_none(repo, tmp_path, monkeypatch):
    """`handsign live` with a landmark model on a 640x480 video of the test hands drifting across the
    frame after 10 empty frames: no hand in those, the hand in nearly every other, classified as the
    pipeline classified the image, and its skeleton drawn."""
    from typer.testing import CliRunner

    from handsign.cli import app
    from handsign.use.videos import hand_video

    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(SHARED_WEIGHTS))

    files, evaluated = split_files(repo, "fingers_landmarks")
    found = (evaluated["predicted"] != "no hand").to_numpy()  # not one the test made the stage miss
    files, expected = [files[i] for i in np.flatnonzero(found)[:8]], evaluated["predicted"][found][:8].to_numpy()
    video = tmp_path / "hands.avi"
    boxes = hand_video(files, video, repeat=6, empty=10)
    assert len(boxes) == 58 and boxes[:10] == [None] * 10
    out = CliRunner().invoke(app, ["live", "--model", str(repo / layout.ExperimentPaths("fingers_landmarks").model),
                                   "--source", str(video), "--headless", "--out-csv", str(tmp_path / "frames.csv"),
                                   "--screenshot", str(tmp_path / "last.png")])  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = pd.read_csv(tmp_path / "frames.csv", dtype={"label": str})
    assert len(rows) == 58 and (rows["label"][:10] == "no hand").all() and (rows["probability"][:10] == 0).all()
    shown = rows[10:].assign(image=np.arange(48) // 6)
    assert (shown["label"] != "no hand").mean() >= 0.9
    # Each image's most frequent label is mostly what evaluate said of it: a moving, recoloured,
    # video-compressed hand found another way (tracking), classified by a model of 12 images per class.
    majority = shown.groupby("image")["label"].agg(lambda x: x.mode()[0])
    assert (majority.to_numpy() == expected).mean() >= 0.5, (majority.to_numpy(), expected)
    last = np.asarray(Image.open(tmp_path / "last.png").convert("RGB")).astype(int)
    red = (last[:, :, 0] > 200) & (last[:, :, 1] < 60) & (last[:, :, 2] < 60)  # the 21 landmarks' dots
    ys, xs = np.nonzero(red)
    box = boxes[-1]  # the skeleton is drawn on the hand, where the video put it
    assert len(xs) > 21 * 20
    assert box.x <= xs.min() and xs.max() <= box.x + box.w and box.y <= ys.min() and ys.max() <= box.y + box.h


@needs_detector
def test_live_shows_a_greyscale_cameras_frames_to_the_detector_in_colour(repo, tmp_path, monkeypatch):
    """An infrared camera's grey frames: tinted as the model's training images were, the hand is
    found in (nearly) all of them; shown raw, in 87.5% here (76.5% on 200 frames of the demo's hands)."""
    import cv2

    from handsign.use.capture import is_grey
    from handsign.use.live import live
    from handsign.use.predict import load_classifier
    from handsign.use.videos import hand_video

    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(SHARED_WEIGHTS))
    files, evaluated = split_files(repo, "fingers_landmarks")
    found = (evaluated["predicted"] != "no hand").to_numpy()
    files = [files[i] for i in np.flatnonzero(found)[:8]]
    grey_video, colour_video = tmp_path / "grey.avi", tmp_path / "colour.avi"
    hand_video(files, grey_video, repeat=6, empty=4, tint=(1.0, 1.0, 1.0))
    hand_video(files[:1], colour_video, repeat=1, empty=0)
    assert is_grey(cv2.VideoCapture(str(grey_video)).read()[1])
    assert not is_grey(cv2.VideoCapture(str(colour_video)).read()[1])
    classifier = load_classifier(str(repo / layout.ExperimentPaths("fingers_landmarks").model))
    result = live(classifier, str(grey_video), headless=True, out_csv=tmp_path / "frames.csv")
    labels = pd.read_csv(tmp_path / "frames.csv", dtype={"label": str})["label"]
    assert (labels[:4] == "no hand").all() and (labels[4:] != "no hand").mean() >= 0.95 and result.hands >= 46


@pytest.mark.slow  # seconds on the shared repository: make test runs it
@needs_detector
def test_live_with_an_ensemble_multiplies_the_pixel_models_reading_of_the_tracked_hand(repo, tmp_path, monkeypatch):
    """`live -m PIXEL -m LANDMARKS`: per frame, the landmark model's answer on the hand it tracks times
    the cropping pixel model's on that hand's square, cut from the camera's colours (the whole frame
    where no hand is found), exactly as the pieces answer when run again on the same frames."""
    import cv2
    from typer.testing import CliRunner

    from handsign.cli import app
    from handsign.hands.handcrop import crop_to_hand
    from handsign.recognition.ensemble import combine
    from handsign.recognition.loading import from_checkpoint
    from handsign.use.readers import HandReader
    from handsign.use.videos import hand_video

    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(SHARED_WEIGHTS))
    files, evaluated = split_files(repo, "fingers_landmarks")
    files = [files[i] for i in np.flatnonzero((evaluated["predicted"] != "no hand").to_numpy())[:4]]
    video = tmp_path / "hands.avi"
    hand_video(files, video, repeat=4, empty=3)
    models = [repo / layout.ExperimentPaths(m).model for m in ("fingers_cnn_more", "fingers_landmarks")]
    out = CliRunner().invoke(app, ["live", "-m", str(models[0]), "-m", str(models[1]), "--source", str(video),
                                   "--headless", "--out-csv", str(tmp_path / "frames.csv")])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "live: 19 frames" in out.stdout
    pixel, hands = (from_checkpoint(m) for m in models)
    assert pixel.preprocessing.hand_crop == 1.0
    names = pixel.preprocessing.class_names
    shown = pd.read_csv(tmp_path / "frames.csv", dtype={"label": str})[names].to_numpy(np.float32)
    reader, capture = HandReader(hands), cv2.VideoCapture(str(video))
    expected, alone, found = [], [], []
    for n in range(1, len(shown) + 1):
        frame = capture.read()[1]
        hand = reader(frame, n)
        height, width = frame.shape[:2]
        points = hand.points / (width, height) if hand.hand else np.full((21, 2), np.nan)
        cut = pixel.classify([crop_to_hand(np.ascontiguousarray(frame[:, :, ::-1]), points, 1.0)])
        expected.append(combine([cut, hand.probabilities[None]])[0])
        alone.append(hand.probabilities)
        found.append(hand.hand)
    reader.close()
    found = np.array(found)
    assert not found[:3].any() and found[3:].mean() >= 0.9
    assert shown == pytest.approx(np.array(expected), abs=1e-5)
    assert not np.allclose(shown[found], np.array(alone)[found], atol=1e-3)  # the pixel model had its say


@needs_detector
def test_leaving_one_source_out_tests_each_source_on_a_model_that_never_saw_it(repo, monkeypatch):
    """The combined split's folds: a source's images are the test of its fold and in no fold's
    training but the others'; the copy's own test rows are in no fold. The cross-validation scores
    each source by the model of its fold: per source, the mean and the worst."""
    table = pd.read_csv(repo / layout.split_dir("fingers_64") / "sources.csv", keep_default_na=False, dtype={"group": str})
    sources = ["fingers_other_camera", "fingers_someone"]
    assert sorted(c for c in table.columns if c.startswith("fold_")) == [f"fold_{s}" for s in sources]
    added = table["sample_id"] < 0
    assert table.loc[added, "sample_id"].is_unique and set(table.loc[added, "group"]) == set(sources)
    for s in sources:
        fold = table[f"fold_{s}"]
        assert set(fold[table["group"] == s]) == {"test"} and (fold == "test").sum() == (table["group"] == s).sum()
        assert set(fold[added & (table["group"] != s)]) == {"train"}
        assert set(fold[~added]) <= {"train", "val", ""} and (fold[~added & (table["split"] == "test")] == "").all()
    paths = layout.ExperimentPaths("fingers_landmarks_sources")
    metrics = json.loads((repo / paths.metrics).read_text())
    per_group = json.loads((repo / paths.per_group).read_text())
    predictions = pd.read_csv(repo / paths.predictions, dtype=str)
    assert per_group["group"] == "source" and sorted(per_group["test"]) == sources
    assert len(predictions) == added.sum() and set(predictions["held_out"]) == set(sources)
    accuracies = [per_group["test"][s]["accuracy"] for s in sources]
    assert metrics["accuracy_mean"] == pytest.approx(np.mean(accuracies)) and metrics["group_accuracy_min"] == min(accuracies)
    assert metrics["folds"] == 2 and "hand_found" in metrics
    # Both settings cross-validated; the one with the best held-out mean (the first of equals) chosen,
    # reported and trained on everything.
    search = json.loads((repo / paths.search).read_text())
    assert [t["settings"] for t in search["tried"]] == [{"added_repeat": 1}, {"added_repeat": 3}]
    scores = [t["score"] for t in search["tried"]]
    best = search["tried"][scores.index(max(scores))]
    assert search["chosen"] == best["settings"] and metrics["settings_tried"] == 2
    assert best["accuracy"] == {s: per_group["test"][s]["accuracy"] for s in sources}
    assert all(t["score"] == pytest.approx(np.mean(list(t["accuracy"].values()))) for t in search["tried"])
    from handsign.recognition.checkpoint import load_checkpoint

    model, checkpoint = load_checkpoint(repo / paths.model)
    assert checkpoint.config["training.added_repeat"] == best["settings"]["added_repeat"]
    # ... and scored on the copy's own test rows (in no fold), as `evaluate` scores a model.
    from handsign.config import load_experiment
    from handsign.data.splitdata import load_split
    from handsign.recognition.inference import predict

    monkeypatch.chdir(repo)
    data = load_split(load_experiment(paths.config))
    test = data.rows("test")
    assert len(test) == metrics["own_test_n"] == (official_test := (table["split"] == "test").sum()) and official_test > 0
    assert metrics["own_test_accuracy"] == pytest.approx((predict(model, data.images, test) == data.column("label")[test]).mean())
    # Then the recipe on every source, registered, its champion chosen by the held-out mean (registry:).
    import mlflow

    from handsign import tracking

    client = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri(repo))
    champion = client.get_model_version_by_alias("handsign-fingers_landmarks_sources-synthetic", "champion")
    run = client.get_run(champion.run_id)
    assert run.data.metrics["test_accuracy_mean"] == pytest.approx(metrics["accuracy_mean"])
    someone = per_group["test"]["fingers_someone"]["accuracy"]
    assert run.data.metrics["held_out_fingers_someone_accuracy"] == pytest.approx(someone)
    assert (repo / paths.model).exists()
    # handsign results: a row per cross-validation, a column per source held out, the mean and the worst.
    from typer.testing import CliRunner

    from handsign.cli import app

    shown = CliRunner().invoke(app, ["results"]).output
    assert "| each source held out | fingers_other_camera | fingers_someone | mean | worst | own test split |" in shown, shown
    cells = [f"{a:.2%}" for a in accuracies] + [f"**{np.mean(accuracies):.2%}**", f"{min(accuracies):.2%}"]
    cells.append(f"{metrics['own_test_accuracy']:.2%}")
    chosen = f"added_repeat {best['settings']['added_repeat']}, chosen of 2"
    assert f"| `fingers_landmarks_sources` ({chosen}) | " + " | ".join(cells) + " |" in shown, shown


@needs_detector
def test_a_set_not_held_out_trains_in_every_fold(repo):
    """`hold_out: [fingers_someone]`: one fold, that set's images its test; the other added set's
    images train in it, as the copy's own rows do, and are never a test."""
    table = pd.read_csv(repo / layout.split_dir("fingers_64") / "someone_out.csv", keep_default_na=False, dtype={"group": str})
    assert [c for c in table.columns if c.startswith("fold_")] == ["fold_fingers_someone"]
    fold, group = table["fold_fingers_someone"], table["group"]
    assert set(fold[group == "fingers_someone"]) == {"test"} and (fold == "test").sum() == (group == "fingers_someone").sum()
    assert set(fold[group == "fingers_other_camera"]) == {"train"} and (group == "fingers_other_camera").sum() > 0


def test_leaving_one_source_out_needs_a_source(tmp_path):
    """Every added set absent: a clear error naming what is missing, not a crash later."""
    from handsign.data.split import leave_one_source_out

    table = pd.DataFrame({"sample_id": [0, 1], "group": ["", ""], "split": ["train", "test"]})
    with pytest.raises(ValueError, match="no added source is present"):
        leave_one_source_out(table, [])


@needs_detector
@pytest.mark.skipif(not (REPO.parent / "shared/data/finger-count-digits.zip").exists(), reason="real photos: workplace only")
def test_the_python_api_answers_as_handsign_predict(repo, tmp_path, monkeypatch):
    """handsign.load(...).predict on real colour photos (paths, a PIL image, an array): the labels and
    probabilities `handsign predict --json` prints, for one model and for an ensemble."""
    import zipfile

    from typer.testing import CliRunner

    import handsign
    from handsign.cli import app

    monkeypatch.chdir(repo)
    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(SHARED_WEIGHTS))
    with zipfile.ZipFile(REPO.parent / "shared/data/finger-count-digits.zip") as z:
        names = sorted(n for n in z.namelist() if n.lower().endswith(".jpg"))[::25][:8]
        photos = []
        for n in names:
            photos.append(tmp_path / n.replace("/", "_"))
            photos[-1].write_bytes(z.read(n))
    for models in (["fingers_landmarks"], ["fingers_cnn", "fingers_landmarks"]):
        checkpoints = [str(repo / layout.ExperimentPaths(m).model) for m in models]
        cli = CliRunner().invoke(app, ["predict", *map(str, photos), *[a for c in checkpoints for a in ("-m", c)], "--json",
                                       "-k", "6"])  # fmt: skip
        assert cli.exit_code == 0, cli.output
        printed = json.loads(cli.stdout)["predictions"]
        model = handsign.load(*checkpoints)
        inputs = [*photos[:-2], Image.open(photos[-2]), np.asarray(Image.open(photos[-1]).convert("RGB"))]
        answers = model.predict(inputs)
        assert [a.label for a in answers] == [row["top"][0]["label"] for row in printed]
        for a, row in zip(answers, printed, strict=True):
            for top in row["top"]:
                assert a.probabilities.get(top["label"], 0.0) == pytest.approx(top["probability"], abs=1e-5)
    with pytest.raises(ValueError, match="nope.jpg: cannot read file"):
        handsign.load(checkpoints[0]).predict([tmp_path / "nope.jpg"])


def test_every_registered_model_carries_its_model_card(repo):
    """The registry's description: what it was trained on, its numbers (own test split, external
    sets, or held out in turn), the environment lock and its intended use."""
    import mlflow

    from handsign import tracking

    client = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri(repo))
    metrics = json.loads((repo / layout.ExperimentPaths("fingers_cnn").metrics).read_text())
    card = client.get_registered_model("handsign-fingers_cnn-synthetic").description
    assert card.startswith("handsign model `fingers_cnn`, trained on synthetic data.")
    assert f"Own test split: accuracy {metrics['accuracy']:.2%}" in card and "Intended use:" in card
    assert f"requirements.lock sha256 {tracking.environment_lock(REPO)}" in card or "sha256 none" in card
    version = client.get_model_version_by_alias("handsign-fingers_cnn-synthetic", "newest")
    assert version.description == card
    if HAS_DETECTOR:
        assert "External set fingers_other_camera: accuracy" in card
        held = client.get_registered_model("handsign-fingers_landmarks_sources-synthetic").description
        assert "Held out in turn (2 folds): mean" in held


def test_crossval_scores_every_subject_once(repo):
    metrics = json.loads((repo / layout.ExperimentPaths("leapgestrecog_cnn_loso").metrics).read_text())
    per_group = json.loads((repo / layout.ExperimentPaths("leapgestrecog_cnn_loso").per_group).read_text())
    assert sorted(per_group["test"]) == ["00", "01", "02"]
    accuracies = [v["accuracy"] if isinstance(v, dict) else v for v in per_group["test"].values()]
    assert metrics["accuracy_mean"] == pytest.approx(np.mean(accuracies), abs=1e-4)


def test_stage_times_are_read_off_what_handsign_repro_prints():
    from handsign.pipeline.stagetimes import stage_seconds

    lines = ["2 stage(s) to run, 2 at a time", "> download@fingers  (started at 0 s)",
             "= download@fingers: done in 3.0 s", "    Running stage 'download@fingers':",
             "= prepare@fingers_64: unchanged in 0.8 s", "= split@x: failed in 1.0 s"]  # fmt: skip
    assert stage_seconds(lines) == [("download@fingers", 3.0), ("prepare@fingers_64", 0.8)]


def test_one_repositorys_store_does_not_leak_into_the_next_in_one_process(tmp_path, monkeypatch):
    from handsign import tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with tracking.store(tmp_path / "a") as mlflow:
        assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'a' / 'mlflow.db'}"
    assert tracking.tracking_uri(tmp_path / "b") == f"sqlite:///{tmp_path / 'b' / 'mlflow.db'}"  # mlflow exported a's
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")  # the user's own choice wins, and stays
    with tracking.store(tmp_path / "a"):
        pass
    assert tracking.tracking_uri(tmp_path / "b") == "http://127.0.0.1:5000"


@needs_detector
def test_an_ensembles_weights_are_chosen_on_held_out_people_and_it_is_registered_only_if_it_beats_its_members(repo, tmp_path):
    """With `held_out` sets present, evaluate_ensemble searches the declared weights on them, records
    the choice (metrics.json, the run's weight_search.json) and registers the pair only where it
    beats its better member alone there; without, its declared weights stand and the card says so."""
    import mlflow

    from handsign import tracking

    chosen = json.loads((repo / layout.ExperimentPaths("fingers_ensemble_chosen").metrics).read_text())
    assert chosen["weight_pixel"] in (0.25, 1.0) and chosen["weight_landmarks"] == 1.0
    beats = chosen["held_out_score"] > chosen["best_member_held_out_score"]
    assert chosen["registered"] == float(beats)
    # The held-out score is the mean of the sets' accuracies at the chosen weights (external.json).
    external = json.loads((repo / layout.ExperimentPaths("fingers_ensemble_chosen").external_metrics).read_text())
    held = [external[s]["accuracy"] for s in ("fingers_other_camera", "fingers_someone")]
    assert chosen["held_out_score"] == pytest.approx(np.mean(held), abs=1e-6)
    client = mlflow.MlflowClient(tracking.tracking_uri(repo))
    names = {m.name for m in client.search_registered_models()}
    assert ("handsign-fingers_ensemble_chosen-synthetic" in names) == beats
    run = client.search_runs([client.get_experiment_by_name("handsign-fingers_ensemble_chosen").experiment_id])[0]
    search = json.loads(Path(client.download_artifacts(run.info.run_id, "weight_search.json", str(tmp_path))).read_text())
    assert [t["weights"] for t in search["tried"]] == [[0.25, 1.0], [1.0, 1.0]]
    assert max(t["score"] for t in search["tried"]) == pytest.approx(chosen["held_out_score"])
    plain = json.loads((repo / layout.ExperimentPaths("fingers_ensemble").metrics).read_text())
    assert "held_out_score" not in plain and "handsign-fingers_ensemble-synthetic" in names
    card = client.get_registered_model("handsign-fingers_ensemble-synthetic").description
    assert "No held-out people: its weights are as declared and its validation split picks its champion." in card
