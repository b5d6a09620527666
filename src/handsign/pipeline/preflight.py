"""What an experiment needs before its first stage starts, checked in seconds: its dataset's
archive or credentials, its ImageNet weights, the checkpoint it starts from. `make real` runs this
first, so a missing file stops it at once with the fix named, not after minutes of training."""

from __future__ import annotations

import importlib.util

from handsign.config import Experiment, Params
from handsign.core.archives import resolve_path
from handsign.core.layout import repo_root
from handsign.models import CHECKPOINT_SUFFIXES, imagenet_arch, weights
from handsign.pipeline.sources import KAGGLE_HOST, kaggle_credentials, reachable


def problems(params: Params, experiments: list[Experiment]) -> list[str]:
    """One line per unmet precondition of `experiments`, each naming what to do; [] when all can run."""
    root = repo_root()
    found: list[str] = []
    for dataset in sorted({e.dataset for e in experiments}):
        source = params.datasets[dataset]
        if source.source == "local" and not (archive := resolve_path(source.local_path, root)).exists():
            found.append(f"datasets.{dataset}.local_path: {archive} does not exist; "
                         f"put the Kaggle archive there or set local_path to where it is")  # fmt: skip
        if source.source == "kaggle":
            if not kaggle_credentials():
                found.append(f"datasets.{dataset}.source is kaggle but no Kaggle credentials are set "
                             "(KAGGLE_USERNAME and KAGGLE_KEY, or ~/.kaggle/kaggle.json)")  # fmt: skip
            elif not reachable(KAGGLE_HOST):
                found.append(f"datasets.{dataset}.source is kaggle but {KAGGLE_HOST[0]} cannot be reached; "
                             f"use source: local with a downloaded archive")  # fmt: skip
    online: bool | None = None  # asked once, and only when some weights are not here
    for exp in experiments:
        init = exp.training.init
        if init == "imagenet":
            arch = imagenet_arch(exp.training.model)
            if weights.find_imagenet(arch) is None:
                online = reachable(weights.DOWNLOAD_HOST) if online is None else online
                if not online:
                    found.append(f"{exp.name}: {weights.missing_message(arch)}")
        elif init.endswith(CHECKPOINT_SUFFIXES) and not (root / init).exists():
            found.append(f"{exp.name}: init {init} does not exist; train that experiment first (dvc repro evaluate@...)")
    if params.landmarks:  # the landmark stages run in every `dvc repro`; they download the model if they can
        from handsign.core.weights import HAND_LANDMARKER, find

        try:
            find(HAND_LANDMARKER, root)
        except FileNotFoundError as e:
            if not reachable(HAND_LANDMARKER.host):
                found.append(f"landmarks: {e}")
        except ValueError as e:  # another file than the pinned one
            found.append(f"landmarks: {e}")
        if importlib.util.find_spec("mediapipe") is None:
            found.append("landmarks: mediapipe is not installed; `make install` installs it")
    from handsign.data.external import set_problems

    datasets = {e.dataset for e in experiments}
    for name, p in params.external.items():  # read as the external stage will read them
        if p.dataset in datasets:
            found += set_problems(name, p, root)
    return found


def skipped_external_sets(params: Params, experiments: list[Experiment]) -> list[str]:
    """One line per external set of these experiments' datasets that is absent: the external stage
    records it as such and every model skips it (it is no reason to stop)."""
    from handsign.data.external import absent_reason

    root = repo_root()
    datasets = {e.dataset for e in experiments}
    return [f"external.{name}: {why}: skipped, its models are scored on the other sets"
            for name, p in params.external.items() if p.dataset in datasets and (why := absent_reason(p, root))]  # fmt: skip
