"""What `live` makes of one frame, by the recogniser it runs: a pixel model reads a region of
interest, a landmark model the hand its tracker follows anywhere in the frame, an ensemble of the
two both (`reader_for` picks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from handsign.hands.landmarks import Hand, Landmarks, tinted
from handsign.models import Kind
from handsign.recognition.loading import Classifier, Ensemble, HandClassifier, Recogniser
from handsign.use.capture import Roi, grey, is_grey


@dataclass
class Reading:
    """What live made of one frame."""

    probabilities: np.ndarray  # one per class; all zero: no hand found
    snapshot: np.ndarray  # what `s` saves: the greyscale region of interest, or the whole frame (RGB)
    roi: Roi | None = None  # drawn as a box
    points: np.ndarray | None = None  # the hand's 21 landmarks in frame pixels (x, y), drawn as a skeleton
    hand: bool = True  # whether a hand was found (a pixel model alone: always)

class RoiReader:
    """A pixel model on the region of interest (`roi_text`, else centred)."""

    def __init__(self, classifier: Classifier, roi_text: str) -> None:
        self.classifier, self.roi_text, self.roi = classifier, roi_text, None

    def __call__(self, frame: np.ndarray, n: int) -> Reading:
        region = self.region(frame)
        return Reading(self.classifier.probabilities([region])[0], region, roi=self.roi)

    def region(self, frame: np.ndarray) -> np.ndarray:
        """The frame's region of interest, greyscale (placed on the first frame)."""
        if self.roi is None:
            h, w = frame.shape[:2]
            self.roi = Roi.parse(self.roi_text) if self.roi_text else Roi.centred(w, h)
        return grey(self.roi.crop(frame))

    def close(self) -> None:
        pass

class HandReader:
    """A landmark model on the whole frame: the hand landmarker follows the hand from frame to frame
    (its palm detector runs only when the hand was lost), the network classifies it. A greyscale
    frame (an infrared camera's: `is_grey`) is shown in the colours of the model's first
    detection attempt, as its training images were: the detector, made for colour photographs, finds
    hands in about three in four raw grey frames and in all tinted ones (a generated video)."""

    def __init__(self, classifier: HandClassifier, frame_ms: float = 1000 / 30) -> None:
        self.classifier, self.frame_ms = classifier, frame_ms
        self.tracker = classifier.tracker()

    def __call__(self, frame: np.ndarray, n: int) -> Reading:
        hand, rgb = self.follow(frame, n)
        h, w = frame.shape[:2]
        p = self.classifier.classify(Landmarks.of([hand]), w / h)[0]
        return Reading(p, rgb, points=hand.image[:, :2] * (w, h) if hand.found else None, hand=hand.found)

    def follow(self, frame: np.ndarray, n: int) -> tuple[Hand, np.ndarray]:
        """The hand in BGR frame `n`, and the RGB frame the tracker was shown."""
        if is_grey(frame):
            rgb = np.asarray(tinted(Image.fromarray(frame[:, :, 1]), self.classifier.preprocessing.landmarks.attempts[0]))
        else:
            rgb = np.ascontiguousarray(frame[:, :, ::-1])
        return self.tracker.track(rgb, round(n * self.frame_ms)), rgb

    def close(self) -> None:
        self.tracker.close()

class EnsembleReader:
    """A pixel model and a landmark model answering together (`live -m PIXEL -m LANDMARKS`, or an
    ensemble's MLflow URI): the landmark model's tracker follows the hand; the pixel model reads that
    hand's square where it crops to the hand (`hand_crop`, as the ensembles' pixel models do), else its
    region of interest, as it would alone; their probabilities multiplied as evaluate_ensemble
    multiplies them. Where no hand is found the pixel model answers alone (the whole frame, or its region)."""

    def __init__(self, ensemble: Ensemble, roi_text: str) -> None:
        pixels = [m for m in ensemble.members if m.kind is Kind.PIXELS]
        hands = [m for m in ensemble.members if m.kind is Kind.LANDMARKS]
        if len(pixels) != 1 or len(hands) != 1 or len(ensemble.members) != 2:
            raise ValueError("live takes one model, or an ensemble of one pixel model and one landmark model")
        self.ensemble, self.hands = ensemble, HandReader(hands[0])
        self.region = None if pixels[0].preprocessing.hand_crop else RoiReader(pixels[0], roi_text)

    def __call__(self, frame: np.ndarray, n: int) -> Reading:
        hand, rgb = self.hands.follow(frame, n)
        h, w = frame.shape[:2]
        # A cropping pixel model reads the camera's own colours (not the detector's tint), another its region.
        image = np.ascontiguousarray(frame[:, :, ::-1]) if self.region is None else self.region.region(frame)
        p = self.ensemble.given_hands([image], Landmarks.of([hand]), w / h)[0]
        roi = None if self.region is None else self.region.roi
        return Reading(p, rgb, roi=roi, points=hand.image[:, :2] * (w, h) if hand.found else None, hand=hand.found)

    def close(self) -> None:
        self.hands.close()


def reader_for(recogniser: Recogniser, roi_text: str = "") -> RoiReader | HandReader | EnsembleReader:
    """How `live` reads a frame with `recogniser`: one model by its kind, or an ensemble."""
    if len(recogniser.members) > 1:
        return EnsembleReader(recogniser, roi_text)
    return HandReader(recogniser) if recogniser.kind is Kind.LANDMARKS else RoiReader(recogniser, roi_text)
