"""split: assign every sample of one prepared copy to train/val/test, once per strategy it lists.

Each split file lists every sample; images found in two splits are listed and counted.
"""

from handsign import layout
from handsign.atomic import atomic_path, write_json
from handsign.config import load_params
from handsign.datasets import PreparedStore
from handsign.split import SPLITS, assign_splits, content_hashes, cross_split_duplicates, subjects_in_two_splits
from handsign.stage import run_stage


def split(copy: str) -> None:
    params = load_params()
    if copy not in params.data:
        raise ValueError(f"{copy!r} is not declared under data: in params.yaml")
    store = PreparedStore.load(layout.prepared(copy))
    hashes = content_hashes(store.images)
    summary = {}
    with atomic_path(layout.split_dir(copy)) as tmp:
        tmp.mkdir()
        for strategy in params.data[copy].splits:
            table = store.samples.copy()
            table["split"] = assign_splits(table, strategy, params.split)
            table["content_hash"] = hashes
            duplicates = cross_split_duplicates(table)
            shared = subjects_in_two_splits(table)
            named = table[table["group"].astype(str) != ""]
            subjects = named.groupby("split")["group"].nunique()  # subjects (or hands) per split
            if strategy == "subject" and shared:  # the promise of this split; never written if broken
                raise AssertionError(f"split {copy} subject: subjects {', '.join(shared)} occur in more than one split")
            table.to_csv(tmp / f"{strategy}.csv", index=False)
            duplicates.to_csv(tmp / f"{strategy}_cross_split_duplicates.csv", index=False)
            counts = table["split"].value_counts()
            summary[strategy] = {
                **{f"n_{s}": int(counts.get(s, 0)) for s in SPLITS},
                "cross_split_duplicate_images": int(duplicates["content_hash"].nunique()),
                **{f"subjects_{s}": int(subjects.get(s, 0)) for s in SPLITS},
                "subjects_in_two_splits": len(shared),
            }
            print(f"split {copy} {strategy}: " + ", ".join(f"{k} {v}" for k, v in summary[strategy].items()))
            if len(duplicates):
                n = summary[strategy]["cross_split_duplicate_images"]
                print(f"split: warning: {n} images occur in more than one split; see {strategy}_cross_split_duplicates.csv")
    write_json(layout.split_summary(copy), summary)


if __name__ == "__main__":
    run_stage("split", split, "A prepared copy declared under `data:` in params.yaml (<dataset>_<image size>).")
