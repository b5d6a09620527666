"""Where raw data comes from: Kaggle (kagglehub), a local archive or folder, or the synthetic renderer.

Every source leaves the same thing behind: a folder laid out as the Kaggle download is.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

from handsign.config import DatasetParams
from handsign.core.archives import SourceError, resolve_path, safe_extract
from handsign.core.atomic import atomic_path
from handsign.core.schema import SyntheticParams
from handsign.datasets import get_spec

KAGGLE_HOST = ("www.kaggle.com", 443)


WAYS_OUT = (
    "Three ways out: (1) give Kaggle credentials (KAGGLE_USERNAME and KAGGLE_KEY, or "
    "~/.kaggle/kaggle.json) on a machine with network; (2) use a downloaded archive: "
    "`dvc exp run -S datasets.<dataset>.source=local -S datasets.<dataset>.local_path=/path/to/archive.zip`; "
    "(3) work offline on generated data: `dvc exp run -S datasets.<dataset>.source=synthetic`."
)


def kaggle_credentials() -> bool:
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    if os.environ.get("KAGGLE_API_TOKEN"):
        return True
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    return (config_dir / "kaggle.json").is_file()


def reachable(host: tuple[str, int], timeout: float = 3.0) -> bool:
    """Whether a TCP connection to `host` opens within `timeout` seconds (offline: a prompt False)."""
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def from_kaggle(handle: str, dest: Path) -> None:
    """Download with kagglehub; fails within seconds when there are no credentials or no network."""
    if not kaggle_credentials():
        raise SourceError(f"no Kaggle credentials found for {handle}. {WAYS_OUT}")
    if not reachable(KAGGLE_HOST):
        raise SourceError(f"cannot reach {KAGGLE_HOST[0]} to download {handle}. {WAYS_OUT}")
    import kagglehub  # slow import, and only this source needs it

    try:
        cached = Path(kagglehub.dataset_download(handle))
    except Exception as e:  # kagglehub wraps HTTP and auth failures in several types
        # The message comes from kagglehub and never carries the key; ours does not either.
        raise SourceError(f"kagglehub could not download {handle}: {type(e).__name__}. {WAYS_OUT}") from None
    shutil.copytree(cached, dest)


def from_local(path: Path, dest: Path) -> None:
    if not path.exists():
        raise SourceError(f"local_path {path} does not exist. {WAYS_OUT}")
    if path.is_dir():
        shutil.copytree(path, dest)
    else:
        dest.mkdir()
        safe_extract(path, dest)


def fetch(dataset: str, source: DatasetParams, synthetic: SyntheticParams, dest: Path, root: Path) -> Path:
    """Fill `dest` with the raw download of `dataset` from `source.source`, atomically."""
    spec = get_spec(dataset)
    with atomic_path(dest) as tmp:
        if source.source == "kaggle":
            from_kaggle(spec.kaggle_handle, tmp)
        elif source.source == "local":
            from_local(resolve_path(source.local_path, root), tmp)
        else:
            from handsign.synth import render_dataset

            render_dataset(dataset, tmp, synthetic, synthetic.seed)
        # Fail now, not two stages later, if the download is not the dataset asked for.
        spec.locate(tmp)
        (tmp / ".handsign-source.json").write_text(
            json.dumps({"dataset": dataset, "source": source.source, "handle": spec.kaggle_handle}) + "\n"
        )
    return dest
