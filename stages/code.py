"""code: each stage script's fingerprint (data/code/<script>.txt: the sha256 of every file it runs;
handsign/pipeline/fingerprint.py). The stages depend on their script's fingerprint, not on a list
of source files: an edit reruns what runs the edited file, and a new module nothing."""

from handsign.core.layout import repo_root
from handsign.pipeline.fingerprint import write_fingerprints


def code() -> None:
    root = repo_root()
    for script, path in write_fingerprints(root).items():
        print(f"code: {script}: {len(path.read_text().splitlines())} files -> {path.relative_to(root)}")


if __name__ == "__main__":
    code()
