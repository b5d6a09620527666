from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SIGN_MNIST_ZIP = SHARED_DATA / "sign-language-mnist.zip"
BIN = Path(sys.executable).parent


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
    env.update(extra)
    return env


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


def tiny_experiment(root: Path, dataset: str = "fingers", image_size: int = 32, per_class_train: int = 20, **training):
    """Render, prepare and split a small synthetic dataset in-process, as the stages do; returns
    (experiment, prepared store, split column). `training` overrides the training defaults."""
    from handsign.config import DatasetParams, Experiment, SplitParams, SyntheticParams, Training
    from handsign.datasets import PreparedStore, get_format
    from handsign.split import assign_splits
    from handsign.synth import render_dataset

    synthetic = SyntheticParams(per_class_train=per_class_train, per_class_test=4, subjects=3, frames_per_gesture=6)
    prepared = root / f"prepared_{dataset}_{image_size}_{per_class_train}"
    if not prepared.exists():
        render_dataset(dataset, root / f"raw_{dataset}_{per_class_train}", synthetic, 0)
        get_format(dataset).read(root / f"raw_{dataset}_{per_class_train}", image_size).save(prepared, dataset)
    store = PreparedStore.load(prepared)
    strategy = "subject" if dataset == "leapgestrecog" else "official"
    split = assign_splits(store.samples, strategy, SplitParams(seed=0)).to_numpy()
    exp = Experiment("tiny", dataset, DatasetParams().source, image_size, strategy, Training(**training))
    return exp, store, split


@contextlib.contextmanager
def mlflow_serving(args: list[str], ready: str, **extra: str) -> Iterator[str]:
    """`mlflow <args> -h 127.0.0.1 -p <free port>` (a tracking server, or `models serve`),
    running until the block ends; yields its URL once GET `ready` answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [str(BIN / "mlflow"), *args, "-h", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, env=tool_env(**extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url + ready, timeout=2)
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, f"{' '.join(cmd)} did not start"
                time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
