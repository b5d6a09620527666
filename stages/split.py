"""split: assign every sample to train/val/test deterministically; list them all and any cross-split duplicates."""

from handsign import layout
from handsign.atomic import atomic_path, write_json
from handsign.config import Params
from handsign.datasets import PreparedStore
from handsign.split import SPLITS, assign_splits, content_hashes, cross_split_duplicates, resolve_strategy
from handsign.stage import run_stage


def split(params: Params) -> None:
    store = PreparedStore.load(layout.PREPARED)
    table = store.samples.copy()
    table["split"] = assign_splits(table, params.split, params.seed)
    table["content_hash"] = content_hashes(store.images)
    duplicates = cross_split_duplicates(table)
    with atomic_path(layout.SPLIT.parent) as tmp:
        tmp.mkdir()
        table.to_csv(tmp / layout.SPLIT.name, index=False)
        duplicates.to_csv(tmp / layout.SPLIT_DUPLICATES.name, index=False)
    counts = table["split"].value_counts()
    summary = {
        "strategy": resolve_strategy(table, params.split.strategy),
        **{f"n_{s}": int(counts.get(s, 0)) for s in SPLITS},
        "cross_split_duplicate_images": int(duplicates["content_hash"].nunique()),
    }
    write_json(layout.SPLIT_SUMMARY, summary)
    print("split: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    if len(duplicates):
        n = summary["cross_split_duplicate_images"]
        print(f"split: warning: {n} images occur in more than one split; see {layout.SPLIT_DUPLICATES}")


if __name__ == "__main__":
    run_stage("split", split)
