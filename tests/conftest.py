from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# No detection is read back from a cache here (handsign.hands.detectcache): a test that changes the
# detector must see it run, and a developer's ~/.cache stays theirs. Stages the tests start inherit it.
os.environ["HANDSIGN_DETECTION_CACHE"] = "off"

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SIGN_MNIST_ZIP = SHARED_DATA / "sign-language-mnist.zip"
SHARED_WEIGHTS = REPO.parent / "shared" / "weights"
BIN = Path(sys.executable).parent
ASL_WEBCAM = SHARED_DATA / "asl-letters-webcam.zip"  # real colour photos of letters (../shared/data/README)


def webcam_photos(dest: Path, every: int, count: int = 6) -> list[Path]:
    """Every `every`-th photo of ASL_WEBCAM, `count` of them, unpacked into `dest`."""
    import zipfile

    with zipfile.ZipFile(ASL_WEBCAM) as z:
        names = [n for n in z.namelist() if n.endswith(".jpg")][::every][:count]
        for n in names:
            (dest / n).parent.mkdir(parents=True, exist_ok=True)
            (dest / n).write_bytes(z.read(n))
    return [dest / n for n in names]


# The test files that take longest, run first (the short ones fill in at the end). With `--dist
# loadfile` (the Makefile) a file runs on one worker; in xdist's own order (files by their number of
# tests) a long file such as test_stages.py could start late and run on alone after the other worker
# had finished everything else.
LONGEST_FIRST = ("test_pipeline.py", "test_sharing.py", "test_stages.py", "test_repro.py", "test_workflow.py",
                 "test_real_data.py", "test_transfer.py", "test_synth.py", "test_training.py", "test_external.py",
                 "test_config.py", "test_dvc_yaml.py", "test_autoencoder.py", "test_cli.py", "test_landmarks.py",
                 "test_serving.py", "test_models.py", "test_images.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: name order otherwise


@pytest.fixture(autouse=True)
def no_tracking_uri_leaks() -> Iterator[None]:
    """mlflow.set_tracking_uri() exports MLFLOW_TRACKING_URI for the whole process: a test that calls
    it must not hand its store to the next test in the same pytest worker."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


def without_external_sets(params: dict) -> dict:
    """The committed params (as loaded YAML) without external sets and the combined splits and
    experiments that train on them: for tests of other things, which then need no detection of
    those photos (tests/test_external.py and tests/test_pipeline.py cover them); cross-validations too,
    and the ensembles' held-out people."""
    params["external"] = {}
    for ensemble in params.get("ensembles", {}).values():  # no held-out people to choose weights on
        ensemble.pop("held_out", None)
        ensemble.pop("search", None)
    for copy in params["data"].values():
        combined = copy.pop("combined", {})
        for section in ("experiments", "crossval"):
            params[section] = {k: v for k, v in params.get(section, {}).items() if v.get("split") not in combined}
    return params


def with_reads(params: dict) -> dict:
    """`params` (loaded YAML) with every experiment's and cross-validation's `reads` set from its
    dataset, image size and model, as a test that moves an entry to another copy must."""
    from handsign.models import Kind, kind_of

    for section in ("experiments", "crossval"):
        for entry in params.get(section, {}).values():
            model = entry.get("model") or params["recipes"][entry["recipe"]]["model"]
            copy = f"{entry['dataset']}_{entry['image_size']}"
            entry["reads"] = f"data/landmarks/{entry['dataset']}" if kind_of(model) is Kind.LANDMARKS else f"data/prepared/{copy}"
    return params


def needs_real_sign_mnist() -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not SIGN_MNIST_ZIP.exists(), reason=f"real data absent: {SIGN_MNIST_ZIP} is only present in the project's workplace"
    )


def tool_env(**extra: str) -> dict[str, str]:
    """The environment the pipeline's commands run in: the venv first on PATH, telemetry off."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", DVC_NO_ANALYTICS="1", CI="1")
    env.pop("MLFLOW_TRACKING_URI", None)
    # A repository copy under a temporary folder is not beside ../shared/: the landmarks stage finds
    # the hand landmarker through HANDSIGN_WEIGHTS (elsewhere it downloads it, as a user's would).
    if SHARED_WEIGHTS.is_dir():
        env.setdefault("HANDSIGN_WEIGHTS", str(SHARED_WEIGHTS))
    env.update(extra)
    return env


@pytest.fixture
def stage_host(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment that sends the stage scripts of the DVC commands a test runs (`dvc exp run`,
    `dvc queue`, `dvc repro`) to one warm handsign.pipeline.stagehost, as `handsign repro` does for its own:
    each stage then skips 3-5 s of imports. Only where the repository copy runs the installed
    handsign: a stage forked from the host has the host's modules, whatever PYTHONPATH it is given.
    tests/test_stagehost.py and tests/test_repro.py show a stage computes there what it computes in
    a fresh interpreter."""
    with warm_stage_host(tmp_path) as env:
        yield env


@contextlib.contextmanager
def warm_stage_host(root: Path) -> Iterator[dict[str, str]]:
    """`stage_host`'s host and environment, started in `root` with the tests' environment (a test
    that runs another copy of handsign sets PYTHONPATH first, and the host imports that copy)."""
    from handsign.pipeline import stagehost

    with stagehost.started(root) as env:
        env["PATH"] = env["PATH"].replace(os.pathsep, f"{os.pathsep}{BIN}{os.pathsep}", 1)  # the shim, then the venv
        yield env


def cli(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`handsign ARGS` run in this process, answered as a finished subprocess would be. A subprocess
    would import torch again, seconds a call; tests/test_pipeline.py runs the installed command."""
    from typer.testing import CliRunner

    from handsign.cli import app

    with contextlib.chdir(cwd or Path.cwd()):
        result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback here is a bug: the command must say its reason in a line
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def run(cmd: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=tool_env(**extra), capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return out


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A fresh git repository holding the project's tracked files, as a clean clone would."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    dest = tmp_path / "handsign"
    for name in filter(None, files.split("\0")):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    run(["git", "init", "-q"], dest)
    # `dvc exp run` commits experiment refs: a CI machine may have no identity of its own.
    run(["git", "config", "user.email", "tests@handsign.invalid"], dest)
    run(["git", "config", "user.name", "handsign tests"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "copy"], dest)
    return dest


@functools.cache
def shipped_params():
    """params.yaml as committed: the one source of the defaults the tests start from."""
    from handsign.config import load_params

    return load_params(REPO / "params.yaml")


def training(**overrides):
    """params.yaml's training defaults with `overrides` (a Training)."""
    return shipped_params().training(**overrides)


def synthetic_params(**counts):
    """params.yaml's `synthetic:` counts with `counts` replaced."""
    return dataclasses.replace(shipped_params().synthetic, **counts)


def split_params(**keys):
    """params.yaml's `split:` with `keys` replaced."""
    return dataclasses.replace(shipped_params().split, **keys)


def tiny_experiment(root: Path, dataset: str = "fingers", image_size: int = 32, per_class_train: int = 20, **overrides):
    """Render, prepare and split a small synthetic dataset in-process, as the stages do; returns
    (experiment, prepared store, split column). `overrides` change params.yaml's training defaults."""
    from handsign.config import DatasetParams, Experiment
    from handsign.data.split import assign_splits
    from handsign.datasets import PreparedStore, get_spec
    from handsign.synth import render_dataset

    synthetic = synthetic_params(per_class_train=per_class_train, per_class_test=4, subjects=3, frames_per_gesture=6)
    prepared = root / f"prepared_{dataset}_{image_size}_{per_class_train}"
    if not prepared.exists():
        render_dataset(dataset, root / f"raw_{dataset}_{per_class_train}", synthetic, 0)
        get_spec(dataset).read(root / f"raw_{dataset}_{per_class_train}", image_size).save(prepared, dataset)
    store = PreparedStore.load(prepared)
    strategy = "subject" if dataset == "leapgestrecog" else "official"
    split = assign_splits(store.samples, strategy, split_params(seed=0)).to_numpy()
    exp = Experiment("tiny", dataset, DatasetParams().source, image_size, strategy, training(**overrides))
    return exp, store, split


def mlflow_serving(args: list[str], ready: str, **extra: str):
    """`mlflow <args>` on a free local port (handsign.use.mlflow_server, as `handsign bench serve`
    runs it) in the tests' environment; yields its URL once GET `ready` answers."""
    from handsign.use.mlflow_server import mlflow_process

    return mlflow_process(args, ready, env=tool_env(**extra), timeout=120)
