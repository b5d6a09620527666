from pathlib import Path

import pytest
import torch

from handsign.layout import repo_root
from handsign.runtime import pick_device


def test_repo_root_from_a_dvc_temp_experiment_copy(tmp_path, monkeypatch):
    monkeypatch.delenv("DVC_ROOT", raising=False)
    copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpabc123"
    copy.mkdir(parents=True)
    (copy / "dvc.yaml").write_text("stages: {}\n")
    assert repo_root(copy) == tmp_path / "repo"


def test_repo_root_walks_up_to_dvc_yaml(tmp_path, monkeypatch):
    monkeypatch.delenv("DVC_ROOT", raising=False)
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "stages").mkdir()
    assert repo_root(tmp_path / "stages") == tmp_path


def test_repo_root_takes_dvc_root_of_queued_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "origin"))
    assert repo_root(tmp_path / "elsewhere") == Path(tmp_path / "origin").resolve()


def test_auto_device_and_forced_absent_device():
    assert pick_device("auto").type in ("cuda", "mps", "cpu")
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="device 'cuda' was asked for but is not available"):
            pick_device("cuda")
