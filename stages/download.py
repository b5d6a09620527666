"""download: fetch the raw dataset into data/raw in its Kaggle layout (source: kaggle | local | synthetic)."""

from handsign import layout
from handsign.config import Params
from handsign.runtime import repo_root
from handsign.sources import fetch
from handsign.stage import run_stage


def download(params: Params) -> None:
    out = fetch(params, layout.RAW, repo_root())
    print(f"download: {params.dataset} from {params.source} -> {out}")


if __name__ == "__main__":
    run_stage("download", download)
