"""What README.md and docs/ name exists: every `make` target, every `handsign` command (its
--help answers), every repository path, every experiment; and the README stays a front door."""

import re
import subprocess

import pytest
from conftest import REPO
from typer.testing import CliRunner

from handsign.cli import app
from handsign.config import load_params

README = (REPO / "README.md").read_text()
DOCS = {p.name: p.read_text() for p in sorted((REPO / "docs").glob("*.md"))}
MAKEFILE = (REPO / "Makefile").read_text()


def test_the_readme_is_short():
    assert len(README.splitlines()) <= 260


@pytest.mark.parametrize("target", sorted(set(re.findall(r"make ([a-z][a-z-]+)", README))))
def test_every_make_target_it_names_exists(target):
    assert re.search(rf"(?m)^{re.escape(target)}:", MAKEFILE), f"README names `make {target}`; the Makefile has no such target"


def commands(text: str) -> set[tuple[str, ...]]:
    """`handsign <command> [<subcommand>]` as written in code: spans and fenced blocks, not prose."""
    code = re.findall(r"```.*?```", text, re.S) + re.findall(r"`[^`\n]+`", re.sub(r"```.*?```", "", text, flags=re.S))
    found = set()
    for words in re.findall(r"(?<![\w/.=-])handsign ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", "\n".join(code)):
        found.add(tuple(words.split()))
    return found


@pytest.mark.parametrize("words", sorted(commands(README + "".join(DOCS.values()))))
def test_every_handsign_command_it_names_answers_help(words):
    runner = CliRunner()
    first = runner.invoke(app, [words[0], "--help"])
    assert first.exit_code == 0, f"`handsign {words[0]} --help` failed: {first.output}"
    if len(words) == 2 and "Commands" in first.output:  # a group: its subcommand must exist too
        assert runner.invoke(app, [*words, "--help"]).exit_code == 0, f"`handsign {' '.join(words)} --help` failed"


PATH = re.compile(r"`((?:src|stages|tests|docs|reports|\.github|\.ci)/[A-Za-z0-9_./<>-]*|[a-z_]+\.(?:yaml|toml|md))`")


@pytest.mark.parametrize("path", sorted({p for t in (README, *DOCS.values()) for p in PATH.findall(t) if "<" not in p}))
def test_every_repository_path_it_names_exists(path):
    generated = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0  # e.g. reports/diff/
    assert (REPO / path).exists() or (REPO / "docs" / path).exists() or generated, path


def test_the_readme_tables_name_every_experiment_and_no_other():
    params = load_params(REPO / "params.yaml")
    declared = {e.name for _, e in params.every_experiment()} | set(params.ensembles)  # cross-validations, ensembles too
    first_column = re.findall(r"^\| `([a-z0-9_]+)`(?: / `(_[a-z]+)`)?", README, re.M)
    named = {a for a, _ in first_column} | {a + b for a, b in first_column if b}
    assert {n for n in named if n.startswith(("sign_mnist", "leapgestrecog", "fingers"))} <= declared
    assert declared <= named


def test_the_pipeline_docs_map_names_every_module_in_its_folder():
    """docs/pipeline.md's Layout block: each module at the top of src/handsign/ and in each of its
    folders, under the folder it is in (a module moved or added without the map fails here)."""
    text = (REPO / "docs" / "pipeline.md").read_text()
    block = text[text.index("## Layout") :].split("```")[1]
    lines = block.splitlines()
    src = REPO / "src" / "handsign"
    folders = sorted(p.name for p in src.iterdir() if (p / "__init__.py").exists())
    missing = []
    for folder in folders:
        if f"  {folder}/" not in block:
            missing.append(f"{folder}/")
    for module in sorted(src.glob("*.py")):
        if module.name != "__init__.py" and not any(re.match(rf"  {re.escape(module.name)}\b", line) for line in lines):
            missing.append(module.name)
    for folder in ("pipeline", "data", "training", "evaluation", "hands", "use"):  # the grouped ones, module by module
        start = next(i for i, line in enumerate(lines) if line.startswith(f"  {folder}/"))
        end = next((i for i in range(start + 1, len(lines)) if re.match(r"  \S", lines[i])), len(lines))
        named = " ".join(lines[start:end])
        missing += [f"{folder}/{m.name}" for m in sorted((src / folder).glob("*.py"))
                    if m.name != "__init__.py" and m.name not in named]  # fmt: skip
    assert not missing, f"docs/pipeline.md's layout does not name: {missing}"


def test_the_docs_tables_are_the_committed_reports(tmp_path):
    """Every `<!-- handsign results: ... -->` block of README.md and docs/ is what `handsign results
    --write` makes of the reports as committed (git HEAD: a demo run on another CPU, which moves some
    numbers in the workspace, does not fail it; a number changed by hand in a committed report, or a
    table not regenerated after a change, does)."""
    import io
    import tarfile

    from handsign.evaluation.results import blocks, tables

    archive = subprocess.run(["git", "archive", "HEAD", "reports", "params.yaml"], cwd=REPO, capture_output=True,
                             check=True)  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as committed:
        committed.extractall(tmp_path, filter="data")
    rendered = tables(tmp_path / "reports", load_params(tmp_path / "params.yaml"))
    shown = {name: blocks(text) for name, text in {"README.md": README, **DOCS}.items()}
    assert {"demo", "real-carry-over"} <= set(shown["README.md"]) and "carry-over" in shown["results.md"]
    stale = [f"{name}: {what}" for name, found in shown.items() for what, body in found.items() if body != rendered[what]]
    assert not stale, f"regenerate them: handsign results --write README.md --write docs/results.md ({stale})"


def heading_anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_in_the_readme_and_docs_leads_somewhere():
    """Links and images: the file exists (relative to the page), and a `#anchor` is a heading of it."""
    broken = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        prose = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", prose):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = page.parent / path if path else page
            markdown = dest.read_text() if dest.is_file() and dest.suffix == ".md" else ""
            headings = {heading_anchor(h) for h in re.findall(r"(?m)^#+ (.*)$", markdown)}
            if not dest.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and dest.suffix == ".md" and anchor not in headings:
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken
