"""handsign.pipeline.stagehost: a script sent to the warm host runs as `python <script>` would, with the
caller's arguments, working directory, environment, streams and exit code, and computes the same
numbers; what is not a script, and any call while no host answers, runs the real interpreter."""

import os
import subprocess
import sys
import time

import pytest

from handsign.pipeline import stagehost

SCRIPT = """
import os, sys
print("preloaded", "json" in sys.modules and "{module}" in sys.modules)
{body}
print("argv", sys.argv[1:], "cwd", os.getcwd(), "marker", os.environ.get("MARKER"))
print("stdin", sys.stdin.read().strip())
print("to stderr", file=sys.stderr)
sys.exit(int(sys.argv[1]))
"""
TORCH = """import torch
torch.manual_seed(0)
net = torch.nn.Linear(8, 3)
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
for _ in range(5):
    loss = net(torch.randn(16, 8)).square().mean()
    opt.zero_grad(); loss.backward(); opt.step()
print("numbers", repr(net.weight.sum().item()))
"""
PLAIN = """import random
random.seed(0)
print("numbers", sum(random.random() for _ in range(1000)))
"""


def run(python: str, env: dict[str, str], cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, *args], cwd=cwd, env={**os.environ, **env, "MARKER": "m1"}, input="from stdin\n",
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def parsed(out: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in out.splitlines())


def hosted_as_fresh(tmp_path, module: str, body: str) -> None:
    (tmp_path / "work").mkdir()
    script = tmp_path / "work" / "stage.py"
    script.write_text(SCRIPT.format(module=module, body=body))
    fresh = run(sys.executable, {}, tmp_path / "work", str(script), "3", "x")
    with stagehost.started(tmp_path, preload=("json", module)) as env:
        deadline = time.monotonic() + 60
        while not os.path.exists(env[stagehost.HOST_ENV]) and time.monotonic() < deadline:
            time.sleep(0.05)
        hosted = run("python", env, tmp_path / "work", str(script), "3", "x")  # the shim, first on PATH
        assert hosted.returncode == fresh.returncode == 3, hosted.stderr
        lines, expected = parsed(hosted.stdout), parsed(fresh.stdout)
        assert lines["preloaded"] == "True" and expected["preloaded"] == "False"  # it ran in the warm host
        assert lines["numbers"] == expected["numbers"]  # the same numbers, to the last bit
        assert lines["argv"] == f"['3', 'x'] cwd {tmp_path / 'work'} marker m1"
        assert lines["stdin"] == "from stdin" and hosted.stderr.strip() == "to stderr"
        # Not a script: the real interpreter, with its exit code.
        other = run("python", env, tmp_path, "-c", "import sys; print(sys.flags.no_site); sys.exit(4)")
        assert other.returncode == 4 and other.stdout.strip() == "0"
        # No host answers: the shim runs the real interpreter.
        again = run("python", {**env, stagehost.HOST_ENV: str(tmp_path / "gone.sock")}, tmp_path / "work", str(script), "0")
        assert again.returncode == 0 and parsed(again.stdout)["preloaded"] == "False"
        assert parsed(again.stdout)["numbers"] == expected["numbers"]


def test_a_script_runs_in_the_host_as_in_a_fresh_interpreter(tmp_path):
    hosted_as_fresh(tmp_path, "random", PLAIN)


@pytest.mark.slow
def test_torch_in_the_host_computes_what_a_fresh_interpreter_computes(tmp_path):
    hosted_as_fresh(tmp_path, "torch", TORCH)
