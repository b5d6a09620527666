import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from handsign.core.layout import repo_root
from handsign.core.runtime import pick_device


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


def test_precision_auto_is_bf16_only_where_the_device_has_bf16_units_and_a_forced_one_stays():
    from handsign.core.runtime import fast_bf16, resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if fast_bf16(cpu) else "fp32")
    units = torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    assert fast_bf16(cpu) == (units and torch.backends.cpu.get_cpu_capability().startswith("AVX512"))
    assert (resolve_precision("fp32", cpu), resolve_precision("bf16", cpu)) == ("fp32", "bf16")
    assert not fast_bf16(torch.device("meta"))


@pytest.mark.slow  # seconds (git, DVC or a fresh interpreter as subprocesses): make test runs it
def test_avx2_kernels_make_auto_float32_on_any_cpu():
    """How an AMX machine stands in for the AVX2 CPUs most users have (docs/benchmarks.md)."""
    code = ("import torch; from handsign.core.runtime import resolve_precision; "
            "print(resolve_precision('auto', torch.device('cpu')))")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "fp32"


def test_a_bf16_training_runs_under_autocast_and_says_so(tmp_path):
    from conftest import tiny_experiment

    from handsign.training.train import autocast, fit

    exp, store, split = tiny_experiment(tmp_path, per_class_train=4, epochs=1, precision="bf16", augment=False)
    result = fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt")
    assert result.precision == "bf16" and torch.isfinite(torch.tensor(result.history[0]["train_loss"]))
    with autocast(torch.device("cpu"), bf16=True):
        assert torch.nn.Linear(4, 2)(torch.ones(1, 4)).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), bf16=False):
        assert torch.nn.Linear(4, 2)(torch.ones(1, 4)).dtype == torch.float32
