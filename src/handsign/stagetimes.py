"""Where a pipeline run's time goes: `dvc repro` in a fresh clone, timed stage by stage.

DVC prints `Running stage '<name>':` as it starts each stage; a stage's time runs from that line
to the next one (or to the end), so it includes DVC's own bookkeeping for the stage (hashing its
outputs, rewriting dvc.lock), which is part of what a user waits for.
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

STARTED = re.compile(r"^Running stage '([^']+)'")


@dataclass
class Timing:
    stages: list[tuple[str, float]]  # (stage, seconds), in the order they ran
    total: float  # the whole command, start-up and the end included
    rerun: float  # the same command again with nothing changed

    def by_kind(self) -> dict[str, tuple[int, float]]:
        """`train`, `evaluate`, ...: how many stages of that kind ran and their seconds together."""
        kinds: dict[str, tuple[int, float]] = {}
        for stage, seconds in self.stages:
            n, s = kinds.get(stage.split("@")[0], (0, 0.0))
            kinds[stage.split("@")[0]] = (n + 1, s + seconds)
        return kinds


def stage_seconds(lines: Iterable[tuple[float, str]], end: float) -> list[tuple[str, float]]:
    """(stage, seconds) from timestamped output lines of `dvc repro`."""
    starts = [(t, m.group(1)) for t, line in lines if (m := STARTED.match(line))]
    ends = [t for t, _ in starts[1:]] + [end] if starts else []  # a rerun with nothing to do starts none
    return [(name, stop - t) for (t, name), stop in zip(starts, ends, strict=True)]


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
    return stage_seconds(lines, end), end - start


def time_fresh_clone(repo: Path, dvc: str, keep: Path | None = None, echo: bool = True) -> Timing:
    """Clone `repo`'s committed HEAD (as a new user would), `dvc repro` it, then again unchanged."""
    with tempfile.TemporaryDirectory(prefix="handsign-bench-") as tmp:
        clone = keep or Path(tmp) / "handsign"
        subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)
        # The clone is not beside ../shared/: point it at the weights the repository has there.
        shared = repo.parent / "shared" / "weights"
        env = {"HANDSIGN_WEIGHTS": str(shared)} if shared.is_dir() and "HANDSIGN_WEIGHTS" not in os.environ else {}
        stages, total = run_timed([dvc, "repro"], clone, echo, env)
        _, rerun = run_timed([dvc, "repro"], clone, False, env)
    return Timing(stages, total, rerun)


def markdown(timing: Timing) -> str:
    """The per-stage table, the totals per kind of stage, and the whole run."""
    rows = ["| stage | seconds |", "|---|---|"]
    rows += [f"| `{stage}` | {seconds:.1f} |" for stage, seconds in timing.stages]
    rows += ["", "| kind | stages | seconds | share |", "|---|---|---|---|"]
    for kind, (n, seconds) in timing.by_kind().items():
        rows.append(f"| {kind} | {n} | {seconds:.1f} | {seconds / timing.total:.0%} |")
    in_stages = sum(s for _, s in timing.stages)
    before = timing.total - in_stages
    rows += ["", f"`dvc repro` from a fresh clone: {timing.total:.1f} s ({len(timing.stages)} stages, {before:.1f} s "
             f"before the first); again with nothing changed: {timing.rerun:.1f} s"]  # fmt: skip
    return "\n".join(rows)
