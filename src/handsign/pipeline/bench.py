"""The benchmarks behind `handsign bench ...`: each measures one part of the pipeline with the
pipeline's own code and reports its numbers as lines through `echo`. Failures raise ValueError
(or RuntimeError for a server that will not start) with what to do."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from handsign.config import Experiment, load_params
from handsign.core.layout import repo_root
from handsign.core.schema import SyntheticParams

Echo = Callable[[str], None]


def render_rate(dataset: str, images: int, seed: int, echo: Echo = print) -> None:
    """Synthetic rendering rate, files written to disk included (one process, one core)."""
    from handsign.datasets import get_spec
    from handsign.synth import render_dataset

    classes = len(get_spec(dataset).class_names)
    if dataset == "leapgestrecog":
        subjects = max(1, images // (classes * 100))
        params = SyntheticParams(seed=seed, per_class_train=1, per_class_test=1, subjects=subjects, frames_per_gesture=100)
    else:
        per_class = max(1, images // (classes * (2 if dataset == "fingers" else 1)))
        params = SyntheticParams(seed=seed, per_class_train=per_class, per_class_test=1, subjects=4, frames_per_gesture=1)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        render_dataset(dataset, Path(tmp) / "out", params, seed)
        seconds = time.perf_counter() - start
        count = len(get_spec(dataset).read(Path(tmp) / "out", 8).labels)
    echo(f"render {dataset}: {count} images in {seconds:.2f} s = {count / seconds:.0f} images/s (1 core)")


def decode_rate(frames: int, folder: Path | None, image_size: int, resize: str, pillow_files: bool, echo: Echo = print) -> None:
    """The prepare stage's decode rate of LeapGestRecog frames, one worker per core (the files are
    read once beforehand, so they come from the page cache)."""
    from PIL import Image

    from handsign.datasets import leapgestrecog
    from handsign.synth import render_dataset

    with tempfile.TemporaryDirectory() as tmp:
        if folder is None:
            folder = Path(tmp) / "leap"
            per = max(1, frames // (10 * 5))
            params = SyntheticParams(seed=0, per_class_train=1, per_class_test=1, subjects=5, frames_per_gesture=per)
            render_dataset("leapgestrecog", folder, params, 0)
        paths = [p for p, _, _ in leapgestrecog.locate(folder)]
        if pillow_files:  # adaptive row filters: Pillow's own files take the slow path
            for p in paths:
                Image.open(p).convert("L").save(p)
        for p in paths:  # from the page cache, as a second read of a download would be
            p.read_bytes()
        start = time.perf_counter()
        data = leapgestrecog.read(folder, image_size, resize)
        seconds = time.perf_counter() - start
    n = len(data.labels)
    echo(f"decode {n} frames 640x240 PNG -> {image_size}x{image_size} ({resize}) with {os.cpu_count()} workers: "
         f"{seconds:.2f} s = {n / seconds:.0f} frames/s; {data.identical_neighbours} identical neighbours")  # fmt: skip


def train_rate(model: str, image_size: int, batch_size: int, classes: int, steps: int, device: str, precision: str,
               echo: Echo = print) -> None:  # fmt: skip
    """Training and inference throughput of handsign.training.train's loop on random uint8 images, after a
    warm-up epoch of 3 steps."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from handsign.core.runtime import pick_device, resolve_precision
    from handsign.models import build_model
    from handsign.training.tasks import task_for
    from handsign.training.train import evaluate, make_optimizer, train_one_epoch

    dev = pick_device(device)
    precision = resolve_precision(precision, dev)
    bf16 = precision == "bf16"
    net = build_model(model, classes, 1, image_size).to(dev, memory_format=torch.channels_last)  # random init: speed only
    task = task_for(model)
    optimizer = make_optimizer(load_params(repo_root() / "params.yaml").training(model=model, lr=0.01), net)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10 * steps)

    def loader(n_steps: int) -> DataLoader:
        n = n_steps * batch_size
        images = torch.randint(0, 256, (n, 1, image_size, image_size), dtype=torch.uint8)
        return DataLoader(TensorDataset(images, torch.randint(0, classes, (n,))), batch_size=batch_size)

    def rate(fn: Callable[[DataLoader], object], data: DataLoader) -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn(data)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return len(data.dataset) / (time.perf_counter() - start)

    def one_epoch(data: DataLoader) -> None:
        train_one_epoch(net, task, optimizer, scheduler, data, dev, 1, None, bf16=bf16)

    one_epoch(loader(3))
    trained = rate(one_epoch, loader(steps))
    evaluate(net, task, loader(3), dev, bf16=bf16)
    inferred = rate(lambda data: evaluate(net, task, data, dev, bf16=bf16), loader(steps))
    echo(f"{model} {image_size}x{image_size} batch {batch_size} on {dev} ({torch.get_num_threads()} threads, {precision}): "
         f"train {trained:.0f} img/s, inference {inferred:.0f} img/s (handsign.training.train's loop)")  # fmt: skip


def freeze_cost(model: str, image_size: int, images: int, epochs: int, batch_size: int, echo: Echo = print) -> None:
    """fit() with freeze_backbone on (features computed once, the head trained on them) and off."""
    import pandas as pd

    from handsign.datasets import PreparedStore
    from handsign.training.train import fit

    defaults = load_params(repo_root() / "params.yaml")
    rng = np.random.default_rng(0)
    store = PreparedStore(
        images=rng.integers(0, 256, (images, 1, image_size, image_size), dtype=np.uint8),
        samples=pd.DataFrame({"label": rng.integers(0, 6, images)}),
        class_names=[str(i) for i in range(6)],
    )
    split = np.array(["train", "val", "test"])[np.digitize(rng.random(images), [0.8, 0.9])]
    with tempfile.TemporaryDirectory() as tmp:
        for frozen in (True, False):
            t = defaults.training(model=model, freeze_backbone=frozen, augment=False, optimizer="adam", lr=1e-3,
                                  epochs=epochs, batch_size=batch_size)  # fmt: skip
            exp = Experiment("bench", "fingers", "synthetic", image_size, "official", t)
            r = fit(exp, store, split, Path(tmp) / "model.pt", Path(tmp) / "last.pt")
            per_epoch = (r.train_seconds - r.feature_seconds) / epochs
            echo(f"{model} {image_size}x{image_size}, {int((split != 'test').sum())} images, {epochs} epochs, "
                 f"{'frozen' if frozen else 'fine-tuned'}: {r.train_seconds:.1f} s in all "
                 f"(feature pass {r.feature_seconds:.1f} s, {per_epoch:.2f} s per epoch)")  # fmt: skip


def serve_latency(model: str, images: str, requests: int, batch: int, batches: int, echo: Echo = print) -> None:
    """A registered model behind the real `mlflow models serve` on 127.0.0.1: single-image latency
    (p50, p95) and batch throughput over HTTP, beside in-process prediction."""
    import base64

    from handsign import tracking
    from handsign.core.imagefile import read_image
    from handsign.use.mlflow_server import invoke, mlflow_process
    from handsign.use.predict import image_files, load_classifier
    from handsign.use.serving import encode_file

    files, _ = image_files([images])
    if not files:
        raise ValueError(f"no images in {images}")
    encoded = [encode_file(f) for f in files[: max(batch, requests)]]
    store = tracking.tracking_uri(repo_root())
    serve = ["models", "serve", "-m", model, "--env-manager", "local"]

    def post(url: str, rows: list[str]) -> float:
        t0 = time.perf_counter()
        invoke(url, rows)
        return time.perf_counter() - t0

    t0 = time.perf_counter()
    try:
        with mlflow_process(serve, "/ping", env={**os.environ, "MLFLOW_TRACKING_URI": store}) as url:
            echo(f"server up in {time.perf_counter() - t0:.1f} s: {model}")
            post(url, encoded[:1])  # warm-up
            single = np.array([post(url, [encoded[i % len(encoded)]]) for i in range(requests)]) * 1000
            batched = [post(url, [encoded[(i * batch + j) % len(encoded)] for j in range(batch)]) for i in range(batches)]
    except RuntimeError as e:
        raise RuntimeError(f"{e}\n(is {model} registered in {store}?)") from None
    classifier = load_classifier(model)
    decoded = [read_image(base64.b64decode(e)) for e in encoded[:batch]]  # in colour, as the server reads them
    t0 = time.perf_counter()
    for _ in range(3):
        classifier.probabilities(decoded)
    local = 3 * len(decoded) / (time.perf_counter() - t0)
    p50, p95 = np.percentile(single, [50, 95])
    echo(f"single image over HTTP: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({requests} requests)")
    echo(f"batches of {batch} over HTTP: {batch * batches / sum(batched):.0f} images/s; in process: {local:.0f} images/s")


def time_to_accuracy(data: Path, experiment: str, max_epochs: int, params_file: Path, echo: Echo = print) -> None:
    """The experiment's recipe trained for 1, 2, ... max_epochs epochs on DATA's official split with
    fit(): train seconds and test accuracy per budget."""
    from handsign.core.archives import unpacked
    from handsign.data.split import assign_splits
    from handsign.datasets import PreparedStore, get_spec
    from handsign.recognition.checkpoint import load_checkpoint
    from handsign.recognition.inference import predict
    from handsign.training.train import fit

    params = load_params(params_file)
    exp = params.experiment(experiment)
    with tempfile.TemporaryDirectory() as tmp, unpacked(data) as raw:
        get_spec(exp.dataset).read(raw, exp.image_size).save(Path(tmp) / "prepared", exp.dataset)
        store = PreparedStore.load(Path(tmp) / "prepared")
        split = assign_splits(store.samples, exp.split, params.split).to_numpy()
        test = np.flatnonzero(split == "test")
        labels = store.samples["label"].to_numpy()[test]
        echo(f"{experiment} on {data}: {len(test)} test images")
        echo("epochs | train seconds | test accuracy | errors")
        for epochs in range(1, max_epochs + 1):
            budget = dataclasses.replace(exp, training=dataclasses.replace(exp.training, epochs=epochs))
            result = fit(budget, store, split, Path(tmp) / "model.pt", Path(tmp) / "last.pt")
            model, _ = load_checkpoint(Path(tmp) / "model.pt")
            wrong = int((predict(model, store.images, test) != labels).sum())
            echo(f"{epochs} | {result.train_seconds:.1f} | {1 - wrong / len(test):.4%} | {wrong}")


def landmark_rate(images: int, workers: int | None, echo: Echo = print, archive: Path | None = None,
                  dataset: str = "fingers", every: bool = False) -> None:  # fmt: skip
    """Hand landmark detection with params.yaml's `landmarks.<dataset>` settings, one detector per
    process as the landmarks stage runs it: on `images` synthetic Fingers images, or on a seeded
    sample of that many from a real `archive` of `dataset` (its download, as `source: local` reads
    it). With `every`, every attempt on every image (`readings: every`), and then each attempt alone,
    timed: where detection's time goes, and what the landmarks stage would take."""
    from handsign.config import DatasetParams
    from handsign.hands import detectcache
    from handsign.hands.landmarks import detect_all, detect_every, find_model, read_for_landmarks
    from handsign.pipeline.sources import fetch

    params = load_params(repo_root() / "params.yaml")
    if dataset not in params.landmarks:
        raise ValueError(f"no landmarks.{dataset} in params.yaml ({', '.join(params.landmarks)})")
    settings = params.landmarks[dataset]
    synthetic = SyntheticParams(seed=0, per_class_train=max(1, images // 12), per_class_test=1, subjects=4, frames_per_gesture=1)
    source = DatasetParams(source="local", local_path=str(archive)) if archive else DatasetParams()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        raw = fetch(dataset, source, synthetic, Path(tmp) / "raw", repo_root())
        data, aspect = read_for_landmarks(raw, dataset, settings)
        read_seconds = time.perf_counter() - start
    os.environ[detectcache.CACHE_ENV] = "off"  # time the detector, not the cache (this process and its workers)
    pick = np.sort(np.random.default_rng(0).permutation(len(data.labels))[:images])
    frames, n, model = data.images[pick], len(pick), find_model()
    what = f"{n} {'real' if archive else 'synthetic'} {dataset} images of {len(data.labels)} ({archive or 'rendered'})"
    procs = workers or os.cpu_count()
    echo(f"landmarks: {what}, read at {settings.image_size}x{settings.image_size} in {read_seconds:.1f} s; {procs} processes")
    start = time.perf_counter()
    found = detect_every(frames, settings, model, aspect, workers=workers)[0] if every else \
        detect_all(frames, settings, model, aspect, workers=workers)  # fmt: skip
    seconds = time.perf_counter() - start
    attempts = len(settings.attempts)
    echo(f"{'every reading' if every else 'first reading'}: {seconds:.1f} s = {n / seconds:.1f} images/s; "
         f"a hand in {found.found.mean():.1%}, first found by attempt {found.found_by_attempt(attempts)}; "
         f"the whole archive would take {len(data.labels) / (n / seconds) / 60:.1f} min")  # fmt: skip
    if not every:
        return
    # The stage reads every way only where training needs it (outside the download's test set).
    start = time.perf_counter()
    detect_all(frames, settings, model, aspect, workers=workers)
    first = time.perf_counter() - start
    tested = int((data.samples()["official_split"] == "test").sum())
    stage = ((len(data.labels) - tested) * seconds + tested * first) / n / 60
    echo(f"first reading: {first:.1f} s = {n / first:.1f} images/s; the landmarks stage (every reading of the "
         f"{len(data.labels) - tested} images outside the download's test set, the first of its {tested}) would take "
         f"{stage:.1f} min")  # fmt: skip
    echo("attempt | seconds | images/s | a hand in")
    for k, attempt in enumerate(settings.attempts):
        alone = dataclasses.replace(settings, attempts=(attempt,))
        start = time.perf_counter()
        hands = detect_all(frames, alone, model, aspect, workers=workers)
        took = time.perf_counter() - start
        echo(f"{k} {attempt} | {took:.1f} | {n / took:.1f} | {hands.found.mean():.1%}")


def live_rate(models: list[str], frames: int, size: tuple[int, int], echo: Echo = print) -> None:
    """`handsign live`, headless, on a generated video of synthetic Fingers hands drifting across the
    frame (handsign.use.videos.hand_video; the first 10 frames show no hand): frames per second of the
    whole loop (decode, finding the hand or cropping, classification, drawing), and how often the
    label is the image's own. Two models: an ensemble, as `live -m PIXEL -m LANDMARKS` runs it."""
    import pandas as pd

    from handsign.datasets import fingers
    from handsign.models import Kind
    from handsign.recognition.inference import NO_HAND_LABEL
    from handsign.synth import render_dataset
    from handsign.use.live import live
    from handsign.use.predict import load_model
    from handsign.use.videos import hand_video

    classifier = load_model(models)
    names = classifier.preprocessing.class_names
    repeat, empty = 10, 10
    with tempfile.TemporaryDirectory() as tmp:
        images = max(1, -(-(frames - empty) // repeat))
        params = SyntheticParams(seed=0, per_class_train=max(1, images // 12), per_class_test=1, subjects=4, frames_per_gesture=1)
        render_dataset("fingers", Path(tmp) / "raw", params, 0)
        shown = (fingers.locate(Path(tmp) / "raw") * images)[:images]
        video = Path(tmp) / "hands.avi"
        boxes = hand_video([path for path, *_ in shown], video, size, repeat=repeat, empty=empty)[:frames]
        result = live(classifier, str(video), headless=True, out_csv=Path(tmp) / "frames.csv", max_frames=frames)
        said = pd.read_csv(Path(tmp) / "frames.csv", dtype={"label": str})["label"].to_numpy()
    # The class each frame shows, in the model's names: a count (0-5) or a count and hand (0L-5R).
    truth = [f"{c}{h}" if f"{c}{h}" in names else str(c) for _, _, c, h in shown]
    expected = np.array([NO_HAND_LABEL] * empty + [truth[i // repeat] for i in range(len(boxes) - empty)])
    hand = np.array([box is not None for box in boxes])
    follows = any(m.kind is Kind.LANDMARKS for m in classifier.members)
    how = "finding the hand in the whole frame" if follows else "the centred region of interest"
    rate = result.frames / result.seconds
    echo(f"live {' x '.join(models)}: {result.frames} frames {size[0]}x{size[1]} in {result.seconds:.1f} s = {rate:.1f} frames/s "
         f"({how}, classification and drawing; {os.cpu_count()} cores)")  # fmt: skip
    echo(f"label right in {(said == expected)[hand].mean():.1%} of the {hand.sum()} frames that show a hand")
    if len(classifier.members) > 1:
        echo(f"a hand found in {result.hands} of the {result.frames} frames ({hand.sum()} show one)")
    if classifier.abstains:
        found = said != NO_HAND_LABEL
        echo(f"a hand found in {(found & hand).sum()} of them, and in {(found & ~hand).sum()} of the {(~hand).sum()} "
             "that show none")  # fmt: skip


def predict_memory(model: str, counts: list[int], size: tuple[int, int], echo: Echo = print) -> None:
    """Peak resident memory of `handsign predict` (a fresh process each) on `counts` colour JPEG
    photos of hands (the renderer's other camera, drawn at `size`): flat when decoding and
    classifying go in batches bounded by pixels, whatever the number of images."""
    import shutil
    import subprocess
    import sys

    from PIL import Image

    from handsign.synth.othercamera import write_other_camera

    handsign = Path(sys.executable).parent / "handsign"
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        drawn = Path(tmp) / "drawn"
        write_other_camera(drawn, "fingers", 4, 0)
        photos = sorted(drawn.rglob("*.png"))
        for n in counts:
            folder = Path(tmp) / f"photos_{n}"
            folder.mkdir()
            for i in range(n):
                target = folder / f"{i:05d}.jpg"
                if i < len(photos):
                    Image.open(photos[i]).convert("RGB").resize(size).save(target, quality=90)
                else:  # the same photos again: what memory holds grows with the count, not the content
                    shutil.copyfile(folder / f"{i % len(photos):05d}.jpg", target)
            start = time.perf_counter()
            proc = subprocess.Popen([str(handsign), "predict", str(folder), "-m", model, "--json"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"handsign predict failed on {n} images: {proc.stderr.read().decode()[-500:]}")
            echo(f"predict {n} photos {size[0]}x{size[1]} with {model}: peak {usage.ru_maxrss / 1024:.0f} MB "
                 f"in {seconds:.1f} s")  # fmt: skip
