"""Hand detection spread over the workers of a Dask cluster, for a dataset too big for one machine.

Set `HANDSIGN_DASK_SCHEDULER` to a running scheduler's address (`tcp://host:8786`; `dask scheduler`
and `dask worker tcp://host:8786` on each machine, with handsign installed there) and every detection
of the landmarks stage, the external stage and `handsign landmarks detect` runs on its workers;
unset, they run in local processes, as before. (A model in use, predict, serve and live, finds its
hands itself, one image at a time.) The answers are the same either way (tested
on a local cluster of two workers): each worker builds the same pinned detector and reads the same
images. The address is where the work runs, not what it computes, so it is an environment variable
and not a parameter: moving a run onto a cluster reruns nothing.

A job (its images, the detector's settings, and the hand landmarker's bytes, so that no worker needs
our files) is sent to every worker once; each worker then detects chunks of images, building its
detector on the first one.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

SCHEDULER_ENV = "HANDSIGN_DASK_SCHEDULER"
CONNECT_SECONDS = 30


@contextlib.contextmanager
def detections(address: str, job: Any, chunks: list[tuple[int, int]],
               detect: Callable[[Any, tuple[int, int]], tuple[int, list]]) -> Iterator[Iterable[tuple[int, list]]]:  # fmt: skip
    """Each chunk's (first row, hands), `detect(job, chunk)` run on the cluster at `address`, as they finish."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError(f"{SCHEDULER_ENV} is set ({address}) but Dask's distributed is not installed: "
                           "pip install 'handsign[distributed]', or unset it to detect in local processes") from None  # fmt: skip
    try:
        client = Client(address, timeout=CONNECT_SECONDS)
    except OSError as e:
        raise RuntimeError(f"{SCHEDULER_ENV}: no Dask scheduler answers at {address} ({e}); "
                           "unset it to detect in local processes") from None  # fmt: skip
    with client:
        shipped = dataclasses.replace(job, model=Path(job.model).read_bytes()) if isinstance(job.model, Path) else job
        [remote] = client.scatter([shipped], broadcast=True, hash=False)
        futures = client.map(detect, [remote] * len(chunks), chunks, pure=False)
        yield (future.result() for future in as_completed(futures))
