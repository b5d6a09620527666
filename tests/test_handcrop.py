"""A pixel model's `hand_crop`: a photo from elsewhere cut to the hand the detector finds, in every
way the model is used."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import ASL_WEBCAM, REPO, SHARED_WEIGHTS, webcam_photos
from PIL import Image

from handsign.config import load_params, params_from_dict
from handsign.core.schema import ConfigError
from handsign.data.preprocessing import Preprocessing, saved
from handsign.hands.handcrop import crop_to_hand, hand_square


def points_around(left: float, top: float, right: float, bottom: float, width: int, height: int) -> np.ndarray:
    """21 landmarks (0..1 of the image) whose box is the given one, in pixels."""
    xs = np.linspace(left, right, 21) / width
    ys = np.linspace(bottom, top, 21) / height
    return np.stack([xs, ys, np.zeros(21)], 1).astype(np.float32)


def test_the_crop_is_the_square_around_the_hand():
    picture = np.zeros((100, 200, 3), np.uint8)
    picture[20:60, 110:130] = 255  # the "hand": 20 wide, 40 tall
    points = points_around(110, 20, 130, 60, 200, 100)
    assert hand_square(points, 200, 100, 1.0) == pytest.approx((100, 20, 140, 60))
    crop = crop_to_hand(picture, points, 1.0)
    assert crop.shape == (40, 40, 3)
    # The hand fills the square's height and its middle half across; what is beside it is the scene.
    assert (crop[:, 12:28] == 255).all() and (crop[:, :8] == 0).all() and (crop[:, 32:] == 0).all()
    wider = crop_to_hand(picture, points, 2.0)
    assert wider.shape == (80, 80, 3) and (wider[22:58, 32:48] == 255).all() and (wider[:, :20] == 0).all()


def test_a_square_past_the_edge_continues_the_border_and_no_hand_keeps_the_picture():
    picture = np.tile(np.arange(50, dtype=np.uint8)[None, :] * 5, (50, 1))  # grey ramp, left to right
    corner = crop_to_hand(picture, points_around(0, 0, 20, 20, 50, 50), 2.0)  # the square spans -10..30
    assert corner.shape == (40, 40)
    assert (corner[:, :8] == 0).all() and corner[0, -1] > 100  # the left border column repeated
    nothing = np.full((21, 3), np.nan, np.float32)
    assert crop_to_hand(picture, nothing, 1.0) is picture


def test_hand_crop_is_for_pixel_models_and_carries_the_datasets_detector_settings():
    params = load_params(REPO / "params.yaml")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["experiments"]["fingers_cnn"]["hand_crop"] = 1.5
    exp = params_from_dict(raw).experiment("fingers_cnn")
    assert exp.training.hand_crop == 1.5
    assert exp.hand_box_settings == params.landmark_settings("fingers")
    assert params.experiment("sign_mnist_seed").hand_box == {}
    bad = {**raw, "experiments": {**raw["experiments"]}}
    bad["experiments"]["fingers_landmarks"] = {**raw["experiments"]["fingers_landmarks"], "hand_crop": 1.0}
    with pytest.raises(ConfigError, match="fingers_landmarks.hand_crop: for pixel models"):
        params_from_dict(bad)
    raw["experiments"]["fingers_cnn"]["hand_crop"] = -1
    with pytest.raises(ConfigError, match="hand_crop"):
        params_from_dict(raw)


def test_the_checkpoint_carries_the_crop_and_how_to_find_the_hand():
    settings = load_params(REPO / "params.yaml").landmark_settings("sign_mnist")
    prep = Preprocessing(28, "stretch", ["A", "B"], 1.0, settings)
    checkpoint = {"model_name": "cnn_small", "preprocessing": prep.to_dict(), "input_shape": [1, 28, 28]}
    assert saved(checkpoint, None) == prep  # type: ignore[arg-type]
    plain = Preprocessing(28, "stretch", ["A", "B"])
    assert saved({"model_name": "cnn_small", "preprocessing": plain.to_dict()}, None) == plain  # type: ignore[arg-type]


@pytest.mark.skipif(not ASL_WEBCAM.exists() or not (SHARED_WEIGHTS / "hand_landmarker.task").exists(),
                    reason="needs ../shared/data/asl-letters-webcam.zip and the hand landmarker")  # fmt: skip
def test_every_way_of_using_a_cropping_model_sees_the_same_crop(tmp_path):
    """Real colour photos: the classifier, predict and the served model answer from the crop around
    the hand the detector finds in the photo's own colours, which is not the whole photo."""
    from handsign.core.imagefile import read_image
    from handsign.hands.landmarks import Detector
    from handsign.recognition.loading import Classifier
    from handsign.use.predict import predict_files
    from handsign.use.serving import ServedModel

    files = webcam_photos(tmp_path, every=160)
    settings = load_params(REPO / "params.yaml").landmark_settings("sign_mnist")
    landmarker = SHARED_WEIGHTS / "hand_landmarker.task"
    torch.manual_seed(0)
    # Logits linear in the pixels, large enough that a few grey levels show in the probabilities.
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 3)).eval()
    torch.nn.init.normal_(network[1].weight, std=0.0003)
    prep = Preprocessing(28, "stretch", ["A", "B", "C"], 1.0, settings)
    classifier = Classifier(network, prep, landmarker)
    with Detector(settings, landmarker) as detector:
        pictures = [read_image(f) for f in files]
        crops = [crop_to_hand(p, detector.detect(p).image, 1.0) for p in pictures]
    assert all(c.shape[0] < p.shape[0] for c, p in zip(crops, pictures, strict=True))  # a hand in each, smaller
    with torch.inference_mode():
        inputs = torch.from_numpy(np.stack([prep.array(c) for c in crops])).float()
        expected = torch.softmax(network(inputs), 1).numpy()
    whole = np.stack([prep.array(p) for p in pictures]).astype(float)
    assert np.abs(whole - inputs.numpy()).mean() > 10  # grey levels: the crop is not the photo
    cut = classifier.crops([Image.open(f) for f in files])
    np.testing.assert_array_equal(np.stack([prep.array(c) for c in cut]), inputs.numpy())
    np.testing.assert_allclose(classifier.probabilities([Image.open(f) for f in files]), expected, atol=1e-5)
    np.testing.assert_allclose(predict_files(classifier, files).probabilities, expected, atol=1e-5)
    rows = pd.DataFrame({"image": [base64.b64encode(f.read_bytes()).decode() for f in files]})
    np.testing.assert_allclose(ServedModel(classifier).predict(rows)[["A", "B", "C"]].to_numpy(), expected, atol=1e-5)
    assert classifier.requirements == ("mediapipe",) and list(classifier.files()) == ["hand_landmarker.task"]
