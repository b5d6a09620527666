"""dvc.yaml is complete: each stage depends on every handsign module its script imports."""

import ast
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
    if path == SRC / "handsign" / "models" / "__init__.py":  # the registry imports its families by name
        names.update(f"handsign.models.{f.stem}" for f in path.parent.glob("*.py") if f.stem != "__init__")
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


def test_every_stage_depends_on_every_module_it_imports():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    missing = {}
    for name, stage in stages.items():
        deps = [REPO / d for d in (stage.get("do") or stage)["deps"] if "${" not in d]
        script = REPO / "stages" / f"{name}.py"
        assert script in deps, f"{name}: does not depend on its own script"
        uncovered = [f for f in closure(script) if not any(f == d or d in f.parents for d in deps)]
        if uncovered:
            missing[name] = sorted(str(f.relative_to(REPO)) for f in uncovered)
    assert not missing, f"dvc.yaml stages miss dependencies: {missing}"


def test_the_closure_sees_lazy_and_package_imports():
    # sources.py imports the renderer inside a function; the datasets package imports its formats.
    files = {str(f.relative_to(SRC)) for f in closure(REPO / "stages" / "download.py")}
    assert {"handsign/synth/writers.py", "handsign/datasets/fingers.py", "handsign/__init__.py"} <= files
    assert "handsign/inference.py" not in closure(REPO / "stages" / "train.py")  # evaluate's, not train's


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
