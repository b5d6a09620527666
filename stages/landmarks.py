"""landmarks: find the hand and its 21 landmarks in every image of one dataset (MediaPipe's hand
landmarker, data/weights/hand_landmarker.task, shown each greyscale image as landmarks.<dataset> in params.yaml says), keyed by
sample_id: the row order of every prepared copy of the dataset, so every split applies as it is.
Writes data/landmarks/<dataset>/ (landmarks.npz, samples.csv, and settings.json: the settings
used, which a landmark model trained on them carries to find hands as they were found; with
`readings: every`, readings.npz: every attempt's reading of every image, what its landmark models
also train on) and, as
metrics, how often a hand was found in all, per class and per official split
(reports/landmarks/<dataset>.json)."""

import dataclasses
import json
import time

import pandas as pd

from handsign.config import load_params
from handsign.core import layout, weights
from handsign.core.atomic import atomic_path, write_json
from handsign.hands.landmarks import READINGS_FILE, detect_all, detect_every, read_for_landmarks
from handsign.pipeline.stage import run_stage


def landmarks(dataset: str) -> None:
    settings = load_params().landmark_settings(dataset)
    model = weights.verified(layout.landmarker(), weights.HAND_LANDMARKER)  # the landmarker stage's output
    data, aspect = read_for_landmarks(layout.raw(dataset), dataset, settings)
    listed = data.samples()
    start = time.perf_counter()
    every = None
    if settings.readings == "every":
        # Only training reads every reading (splitdata.with_every_reading): the download's own test
        # images, which an official split never trains on, get the first hand found alone (a fifth of
        # Sign MNIST; the stage's estimate 34.3 -> 30.4 min, docs/pipeline.md). A random split that
        # trains on some gets one reading each.
        tested = listed["official_split"].to_numpy() == "test"
        found, every = detect_every(data.images, settings, model, aspect, progress=f"landmarks {dataset} (every attempt)",
                                    only=~tested)  # fmt: skip
    else:
        found = detect_all(data.images, settings, model, aspect, progress=f"landmarks {dataset}")
    seconds = time.perf_counter() - start
    samples = listed.assign(found=found.found, right=found.right, score=found.score.round(4), attempt=found.attempt)
    with atomic_path(layout.landmarks(dataset)) as tmp:
        tmp.mkdir()
        found.save(tmp / "landmarks.npz")
        if every is not None:
            every.save(tmp / READINGS_FILE)
        samples.to_csv(tmp / "samples.csv", index=False)
        (tmp / "settings.json").write_text(json.dumps(dataclasses.asdict(settings), indent=2) + "\n")
    summary = {
        "detection_rate": round(float(found.found.mean()), 4),
        "images": len(samples),
        "per_class": rates(samples, "class_name"),
        "per_official_split": rates(samples[samples["official_split"] != ""], "official_split"),
        "found_by_attempt": found.found_by_attempt(len(settings.attempts)),
        **({"every_attempt_found": every.found_by_attempt(len(settings.attempts))} if every is not None else {}),
        "model_sha256": weights.HAND_LANDMARKER.sha256,
    }  # no timings: the same data and settings give the same file
    write_json(layout.landmark_summary(dataset), summary)
    print(f"landmarks {dataset}: a hand in {found.found.sum()} of {len(samples)} images ({summary['detection_rate']:.1%}), "
          f"{len(samples) / seconds:.1f} images/s; by attempt {summary['found_by_attempt']}")  # fmt: skip


def rates(samples: pd.DataFrame, column: str) -> dict[str, float]:
    return {str(k): round(float(v), 4) for k, v in samples.groupby(column, sort=False)["found"].mean().items()}


if __name__ == "__main__":
    run_stage("landmarks", landmarks, "A dataset declared under `landmarks:` in params.yaml.")
