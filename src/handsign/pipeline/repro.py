"""`dvc repro`, several stages at a time.

DVC runs one stage at a time. It releases its repository lock while a stage's command runs, and
its documentation's way to parallelise is to start `dvc repro` on independent stages by hand. This
does that for the whole graph: it asks DVC which stages are out of date, then runs each of them and
every stage downstream of one as `dvc --wait-for-lock repro --single-item <stage>` as soon as the
stages it depends on are done, at most `jobs` at a time. DVC still decides whether a stage runs
(a stage whose inputs came out unchanged is skipped, a run-cache hit restored), writes dvc.lock and
holds the per-output locks, so the result is what a plain `dvc repro` would have left.

Each stage's output is printed whole when it ends, not interleaved with another's.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handsign.pipeline import stagehost


@dataclass(frozen=True)
class Plan:
    """The stages to run, in DVC's order, each with the stages of the plan it must wait for."""

    order: tuple[str, ...]
    upstream: dict[str, frozenset[str]]
    downstream_count: dict[str, int] = field(default_factory=dict)  # the scheduling priority
    direct: dict[str, frozenset[str]] = field(default_factory=dict)  # the plan's stages each depends on itself

    def __len__(self) -> int:
        return len(self.order)

    def chains(self) -> list[tuple[str, ...]]:
        """The stages grouped into what one `dvc repro` runs: a stage whose every upstream stage is
        one stage or upstream of it runs right after it, in the same DVC process, when every other
        stage waiting on that one waits on it too (train@x then evaluate@x; prepare@c then split@c, which train@x
        also waits for), so nothing starts later for it: one start-up of DVC (2 s) instead of two."""
        downstream: dict[str, list[str]] = {name: [] for name in self.order}
        for name in self.order:
            for up in self.direct.get(name, ()):
                downstream[up].append(name)
        chains: list[list[str]] = []
        chain_of: dict[str, list[str]] = {}
        for name in self.order:  # upstream first
            up = self.direct.get(name, frozenset())
            nearest = {u for u in up if not any(u in self.upstream[v] for v in up if v != u)}  # waited on through no other
            last = next(iter(nearest)) if len(nearest) == 1 else None
            if (
                last is not None
                and chain_of[last][-1] == last
                and all(name in self.upstream[other] for other in downstream[last] if other != name)
            ):
                chain_of[last].append(name)
                chain_of[name] = chain_of[last]
            else:
                chains.append([name])
                chain_of[name] = chains[-1]
        return [tuple(chain) for chain in chains]


@dataclass(frozen=True)
class StageRun:
    stage: str
    seconds: float
    returncode: int
    output: str
    started: float = 0.0  # time.perf_counter() when it started

    @property
    def skipped(self) -> bool:
        """DVC found nothing changed (an upstream stage reran and wrote the same files)."""
        return "Running stage" not in self.output


def plan(root: Path, targets: Iterable[str] = (), force: bool = False) -> Plan:
    """What `dvc repro [targets]` would run: every out-of-date stage among the targets and the
    stages they depend on, and everything downstream of one of those (its inputs will change)."""
    from dvc.repo import Repo

    # DVC names a stage (`addressing`) relative to the working directory: `train@x` from the root.
    here = Path.cwd()
    os.chdir(root)
    try:
        return _plan(Repo(str(root)), tuple(targets), force)
    finally:
        os.chdir(here)


def _plan(repo: Any, targets: tuple[str, ...], force: bool) -> Plan:
    import networkx as nx  # DVC's own dependency: its stage graph is a networkx graph

    with repo:
        graph = repo.index.graph  # an edge runs from a stage to a stage it depends on
        by_name = {stage.addressing: stage for stage in graph}
        unknown = sorted(set(targets) - set(by_name))
        if unknown:
            raise ValueError(f"no stage {', '.join(unknown)} in {repo.root_dir}; `dvc stage list` names them")
        wanted = set(by_name) if not targets else set()
        for name in targets:
            wanted |= {name} | {s.addressing for s in nx.descendants(graph, by_name[name])}
        stale = set(wanted) if force else {name for name in repo.status() if name in wanted}
        order = [s.addressing for s in reversed(list(nx.topological_sort(graph))) if s.addressing in wanted]
    names = {name: by_name[name] for name in order}
    run = set(stale)
    for name in order:  # upstream first: a stage downstream of one that runs runs too
        if any(dep.addressing in run for dep in graph.successors(names[name])):
            run.add(name)
    upstream = {
        name: frozenset(dep.addressing for dep in nx.descendants(graph, names[name]) if dep.addressing in run)
        for name in order
        if name in run
    }
    downstream = {name: sum(name in deps for deps in upstream.values()) for name in upstream}
    direct = {name: frozenset(d.addressing for d in graph.successors(names[name]) if d.addressing in run) for name in upstream}
    return Plan(tuple(n for n in order if n in run), upstream, downstream, direct)


def dvc_stages(root: Path, stages: tuple[str, ...], force: bool = False, env: dict[str, str] | None = None) -> list[StageRun]:
    """`dvc repro --single-item <stages>` (DVC runs them in the order given), one StageRun each: its
    share of the output and of the seconds, cut where DVC says it starts or skips the next; `env`
    added to this process's environment."""
    cmd = [sys.executable, "-m", "handsign.pipeline.dvcrun", "--wait-for-lock", "repro", "--single-item",
           *(["--force"] if force else []), *stages]  # fmt: skip
    full = {**os.environ, **env} if env else None
    start = time.perf_counter()
    parts: list[tuple[float, int]] = [(start, 0)]  # (when, first line) of each stage's part
    lines: list[str] = []
    with subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            following = stages[len(parts)] if len(parts) < len(stages) else None
            if following and STAGE_LINE.match(line) and f"'{following}'" in line:
                parts.append((time.perf_counter(), len(lines)))
            lines.append(line)
    parts.append((time.perf_counter(), len(lines)))
    return [
        StageRun(stage, t1 - t0, proc.returncode if i == len(parts) - 2 else 0, "".join(lines[a:b]), t0)
        for i, (stage, (t0, a), (t1, b)) in enumerate(zip(stages, parts, parts[1:]))  # noqa: B905 (parts may end early)
    ]


LONG = ("crossval@",)  # the stage group that trains several models
STAGE_LINE = re.compile(r"^(Running stage|Stage) '[^']+'")


def execute(
    todo: Plan,
    jobs: int,
    run_stages: Callable[[tuple[str, ...]], list[StageRun]],
    on_start: Callable[[str], None] = lambda _: None,
    on_end: Callable[[StageRun], None] = lambda _: None,
) -> list[StageRun]:
    """Run every chain of `todo` (Plan.chains) once the stages it waits for succeeded, `jobs` at a
    time, those with the most stages waiting on them first. After a failure no new chain starts;
    those running finish. Returns the runs in the order they ended."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    waiting = todo.chains()
    needs = {chain: frozenset().union(*(todo.upstream[s] for s in chain)) - set(chain) for chain in waiting}
    # Most stages waiting on it first; then a cross-validation (a training per fold: the longest
    # stage with nothing after it, which would otherwise run alone at the end); then longer chains.
    weight = {chain: (todo.downstream_count.get(chain[-1], 0), chain[0].startswith(LONG), len(chain)) for chain in waiting}
    done: set[str] = set()
    ended: list[StageRun] = []
    failed = False
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running: dict[Future[list[StageRun]], tuple[str, ...]] = {}
        while running or (waiting and not failed):
            ready = [c for c in waiting if needs[c] <= done]
            ready.sort(key=lambda c: weight[c], reverse=True)  # stable: DVC's order breaks ties
            while ready and len(running) < jobs and not failed:
                chain = ready.pop(0)
                waiting.remove(chain)
                on_start(" + ".join(chain))
                running[pool.submit(run_stages, chain)] = chain
            if not running:  # nothing can start: what is left waits on a stage that failed
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                del running[future]
                for result in future.result():
                    ended.append(result)
                    on_end(result)
                    if result.returncode == 0:
                        done.add(result.stage)
                    else:
                        failed = True
    return ended


def repro(
    root: Path,
    targets: Iterable[str] = (),
    jobs: int = 1,
    force: bool = False,
    echo: Callable[[str], None] = print,
    before: Callable[[], None] = lambda: None,
    host: bool = True,
) -> list[StageRun]:
    """Plan and run, printing each stage as it starts and its output when it ends; `before` runs
    first when there is something to run; with `host`, the stage scripts run in a warm process
    (handsign.pipeline.stagehost). Raises RuntimeError naming the stage that failed."""
    todo = plan(root, targets, force)
    if not todo:
        echo("Data and pipelines are up to date.")
        return []
    before()
    echo(f"{len(todo)} stage(s) to run, {jobs} at a time")
    started = time.perf_counter()

    def start(stage: str) -> None:
        echo(f"> {stage}  (started at {time.perf_counter() - started:.0f} s)")

    def end(run: StageRun) -> None:
        status = "failed" if run.returncode else ("unchanged" if run.skipped else "done")
        echo(f"= {run.stage}: {status} in {run.seconds:.1f} s")
        if run.returncode or not run.skipped:
            echo(_indent(run.output))

    with stagehost.started(root) if host else contextlib.nullcontext({}) as env:
        runs = execute(todo, jobs, lambda stages: dvc_stages(root, stages, force, env), start, end)
    failures = [r.stage for r in runs if r.returncode]
    not_run = len(todo) - len(runs)
    if failures:
        raise RuntimeError(f"stage {', '.join(failures)} failed (its output is above); {not_run} stage(s) not started")
    return runs


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.rstrip().splitlines())
