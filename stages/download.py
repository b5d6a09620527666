"""download: fetch one dataset's raw files into data/raw/<dataset>, in its Kaggle layout."""

from handsign.config import load_params
from handsign.core import layout
from handsign.core.layout import repo_root
from handsign.pipeline.sources import fetch
from handsign.pipeline.stage import run_stage


def download(dataset: str) -> None:
    params = load_params()
    if dataset not in params.datasets:
        raise ValueError(f"dataset {dataset!r} is not declared under datasets: in params.yaml")
    source = params.datasets[dataset]
    out = fetch(dataset, source, params.synthetic, layout.raw(dataset), repo_root())
    print(f"download: {dataset} from {source.source} -> {out}")


if __name__ == "__main__":
    run_stage("download", download, "A dataset declared under `datasets:` in params.yaml.")
