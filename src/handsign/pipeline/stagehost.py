"""A warm process that runs `handsign repro`'s stage scripts, so that each stage does not pay for
its imports again.

Every stage is a new `python stages/<name>.py` process, and before it does any work it imports
PyTorch, MLflow's store, pandas and matplotlib: 4-8 s of one core on a 2-core AVX2 machine, more
than most demo stages' work. `handsign repro` starts one host (`python -m handsign.pipeline.stagehost`) that
imports them once, and puts a `python` first on the PATH of the `dvc repro` it runs: a shim that
hands `python <script>.py ...` to the host, which forks a child that runs the script with the
caller's arguments, working directory, environment and standard streams, and exits with its
code; the shim exits with that code. Anything else (`python -c`, `python -m`) and any call while
no host answers run the real interpreter, as a plain `dvc repro` always does. DVC still runs
every stage and decides what runs; nothing in dvc.yaml changes. The child starts from a copy of
the host's memory: the imported modules and nothing else (the host runs no torch operation and
starts no thread), and a stage seeds what it draws from, so it computes what a fresh process
computes (tests/test_repro.py compares the outputs).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

HOST_ENV = "HANDSIGN_STAGE_HOST"  # the host's socket, for the shim
REAL_PYTHON_ENV = "HANDSIGN_REAL_PYTHON"

# What stages import, slowest first; handsign's own modules come with them. Not mediapipe: the
# landmark stages start it themselves, and its import starts threads (a fork must not copy them).
PRELOAD = (
    "torch",
    "torch._dynamo",  # a torch optimizer's first step imports it (2 s)
    "torchvision",
    "mlflow",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "mlflow.pyfunc",
    "pandas",
    "matplotlib.pyplot",
    "sklearn.cluster",
    "sklearn.linear_model",
    "sklearn.manifold",
    "sklearn.decomposition",
    "handsign.training.train",
    "handsign.use.serving",
    "handsign.evaluation.report",
    "handsign.tracking",
    "handsign.data.splitdata",
    "handsign.datasets",
    "handsign.hands.landmarks",
)

# The shim: a `python` that asks the host to run a script and falls back to the real one. It runs
# with -S (no site-packages: a few milliseconds) and uses only the standard library.
SHIM = """#!{python} -S
import json, os, signal, socket, sys
real = os.environ.get("{real_env}") or {python!r}
argv = sys.argv[1:]
path = os.environ.get("{host_env}")
if path and argv and argv[0].endswith(".py") and os.path.isfile(argv[0]):
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
    except OSError:
        conn = None
    if conn is not None:
        request = json.dumps({{"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
        socket.send_fds(conn, [len(request).to_bytes(8, "big") + request], [0, 1, 2])
        reply = conn.makefile("r")
        pid = int(reply.readline() or 0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda s, _f: pid and os.kill(pid, s))
        line = reply.readline()
        sys.exit(int(line.split()[1]) if line.startswith("exit ") else 1)
os.execv(real, [real, *argv])
"""


@contextlib.contextmanager
def started(root: Path, preload: tuple[str, ...] = PRELOAD) -> Iterator[dict[str, str]]:
    """A host for the block: yields the environment that sends the stage scripts of a `dvc repro`
    to it (PATH with the shim first). Stages that start before the host has imported `preload`
    run the real interpreter."""
    with tempfile.TemporaryDirectory(prefix="handsign-host-") as tmp:
        sock = str(Path(tmp) / "host.sock")
        shim = Path(tmp) / "bin" / "python"
        shim.parent.mkdir()
        shim.write_text(SHIM.format(python=sys.executable, host_env=HOST_ENV, real_env=REAL_PYTHON_ENV))
        shim.chmod(0o755)
        host = subprocess.Popen([sys.executable, "-m", "handsign.pipeline.stagehost", sock, *preload], cwd=root,
                                stdout=subprocess.DEVNULL)  # fmt: skip
        env = {"PATH": f"{shim.parent}{os.pathsep}{os.environ.get('PATH', '')}", HOST_ENV: sock,
               REAL_PYTHON_ENV: sys.executable}  # fmt: skip
        try:
            yield env
        finally:
            host.terminate()
            try:
                host.wait(timeout=10)
            except subprocess.TimeoutExpired:
                host.kill()


def serve(path: str, preload: tuple[str, ...] = PRELOAD) -> None:
    """Import what stages import, then run each script a shim sends in a forked child."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in preload:
        with contextlib.suppress(ImportError):
            __import__(name)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # a shim connects only once everything is imported
    server.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    while True:
        conn, _ = server.accept()
        with conn:
            header, fds, _, _ = socket.recv_fds(conn, 8, 3)
            length = int.from_bytes(header, "big")
            body = b""
            while len(body) < length:
                body += conn.recv(length - len(body))
            if os.fork() == 0:
                server.close()
                _child(conn, json.loads(body), fds)
            for fd in fds:
                os.close(fd)


def _child(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """Become `python <script> <args>` as the shim's caller started it, run it, report its exit code."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the stage waits for its own subprocesses
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    script, *args = request["argv"]
    sys.argv = [script, *args]
    sys.path[0] = str(Path(script).resolve().parent)
    conn.sendall(f"{os.getpid()}\n".encode())
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        if isinstance(e.code, int) or e.code is None:
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()  # as an interpreter's exit would (the hand landmarker closes there)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(OSError):
        conn.sendall(f"exit {code}\n".encode())
    os._exit(code)


if __name__ == "__main__":
    serve(sys.argv[1], tuple(sys.argv[2:]))
