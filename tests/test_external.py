"""External test sets (does a model carry over?) and colour reaching the hand landmarker: how a set
is read (any depth, a label map, case, `../` names, a pinned zip, an absent path), and that a
colour photograph is shown to the detector in colour in every way a model is used. The stage and
evaluate run end to end in tests/test_pipeline.py (a set added rescores without retraining)."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ASL_WEBCAM, REPO, SHARED_WEIGHTS, webcam_photos
from PIL import Image

from handsign.config import ExternalSetParams, load_params, params_from_dict
from handsign.core.imagefile import read_image
from handsign.core.schema import ConfigError
from handsign.data.external import class_of, labelled_files, taken, write_set
from handsign.evaluation.external import carry_over_table, score

needs_colour_photos = pytest.mark.skipif(
    not ASL_WEBCAM.exists() or not (SHARED_WEIGHTS / "hand_landmarker.task").exists(),
    reason=f"real colour photos absent: {ASL_WEBCAM} and the hand landmarker are only present in the project's workplace",
)


def png(rgb: tuple[int, int, int], size: int = 24) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size + 4), rgb).save(out, format="PNG")
    return out.getvalue()


def test_a_set_is_read_by_class_folder_with_a_label_map(tmp_path):
    archive = tmp_path / "mine.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("mine/a/1.png", png((200, 150, 120)))
        z.writestr("mine/b/2.png", png((90, 60, 40)))
        z.writestr("mine/pointing/3.png", png((90, 60, 41)))
        z.writestr("mine/y/4.jpeg", png((1, 2, 3)))
        z.writestr("mine/__MACOSX/a/._1.png", b"resource fork")
        z.writestr("loose.png", png((5, 5, 5)))  # no class folder
    found = dict(labelled_files(archive))
    assert sorted(found) == ["mine/a/1.png", "mine/b/2.png", "mine/pointing/3.png", "mine/y/4.jpeg"]
    params = load_params()
    p = ExternalSetParams(dataset="sign_mnist", path=str(archive), classes={"pointing": "D"})
    out = tmp_path / "data" / "set"
    info = write_set("mine", p, params, tmp_path, out, SHARED_WEIGHTS / "hand_landmarker.task")
    table = pd.read_csv(out / "samples.csv")
    # lower-case folders find their letters; a mapped folder its class; the label is the class's index
    assert dict(zip(table["source_file"], table["class"], strict=True)) == {
        "mine/y/4.jpeg": "Y", "mine/a/1.png": "A", "mine/b/2.png": "B", "mine/pointing/3.png": "D"}  # fmt: skip
    assert table.set_index("class")["label"].to_dict() == {"A": 0, "B": 1, "D": 3, "Y": 23}
    assert set(table["width"]) == {24} and set(table["height"]) == {28}
    assert all((out / "images" / f).is_file() for f in table["file"])
    assert info["images"] == 4 and "sha256" in info
    assert read_image(out / "images" / table["file"][1]).shape == (28, 24, 3)  # colour kept
    with zipfile.ZipFile(archive, "a") as z:
        z.writestr("../evil/5.png", png((1, 2, 3)))
    with pytest.raises(ValueError, match=r"mine.zip: ../evil/5.png: a path that leaves the archive"):
        list(labelled_files(archive))


def test_an_unknown_class_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"folder 'thumbs_up' is no class .* external.<set>.classes"):
        class_of("thumbs_up", ["A", "B"], {}, f"{tmp_path}/thumbs_up/1.png")


def test_an_absent_set_is_recorded_and_a_changed_zip_refused(tmp_path):
    params = load_params()
    info = write_set("gone", ExternalSetParams(dataset="fingers", path="nowhere/photos.zip"), params, tmp_path,
                     tmp_path / "gone", tmp_path / "no-landmarker")  # fmt: skip
    assert info["absent"] == "nowhere/photos.zip does not exist"
    assert json.loads((tmp_path / "gone" / "set.json").read_text())["absent"] == info["absent"]
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("1/a.png", png((200, 150, 120)))
    pinned = ExternalSetParams(dataset="fingers", path=str(archive), sha256="0" * 64)
    with pytest.raises(ValueError, match="has sha256 [0-9a-f]{64}, params.yaml pins 0000"):
        write_set("photos", pinned, params, tmp_path, tmp_path / "photos", tmp_path / "no-landmarker")


def test_params_name_a_bad_external_set():
    committed = yaml.safe_load((REPO / "params.yaml").read_text())
    for bad, message in (
        ({"dataset": "nope", "path": "x"}, "external.s.dataset: 'nope' is no dataset handsign knows"),
        ({"dataset": "fingers"}, "external.s.path: must name a folder or zip"),
        ({"dataset": "fingers", "path": "x", "classes": {"six": "6"}}, r"external.s.classes: 6 are no class of fingers"),
    ):
        with pytest.raises(ConfigError, match=message):
            params_from_dict({**committed, "external": {**committed["external"], "s": bad}})


def test_params_name_a_bad_combined_split():
    committed = yaml.safe_load((REPO / "params.yaml").read_text())
    for combined, message in (
        ({"official": {"split": "official", "add": ["asl_letters_webcam"]}}, "a new name"),
        ({"mine": {"split": "random", "add": ["asl_letters_webcam"]}}, "split one of data.sign_mnist_28.splits"),
        ({"mine": {"split": "official", "add": ["finger_count_digits"]}}, "'finger_count_digits' is no external set of"),
    ):
        raw = yaml.safe_load((REPO / "params.yaml").read_text())
        raw["data"]["sign_mnist_28"]["combined"] = combined
        raw["experiments"] = {k: v for k, v in raw["experiments"].items() if v["split"] != "official_webcam"}
        with pytest.raises(ConfigError, match=message):
            params_from_dict(raw)
    assert committed["data"]["sign_mnist_28"]["combined"]  # the committed params hold one


def test_scores_count_only_the_classes_a_set_holds_and_a_missed_hand_as_an_error():
    names = ["0", "1", "2", "3"]
    y_true, y_pred = np.array([1, 1, 2, 2]), np.array([1, 1, 2, -1])  # -1: no hand found
    s = score(y_true, y_pred, names, ["a", "b", "c", "d"], abstains=True)
    assert s.summary["accuracy"] == 0.75 and s.summary["hand_found"] == 0.75 and s.summary["accuracy_hand_found"] == 1.0
    assert s.per_class == {"1": 1.0, "2": 0.5}
    assert s.summary["f1_macro"] == pytest.approx((1.0 + 2 / 3) / 2)  # classes 0 and 3 are not in the set
    assert s.predictions["predicted"].tolist() == ["1", "1", "2", "no hand"]


def test_the_carry_over_table_reads_reports(tmp_path):
    for name, acc, ext in (("a_cnn", 0.99, {"webcam": {"accuracy": 0.05}}),
                           ("a_landmarks", 0.6, {"webcam": {"accuracy": 0.4, "hand_found": 0.97}})):  # fmt: skip
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps({"accuracy": acc}))
        (tmp_path / name / "external.json").write_text(json.dumps(ext))
    table = carry_over_table(tmp_path, [("a_cnn", "sign_mnist"), ("a_landmarks", "sign_mnist")])
    assert "| `a_cnn` | 99.00% | 5.00% |" in table and "| `a_landmarks` | 60.00% | 40.00% (hand 97%) |" in table


@needs_colour_photos
def test_a_colour_photo_reaches_the_detector_in_colour(tmp_path):
    """Real colour photos of letters: each way a landmark model is used (predict's file reading, the
    served model's rows, the classifier's images) finds exactly the hands the detector finds in the
    photos' own colours, not those it finds in their greys."""
    from handsign.core.imagefile import read_grey
    from handsign.data.preprocessing import HandPreprocessing
    from handsign.hands.landmarks import Detector, Landmarks, shown
    from handsign.models import build_model
    from handsign.recognition.landmarks import HandClassifier
    from handsign.use.predict import predict_files
    from handsign.use.serving import ServedModel

    files = webcam_photos(tmp_path, every=120)
    settings = load_params().landmark_settings("sign_mnist")
    model = SHARED_WEIGHTS / "hand_landmarker.task"
    rgb = read_image(files[0])
    assert rgb.ndim == 3 and (shown(rgb, settings.attempts[0])[0][100:120, 100:120] != 0).any()
    with Detector(settings, model) as detector:
        colour = Landmarks.of([detector.detect(read_image(f)) for f in files])
        grey = Landmarks.of([detector.detect(read_grey(f)) for f in files])
    assert colour.found.sum() >= 5 and not np.allclose(colour.image[colour.found & grey.found],
                                                       grey.image[colour.found & grey.found])  # fmt: skip
    hands = HandClassifier(build_model("landmark_mlp", 2, 106, 106), HandPreprocessing(["A", "B"], settings), model)
    expected = hands.classify(colour, np.ones(len(files)))
    found, _ = hands.hands([Image.open(f) for f in files])
    np.testing.assert_array_equal(found.image, colour.image)
    np.testing.assert_allclose(predict_files(hands, files).probabilities, expected, atol=1e-6)
    rows = pd.DataFrame({"image": [base64.b64encode(f.read_bytes()).decode() for f in files]})
    np.testing.assert_allclose(ServedModel(hands).predict(rows)[["A", "B"]].to_numpy(), expected, atol=1e-6)


@pytest.mark.skipif(not (SHARED_WEIGHTS / "hand_landmarker.task").exists(), reason="the hand landmarker is absent here")
def test_check_names_an_absent_set_and_goes_on(monkeypatch):
    from typer.testing import CliRunner

    from handsign.cli import app

    monkeypatch.chdir(REPO)
    out = CliRunner().invoke(app, ["check", "fingers_cnn", "-S", "external.finger_count_digits.path=/nowhere/digits.zip"])
    assert out.exit_code == 0, out.output
    assert "external.finger_count_digits: /nowhere/digits.zip does not exist: skipped" in out.output
    assert "asl_letters_webcam" not in out.output  # another dataset's set, and present


def test_halves_are_taken_per_class_in_frame_order():
    files = [(f"A/{n}.jpg", b"") for n in (10, 9, 1, 2, 11)] + [(f"B/{n}.jpg", b"") for n in (3, 4)]
    first = [rel for rel, _ in taken(iter(files), "first_half")]
    second = [rel for rel, _ in taken(iter(files), "second_half")]
    assert sorted(first) == ["A/1.jpg", "A/2.jpg", "A/9.jpg", "B/3.jpg"]  # 9 before 10; the odd middle goes first
    assert sorted(second) == ["A/10.jpg", "A/11.jpg", "B/4.jpg"]
    assert len(taken(iter(files), "all")) == 7


def test_check_names_what_the_external_stage_would_refuse_before_any_stage_runs(tmp_path):
    """A pinned zip that changed, a folder that is no class, a 0-byte image, no image at all, a
    truncated archive: `handsign check` names each (the stage would fail on it, minutes later), and
    `score --external` on a non-zip says so in one line."""
    from typer.testing import CliRunner

    from handsign.cli import app
    from handsign.data.external import set_problems

    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("s/a/1.png", png((200, 150, 120)))
    assert set_problems("good", ExternalSetParams(dataset="sign_mnist", path=str(good)), tmp_path) == []
    pinned = ExternalSetParams(dataset="sign_mnist", path=str(good), sha256="0" * 64)
    assert "params.yaml pins 000" in set_problems("pinned", pinned, tmp_path)[0]
    bad = tmp_path / "bad"
    (bad / "a").mkdir(parents=True)
    (bad / "a" / "empty.png").write_bytes(b"")
    (bad / "hello").mkdir()
    (bad / "hello" / "1.png").write_bytes(png((1, 2, 3)))
    found = set_problems("bad", ExternalSetParams(dataset="sign_mnist", path=str(bad)), tmp_path)
    assert any("empty.png: empty file (0 bytes)" in f for f in found) and any("folder 'hello' is no class" in f for f in found)
    (tmp_path / "none" / "a").mkdir(parents=True)
    assert "no image files" in set_problems("none", ExternalSetParams(dataset="sign_mnist", path=str(tmp_path / "none")),
                                            tmp_path)[0]  # fmt: skip
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[:40])
    assert "not a readable zip archive" in set_problems("t", ExternalSetParams(dataset="sign_mnist", path=str(truncated)),
                                                        tmp_path)[0]  # fmt: skip
    # handsign check, on params.yaml with such a set: exit 1, each named
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["external"]["bad"] = {"dataset": "sign_mnist", "path": str(bad)}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    out = CliRunner().invoke(app, ["check", "--params", str(params), "sign_mnist_cnn"])
    assert out.exit_code == 1 and "check: external.bad: " in out.output and "empty file (0 bytes)" in out.output, out.output
    out = CliRunner().invoke(app, ["score", str(REPO / "params.yaml"), str(truncated), "--external"])
    assert isinstance(out.exception, SystemExit) and "not a readable zip archive" in out.output, out.output
