"""Where a pipeline run's time goes: `make demo`'s `handsign repro -j 2` in a fresh clone, timed
stage by stage.

`handsign repro` prints `= <stage>: done in <s> s` as each stage ends: the seconds of its `dvc repro
--single-item`, so they include DVC's own bookkeeping for the stage (hashing its outputs, rewriting
dvc.lock), which is part of what a user waits for. With two stages at a time the stages' seconds
add up to about twice the wall clock.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from handsign.core.weights import search_dirs

ENDED = re.compile(r"^= (\S+): (?:done|unchanged) in ([0-9.]+) s$")


@dataclass
class Timing:
    stages: list[tuple[str, float]]  # (stage, seconds), in the order they ran
    total: float  # the whole command, start-up and the end included
    rerun: float  # the same command again with nothing changed
    jobs: int  # stages at a time

    def by_kind(self) -> dict[str, tuple[int, float]]:
        """`train`, `evaluate`, ...: how many stages of that kind ran and their seconds together."""
        kinds: dict[str, tuple[int, float]] = {}
        for stage, seconds in self.stages:
            n, s = kinds.get(stage.split("@")[0], (0, 0.0))
            kinds[stage.split("@")[0]] = (n + 1, s + seconds)
        return kinds


def stage_seconds(lines: Iterable[str]) -> list[tuple[str, float]]:
    """(stage, seconds) from the output of `handsign repro`, in the order the stages ended."""
    return [(m.group(1), float(m.group(2))) for line in lines if (m := ENDED.match(line))]


def run_timed(
    cmd: list[str], cwd: Path, echo: bool = True, extra: dict[str, str] | None = None
) -> tuple[list[tuple[str, float]], float]:
    """Run `cmd`, its output timestamped line by line (and echoed); (stage times, total seconds)."""
    # The stages' `python` must be this interpreter's; telemetry and update checks stay off.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", **(extra or {})}  # fmt: skip
    start = time.perf_counter()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter(), line.rstrip("\n")))
            if echo:
                sys.stdout.write(line)
    end = time.perf_counter()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}) in {cwd}:\n" + "\n".join(line for _, line in lines[-20:]))
    return stage_seconds(line for _, line in lines), end - start


def time_fresh_clone(repo: Path, jobs: int, keep: Path | None = None, echo: bool = True) -> Timing:
    """Clone `repo`'s committed HEAD (as a new user would), run `handsign repro -j jobs` in it (what
    `make demo` runs), then again with nothing changed."""
    with tempfile.TemporaryDirectory(prefix="handsign-bench-") as tmp:
        clone = keep or Path(tmp) / "handsign"
        subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)
        # The clone is not beside ../shared/: point it at the weights the repository's search path
        # finds. Its stages import the clone's own handsign, not this (maybe edited) checkout's.
        found = [str(d) for d in search_dirs(repo) if d.is_dir()]
        env = {"HANDSIGN_WEIGHTS": os.pathsep.join(found), "PYTHONPATH": str(clone / "src")}
        command = [str(Path(sys.executable).parent / "handsign"), "repro", "--jobs", str(jobs)]
        stages, total = run_timed(command, clone, echo, env)
        _, rerun = run_timed(command, clone, False, env)
    return Timing(stages, total, rerun, jobs)


def markdown(timing: Timing) -> str:
    """The per-stage table, the totals per kind of stage, and the whole run."""
    in_stages = sum(s for _, s in timing.stages)
    rows = ["| stage | seconds |", "|---|---|"]
    rows += [f"| `{stage}` | {seconds:.1f} |" for stage, seconds in timing.stages]
    rows += ["", "| kind | stages | seconds | share |", "|---|---|---|---|"]
    for kind, (n, seconds) in timing.by_kind().items():
        rows.append(f"| {kind} | {n} | {seconds:.1f} | {seconds / in_stages:.0%} |")
    rows += ["", f"`handsign repro -j {timing.jobs}` from a fresh clone: {timing.total:.1f} s wall clock, {len(timing.stages)} "
             f"stages, {in_stages:.1f} s of stage time together; again with nothing changed: {timing.rerun:.1f} s"]  # fmt: skip
    return "\n".join(rows)
