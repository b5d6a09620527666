"""dvc.yaml is complete: each stage depends on every handsign module its script imports."""

import ast
import dataclasses
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def module_file(name: str) -> Path | None:
    base = SRC / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """handsign modules `path` imports, anywhere in it (function-level imports included)."""
    names: set[str] = set()
    package = ".".join(path.relative_to(SRC).with_suffix("").parts[:-1]) if path.is_relative_to(SRC) else ""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    if path == SRC / "handsign" / "models" / "__init__.py":  # the registry imports its registered families by name
        from handsign.models import MODELS

        names.update(f"handsign.models.{entry.module}" for entry in MODELS.values())
    return {n for n in names if n.split(".")[0] == "handsign" and module_file(n)}


def closure(script: Path) -> set[Path]:
    """Every handsign source file that running `script` can execute, parent packages included."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for name in imported_modules(todo.pop()):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
                file = module_file(".".join(parts[:i]))
                if file and file not in seen:
                    seen.add(file)
                    todo.append(file)
    return seen


def code_deps(script: Path) -> list[str]:
    """What a stage running `script` lists of handsign's code: every file it can run, no folder."""
    return sorted(str(f.relative_to(REPO)) for f in closure(script))


def test_every_stage_depends_on_exactly_the_modules_it_imports():
    """No more (a module a stage does not run, or a folder that a new module would change, would
    rerun it for nothing) and no fewer (a change would not rerun it). `python tests/test_dvc_yaml.py`
    rewrites dvc.yaml's code dependencies to these."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    wrong = {}
    for name, stage in stages.items():
        deps = [d for d in (stage.get("do") or stage)["deps"] if "${" not in d]
        script = REPO / "stages" / f"{name.removesuffix('_landmarks')}.py"  # train_landmarks runs train.py
        assert str(script.relative_to(REPO)) in deps, f"{name}: does not depend on its own script"
        listed = sorted(d for d in deps if d.startswith("src/"))
        runs = code_deps(script)
        if listed != runs:
            wrong[name] = {"missing": sorted(set(runs) - set(listed)), "extra": sorted(set(listed) - set(runs))}
    assert not wrong, f"dvc.yaml's code dependencies are not what the stages run (python tests/test_dvc_yaml.py): {wrong}"


def test_the_closure_sees_lazy_and_package_imports():
    # sources.py imports the renderer inside a function; the datasets package imports its formats.
    files = {str(f.relative_to(SRC)) for f in closure(REPO / "stages" / "download.py")}
    assert {"handsign/synth/writers.py", "handsign/datasets/fingers.py", "handsign/__init__.py"} <= files
    assert "handsign/recognition/inference.py" not in closure(REPO / "stages" / "train.py")  # evaluate's, not train's
    # Training reads the external sets (combined splits); building and scoring them retrains nothing.
    trains = {str(f.relative_to(SRC)) for f in closure(REPO / "stages" / "train.py")}
    assert "handsign/data/externalsets.py" in trains and "handsign/data/external.py" not in trains
    registered = {str(f.relative_to(SRC)) for f in closure(REPO / "stages" / "configure.py")}
    assert {"handsign/models/cnn.py", "handsign/models/landmark.py"} <= registered  # the families MODELS names


def test_dvc_lock_holds_no_stage_that_dvc_yaml_no_longer_has():
    """DVC never prunes dvc.lock: a renamed or removed stage stays there, and every stage of
    every `dvc repro` re-parses and rewrites it (seconds per stage on a 2-core machine)."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    declared = set()
    for name, stage in stages.items():
        if "foreach" in stage:
            over = params[stage["foreach"].removeprefix("${").removesuffix("}")]
            declared.update(f"{name}@{key}" for key in over)
        else:
            declared.add(name)
    locked = set(yaml.safe_load((REPO / "dvc.lock").read_text())["stages"])
    assert locked <= declared, f"stale in dvc.lock: {sorted(locked - declared)}"


def stages_for(params: dict) -> dict[str, dict]:
    """Every stage of dvc.yaml as DVC expands it: `<name>@<key>` for a foreach, ${...} filled in."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    expanded = {}
    for name, stage in stages.items():
        if "foreach" not in stage:
            expanded[name] = stage
            continue
        over = params[stage["foreach"].removeprefix("${").removesuffix("}")]
        for key, item in over.items():
            text = yaml.safe_dump(stage["do"]).replace("${key}", key)
            for field, value in item.items():
                text = text.replace(f"${{item.{field}}}", str(value))
            expanded[f"{name}@{key}"] = yaml.safe_load(text)
    return expanded


def listed(stage: dict, section: str) -> set[str]:
    return {next(iter(e)) if isinstance(e, dict) else e for e in stage.get(section, [])}


def test_dvc_yaml_params_are_the_keys_the_loader_reads():
    """A stage reruns when, and only when, a params.yaml key its code reads changes."""
    from handsign.config import EXPERIMENT_KEYS, Params

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    stages = stages_for(params)
    assert listed(stages["configure"], "params") == set(EXPERIMENT_KEYS)
    used = set()
    for name, stage in stages.items():
        for key in listed(stage, "params"):
            node = params
            for part in key.split("."):
                assert isinstance(node, dict) and part in node, f"{name}: params key {key} is not in params.yaml"
                node = node[part]
            used.add(key.split(".")[0])
    # Every section of the loader drives some stage (train_launcher: the train and crossval commands).
    fields = {f.name for f in dataclasses.fields(Params)} - {"train_launcher"}
    assert fields <= used, f"params no stage depends on: {sorted(fields - used)}"
    declared = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    training = ("train", "crossval", "train_landmarks", "crossval_landmarks")
    assert all(declared[n]["do"]["cmd"].startswith("${train_launcher} ") for n in training)


def test_dvc_yaml_paths_are_layouts():
    """What each stage writes and reads in dvc.yaml is where handsign.core.layout says the code writes
    and reads it, for every dataset, prepared copy and experiment of params.yaml."""
    from handsign.config import load_params
    from handsign.core import layout

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    p = load_params(REPO / "params.yaml")
    stages = stages_for(raw)

    def rel(path) -> str:
        return Path(path).as_posix()

    for dataset in p.datasets:
        assert rel(layout.raw(dataset)) in listed(stages[f"download@{dataset}"], "outs")
    for copy, spec in p.data.items():
        assert rel(layout.raw(spec.dataset)) in listed(stages[f"prepare@{copy}"], "deps")
        assert rel(layout.prepared(copy)) in listed(stages[f"prepare@{copy}"], "outs")
        assert rel(layout.prepared(copy)) in listed(stages[f"split@{copy}"], "deps")
        assert rel(layout.split_dir(copy)) in listed(stages[f"split@{copy}"], "outs")
        assert rel(layout.split_summary(copy)) in listed(stages[f"split@{copy}"], "metrics")
    for dataset in p.landmarks:
        assert rel(layout.raw(dataset)) in listed(stages[f"landmarks@{dataset}"], "deps")
        assert rel(layout.landmarks(dataset)) in listed(stages[f"landmarks@{dataset}"], "outs")
        assert rel(layout.landmark_summary(dataset)) in listed(stages[f"landmarks@{dataset}"], "metrics")
    assert rel(layout.CONFIGS) in listed(stages["configure"], "outs")
    for where, exp in p.every_experiment():
        section = where.split(".")[0]  # experiments, crossval, landmark_experiments, landmark_crossval
        group = "_landmarks" if section.startswith("landmark_") else ""  # their stages: train_landmarks@...
        kind = "crossval" if section.endswith("crossval") else "train"
        paths = layout.ExperimentPaths(exp.name)
        prepared, split_file = (rel(f) for f in exp.data_paths)
        reads = listed(stages[f"{kind}{group}@{exp.name}"], "deps")
        assert {rel(paths.config), prepared, split_file} <= reads, exp.name
        assert (rel(layout.landmarks(exp.dataset)) in reads) == bool(group), exp.name  # landmark models read landmarks
        if kind == "train":
            written = set().union(*(listed(stages[f"train{group}@{exp.name}"], s) for s in ("outs", "metrics")))
            assert {rel(paths.model), rel(paths.mlflow_run), rel(paths.history), rel(paths.train_summary)} <= written
            assert {rel(paths.model), rel(paths.mlflow_run), rel(paths.history), rel(paths.config)} <= listed(
                stages[f"evaluate{group}@{exp.name}"], "deps"
            )
            stage = stages[f"evaluate{group}@{exp.name}"]
        else:
            stage = stages[f"crossval{group}@{exp.name}"]
        written = set().union(*(listed(stage, s) for s in ("outs", "metrics", "plots")))
        assert {
            rel(paths.metrics),
            rel(paths.per_class),
            rel(paths.per_group),
            rel(paths.figures),
            rel(paths.predictions),
        } <= written
        if kind == "train":
            assert rel(paths.curves) in written
    for name, ens in p.ensembles.items():  # an ensemble reads its members' checkpoints and their shared data
        members = [layout.ExperimentPaths(m) for m in (ens.pixel, ens.landmarks)]
        reads = listed(stages[f"evaluate_ensemble@{name}"], "deps")
        assert {rel(f) for m in members for f in (m.config, m.model, m.mlflow_run)} <= reads, name
        prepared, split_file = (rel(f) for f in p.experiment(ens.pixel).data_paths)
        assert {prepared, split_file, rel(layout.landmarks(ens.dataset)), rel(layout.DATA / "external" / ens.dataset)} <= reads
        paths = layout.ExperimentPaths(name)
        written = set().union(*(listed(stages[f"evaluate_ensemble@{name}"], s) for s in ("outs", "metrics", "plots")))
        assert {rel(f) for f in (paths.metrics, paths.external_metrics, paths.external, paths.per_class, paths.per_group,
                                 paths.figures, paths.predictions)} <= written  # fmt: skip


def test_dvc_lock_records_the_committed_code():
    """Every code file a stage depends on has, in dvc.lock, the hash of the file as committed: a
    code change that leaves outputs as they were is recorded (`dvc commit`), so a clone with those
    outputs does not rerun stages for nothing."""
    import hashlib

    stale = []
    for name, stage in yaml.safe_load((REPO / "dvc.lock").read_text())["stages"].items():
        for dep in stage.get("deps", []):
            path = REPO / dep["path"]
            code = dep["path"].startswith(("src/", "stages/")) and path.is_file()
            if code and hashlib.md5(path.read_bytes()).hexdigest() != dep["md5"]:
                stale.append(f"{name}: {dep['path']}")
    assert not stale, f"dvc.lock is behind the code (dvc commit in a workspace with outputs): {stale[:5]}"


def test_the_pinned_landmarker_file_is_a_dependency_of_every_detection():
    """A different hand landmarker file reruns detection: the landmarker stage writes the pinned
    file into the repository, and every stage that finds hands (landmarks@, external) lists it."""
    from handsign.core import layout

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    model = str(layout.landmarker())
    assert stages["landmarker"]["outs"] == [model]
    assert model in stages["landmarks"]["do"]["deps"] and model in stages["external"]["deps"]
    assert "src/handsign/core/weights.py" in stages["landmarker"]["deps"]  # where the pin is written


def rewrite_code_deps(path: Path = REPO / "dvc.yaml") -> None:
    """Replace each stage's `src/...` dependencies in dvc.yaml with the files its script runs."""
    import re

    lines, out, stage, i = path.read_text().split("\n"), [], "", 0
    while i < len(lines):
        if m := re.match(r"^  ([a-z_]+):", lines[i]):
            stage = m.group(1)
        if re.match(r"^\s+- src/", lines[i]):
            indent = lines[i][: lines[i].index("-")]
            while i < len(lines) and re.match(r"^\s+- src/", lines[i]):
                i += 1
            out += [f"{indent}- {f}" for f in code_deps(REPO / "stages" / f"{stage.removesuffix('_landmarks')}.py")]
            continue
        out.append(lines[i])
        i += 1
    path.write_text("\n".join(out))


if __name__ == "__main__":
    rewrite_code_deps()
