"""`handsign diff` on a real git + DVC repository with two commits: the numbers in its table."""

import json
import subprocess

import pytest
import yaml
from conftest import BIN, run, tool_env

from handsign.core import layout

PNG = b"\x89PNG\r\n\x1a\n"


def commit(repo, message, metrics, lr, source="synthetic", external=None):
    (repo / "params.yaml").write_text(yaml.safe_dump({"lr": lr, "epochs": 3}))
    for exp, values in metrics.items():
        folder = repo / "reports" / exp
        (folder / "figures").mkdir(parents=True, exist_ok=True)
        (folder / "metrics.json").write_text(json.dumps(values))
        config = repo / layout.ExperimentPaths(exp).config
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(json.dumps({"name": exp, "source": source}))
        for figure in ("training_curves.png", "confusion_matrix.png"):
            (folder / "figures" / figure).write_bytes(PNG + f"{exp} {figure} {message}".encode())
    for exp, sets in (external or {}).items():  # accuracy on external sets: reports/<exp>/external.json
        (repo / "reports" / exp / "external.json").write_text(json.dumps(sets))
    (repo / "dvc.yaml").write_text(yaml.safe_dump({
        "params": ["params.yaml"],
        "metrics": [f"reports/{exp}/metrics.json" for exp in sorted(metrics)]
        + [f"reports/{exp}/external.json" for exp in sorted(external or {})],
    }))  # fmt: skip
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)


def table_rows(markdown):
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 7:
            rows[cells[0].strip("`")] = cells[1:]
    return rows


@pytest.mark.slow  # seconds (git, DVC or a fresh interpreter as subprocesses): make test runs it
def test_diff_tables_every_experiment_the_params_and_both_sides_figures(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    run(["git", "init", "-q"], repo)
    run(["git", "config", "user.email", "t@handsign.invalid"], repo)
    run(["git", "config", "user.name", "t"], repo)
    run([str(BIN / "dvc"), "init", "-q"], repo)
    commit(repo, "base", {"a": {"accuracy": 0.5, "f1_macro": 0.4}, "b": {"accuracy": 0.8, "f1_macro": 0.7}}, lr=0.1,
           external={"a": {"webcam": {"accuracy": 0.1, "f1_macro": 0.05}}})  # fmt: skip
    commit(repo, "head", {"a": {"accuracy": 0.75, "f1_macro": 0.7}, "b": {"accuracy": 0.8, "f1_macro": 0.7},
                          "c": {"accuracy": 0.9, "f1_macro": 0.85}}, lr=0.01,
           external={"a": {"webcam": {"accuracy": 0.4, "f1_macro": 0.3}}})  # fmt: skip

    cmd = [
        str(BIN / "handsign"),
        "diff",
        "--base",
        "HEAD~1",
        "--head",
        "HEAD",
        "--out",
        "pr",
        "--image-url",
        "https://example.invalid/pr-7",
    ]
    out = subprocess.run(cmd, cwd=repo, env=tool_env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    md = out.stdout
    assert md.strip() == (repo / "pr/report.md").read_text().strip() and md.startswith("<!-- handsign-diff -->")
    rows = table_rows(md)
    assert rows["a"] == ["0.5000", "0.7500", "+0.2500", "0.4000", "0.7000", "+0.3000"]
    assert rows["b"] == ["0.8000", "0.8000", "0", "0.7000", "0.7000", "0"]
    assert rows["c"] == ["-", "0.9000", "new", "-", "0.8500", "new"]
    assert "| `lr` | 0.1000 | 0.0100 |" in md and "`epochs`" not in md  # only what changed
    # Does it carry over: each experiment's accuracy on its external sets, base against head.
    assert "### Does it carry over?" in md and "| `a` | webcam | 0.1000 | 0.4000 | +0.3000 |" in md
    assert "| `a` | external: webcam.f1_macro | 0.0500 | 0.3000 | +0.2500 |" in md
    assert "Data source: **synthetic** on both sides." in md
    # Both sides' figures, as committed, beside the report and linked under the published prefix.
    assert (repo / "pr/a/base_training_curves.png").read_bytes() == PNG + b"a training_curves.png base"
    assert (repo / "pr/a/head_confusion_matrix.png").read_bytes() == PNG + b"a confusion_matrix.png head"
    assert not (repo / "pr/c/base_training_curves.png").exists()
    assert "![head training_curves.png](https://example.invalid/pr-7/c/head_training_curves.png)" in md

    # The workspace as the head side; a different data source is called out, not compared silently.
    (repo / "reports/b/metrics.json").write_text(json.dumps({"accuracy": 0.6, "f1_macro": 0.5}))
    (repo / layout.ExperimentPaths("b").config).write_text(json.dumps({"name": "b", "source": "local"}))
    md = subprocess.run([str(BIN / "handsign"), "diff", "--base", "HEAD", "--out", "ws"], cwd=repo, env=tool_env(),
                        capture_output=True, text=True).stdout  # fmt: skip
    assert table_rows(md)["b"] == ["0.8000", "0.6000", "-0.2000", "0.7000", "0.5000", "-0.2000"]
    assert "**Not like with like**: b ran on different data sources" in md


def test_a_snapshot_copies_the_reports_an_experiment_ref_holds(tmp_path):
    """`handsign results --snapshot REF NAMES` (what `make real` runs): each named experiment's
    metrics, external and per-group reports and its config, as the git revision holds them, into
    reports/real/; a name the revision lacks is left out, and the workspace's own copies are not read."""
    from handsign.evaluation.results import snapshot

    repo = tmp_path / "repo"
    (repo / "reports/configs/a").mkdir(parents=True)
    (repo / "reports/a").mkdir()
    run(["git", "init", "-q"], repo)
    for key, value in (("user.email", "tests@handsign.invalid"), ("user.name", "handsign tests")):
        run(["git", "config", key, value], repo)
    files = {"reports/a/metrics.json": '{"accuracy": 0.5}', "reports/a/external.json": "{}",
             "reports/configs/a/config.json": '{"name": "a"}'}  # fmt: skip
    for rel, text in files.items():
        (repo / rel).write_text(text)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "an experiment's reports"], repo)
    (repo / "reports/a/metrics.json").write_text('{"accuracy": 0.9}')  # the workspace differs: not copied
    out = repo / "reports/real"
    assert snapshot("HEAD", ["a", "b"], out, repo) == ["a"]
    assert (out / "a/metrics.json").read_text() == '{"accuracy": 0.5}'
    assert (out / "configs/a/config.json").read_text() == '{"name": "a"}' and (out / "a/external.json").exists()
    assert not (out / "a/per_group.json").exists() and not (out / "b").exists()
