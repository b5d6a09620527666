"""`handsign results`' table of the cross-validations: each subject or source held out in turn,
its accuracy by the model that never saw it, the mean and the worst (reports/<name>/)."""

from __future__ import annotations

import json
from pathlib import Path


def held_out_table(reports: Path, crossvals: list[str]) -> str:
    """Markdown, one table per kind of group held out (subject, source): a row per cross-validation
    with a column per group, then the mean and the worst; "" where none has been run."""
    rows: dict[str, list[tuple[str, dict[str, float], dict]]] = {}
    for name in crossvals:
        per_group, metrics = reports / name / "per_group.json", reports / name / "metrics.json"
        if not per_group.exists() or not metrics.exists():
            continue
        groups = json.loads(per_group.read_text())
        accuracy = {g: v["accuracy"] for g, v in groups["test"].items()}
        rows.setdefault(groups["group"], []).append((name, accuracy, json.loads(metrics.read_text())))
    lines = []
    for unit, entries in rows.items():
        columns = sorted({g for _, accuracy, _ in entries for g in accuracy})
        lines += ["", f"| each {unit} held out | " + " | ".join(columns) + " | mean | worst |", "|---" * (len(columns) + 3) + "|"]
        for name, accuracy, m in entries:
            cells = [f"{accuracy[g]:.2%}" if g in accuracy else "-" for g in columns]
            summary = f"**{m['accuracy_mean']:.2%}** | {m['group_accuracy_min']:.2%}"
            lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {summary} |")
    return "\n".join(lines).lstrip("\n")
