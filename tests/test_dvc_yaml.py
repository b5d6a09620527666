"""dvc.yaml is complete: each stage depends on its script's code fingerprint (every handsign module
the script can run), on the paths the code reads and on the params it reads."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from handsign.pipeline.fingerprint import CODE, closure, fingerprint

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
SCRIPTS = sorted(p.stem for p in (REPO / "stages").glob("*.py") if p.stem != "code")


def runs(script: str) -> set[str]:
    return {str(f.relative_to(SRC)) for f in closure(REPO / "stages" / f"{script}.py", SRC) if f.is_relative_to(SRC)}


def test_every_stage_depends_on_its_scripts_fingerprint_and_no_source_file():
    """No list of source files (a folder would rerun it for a new module, a list goes stale): the
    fingerprint of the script it runs, which the code stage writes for every script."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    code = stages.pop("code")
    assert code["deps"] == ["src/handsign", "stages"]
    assert sorted(next(iter(o)) for o in code["outs"]) == [f"{CODE.as_posix()}/{s}.txt" for s in SCRIPTS]
    for name, stage in stages.items():
        body = stage.get("do") or stage
        script = body["cmd"].split("stages/")[1].split(".py")[0]
        deps = [d for d in body["deps"] if isinstance(d, str)]
        assert f"{CODE.as_posix()}/{script}.txt" in deps, f"{name}: does not depend on its script's fingerprint"
        assert not [d for d in deps if d.startswith(("src/", "stages/"))], f"{name}: lists source files"


def test_the_committed_fingerprints_are_the_codes():
    """data/code/ as committed is what the code stage writes for this code (dvc.lock records it)."""
    stale = [s for s in SCRIPTS if (REPO / CODE / f"{s}.txt").read_text() != fingerprint(REPO / "stages" / f"{s}.py", REPO)]
    assert not stale, f"data/code/ is behind the code (python stages/code.py): {stale}"


def test_the_closure_sees_lazy_and_package_imports():
    # sources.py imports the renderer inside a function; the datasets package imports its formats.
    assert {"handsign/synth/writers.py", "handsign/datasets/fingers.py", "handsign/__init__.py"} <= runs("download")
    assert "handsign/recognition/inference.py" not in runs("train")  # evaluate's, not train's
    # Training reads the external sets (combined splits); building and scoring them retrains nothing.
    assert "handsign/data/externalsets.py" in runs("train") and "handsign/data/external.py" not in runs("train")
    assert {"handsign/models/cnn.py", "handsign/models/landmark.py"} <= runs("configure")  # the families MODELS names


def test_only_what_renders_runs_the_renderer():
    """An edit to the renderer reruns the downloads of the synthetic source and the external sets it
    draws, and no preparation, detection, training or evaluation (of a real source above all)."""
    renders = {s for s in SCRIPTS if any(f.startswith("handsign/synth/") for f in runs(s))}
    assert renders == {"download", "external"}, renders


@pytest.mark.slow  # seconds: make test runs it, make test-fast does not
def test_a_new_module_changes_no_fingerprint(tmp_path):
    import shutil

    shutil.copytree(SRC, tmp_path / "src")
    shutil.copytree(REPO / "stages", tmp_path / "stages")
    before = {s: fingerprint(tmp_path / "stages" / f"{s}.py", tmp_path) for s in SCRIPTS}
    (tmp_path / "src/handsign/models/unregistered.py").write_text('"""Not registered yet."""\n')
    assert {s: fingerprint(tmp_path / "stages" / f"{s}.py", tmp_path) for s in SCRIPTS} == before
    (tmp_path / "src/handsign/synth/hand.py").write_text((SRC / "handsign/synth/hand.py").read_text() + "# edited\n")
    after = {s: fingerprint(tmp_path / "stages" / f"{s}.py", tmp_path) for s in SCRIPTS}
    assert sorted(s for s in SCRIPTS if after[s] != before[s]) == ["download", "external"]


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
    training = ("train", "crossval")
    assert all(declared[n]["do"]["cmd"].startswith("${train_launcher} ") for n in training)


def test_dvc_yaml_paths_are_layouts():
    """What each stage writes and reads in dvc.yaml is where handsign.core.layout says the code writes
    and reads it, for every dataset, prepared copy and experiment of params.yaml."""
    from handsign.config import load_params
    from handsign.core import layout
    from handsign.models import Kind

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
        kind = where.split(".")[0].replace("experiments", "train")  # train@<name> or crossval@<name>
        paths = layout.ExperimentPaths(exp.name)
        prepared, split_file = (rel(f) for f in exp.data_paths)
        reads = listed(stages[f"{kind}@{exp.name}"], "deps")
        assert {rel(paths.config), prepared, split_file} <= reads, exp.name
        # Landmark models read the hands landmarks@ found; nothing else does (detection retrains no pixel model).
        hands = exp.kind is Kind.LANDMARKS
        assert (rel(layout.landmarks(exp.dataset)) in reads) == hands, exp.name
        if kind == "train":
            written = set().union(*(listed(stages[f"train@{exp.name}"], s) for s in ("outs", "metrics")))
            assert {rel(paths.model), rel(paths.mlflow_run), rel(paths.history), rel(paths.train_summary)} <= written
            evaluated = listed(stages[f"evaluate@{exp.name}"], "deps")
            assert {rel(paths.model), rel(paths.mlflow_run), rel(paths.history), rel(paths.config)} <= evaluated
            assert (rel(layout.landmarks(exp.dataset)) in evaluated) == hands, exp.name
            stage = stages[f"evaluate@{exp.name}"]
        else:
            stage = stages[f"crossval@{exp.name}"]
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
    """Every code fingerprint a stage depends on has, in dvc.lock, the hash of the file as committed:
    a code change that leaves outputs as they were is recorded (`dvc commit`), so a clone with those
    outputs does not rerun stages for nothing."""
    import hashlib

    stale = []
    for name, stage in yaml.safe_load((REPO / "dvc.lock").read_text())["stages"].items():
        for dep in stage.get("deps", []) + stage.get("outs", []):
            path = REPO / dep["path"]
            if dep["path"].startswith(f"{CODE.as_posix()}/") and hashlib.md5(path.read_bytes()).hexdigest() != dep["md5"]:
                stale.append(f"{name}: {dep['path']}")
    assert not stale, f"dvc.lock is behind the code (dvc commit in a workspace with outputs): {stale[:5]}"


def test_the_pinned_landmarker_file_is_a_dependency_of_every_detection():
    """A different hand landmarker file reruns detection: the landmarker stage writes the pinned
    file into the repository, and every stage that finds hands (landmarks@, external) lists it."""
    from handsign.core import layout

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    model = str(layout.landmarker())
    assert stages["landmarker"]["outs"] == [model]
    assert model in stages["landmarks"]["do"]["deps"] and model in stages["external"]["do"]["deps"]
    assert "src/handsign/core/weights.py" in (REPO / CODE / "landmarker.txt").read_text()  # where the pin is written
