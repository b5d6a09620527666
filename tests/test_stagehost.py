"""handsign.stagehost: a script sent to the warm host runs as `python <script>` would, with the
caller's arguments, working directory, environment, streams and exit code, and computes the same
numbers; what is not a script, and any call while no host answers, runs the real interpreter."""

import os
import subprocess
import sys
import time

from handsign import stagehost

SCRIPT = '''
import os, sys
print("preloaded", "torch" in sys.modules)
import torch
print("argv", sys.argv[1:], "cwd", os.getcwd(), "marker", os.environ.get("MARKER"))
print("stdin", sys.stdin.read().strip())
print("to stderr", file=sys.stderr)
torch.manual_seed(0)
net = torch.nn.Linear(8, 3)
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
for _ in range(5):
    loss = net(torch.randn(16, 8)).square().mean()
    opt.zero_grad(); loss.backward(); opt.step()
print("weights", repr(net.weight.sum().item()))
sys.exit(int(sys.argv[1]))
'''


def run(env: dict[str, str], cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["python", *args], cwd=cwd, env={**os.environ, **env, "MARKER": "m1"}, input="from stdin\n",
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_script_runs_in_the_host_as_in_a_fresh_interpreter(tmp_path):
    (tmp_path / "work").mkdir()
    script = tmp_path / "work" / "stage.py"
    script.write_text(SCRIPT)
    fresh = subprocess.run([sys.executable, str(script), "3", "x"], cwd=tmp_path / "work", env={**os.environ, "MARKER": "m1"},
                           input="from stdin\n", capture_output=True, text=True, timeout=120)  # fmt: skip
    with stagehost.started(tmp_path, preload=("torch",)) as env:
        deadline = time.monotonic() + 60
        while not os.path.exists(env[stagehost.HOST_ENV]) and time.monotonic() < deadline:
            time.sleep(0.1)
        hosted = run(env, tmp_path / "work", str(script), "3", "x")
        assert hosted.returncode == fresh.returncode == 3, hosted.stderr
        lines = dict(line.split(" ", 1) for line in hosted.stdout.splitlines())
        expected = dict(line.split(" ", 1) for line in fresh.stdout.splitlines())
        assert lines["weights"] == expected["weights"]  # the same numbers, to the last bit
        assert lines["argv"] == f"['3', 'x'] cwd {tmp_path / 'work'} marker m1"
        assert lines["stdin"] == "from stdin" and hosted.stderr.strip() == "to stderr"
        assert lines["preloaded"] == "True" and expected["preloaded"] == "False"  # it ran in the warm host
        # Not a script: the real interpreter, with its exit code.
        other = run(env, tmp_path, "-c", "import sys; print(sys.flags.no_site); sys.exit(4)")
        assert other.returncode == 4 and other.stdout.strip() == "0"
        # No host answers: the shim runs the real interpreter.
        again = run({**env, stagehost.HOST_ENV: str(tmp_path / "gone.sock")}, tmp_path / "work", str(script), "0")
        assert again.returncode == 0 and "preloaded False" in again.stdout and "weights " + expected["weights"] in again.stdout
