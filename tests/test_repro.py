"""`handsign repro -j N`: DVC's stages N at a time, on a small real DVC project (shell stages)."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from handsign.pipeline import dvcrun, repro

DVC = str(Path(sys.executable).parent / "dvc")

# a -> b -> d and a -> c -> d, plus e -> f on their own (a chain: f waits on e alone, only f on e);
# each stage appends its name to log.txt as it starts and ends, so the test can see what overlapped.
PIPELINE = """
stages:
  a: {cmd: "sh step.sh a src.txt a.txt", deps: [step.sh, src.txt], outs: [a.txt]}
  b: {cmd: "sh step.sh b a.txt b.txt", deps: [step.sh, a.txt], outs: [b.txt]}
  c: {cmd: "sh step.sh c a.txt c.txt", deps: [step.sh, a.txt], outs: [c.txt]}
  d: {cmd: "cat b.txt c.txt > d.txt", deps: [b.txt, c.txt], outs: [d.txt]}
  e: {cmd: "sh step.sh e e-src.txt e.txt", deps: [step.sh, e-src.txt], outs: [e.txt]}
  f: {cmd: "sh step.sh f e.txt f.txt", deps: [step.sh, e.txt], outs: [f.txt]}
"""
STEP = 'echo "start $1" >> log.txt; sleep 0.5; cat "$2" > "$3"; echo "$1" >> "$3"; echo "end $1" >> log.txt\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text(PIPELINE)
    (tmp_path / "step.sh").write_text(STEP)
    (tmp_path / "src.txt").write_text("src\n")
    (tmp_path / "e-src.txt").write_text("e-src\n")
    return tmp_path


def _overlapped(runs: list[repro.StageRun], x: str, y: str) -> bool:
    """Whether the `dvc repro` of stages x and y ran at the same time."""
    span = {r.stage: (r.started, r.started + r.seconds) for r in runs}
    return span[x][0] < span[y][1] and span[y][0] < span[x][1]


@pytest.mark.slow  # real `dvc repro` processes: make test, not test-fast
def test_runs_independent_stages_side_by_side_and_leaves_what_dvc_repro_leaves(project):
    todo = repro.plan(project)
    assert set(todo.order) == {"a", "b", "c", "d", "e", "f"}
    assert todo.upstream["d"] == {"a", "b", "c"} and todo.upstream["e"] == set()
    assert sorted(todo.chains()) == [("a",), ("b",), ("c",), ("d",), ("e", "f")]  # one `dvc repro` runs e, then f
    runs = repro.repro(project, jobs=2, echo=lambda _: None, host=False)
    assert sorted(r.stage for r in runs) == ["a", "b", "c", "d", "e", "f"]
    assert _overlapped(runs, "a", "e")  # both ready at once, two jobs
    e, f = (next(r for r in runs if r.stage == name) for name in "ef")
    assert "Running stage 'e'" in e.output and "'f'" not in e.output and "Running stage 'f'" in f.output
    assert f.started >= e.started + e.seconds - 0.01  # f's part of the run starts where e's ends
    assert (project / "f.txt").read_text() == "e-src\ne\nf\n"
    log = (project / "log.txt").read_text().split("\n")
    assert log.index("end a") < log.index("start b") and log.index("end a") < log.index("start c")
    assert (project / "d.txt").read_text() == "src\na\nb\nsrc\na\nc\n"
    status = subprocess.run([DVC, "status"], cwd=project, capture_output=True, text=True, check=True).stdout
    assert "up to date" in status  # dvc.lock records every stage, as after `dvc repro`
    assert not repro.plan(project)  # nothing left to do: a second run is seconds
    assert_dvc_would_write((project / "dvc.lock").read_text())


def assert_dvc_would_write(text: str) -> None:
    """handsign.pipeline.dvcrun reads and writes dvc.lock with PyYAML's C loader and dumper: the same file
    as DVC's own round trip (ruamel) writes."""
    from dvc.utils.serialize import _yaml

    ours, dvcs = io.StringIO(), io.StringIO()
    dvcrun.dump_lock(dvcrun.load_lock(text), ours)
    _yaml._dump(_yaml.parse_yaml_for_update(text, "dvc.lock"), dvcs)
    assert ours.getvalue() == dvcs.getvalue() == text


def test_the_projects_own_dvc_lock_is_written_as_dvc_writes_it():
    assert_dvc_would_write((Path(__file__).resolve().parents[1] / "dvc.lock").read_text())


@pytest.mark.slow  # real `dvc repro` processes: make test, not test-fast
def test_reruns_what_changed_and_everything_downstream_of_it_only(project):
    repro.repro(project, jobs=2, echo=lambda _: None, host=False)
    forced = repro.repro(project, ["b"], jobs=2, force=True, echo=lambda _: None, host=False)
    assert sorted(r.stage for r in forced) == ["a", "b"] and not any(r.skipped for r in forced)  # run, not skipped
    (project / "e-src.txt").write_text("changed\n")
    assert repro.plan(project).order == ("e", "f")
    (project / "src.txt").write_text("changed\n")
    assert set(repro.plan(project).order) == {"a", "b", "c", "d", "e", "f"}
    assert set(repro.plan(project, ["c"]).order) == {"a", "c"}  # a target and what it depends on
    with pytest.raises(ValueError, match="no stage nope"):
        repro.plan(project, ["nope"])


@pytest.mark.slow  # real `dvc repro` processes: make test, not test-fast
def test_a_failed_stage_stops_what_depends_on_it_and_names_itself(project):
    (project / "dvc.yaml").write_text(PIPELINE.replace('"sh step.sh b a.txt b.txt"', '"exit 3"'))
    with pytest.raises(RuntimeError, match=r"stage b failed .* not started"):
        repro.repro(project, jobs=1, echo=lambda _: None, host=False)
    assert (project / "a.txt").exists() and not (project / "d.txt").exists()
    (project / "dvc.yaml").write_text(PIPELINE.replace('"sh step.sh f e.txt f.txt"', '"exit 4"'))
    with pytest.raises(RuntimeError, match=r"stage f failed"):  # the second stage of a chain, named
        repro.repro(project, ["f"], jobs=1, echo=lambda _: None, host=False)
    assert (project / "e.txt").exists() and not (project / "f.txt").exists()


def test_never_runs_more_than_jobs_at_once_and_starts_the_stage_most_wait_on_first():
    todo = repro.Plan(
        order=("x", "y", "z", "after_y"),
        upstream={"x": frozenset(), "y": frozenset(), "z": frozenset(), "after_y": frozenset({"y"})},
        downstream_count={"y": 1},
    )
    lock, now, most, started = threading.Lock(), [0], [0], []

    def run(stages: tuple[str, ...]) -> list[repro.StageRun]:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
            started.extend(stages)
        time.sleep(0.05)
        with lock:
            now[0] -= 1
        return [repro.StageRun(stage, 0.05, 0, "Running stage") for stage in stages]

    runs = repro.execute(todo, 2, run)
    assert most[0] == 2 and len(runs) == 4
    assert started[0] == "y"  # after_y waits on it
    with pytest.raises(ValueError, match="at least 1"):
        repro.execute(todo, 0, run)
