"""An `mlflow` server process (a tracking server, or `mlflow models serve`) on a free local port,
for as long as a `with` block runs: what `handsign bench serve` measures and the tests call."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def mlflow_command() -> str:
    """The `mlflow` beside this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mlflow"
    return str(beside) if beside.exists() else shutil.which("mlflow") or "mlflow"


@contextlib.contextmanager
def mlflow_process(args: list[str], ready: str, env: dict[str, str] | None = None, timeout: float = 180,
                   log: Path | None = None) -> Iterator[str]:  # fmt: skip
    """`mlflow <args> -h 127.0.0.1 -p <free port>`, running until the block ends; yields its URL
    once GET `ready` (`/ping`, `/health`) answers. Its output goes to `log` (else
    handsign-mlflow-<port>.log in the temporary folder), never to a pipe that a talkative server
    would fill and block on. A server that exits or never answers raises RuntimeError with the
    command, the log's path and its last lines."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [mlflow_command(), *args, "-h", "127.0.0.1", "-p", str(port)]
    env = dict(os.environ if env is None else env)
    # `mlflow models serve` starts `uvicorn` by name: the venv's, though the venv was never activated.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    log = log or Path(tempfile.gettempdir()) / f"handsign-mlflow-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    urllib.request.urlopen(url + ready, timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        with contextlib.suppress(ProcessLookupError):  # it exited, and its group with it
                            os.killpg(proc.pid, signal.SIGTERM)
                        proc.wait(timeout=30)
                        said = log.read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"`{' '.join(cmd)}` did not start; its output is in {log}:\n{said}") from None
                    time.sleep(0.5)
            yield url
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)


def invoke(url: str, images: list[str], timeout: float = 120) -> list[dict]:
    """POST base64-encoded image files to a served model's /invocations; its answer, a row per image."""
    body = json.dumps({"dataframe_split": {"columns": ["image"], "data": [[i] for i in images]}}).encode()
    req = urllib.request.Request(f"{url}/invocations", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as answer:
        return json.loads(answer.read())["predictions"]
