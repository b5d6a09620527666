"""The locked environment: requirements.lock pins every package with its hashes, `make install`
installs exactly it (uv, itself installed hash-checked from the lock's own entry), and the venv the
tests run in holds those versions."""

import re
import subprocess
from importlib import metadata

from conftest import REPO

LOCK = REPO / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")


def entries(text: str) -> list[list[str]]:
    """The lock's requirements, each its pin line and the continuation lines after it."""
    found: list[list[str]] = []
    for line in text.splitlines():
        if PIN.match(line):
            found.append([line])
        elif found and line.startswith("    ") and found[-1][-1].endswith("\\"):
            found[-1].append(line)
    return found


def locked() -> dict[str, str]:
    """Package name -> pinned version."""
    pins = (PIN.match(entry[0]) for entry in entries(LOCK.read_text()))
    return {m[1].lower(): m[2] for m in pins}


def test_the_lock_pins_every_package_with_its_hashes():
    text = LOCK.read_text()
    pins = entries(text)
    assert len(pins) == len(locked()) > 100
    for entry in pins:
        assert any(line.strip().startswith("--hash=sha256:") for line in entry[1:]), entry[0]
    assert {"torch", "torchvision", "dvc", "mlflow", "mediapipe", "uv"} <= set(locked())


def test_make_install_installs_the_lock_with_uv_bootstrapped_from_the_lock(tmp_path):
    plan = subprocess.run(["make", "-n", "-B", "install"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    commands = plan.replace("\\\n", " ").splitlines()  # a shell command continued over lines is one
    (uv_lock,) = [c for c in commands if "uv pip install" in c and "-r requirements.lock" in c]
    assert "--require-hashes" in uv_lock and "--no-deps" in uv_lock
    (extract,) = [c for c in commands if c.startswith("awk ")]
    (bootstrap,) = [c for c in commands if "pip" in c and "uv.lock.txt" in c and "install" in c]
    assert "--require-hashes" in bootstrap
    # An old venv's second cv2 package is replaced by the lock's opencv-contrib-python, hash-checked.
    (repair,) = [c for c in commands if "cv2.lock.txt" in c and not c.startswith("#")]
    assert "--require-hashes" in repair.split("cv2.lock.txt;", 1)[1] and " install" not in repair.replace("uv pip install", "")
    extract_cv2 = re.search(r"awk '[^']*' requirements\.lock > \.venv/cv2\.lock\.txt", repair)[0]
    # Each requirement file: exactly the lock's entry for its package, hashes and all.
    (tmp_path / ".venv").mkdir()
    (tmp_path / "requirements.lock").write_text(LOCK.read_text())
    for command, package, file in ((extract, "uv", "uv.lock.txt"), (extract_cv2, "opencv-contrib-python", "cv2.lock.txt")):
        subprocess.run(command, shell=True, cwd=tmp_path, check=True)
        (entry,) = [e for e in entries(LOCK.read_text()) if e[0].startswith(f"{package}==")]
        assert (tmp_path / ".venv" / file).read_text().splitlines() == entry


def test_the_venv_holds_exactly_the_locked_versions():
    wrong = {}
    for name, version in locked().items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "missing"
        if have.split("+")[0] != version:
            wrong[name] = (version, have)
    assert not wrong, f"the venv differs from requirements.lock (run `make install`): {wrong}"
