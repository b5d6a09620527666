"""The pull-request workflow: valid for GitHub Actions (actionlint) and wired to `handsign diff`."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from handsign.evaluation.compare import MARKER

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github/workflows/pr-report.yml"
ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")


@pytest.mark.skipif(ACTIONLINT is None, reason="actionlint is not installed (pip install -e '.[dev]' installs it)")
def test_the_workflow_passes_actionlint():
    out = subprocess.run([ACTIONLINT, str(WORKFLOW)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_workflow_reproduces_both_sides_alike_and_updates_one_comment():
    flow = yaml.safe_load(WORKFLOW.read_text())
    assert "pull_request" in flow[True]  # YAML 1.1 reads the key `on` as true
    steps = flow["jobs"]["report"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "make test" in runs  # the same overrides on base and head, each side through the script the sharing test runs
    assert "cp .ci/reproduce-side /tmp/reproduce-side" in runs
    assert '/tmp/reproduce-side base "$BASE_SHA" $SETS' in runs and '/tmp/reproduce-side head "$HEAD_SHA" $SETS' in runs
    assert "cat /tmp/times.md" in runs  # how long each side took, in the comment
    assert "handsign diff --base report-base --head report-head" in runs
    script = next(s["with"]["script"] for s in steps if s.get("uses", "").startswith("actions/github-script"))
    assert f"'{MARKER}'" in script and "updateComment" in script and "createComment" in script
