"""split: assign every sample of one prepared copy to train/val/test, once per strategy it lists.

Each split file lists every sample; images found in two splits are listed and counted. The
`loso` file holds one column per leave-one-subject-out fold (`fold_<subject>`) instead of one
`split` column; every fold is checked as a subject split is. A combined split (data.<copy>.combined)
is a strategy's file plus one training row per image of each external set it adds, with its source;
with `hold_out`, one `fold_<set>` column per added set (leave one source out).
"""

import pandas as pd

from handsign.config import LOSO, load_params
from handsign.core import layout
from handsign.core.atomic import atomic_path, write_json
from handsign.data import externalsets
from handsign.data.split import (
    SPLITS,
    assign_splits,
    content_hashes,
    cross_split_duplicates,
    leave_one_source_out,
    leave_one_subject_out,
    subjects_in_two_splits,
)
from handsign.datasets import PreparedStore
from handsign.pipeline.stage import run_stage


def check(table: pd.DataFrame, strategy: str, copy: str) -> dict[str, int]:
    """Counts for one split (one fold), refusing a subject split that shares a subject."""
    shared = subjects_in_two_splits(table)
    if strategy in ("subject", LOSO) and shared:  # the promise of these splits; never written if broken
        raise AssertionError(f"split {copy} {strategy}: subjects {', '.join(shared)} occur in more than one split")
    named = table[table["group"].astype(str) != ""]
    subjects = named.groupby("split")["group"].nunique()  # subjects (or hands) per split
    counts = table["split"].value_counts()
    return {
        **{f"n_{s}": int(counts.get(s, 0)) for s in SPLITS},
        **{f"subjects_{s}": int(subjects.get(s, 0)) for s in SPLITS},
        "subjects_in_two_splits": len(shared),
    }


def split(copy: str) -> None:
    params = load_params()
    if copy not in params.data:
        raise ValueError(f"{copy!r} is not declared under data: in params.yaml")
    store = PreparedStore.load(layout.prepared(copy))
    hashes = content_hashes(store.images)
    summary = {}
    tables = {}
    with atomic_path(layout.split_dir(copy)) as tmp:
        tmp.mkdir()
        for strategy in params.data[copy].splits:
            table = store.samples.copy()
            if strategy == LOSO:
                table = pd.concat([table, leave_one_subject_out(table, params.split)], axis=1)
                folds = {c: table.assign(split=table[c]) for c in table.columns if c.startswith("fold_")}
            else:
                table["split"] = assign_splits(table, strategy, params.split)
                folds = {"split": table}
            table["content_hash"] = hashes
            checks = {name: check(fold.assign(content_hash=hashes), strategy, copy) for name, fold in folds.items()}
            duplicates = pd.concat(
                [cross_split_duplicates(fold.assign(content_hash=hashes)).assign(fold=name) for name, fold in folds.items()]
            )
            table.to_csv(tmp / f"{strategy}.csv", index=False)
            tables[strategy] = table
            duplicates.to_csv(tmp / f"{strategy}_cross_split_duplicates.csv", index=False)
            if strategy == LOSO:  # the folds' sizes differ with the subjects'; the totals say it all
                summary[strategy] = {
                    "folds": len(folds),
                    "n_samples": len(table),
                    "subjects_in_two_splits": max(c["subjects_in_two_splits"] for c in checks.values()),
                }
            else:
                summary[strategy] = checks["split"]
            summary[strategy]["cross_split_duplicate_images"] = int(duplicates["content_hash"].nunique())
            print(f"split {copy} {strategy}: " + ", ".join(f"{k} {v}" for k, v in summary[strategy].items()))
            if len(duplicates):
                n = summary[strategy]["cross_split_duplicate_images"]
                print(f"split: warning: {n} images occur in more than one split; see {strategy}_cross_split_duplicates.csv")
        for name, combined in params.data[copy].combined.items():
            added, summary[name] = [], {"split": combined.split}
            for set_name in combined.add:
                rows = externalsets.training_rows(params.data[copy].dataset, set_name, -1 - sum(map(len, added)))
                summary[name][f"n_train_{set_name}"] = len(rows)
                if rows.empty:
                    print(f"split: warning: {copy} {name}: external set {set_name} is absent; it adds nothing")
                added.append(rows)
            table = pd.concat([tables[combined.split], *added], ignore_index=True)
            if combined.held_out:  # leave one source out: a fold per present set held out
                present = [s for s, rows in zip(combined.add, added, strict=True) if not rows.empty and s in combined.held_out]
                table = pd.concat([table, leave_one_source_out(table, present)], axis=1)
                summary[name]["folds"] = len(present)
            table.to_csv(tmp / f"{name}.csv", index=False)
            summary[name]["n_train"] = int((table["split"] == "train").sum())
            print(f"split {copy} {name}: " + ", ".join(f"{k} {v}" for k, v in summary[name].items()))
    write_json(layout.split_summary(copy), summary)


if __name__ == "__main__":
    run_stage("split", split, "A prepared copy declared under `data:` in params.yaml (<dataset>_<image size>).")
