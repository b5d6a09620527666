"""The `handsign` command: tools around the DVC pipeline (the stages themselves run via `dvc repro`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
import typer

app = typer.Typer(
    help="handsign: train and serve hand-gesture recognisers. The pipeline runs with `dvc repro`; "
    "these commands use its models (predict, live, collect, export), render synthetic data, draw "
    "contact sheets and measure speed.",
    no_args_is_help=True,
    add_completion=False,
)
bench_app = typer.Typer(help="Benchmarks that print numbers (run them alone: two torch jobs share 2 cores badly).")
app.add_typer(bench_app, name="bench")
landmarks_app = typer.Typer(help="Hand landmarks: MediaPipe's hand landmarker on the datasets' images.")
app.add_typer(landmarks_app, name="landmarks")

# A user's mistake (a bad file, argument or setting: handsign raises ValueError, which ConfigError
# is, FileNotFoundError, or RuntimeError, which SourceError is) ends any command with one line,
# `handsign: error: <reason>`, and exit code 1; anything else is a bug, and shows its traceback.
USER_ERRORS = (ValueError, FileNotFoundError, RuntimeError)


def _fail(message: str) -> NoReturn:
    typer.echo(f"handsign: error: {message}", err=True)
    raise typer.Exit(1)


def _progress(what: str) -> Callable[[int, int], None]:
    """A line on stderr per batch of a long command: `<what>: done/total`."""
    return lambda done, total: typer.echo(f"{what}: {done}/{total} images", err=True)


def command(group: typer.Typer, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`group.command(...)`, with USER_ERRORS reported as one line (`_fail`) instead of a traceback."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*a: Any, **kw: Any) -> Any:
            try:
                return fn(*a, **kw)
            except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException):  # typer's ways out (RuntimeErrors)
                raise
            except USER_ERRORS as e:
                _fail(str(e))

        return group.command(*args, **kwargs)(run)

    return register


@command(app)
def synth(
    dataset: str = typer.Argument(..., help="sign_mnist | leapgestrecog | fingers"),
    out: Path = typer.Argument(..., help="Folder to write, in the dataset's Kaggle layout (must not exist)."),
    seed: int = typer.Option(None, help="Renderer seed: the same seed and counts give byte-identical files."),
    per_class_train: int = typer.Option(None, help="Images per class in the training file/folder."),
    per_class_test: int = typer.Option(None, help="Images per class in the test file/folder."),
    subjects: int = typer.Option(None, help="Distinct hands (LeapGestRecog: subject folders)."),
    frames_per_gesture: int = typer.Option(None, help="LeapGestRecog: frames per subject and gesture."),
) -> None:
    """Render a synthetic dataset, exactly as the download stage's `synthetic` source does. Each
    count not given is params.yaml's (`synthetic:`), so the default is what `make demo` renders."""
    from dataclasses import replace

    from handsign.config import check_synthetic, load_params
    from handsign.core.atomic import atomic_path
    from handsign.core.layout import repo_root
    from handsign.core.schema import ConfigError
    from handsign.synth import RENDERERS, render_dataset

    rendered = list(RENDERERS)
    if dataset not in rendered:
        raise typer.BadParameter(f"dataset {dataset!r} is not one of {', '.join(rendered)}")
    if out.exists():
        raise typer.BadParameter(f"{out} exists; choose a new folder")
    given = {
        "seed": seed,
        "per_class_train": per_class_train,
        "per_class_test": per_class_test,
        "subjects": subjects,
        "frames_per_gesture": frames_per_gesture,
    }
    p = replace(load_params(repo_root() / "params.yaml").synthetic, **{k: v for k, v in given.items() if v is not None})
    try:
        check_synthetic(p)
    except ConfigError as e:
        raise typer.BadParameter(str(e)) from None
    with atomic_path(out) as tmp:
        render_dataset(dataset, tmp, p, p.seed)
    typer.echo(f"wrote synthetic {dataset} to {out}")


@command(app)
def score(
    checkpoint: Path = typer.Argument(..., help="A checkpoint written by the train stage (models/model.pt)."),
    data: Path = typer.Argument(..., help="The dataset to score on: a Kaggle archive (.zip) or its unpacked folder."),
    dataset: str = typer.Option("sign_mnist", help="The format of DATA: sign_mnist | leapgestrecog | fingers"),
    split: str = typer.Option("test", help="Which official part of DATA to score: test | train | all"),
    external: bool = typer.Option(False, "--external", help="DATA is a folder or zip of <class>/<image> files from "
                                  "elsewhere (any size, colour or grey), as external: sets in params.yaml are."),  # fmt: skip
    classes: list[str] = typer.Option([], "--class", help="folder=class where a folder's name is no class name (repeatable)."),
) -> None:
    """Score a trained checkpoint on another copy of a dataset (say, a synthetic model on the real test file),
    or, with --external, on labelled images from elsewhere. A landmark model's images go through the hand
    landmarker first, with the settings it was trained with; a colour image in colour."""
    import json

    from handsign.evaluation.score import score_checkpoint, score_external_folder

    typer.echo(f"score: {checkpoint} on {data}: reading the images and classifying them (seconds to minutes)", err=True)
    if external:
        summary = score_external_folder(checkpoint, data, dict(c.split("=", 1) for c in classes))
    else:
        summary = score_checkpoint(checkpoint, data, dataset, split)
    typer.echo(json.dumps({"checkpoint": str(checkpoint), "data": str(data), "split": split, **summary}, indent=2))


def _bench(name: str, *args: Any, **kwargs: Any) -> None:
    """Run handsign.pipeline.bench.<name>, printing its lines; its errors end the command with their message."""
    from handsign.pipeline import bench

    getattr(bench, name)(*args, echo=typer.echo, **kwargs)


MODEL_HELP = "A checkpoint (models/<exp>/model.pt) or an MLflow model URI (models:/handsign-<exp>-<source>@champion)."


@command(app, "predict")
def predict_command(
    paths: list[str] = typer.Argument(..., help="Image files, folders (searched recursively) and globs ('data/**/*.png')."),
    model: list[str] = typer.Option(..., "--model", "-m", help=MODEL_HELP + " Given twice (a pixel and a landmark "
                                    "model of the same classes): an ensemble, their probabilities multiplied."),
    top_k: int = typer.Option(3, "--top-k", "-k", min=1, help="Classes to show per image, most likely first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON ({predictions: [{path, top}], errors: {path: why}})."),
    max_pixels: int = typer.Option(50_000_000, min=1, help="An image with more pixels is skipped, never decoded."),
) -> None:
    """Classify image files with a trained model: any size, greyscale or colour; the model applies its
    training data's preprocessing. Unreadable files are reported and skipped, and the exit code is 1."""
    from handsign.use.predict import image_files, load_model, predict_files

    files, missing = image_files(paths)
    classifier = load_model(model)
    result = predict_files(classifier, files, max_pixels, progress=_progress("predict") if len(files) > 200 else None)
    result.errors.update(missing)
    k = min(top_k, len(result.class_names))
    typer.echo(result.to_json(k) if as_json else result.to_table(k))
    for path, why in result.errors.items():
        typer.echo(f"handsign predict: skipped {path}: {why}", err=True)
    if result.errors:
        raise typer.Exit(1)


@command(app, "serve")
def serve_command(
    model: list[str] = typer.Option(..., "--model", "-m", help=MODEL_HELP + " Given twice: an ensemble."),
    host: str = typer.Option("127.0.0.1", help="The address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8080, help="The port to listen on."),
    max_request_bytes: int = typer.Option(16 * 1024 * 1024, min=1, help="A larger request body is refused (413), unread."),
    max_pixels: int = typer.Option(50_000_000, min=1, help="An image with more pixels is refused (its row), never decoded."),
) -> None:
    """Serve a model over HTTP with MLflow's scoring protocol (POST /invocations, GET /ping), safe
    with any input: a short JSON reason for every refusal (no stack trace, no echo of the body), an
    error per unreadable row while the others are answered, bounded request size and memory."""
    from handsign.use.predict import load_model
    from handsign.use.server import make_server

    server = make_server(load_model(model), host, port, max_request_bytes, max_pixels)
    typer.echo(f"handsign serve: {' x '.join(model)} on http://{host}:{server.server_address[1]} (Ctrl-C stops it)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@command(app, "export")
def export_command(
    experiment: str = typer.Argument(..., help="An experiment of params.yaml: its models/<experiment>/model.pt is exported."),
    out: Path = typer.Option(None, help="Folder for the files (default: models/<experiment>/export)."),
    formats: str = typer.Option("torchscript,onnx", help="Comma-separated: torchscript, onnx."),
    parity_images: int = typer.Option(256, help="Test-split images the exports are checked on."),
    log: bool = typer.Option(True, help="Log the files to the experiment's MLflow run (models/<experiment>/mlflow_run.json)."),
) -> None:
    """Export an experiment's model to TorchScript and ONNX (probabilities out, any batch size), run
    the files back (onnxruntime for ONNX) on real test images and print the largest difference from
    PyTorch's probabilities; a difference above 1e-4 or a changed label fails."""
    from handsign.use.export import TOLERANCE, export_experiment

    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    typer.echo(f"export: {experiment} to {', '.join(chosen)}, then each checked against PyTorch on {parity_images} "
               "test images (tens of seconds)", err=True)  # fmt: skip
    results, checked, run_id = export_experiment(experiment, out, chosen, parity_images, log)
    for r in results:
        verdict = "ok" if r.max_abs_diff <= TOLERANCE and r.same_labels else "MISMATCH"
        typer.echo(f"{r.format:12} {r.path}  max |p - p_torch| = {r.max_abs_diff:.2e} over {checked} test images, "
                   f"labels {'equal' if r.same_labels else 'differ'}: {verdict}")  # fmt: skip
    if run_id:
        typer.echo(f"logged to MLflow run {run_id} (artifacts export/)")
    if not all(r.max_abs_diff <= TOLERANCE and r.same_labels for r in results):
        raise typer.Exit(1)


@command(app)
def live(
    model: list[str] = typer.Option(..., "--model", "-m", help=MODEL_HELP + " Given twice (a pixel and a landmark model "
                                    "of the same classes): an ensemble, the pixel model reading the tracked hand."),
    source: str = typer.Option("0", help="A camera index (0) or a video file."),
    roi: str = typer.Option(
        "",
        help="A pixel model's square region of interest, X,Y,SIZE in pixels (default: centred, "
        "60% of the frame). A landmark model finds the hand anywhere.",
    ),  # fmt: skip
    headless: bool = typer.Option(False, help="No window: write --out-video and --out-csv instead."),
    out_video: Path = typer.Option(None, help="Write the annotated frames here (MJPG .avi)."),
    out_csv: Path = typer.Option(None, help="Write one row per frame: frame, label, probability, one column per class."),
    snapshots: Path = typer.Option(Path("snapshots"), help="Where `s` saves the region of interest (landmark model: the frame)."),
    max_frames: int = typer.Option(None, help="Stop after this many frames."),
    screenshot: Path = typer.Option(None, help="Save the last annotated frame as a PNG."),
) -> None:
    """Classify a camera or video live, every frame, with label, confidence and frames per second
    overlaid. A pixel model classifies the region of interest (drawn); a landmark model (e.g.
    models/fingers_landmarks/model.pt) finds the hand anywhere in the frame, draws its 21-point
    skeleton and says "no hand" when there is none. An ensemble (-m PIXEL -m LANDMARKS, or its registered
    MLflow URI) follows the hand as a landmark model does and multiplies the two models' probabilities.
    Keys: s snapshots and classifies, q quits."""
    from handsign.use.live import live as run_live
    from handsign.use.predict import load_model

    if headless and out_video is None and out_csv is None:
        _fail("--headless shows nothing: give --out-video and/or --out-csv")
    classifier = load_model(model)
    result = run_live(classifier, source, roi, headless, out_video, out_csv, snapshots, max_frames, screenshot)
    rate = result.frames / max(result.seconds, 1e-9)
    typer.echo(f"live: {result.frames} frames in {result.seconds:.1f}s ({rate:.1f} frames/s), a hand in {result.hands}")


@command(app, "demo-video")
def demo_video_command(
    images: list[str] = typer.Argument(..., help="Image files, folders or globs, shown in order."),
    out: Path = typer.Option(Path("hands.avi"), help="The video to write (MJPG .avi)."),
    repeat: int = typer.Option(5, min=1, help="Frames per image."),
    limit: int = typer.Option(24, min=1, help="At most this many images."),
    hands: bool = typer.Option(
        False,
        "--hands",
        help="For a landmark model: 640x480, each hand tinted skin colour, "
        "drifting across the frame, after 10 frames without one.",
    ),  # fmt: skip
) -> None:
    """Write a video to try `live` and `collect` on without a camera: each image fills the default
    region of interest of a dark 320x240 frame (a pixel model's view), or with --hands moves about a
    640x480 frame as a hand in front of a camera would (a landmark model finds it anywhere)."""
    from handsign.use.predict import image_files
    from handsign.use.videos import demo_video, hand_video

    files, missing = image_files(images)
    if missing or not files:
        _fail(f"no images in {', '.join(missing or images)}")
    if hands:
        frames = len(hand_video(files[:limit], out, repeat=repeat))
        typer.echo(f"wrote {out}: {frames} frames, {min(len(files), limit)} hands x {repeat} after 10 without one")
        return
    demo_video(files[:limit], out, repeat=repeat)
    typer.echo(f"wrote {out}: {min(len(files), limit)} images x {repeat} frames")


@command(app)
def collect(
    label: str = typer.Option(..., help="What the images show: Fingers 0L..5R (count, hand); "
                              "LeapGestRecog palm, l, fist, ...; Sign MNIST A..Y."),
    out: Path = typer.Option(..., help="The folder to add to: datasets.<name>.local_path (source: local), "
                             "or for Sign MNIST an external set's path."),
    dataset: str = typer.Option("fingers", help="The layout and naming to write: fingers | leapgestrecog (their downloads') | "
                                "sign_mnist (colour class folders OUT/<letter>/<n>.png: an external set to add to training)."),
    source: str = typer.Option("0", help="A camera index (0) or a video file."),
    split: str = typer.Option("train", help="Fingers: the train or test folder."),
    subject: str = typer.Option("00", help="LeapGestRecog: the subject folder (two digits)."),
    roi: str = typer.Option("", help="Region of interest X,Y,SIZE in pixels (default: centred)."),
    headless: bool = typer.Option(False, help="No window: save every --every frames."),
    every: int = typer.Option(10, min=1, help="Headless: save one image every this many frames."),
    max_frames: int = typer.Option(None, help="Stop after this many frames."),
) -> None:
    """Collect training images from a camera or video: the region of interest is saved on `c` (q
    quits). Fingers and LeapGestRecog: greyscale at the dataset's size and in its folder layout and
    file naming, so `download` (source: local) and `prepare` read the folder unchanged. Sign MNIST
    (a CSV download): colour 224x224 photos in class folders, a set to declare under `external:`
    and add to a combined split (docs/pipeline.md: More than one source)."""
    from handsign.use.collect import collect as run_collect

    saved = run_collect(source, dataset, label, out, split, subject, roi, headless, every, max_frames)
    typer.echo(f"collect: saved {len(saved)} images of {label} under {out}")


@command(app, "diff")
def diff_command(
    base: str = typer.Option(..., "--base", help="The git revision to compare against (a branch, tag or commit)."),
    head: str = typer.Option("workspace", "--head", help="The other side: a git revision, or the workspace."),
    out: Path = typer.Option(Path("reports/diff"), help="Folder for report.md and both sides' figures."),
    image_url: str = typer.Option("", help="Prefix for the figures' links (where `out` gets published)."),
) -> None:
    """The pull-request report: every experiment's test metrics at BASE and HEAD with the change,
    the params that differ, and both sides' training curves and confusion matrices, as markdown
    (printed, and written to OUT/report.md with the figures beside it)."""
    from handsign.core.layout import repo_root
    from handsign.evaluation.compare import build

    report = build(repo_root(), base, head, out)
    markdown = report.markdown(image_url)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(markdown)
    typer.echo(markdown)


@command(app, "contact-sheets")
def contact_sheets(
    out: Path = typer.Option(Path("reports/synthetic"), help="Folder for <dataset>.png."),
    seed: int = typer.Option(0, help="Renderer seed."),
    per_class: int = typer.Option(6, help="Samples shown per class."),
) -> None:
    """Render a few samples of each synthetic dataset and draw one labelled grid per dataset."""
    import tempfile

    from handsign.core.schema import SyntheticParams
    from handsign.datasets import DATASETS
    from handsign.synth import RENDERERS, render_dataset
    from handsign.synth.contact_sheet import contact_sheet

    params = SyntheticParams(seed=seed, per_class_train=per_class, per_class_test=1, subjects=per_class, frames_per_gesture=1)
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in DATASETS.items():
            if not (name in RENDERERS and spec.preview):
                continue
            size, cell = spec.preview
            render_dataset(name, Path(tmp) / name, params, seed)
            data = spec.read(Path(tmp) / name, size)
            path = contact_sheet(data, out / f"{name}.png", per_class=per_class, cell=cell, seed=seed)
            typer.echo(f"wrote {path}")


@command(bench_app, "render")
def bench_render(
    dataset: str = typer.Option("leapgestrecog", help="sign_mnist | leapgestrecog | fingers"),
    images: int = typer.Option(1000, help="About how many images to render (rounded to whole classes)."),
    seed: int = typer.Option(0),
) -> None:
    """Synthetic rendering rate, files written to disk included (one process, one core)."""
    _bench("render_rate", dataset, images, seed)


@command(bench_app, "decode")
def bench_decode(
    frames: int = typer.Option(2000, help="Synthetic LeapGestRecog frames to render and decode (640x240 PNG)."),
    folder: Path = typer.Option(None, help="Decode this LeapGestRecog download instead (its leapGestRecog/ tree)."),
    image_size: int = typer.Option(224),
    resize: str = typer.Option("stretch", help="stretch | letterbox | center_crop"),
    pillow_files: bool = typer.Option(False, help="Re-save the frames with Pillow (adaptive row filters: the slow path)."),
) -> None:
    """The prepare stage's decode rate: LeapGestRecog PNG frames to uint8 squares, one worker per core
    (timed: finding the files and decoding them, as prepare does; the files are read once beforehand,
    so they come from the page cache)."""
    _bench("decode_rate", frames, folder, image_size, resize, pillow_files)


@command(bench_app, "train")
def bench_train(
    model: str = typer.Option("cnn_small", help="A model from the registry."),
    image_size: int = typer.Option(28),
    batch_size: int = typer.Option(64),
    classes: int = typer.Option(24),
    steps: int = typer.Option(30, help="Optimisation steps timed (one epoch of the real loop over random images)."),
    device: str = typer.Option("auto"),
    precision: str = typer.Option("auto", help="auto | fp32 | bf16, as the `precision` training key."),
) -> None:
    """Training and inference throughput (images/s) of the pipeline's own loop: `train_one_epoch`
    and `evaluate` from handsign.training.train, on random uint8 images, after a warm-up epoch of 3 steps."""
    _bench("train_rate", model, image_size, batch_size, classes, steps, device, precision)


@command(bench_app, "freeze")
def bench_freeze(
    model: str = typer.Option("resnet18", help="A torchvision model from the registry."),
    image_size: int = typer.Option(128),
    images: int = typer.Option(480, help="Random uint8 images: 80% train, 10% validation, 10% test."),
    epochs: int = typer.Option(3),
    batch_size: int = typer.Option(32),
) -> None:
    """What freezing the backbone saves: the pipeline's own fit() with freeze_backbone on (features
    computed once, the head trained on them) and off (the whole network trained every epoch)."""
    _bench("freeze_cost", model, image_size, images, epochs, batch_size)


@command(bench_app, "serve")
def bench_serve(
    model: str = typer.Option("models:/handsign-fingers_cnn-synthetic@champion", "--model", "-m", help=MODEL_HELP),
    images: str = typer.Option("data/raw/fingers", help="Image files, a folder or a glob to send."),
    requests: int = typer.Option(100, help="Single-image requests (latency)."),
    batch: int = typer.Option(64, help="Images per request for throughput."),
    batches: int = typer.Option(10, help="Batched requests (throughput)."),
) -> None:
    """Serve a registered model with the real `mlflow models serve` on 127.0.0.1 and measure
    single-image latency (p50, p95) and batch throughput over HTTP, beside in-process prediction."""
    _bench("serve_latency", model, images, requests, batch, batches)


@command(bench_app, "memory")
def bench_memory(
    model: str = typer.Option("models/fingers_landmarks/model.pt", "--model", "-m", help=MODEL_HELP),
    counts: list[int] = typer.Option([10, 2000], "--count", help="Photos per run (each run a fresh process)."),
    width: int = typer.Option(640, help="Photo width."),
    height: int = typer.Option(480, help="Photo height."),
) -> None:
    """Peak memory of `handsign predict` on 10 and on 2,000 colour photos of hands: it stays flat (decoding
    and classifying go in batches bounded by decoded pixels)."""
    _bench("predict_memory", model, counts, (width, height))


@command(bench_app, "demo")
def bench_demo(
    keep: Path = typer.Option(None, help="Clone into this (new) folder and leave it there, instead of a temporary one."),
    output: Path = typer.Option(None, help="Also write the tables to this markdown file."),
    quiet: bool = typer.Option(False, "--quiet", help="Do not echo the stages' output while they run."),
    jobs: int = typer.Option(2, "--jobs", "-j", help="Stages at once, as `make demo` runs them."),
) -> None:
    """Where `make demo`'s time goes: clone this repository's committed HEAD into a temporary folder,
    run `handsign repro -j 2` in it from nothing, and print the seconds of every stage, per kind of
    stage, the wall clock, and that of a second run with nothing changed. Run it alone: other work on
    the cores slows it."""
    from handsign.core.layout import repo_root
    from handsign.pipeline import stagetimes

    timing = stagetimes.time_fresh_clone(repo_root(), jobs, keep, echo=not quiet)
    table = stagetimes.markdown(timing)
    typer.echo(table)
    if output is not None:
        output.write_text(table + "\n")


@command(bench_app, "time-to-accuracy")
def bench_time_to_accuracy(
    data: Path = typer.Argument(..., help="The experiment's dataset: a Kaggle archive (.zip) or its unpacked folder."),
    experiment: str = typer.Option("sign_mnist_cnn", help="An experiment from params.yaml; its recipe is used."),
    max_epochs: int = typer.Option(5, help="Budgets 1..max_epochs, each a full run (the cosine schedule ends with it)."),
    params_file: Path = typer.Option(Path("params.yaml"), "--params", help="The params file to read."),
) -> None:
    """Test accuracy against training time: the experiment's recipe trained for 1, 2, ... epochs
    on DATA's official split, with the pipeline's own fit(). One line per budget."""
    _bench("time_to_accuracy", data, experiment, max_epochs, params_file)


@command(bench_app, "landmarks")
def bench_landmarks(
    images: int = typer.Option(600, help="Images to detect hands in: rendered, or a seeded sample of --archive's."),
    workers: int = typer.Option(None, help="Detector processes (default: one per core)."),
    archive: Path = typer.Option(None, exists=True, help="A real download of --dataset (zip or folder, as source: local)."),
    dataset: str = typer.Option("fingers", help="Whose format and landmarks: settings (params.yaml)."),
    every: bool = typer.Option(False, "--every", help="Every attempt on every image (readings: every), then each alone."),
) -> None:
    """Hand landmark detection rate and speed with params.yaml's `landmarks.<dataset>` settings and one
    detector per process, as the landmarks stage runs it: on synthetic Fingers images, or a sample of a
    real archive; with --every, the time each attempt takes (where the landmarks stage's time goes)."""
    _bench("landmark_rate", images, workers, archive=archive, dataset=dataset, every=every)


@command(bench_app, "live")
def bench_live(
    model: list[str] = typer.Option(["models/fingers_landmarks/model.pt"], "--model", "-m",
                                    help=MODEL_HELP + " Given twice: an ensemble, as `live` runs it."),
    frames: int = typer.Option(300, min=20, help="Frames of the generated video (the first 10 show no hand)."),
    width: int = typer.Option(640, help="Frame width in pixels."),
    height: int = typer.Option(480, help="Frame height in pixels."),
) -> None:
    """Frames per second of `handsign live` (headless) on a generated video of synthetic hands
    drifting across the frame: with a landmark model, the hand is found in the whole frame."""
    _bench("live_rate", model, frames, (width, height))


@command(landmarks_app, "fetch")
def landmarks_fetch() -> None:
    """Download MediaPipe's hand landmarker, at its pinned version, into the cache (~/.cache/handsign/);
    a file whose sha256 is not the pinned one is refused."""
    from handsign.core import weights

    typer.echo(f"wrote {weights.download(weights.HAND_LANDMARKER)}")


@command(landmarks_app, "detect")
def landmarks_detect(
    data: Path = typer.Argument(..., help="A dataset: a Kaggle archive (.zip) or its unpacked folder."),
    dataset: str = typer.Option("fingers", help="Its format, with settings under landmarks: in params.yaml."),
    params_file: Path = typer.Option(Path("params.yaml"), "--params", help="The params file to read."),
) -> None:
    """How often a hand is found in DATA with params.yaml's settings: in all, per class, per attempt."""
    from handsign.config import load_params
    from handsign.hands.detection import detection_report

    typer.echo(f"landmarks detect: reading {data} and finding the hand in each image", err=True)
    for line in detection_report(data, dataset, load_params(params_file).landmark_settings(dataset)):
        typer.echo(line)


@command(app)
def experiments(
    dataset: str = typer.Option("", help="Only the experiments on this dataset."),
    stages: bool = typer.Option(False, "--stages", help="Print evaluate@<name> targets for `dvc repro` / `dvc exp run`."),
    params_file: Path = typer.Option(Path("params.yaml"), "--params", help="The params file to read."),
) -> None:
    """List the experiments and cross-validations declared in params.yaml, resolved: each as its stages
    run it (on the synthetic source, the demo's smaller size is shown after the declared one)."""
    from handsign.config import load_params

    params = load_params(params_file)
    chosen = [(params.stage(e.name), e) for _, e in params.every_experiment()]
    chosen = [(stage, e) for stage, e in chosen if not dataset or e.dataset == dataset]
    ensembles = {name: ens for name, ens in params.ensembles.items() if not dataset or ens.dataset == dataset}
    if stages:
        typer.echo(" ".join([stage for stage, _ in chosen] + [f"evaluate_ensemble@{name}" for name in ensembles]))
        return
    for _, e in chosen:
        t = e.training
        shown = params.prepared_size(e.data_copy)
        size = f"{e.image_size}px" if shown == e.image_size else f"{e.image_size}->{shown}px"
        typer.echo(f"{e.name:31} {e.dataset:14} {e.source:10} {size:>9} {e.split:15} {t.model:18} "
                   f"{t.optimizer} lr {t.lr:g}, {t.epochs} epochs, batch {t.batch_size}")  # fmt: skip
    for name, ens in ensembles.items():
        source = params.datasets[ens.dataset].source
        typer.echo(f"{name:31} {ens.dataset:14} {source:10} {ens.image_size:>4}px {ens.split:9} {'ensemble':18} "
                   f"{ens.pixel} x {ens.landmarks}, probabilities multiplied")  # fmt: skip


@command(app)
def results(
    dataset: str = typer.Option("", help="Only the experiments on this dataset."),
    params_file: Path = typer.Option(Path("params.yaml"), "--params", help="The params file to read."),
    write: list[Path] = typer.Option([], "--write", help="Rewrite the `<!-- handsign results: ... -->` blocks of "
                                     "this markdown file (repeatable) instead of printing."),  # fmt: skip
    snapshot: str = typer.Option("", help="Copy these experiments' reports from a git revision (a `dvc exp run --temp` "
                                 "experiment's ref) into reports/real/ first: what `make real` does."),  # fmt: skip
    names: list[str] = typer.Argument(None, help="With --snapshot: the experiments (or their stages) to copy."),
) -> None:
    """Does it carry over? Each classifier's (and ensemble's) test accuracy on its own dataset's test
    split beside its accuracy on every external set of that dataset (external: in params.yaml; other
    people, other cameras); then each cross-validation's accuracy on every subject or source it held
    out, their mean and the worst. Read from reports/<experiment>/. `make demo` and `make real` end
    with it. With --write, the docs' tables are rewritten from the same reports."""
    from handsign.config import load_params
    from handsign.core import layout
    from handsign.core.atomic import write_text
    from handsign.evaluation.results import rewrite_blocks, tables

    if snapshot:
        from handsign.core.layout import repo_root
        from handsign.evaluation.results import snapshot as copy_reports

        wanted = [n.split("@", 1)[-1] for n in names or []]
        copied = copy_reports(snapshot, wanted, layout.REPORTS / "real", repo_root())
        typer.echo(f"reports/real/: {', '.join(copied) or 'nothing'} from {snapshot}")
    rendered = tables(layout.REPORTS, load_params(params_file), dataset)
    for path in write:
        text = path.read_text()
        new = rewrite_blocks(text, rendered)
        if new != text:
            write_text(path, new)
        typer.echo(f"{path}: {'rewritten' if new != text else 'as the reports say already'}")
    if not write:
        typer.echo(rendered["carry-over"])


@command(app, "repro")
def repro_command(
    targets: list[str] = typer.Argument(None, help="Stages, with what they depend on, as `dvc repro` takes them; all if none."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Stages at once; each uses `threads:` torch threads (params.yaml)."),
    force: bool = typer.Option(False, "--force", "-f", help="Run the stages even if DVC finds them up to date."),
    host: bool = typer.Option(
        True,
        "--host/--no-host",
        help="Run the stage scripts in a warm process that has "
        "imported PyTorch and MLflow once (handsign.pipeline.stagehost); --no-host: a fresh python each.",
    ),
) -> None:
    """`dvc repro`, JOBS stages at a time: the out-of-date stages and everything downstream of them,
    each started as `dvc repro --single-item` once what it depends on is done. DVC still decides
    whether a stage runs and writes dvc.lock, so the result is what `dvc repro` leaves.
    `make demo` runs it with -j 2."""
    from handsign import tracking
    from handsign.core.layout import repo_root
    from handsign.pipeline import repro

    root = repo_root()
    # One process creates the MLflow store's sqlite schema, not two stages at once.
    before = (lambda: tracking.create_store(root)) if jobs > 1 else (lambda: None)
    runs = repro.repro(root, targets or (), jobs, force, echo=typer.echo, before=before, host=host)
    if runs:
        ran = sum(not r.skipped for r in runs)
        together = sum(r.seconds for r in runs)
        typer.echo(f"repro: {ran} stage(s) ran, {len(runs) - ran} unchanged; their seconds together {together:.0f} s")


@command(app)
def check(
    names: list[str] = typer.Argument(None, help="Experiments, cross-validations, ensembles (or their stages); all if none."),
    overrides: list[str] = typer.Option([], "--set", "-S", help="key=value, as `dvc exp run -S` takes it (repeatable)."),
    params_file: Path = typer.Option(Path("params.yaml"), "--params", help="The params file to read."),
) -> None:
    """Check in seconds, before any stage runs, that each experiment can: its dataset's archive or
    Kaggle credentials, its ImageNet weights (in torch's cache, HANDSIGN_WEIGHTS or ../shared/weights,
    else a reachable download), the checkpoint it starts from. Exit 1 naming each fix. An external
    set (external: in params.yaml) whose files are absent is named; it is skipped, not an error."""
    import yaml

    from handsign.config import load_params
    from handsign.pipeline import preflight

    params = load_params(params_file, {k: yaml.safe_load(v) for k, _, v in (o.partition("=") for o in overrides)})
    every = {e.name: e for _, e in params.every_experiment()}
    wanted = [n.split("@", 1)[-1] for n in names or []] or list(every)
    # An ensemble trains nothing of its own: what it needs is what its members need.
    wanted = list(dict.fromkeys(m for n in wanted for m in (
        (params.ensembles[n].pixel, params.ensembles[n].landmarks) if n in params.ensembles else (n,))))  # fmt: skip
    unknown = [n for n in wanted if n not in every]
    if unknown:
        _fail(f"no experiment or cross-validation {', '.join(map(repr, unknown))}; known: {', '.join(every)}")
    chosen = [every[n] for n in wanted]
    found = preflight.problems(params, chosen)
    for line in preflight.skipped_external_sets(params, chosen):
        typer.echo(f"check: {line}", err=True)
    for line in found:
        typer.echo(f"check: {line}", err=True)
    if found:
        raise typer.Exit(1)
    typer.echo(f"check: {len(chosen)} experiment(s) ready to run")


if __name__ == "__main__":
    app()
