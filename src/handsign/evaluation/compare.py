"""Compare two revisions of the pipeline's results: the metric diff of every experiment, the
params diff and both sides' figures, as the markdown a pull-request comment carries
(`handsign diff`). DVC computes the diffs (`dvc metrics diff`, `dvc params diff`); figures are
read from git (they are committed, `cache: false`) or from the workspace.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from handsign.core import layout

WORKSPACE = "workspace"
FIGURES = ("training_curves.png", "confusion_matrix.png")
HEADLINE = ("accuracy", "f1_macro")  # per experiment in the summary table; every metric below it
MARKER = "<!-- handsign-diff -->"  # finds the comment to update rather than add another


def _run(cmd: list[str], root: Path) -> str:
    out = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def _dvc(root: Path) -> str:
    found = shutil.which("dvc")
    if not found:
        raise RuntimeError("dvc is not on PATH (make install, then run from the repository's .venv)")
    return found


def _revs(base: str, head: str) -> list[str]:
    return [base] if head == WORKSPACE else [base, head]


def metrics_diff(root: Path, base: str, head: str = WORKSPACE) -> dict[str, dict[str, dict]]:
    """{metrics file: {metric: {old, new, diff}}} for every metric, changed or not."""
    return json.loads(_run([_dvc(root), "metrics", "diff", "--json", "--all", *_revs(base, head)], root) or "{}")


def params_diff(root: Path, base: str, head: str = WORKSPACE) -> dict[str, dict[str, dict]]:
    """{params file: {param: {old, new}}} for the params that differ."""
    return json.loads(_run([_dvc(root), "params", "diff", "--json", *_revs(base, head)], root) or "{}")


def read_at(root: Path, rev: str, path: str) -> bytes | None:
    """A file's bytes at a git revision (or in the workspace); None where it does not exist."""
    if rev == WORKSPACE:
        f = root / path
        return f.read_bytes() if f.exists() else None
    out = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True)
    return out.stdout if out.returncode == 0 else None


@dataclass
class Report:
    base: str
    head: str
    experiments: dict[str, dict[str, dict]]  # experiment -> metric -> {old, new, diff}
    params: dict[str, dict]  # param -> {old, new}
    sources: dict[str, tuple[str | None, str | None]]  # experiment -> (base source, head source)
    images: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # experiment -> [(side, file name)]
    # experiment -> "<external set>.<metric>" -> {old, new, diff}: reports/<experiment>/external.json
    external: dict[str, dict[str, dict]] = field(default_factory=dict)

    def markdown(self, image_url: str = "") -> str:
        """The comment. `image_url` prefixes image paths (the folder the images were published to)."""
        lines = [MARKER, f"## handsign: `{self.base}` -> `{self.head}`", ""]
        sides = {s for pair in self.sources.values() for s in pair if s}
        mixed = [e for e, (a, b) in self.sources.items() if a and b and a != b]
        if mixed:
            lines.append(f"**Not like with like**: {', '.join(mixed)} ran on different data sources on the two sides.")
        else:
            lines.append(f"Data source: **{', '.join(sorted(sides)) or 'unknown'}** on both sides.")
        lines += ["", "### Test metrics", "", "| experiment | accuracy: base | head | change | macro F1: base | head | change |",
                  "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for exp, metrics in sorted(self.experiments.items()):
            cells = []
            for name in HEADLINE:
                v = metrics.get(name, {})
                cells += [_fmt(v.get("old")), _fmt(v.get("new")), _change(v) if v else ""]
            lines.append(f"| `{exp}` | " + " | ".join(cells) + " |")
        carried = [(exp, key, v) for exp, m in sorted(self.external.items()) for key, v in sorted(m.items())
                   if key.endswith(".accuracy")]  # fmt: skip
        if carried:
            lines += ["", "### Does it carry over? Accuracy on external sets (other people, other cameras)", "",
                      "| experiment | external set | base | head | change |", "|---|---|---:|---:|---:|"]  # fmt: skip
            lines += [f"| `{exp}` | {key.removesuffix('.accuracy')} | {_fmt(v.get('old'))} | {_fmt(v.get('new'))} | "
                      f"{_change(v)} |" for exp, key, v in carried]  # fmt: skip
        lines += ["", "<details><summary>Every metric</summary>", "", "| experiment | metric | base | head | change |",
                  "|---|---|---:|---:|---:|"]  # fmt: skip
        every = {exp: {**m, **{f"external: {k}": v for k, v in self.external.get(exp, {}).items()}}
                 for exp, m in self.experiments.items()}  # fmt: skip
        for exp, metrics in sorted(every.items()):
            for name, v in sorted(metrics.items()):
                lines.append(f"| `{exp}` | {name} | {_fmt(v.get('old'))} | {_fmt(v.get('new'))} | {_change(v)} |")
        lines += ["", "</details>"]
        lines += ["", "### Params", ""]
        if self.params:
            lines += ["| param | base | head |", "|---|---|---|"]
            lines += [f"| `{k}` | {_fmt(v.get('old'))} | {_fmt(v.get('new'))} |" for k, v in sorted(self.params.items())]
        else:
            lines.append("No params changed.")
        if self.images:
            lines += ["", "### Figures", ""]
            prefix = image_url.rstrip("/") + "/" if image_url else ""
            for exp, files in sorted(self.images.items()):
                lines += [f"<details><summary><code>{exp}</code></summary>", ""]
                for figure in FIGURES:
                    cells = [f"![{side} {figure}]({prefix}{exp}/{side}_{figure})" for side, name in files if name == figure]
                    if cells:
                        lines += [f"{figure.removesuffix('.png').replace('_', ' ')}: base | head", "", " ".join(cells), ""]
                lines += ["</details>", ""]
        return "\n".join(lines) + "\n"


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _change(v: dict) -> str:
    d = v.get("diff")
    if isinstance(d, int | float) and not isinstance(d, bool):
        return f"{d:+.4f}" if d else "0"
    return "new" if v.get("old") is None else ("gone" if v.get("new") is None else "")


def build(root: Path, base: str, head: str = WORKSPACE, out: Path | None = None) -> Report:
    """The comparison of `base` and `head`; with `out`, both sides' figures are written there as
    `<experiment>/{base,head}_<figure>.png` (the markdown refers to them so)."""
    experiments: dict[str, dict[str, dict]] = {}
    external: dict[str, dict[str, dict]] = {}
    for path, metrics in metrics_diff(root, base, head).items():
        parts = Path(path).parts
        if len(parts) == 3 and parts[0] == "reports" and parts[2] == "metrics.json":  # test metrics per experiment
            experiments[parts[1]] = metrics
        if len(parts) == 3 and parts[0] == "reports" and parts[2] == "external.json" and metrics:
            external[parts[1]] = metrics
    params = {k: v for file_diff in params_diff(root, base, head).values() for k, v in file_diff.items()}
    sources = {}
    for exp in experiments:
        pair = []
        for rev in (base, head):
            config = read_at(root, rev, layout.ExperimentPaths(exp).config.as_posix())
            pair.append(json.loads(config).get("source") if config else None)
        sources[exp] = (pair[0], pair[1])
    report = Report(base, head, experiments, params, sources, external=external)
    if out is not None:
        for exp in experiments:
            for side, rev in (("base", base), ("head", head)):
                for figure in FIGURES:
                    data = read_at(root, rev, f"reports/{exp}/figures/{figure}")
                    if data:
                        (out / exp).mkdir(parents=True, exist_ok=True)
                        (out / exp / f"{side}_{figure}").write_bytes(data)
                        report.images.setdefault(exp, []).append((side, figure))
    return report
