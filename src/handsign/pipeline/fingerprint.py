"""Each stage script's code fingerprint: the sha256 of every handsign file the script can run (its
import closure, function-level imports and parent packages included), written by the `code` stage
to data/code/<script>.txt, which the script's stages depend on in place of a list of source files.

The `code` stage depends on the folders src/handsign and stages, so any edit reruns it (about a
second); a stage that follows reruns only when its own fingerprint changed. A new module that no
script imports changes no fingerprint and reruns nothing; an edit to the renderer changes the
fingerprints of the scripts that render (download, external) and of no other.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from handsign.core.atomic import write_text

CODE = Path("data") / "code"  # data/code/<script>.txt


def module_file(src: Path, name: str) -> Path | None:
    """The file of module `name` (dotted) under `src`, or None where it is none of ours."""
    base = src / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported_modules(src: Path, path: Path) -> set[str]:
    """handsign modules `path` imports, anywhere in it (function-level imports included)."""
    names: set[str] = set()
    package = ".".join(path.relative_to(src).with_suffix("").parts[:-1]) if path.is_relative_to(src) else ""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    if path == src / "handsign" / "models" / "__init__.py":  # the registry imports its families by name
        from handsign.models import MODELS

        names.update(f"handsign.models.{entry.module}" for entry in MODELS.values())
    return {n for n in names if n.split(".")[0] == "handsign" and module_file(src, n)}


def closure(script: Path, src: Path) -> set[Path]:
    """`script` and every handsign source file running it can execute, parent packages included."""
    seen: set[Path] = {script}
    todo = [script]
    while todo:
        for name in imported_modules(src, todo.pop()):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
                file = module_file(src, ".".join(parts[:i]))
                if file and file not in seen:
                    seen.add(file)
                    todo.append(file)
    return seen


def fingerprint(script: Path, root: Path) -> str:
    """`sha256sum` lines (`<sha256>  <path>`, paths from the repository root, sorted) of what `script` runs."""
    files = sorted(f.relative_to(root).as_posix() for f in closure(script, root / "src"))
    return "".join(f"{hashlib.sha256((root / f).read_bytes()).hexdigest()}  {f}\n" for f in files)


def write_fingerprints(root: Path) -> dict[str, Path]:
    """data/code/<script>.txt for every stages/<script>.py but this stage's own; a file whose
    fingerprint is unchanged is left as it is. Returns script -> its fingerprint file."""
    written = {}
    for script in sorted(s for s in (root / "stages").glob("*.py") if s.stem != "code"):
        out = root / CODE / f"{script.stem}.txt"
        text = fingerprint(script, root)
        if not out.is_file() or out.read_text() != text:
            write_text(out, text)
        written[script.stem] = out
    return written
