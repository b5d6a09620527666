"""`handsign check`: every unmet precondition is found before a stage runs, each with its fix."""

import dataclasses
import hashlib

import yaml
from conftest import REPO, without_external_sets
from typer.testing import CliRunner

from handsign.cli import app
from handsign.config import load_params
from handsign.core import weights
from handsign.pipeline import preflight


def test_missing_archive_weights_and_checkpoint_are_each_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ../shared/weights beside this folder
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("HANDSIGN_WEIGHTS", raising=False)
    monkeypatch.setattr(preflight, "reachable", lambda host, timeout=3.0: False)  # offline, as this machine is
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    overrides = {"datasets.fingers.source": "local", "datasets.fingers.local_path": "missing.zip",
                 "experiments.fingers_cnn.init": "models/nothing/model.pt"}  # fmt: skip
    params = load_params(REPO / "params.yaml", overrides)
    found = preflight.problems(params, [params.experiment("fingers_cnn"), params.experiment("fingers_resnet18_frozen")])
    assert len(found) == 4, found
    assert "datasets.fingers.local_path" in found[0] and str(tmp_path / "missing.zip") in found[0]
    assert "fingers_cnn: init models/nothing/model.pt does not exist" in found[1]
    assert "resnet18-f37072fd.pth" in found[2] and "HANDSIGN_WEIGHTS" in found[2]
    assert found[3].startswith("landmarks: hand_landmarker.task") and weights.HAND_LANDMARKER.url in found[3]
    (tmp_path / "missing.zip").write_bytes(b"")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "resnet18-f37072fd.pth").write_bytes(b"")
    (tmp_path / "weights" / "hand_landmarker.task").write_bytes(b"")
    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(tmp_path / "weights"))
    found = preflight.problems(params, [params.experiment("fingers_resnet18_frozen")])
    assert len(found) == 1 and "is not the pinned MediaPipe's hand landmarker" in found[0]  # a file, but not that one
    empty = dataclasses.replace(weights.HAND_LANDMARKER, sha256=hashlib.sha256(b"").hexdigest())
    monkeypatch.setattr(weights, "HAND_LANDMARKER", empty)
    assert len(preflight.problems(params, [params.experiment("fingers_resnet18_frozen")])) == 0


def test_check_exits_1_naming_the_fix_and_0_when_ready(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    runner = CliRunner()
    # Without the external sets, which tests/test_external.py checks: reading them takes a second a run.
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(without_external_sets(yaml.safe_load((REPO / "params.yaml").read_text()))))
    local = ["-S", "datasets.sign_mnist.source=local", "-S", f"datasets.sign_mnist.local_path={tmp_path / 'none.zip'}"]
    bad = runner.invoke(app, ["check", "--params", str(params), *local, "evaluate@sign_mnist_cnn"])
    assert bad.exit_code == 1 and "none.zip does not exist" in bad.output
    good = runner.invoke(app, ["check", "--params", str(params), "evaluate@sign_mnist_cnn"])
    assert good.exit_code == 0 and "1 experiment(s) ready" in good.output
    # An ensemble (what `make real` passes) is checked as its two members: the archive is named.
    ensemble = "evaluate_ensemble@sign_mnist_ensemble"
    members = runner.invoke(app, ["check", "--params", str(params), *local, ensemble])
    assert members.exit_code == 1 and "none.zip does not exist" in members.output
    both = runner.invoke(app, ["check", "--params", str(params), ensemble])
    assert both.exit_code == 0 and "2 experiment(s) ready" in both.output
