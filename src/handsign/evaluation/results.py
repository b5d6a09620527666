"""The tables the docs show, read from reports/ (never copied by hand): `handsign results` prints
them and `handsign results --write README.md` rewrites each block between `<!-- handsign results:
<what> -->` and `<!-- /handsign results -->` markers; tests/test_readme.py checks the committed docs
against the committed reports. The cross-validations' table: each subject or source held out in
turn, its accuracy by the model that never saw it, the mean and the worst."""

from __future__ import annotations

import json
import re
from pathlib import Path

from handsign.config import Params


def held_out_table(reports: Path, crossvals: list[str]) -> str:
    """Markdown, one table per kind of group held out (subject, source): a row per cross-validation
    with a column per group, then the mean and the worst, and beside them the model trained on
    everything on the copy's own test split (the Kaggle test file) where it has one; a row whose
    settings were searched says which were chosen among how many. "" where none has been run."""
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
        own = any("own_test_accuracy" in m for _, _, m in entries)
        head = ["own test split"] if own else []
        lines += ["", f"| each {unit} held out | " + " | ".join([*columns, "mean", "worst", *head]) + " |",
                  "|---" * (len(columns) + 3 + len(head)) + "|"]  # fmt: skip
        for name, accuracy, m in entries:
            cells = [f"{accuracy[g]:.2%}" if g in accuracy else "-" for g in columns]
            cells += [f"**{m['accuracy_mean']:.2%}**", f"{m['group_accuracy_min']:.2%}"]
            cells += [f"{m['own_test_accuracy']:.2%}" if "own_test_accuracy" in m else "-"] if own else []
            lines.append(f"| `{name}`{_chosen(reports / name / 'search.json')} | " + " | ".join(cells) + " |")
    return "\n".join(lines).lstrip("\n")


def _chosen(search: Path) -> str:
    """What a cross-validation's search chose, as ` (added_repeat 10, chosen of 2)`; "" without one."""
    if not search.exists():
        return ""
    found = json.loads(search.read_text())
    if len(found["tried"]) < 2:
        return ""
    settings = ", ".join(f"{k} {v}" for k, v in found["chosen"].items())
    return f" ({settings}, chosen of {len(found['tried'])})"


def demo_table(reports: Path, experiments: list[tuple[str, str]], chance: dict[str, int]) -> str:
    """Markdown, a row per experiment, cross-validation or ensemble (`experiments`: (name, dataset)),
    read from its reports: its test score (a classifier's accuracy, and the share of hands found; a
    cross-validation's mean and worst held-out accuracy; an autoencoder's probe accuracy and PSNR),
    chance (1 / `chance[dataset]` classes), the test images and its epochs."""
    lines = ["| experiment | test score | chance | test images | epochs |", "|---|---|---|---|---|"]
    for name, dataset in experiments:
        metrics, config = reports / name / "metrics.json", reports / "configs" / name / "config.json"
        if not metrics.exists():
            continue
        m = json.loads(metrics.read_text())
        if "accuracy_mean" in m:
            score = f"mean {m['accuracy_mean']:.2%}, worst {m['group_accuracy_min']:.2%} ({m['folds']} held out)"
        elif "psnr" in m:
            score = f"probe {m['probe_accuracy']:.2%}, PSNR {m['psnr']:.1f} dB"
        else:
            found = f" (hand found {m['hand_found']:.1%})" if "hand_found" in m else ""
            score = f"{m['accuracy']:.2%}{found}"
        epochs = json.loads(config.read_text())["training"]["epochs"] if config.exists() else "-"
        odds = f"{1 / chance[dataset]:.1%}" if chance.get(dataset) else "-"
        lines.append(f"| `{name}` | {score} | {odds} | {m.get('n_test', '-')} | {epochs} |")
    return "\n".join(lines)


BLOCK = re.compile(r"(<!-- handsign results: (?P<what>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /handsign results -->)", re.S)


def rewrite_blocks(text: str, render: dict[str, str]) -> str:
    """`text` with each block between `<!-- handsign results: <what> -->` and `<!-- /handsign
    results -->` replaced by `render[<what>]`; an unknown <what> is named."""

    def fill(m: re.Match) -> str:
        if m["what"] not in render:
            raise ValueError(f"<!-- handsign results: {m['what']} -->: no such table ({', '.join(render)})")
        return f"{m[1]}{render[m['what']].rstrip()}\n{m[4]}"

    return BLOCK.sub(fill, text)


def blocks(text: str) -> dict[str, str]:
    """The generated blocks of a document, by what they show."""
    return {m["what"]: m["body"].rstrip() for m in BLOCK.finditer(text)}


def tables(reports: Path, params: Params, dataset: str = "") -> dict[str, str]:
    """Every table the docs can show, by name: `demo` (each experiment's test score) and `carry-over`
    (each classifier on its dataset's external sets, then each cross-validation's held-out groups)."""
    from handsign.datasets import get_spec
    from handsign.evaluation.external import carry_over_table

    single = ("experiments",)  # cross-validations have a model per fold, not one
    resolved = [(where.split(".")[0], e) for where, e in params.every_experiment() if not dataset or e.dataset == dataset]
    classifiers = [(e.name, e.dataset) for section, e in resolved if section in single]
    classifiers += [(n, ens.dataset) for n, ens in params.ensembles.items() if not dataset or ens.dataset == dataset]
    crossvals = [e.name for section, e in resolved if section not in single]
    everything = classifiers + [(e.name, e.dataset) for section, e in resolved if section not in single]
    chance = {d: len(get_spec(d).class_names) for _, d in everything}
    carry = carry_over_table(reports, classifiers) or "no evaluated classifier yet (dvc repro)"
    held = held_out_table(reports, crossvals)
    out = {"demo": demo_table(reports, everything, chance), "carry-over": carry + (f"\n\n{held}" if held else "")}
    real = reports / "real"  # `make real`'s snapshot (handsign results --snapshot): the same tables of real data
    if real.is_dir():
        out["real"] = demo_table(real, everything, chance)
        found = (carry_over_table(real, classifiers), held_out_table(real, crossvals))
        out["real-carry-over"] = "\n\n".join(t for t in found if t)
    return out


SNAPSHOT_FILES = ("metrics.json", "external.json", "per_group.json", "search.json")


def snapshot(rev: str, names: list[str], out: Path, root: Path) -> list[str]:
    """The reports of experiments `names` as git revision `rev` holds them (a `dvc exp run --temp`
    experiment's ref: DVC commits the reports it wrote there), copied to `out/<name>/` with their
    configs (`out/configs/<name>/`), so the docs' tables of real data are generated from files in the
    repository: `handsign results --snapshot <ref> <names>`. Returns the names it found."""
    from handsign.core.atomic import write_text
    from handsign.evaluation.compare import read_at

    found = []
    for name in names:
        for rel in [*(f"{name}/{f}" for f in SNAPSHOT_FILES), f"configs/{name}/config.json"]:
            shown = read_at(root, rev, f"reports/{rel}")
            if shown is not None:
                write_text(out / rel, shown.decode())
                found.append(name)
    return list(dict.fromkeys(found))
