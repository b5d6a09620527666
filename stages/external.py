"""external@<dataset>: every set of labelled images from elsewhere that `external:` in params.yaml
declares for one dataset (handsign/data/external.py), written into data/external/<dataset>/<set>/
with the hands found in each image in its own colours; a set whose files are absent is written as
absent, with the reason, and skipped by the evaluate stages. Every dataset gets its folder, with or
without sets: each evaluate depends on its dataset's, so a set added to one dataset rescores that
dataset's models alone and retrains nothing, and one dataset's photos never hold up another's stages."""

from handsign.config import load_params
from handsign.core import layout, weights
from handsign.core.atomic import atomic_path, write_json
from handsign.core.layout import repo_root
from handsign.data.external import write_set
from handsign.data.externalsets import root_folder
from handsign.pipeline.stage import run_stage


def external(dataset: str) -> None:
    params, repo = load_params(), repo_root()
    if dataset not in params.datasets:
        raise ValueError(f"{dataset!r} is not declared under datasets: in params.yaml ({', '.join(params.datasets)})")
    landmarker = weights.verified(layout.landmarker(), weights.HAND_LANDMARKER)  # the landmarker stage's output
    seen: dict = {}  # hands found, by file content and settings: a set's halves are not detected again
    with atomic_path(root_folder() / dataset) as folder:
        folder.mkdir(parents=True)
        declared = {}
        for name, p in params.external.items():
            if p.dataset == dataset:
                declared[name] = info = write_set(name, p, params, repo, folder / name, landmarker, seen)
                said = f"absent: {info['absent']}; skipped" if "absent" in info else f"{info['images']} images"
                found = f", a hand in {info['hand_found']:.1%}" if "hand_found" in info else ""
                print(f"external: {name} ({dataset}): {said}{found}")
        write_json(folder / "sets.json", declared)


if __name__ == "__main__":
    run_stage("external", external, "A dataset declared under `datasets:` in params.yaml.")
